package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"golang.org/x/sync/errgroup"
)

// Tashkent is where every cleaning happens: UTC+5 all year, no DST. The
// statistics count days in it.
var Tashkent = time.FixedZone("Asia/Tashkent", 5*60*60)

// The statistics are counters, small documents of the counters collection
// read by _id and kept with $inc by every write that changes them, so the
// dashboard costs a handful of look-ups however many orders there are:
//
//	{_id: "users", n}                       accounts
//	{_id: "services", n}                    active services
//	{_id: "orders", n, seq, status: {PENDING: n, …}, revenue, services: {serviceHex: n}}
//	{_id: "orders:2026-11", days: {"2026-11-26": {PENDING: n, …}}}
//
// Orders are counted on the day they were made (Tashkent time). Reconcile
// recomputes all of them from the collections.
const (
	counterUsers    = "users"
	counterServices = "services"
	counterOrders   = "orders"
)

func monthCounter(day time.Time) string { return "orders:" + day.In(Tashkent).Format("2006-01") }

// OrderTotals are the orders' running totals. Seq only grows: it numbers the
// orders (see Order.Seq).
type OrderTotals struct {
	N         int64            `bson:"n"`
	Seq       int64            `bson:"seq"`
	ByStatus  map[string]int64 `bson:"status"`
	Revenue   int64            `bson:"revenue"`   // the prices of the completed orders
	Collected int64            `bson:"collected"` // what the cleaners recorded collecting on site
	ByService map[string]int64 `bson:"services"`  // by service id hex
}

// Totals reads the orders' totals: one _id look-up.
func (s *OrderStore) Totals(ctx context.Context) (OrderTotals, error) {
	return readTotals(ctx, s.db)
}

// readTotals reads the totals decoded once for each answer of the document
// cache (the dashboard reads them on every request); the maps returned are
// the caller's.
func readTotals(ctx context.Context, db *DB) (OrderTotals, error) {
	var t OrderTotals
	v, err := db.findShared(ctx, colCounters, counterOrders, func(raw bson.Raw) (any, error) {
		var t OrderTotals
		return &t, bson.Unmarshal(raw, &t)
	})
	switch {
	case errors.Is(err, ErrNotFound):
		err = nil
	case err == nil:
		t = *v.(*OrderTotals)
	}
	// Every status has its count, none counted or all moved on alike (a
	// status no order ever had has no field; one all left holds 0).
	counts := make(map[string]int64, len(Statuses))
	for _, s := range Statuses {
		counts[s] = t.ByStatus[s]
	}
	t.ByStatus = counts
	t.ByService = maps.Clone(t.ByService)
	return t, err
}

// DayCount is how many orders were made on one day, by status.
type DayCount struct {
	Date     string // YYYY-MM-DD, Tashkent
	ByStatus map[string]int64
}

// Statistics is the admin's dashboard.
type Statistics struct {
	Users, Services int64
	Orders          OrderTotals
	PerDay          []DayCount // oldest first
}

// Statistics reads the dashboard: the totals and the month documents of the
// days counted, days days up to and including today (Tashkent).
func (d *DB) Statistics(ctx context.Context, today time.Time, days int) (*Statistics, error) {
	return d.statistics(ctx, today.In(Tashkent), days)
}

func (d *DB) statistics(ctx context.Context, today time.Time, days int) (*Statistics, error) {
	var st Statistics
	first := today.AddDate(0, 0, 1-days)
	var months []time.Time
	for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, Tashkent); !m.After(today); m = m.AddDate(0, 1, 0) {
		months = append(months, m)
	}
	monthDays := make([]map[string]map[string]int64, len(months))
	// The look-ups do not depend on each other: they go at once, so the
	// dashboard waits for the slowest, not for the sum.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { st.Users, err = d.counter(gctx, counterUsers); return })
	g.Go(func() (err error) { st.Services, err = d.counter(gctx, counterServices); return })
	g.Go(func() (err error) { st.Orders, err = readTotals(gctx, d); return })
	for i, m := range months {
		g.Go(func() error {
			// A month's counts are decoded once for each answer of the
			// document cache, and shared: only read here.
			v, err := d.findShared(gctx, colCounters, monthCounter(m), func(raw bson.Raw) (any, error) {
				var doc struct {
					Days map[string]map[string]int64 `bson:"days"`
				}
				err := bson.Unmarshal(raw, &doc)
				return doc.Days, err
			})
			if errors.Is(err, ErrNotFound) {
				return nil
			} else if err != nil {
				return err
			}
			monthDays[i] = v.(map[string]map[string]int64)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	byMonth := map[string]map[string]map[string]int64{}
	for i, m := range months {
		byMonth[m.Format("2006-01")] = monthDays[i]
	}
	st.PerDay = make([]DayCount, 0, max(days, 0))
	for day := first; !day.After(today); day = day.AddDate(0, 0, 1) {
		date := day.Format(time.DateOnly)
		counts := byMonth[date[:len("2006-01")]][date]
		dc := DayCount{Date: date, ByStatus: make(map[string]int64, len(Statuses))}
		for _, s := range Statuses {
			dc.ByStatus[s] = counts[s]
		}
		st.PerDay = append(st.PerDay, dc)
	}
	return &st, nil
}

// CountersMissing reports whether the counters were never computed in this
// database (every Reconcile and every signup writes the users' counter).
func (d *DB) CountersMissing(ctx context.Context) (bool, error) {
	err := translate(d.col(colCounters).FindOne(ctx, bson.D{{Key: "_id", Value: counterUsers}}).Err())
	if errors.Is(err, ErrNotFound) {
		return true, nil
	}
	return false, err
}

// counter reads one {_id, n} counter; one never written is zero.
func (d *DB) counter(ctx context.Context, key string) (int64, error) {
	var c struct {
		N int64 `bson:"n"`
	}
	err := d.findByID(ctx, colCounters, key, &c)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	return c.N, err
}

// addCounter moves the {_id, n} counter key by delta. The caller holds the
// write lock.
func (d *DB) addCounter(ctx context.Context, key string, delta int64) error {
	return d.upsertByID(ctx, colCounters, key, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: delta}}}})
}

// orderCounts accumulates the order counters of many orders (imports and
// reconcile).
type orderCounts struct {
	totals OrderTotals
	days   map[string]map[string]map[string]int64 // month → day → status → n
}

func newOrderCounts() *orderCounts {
	return &orderCounts{totals: OrderTotals{ByStatus: map[string]int64{}, ByService: map[string]int64{}},
		days: map[string]map[string]map[string]int64{}}
}

func (c *orderCounts) add(o *Order) {
	c.totals.N++
	c.totals.Seq = max(c.totals.Seq, o.Seq)
	c.totals.ByStatus[o.Status]++
	c.totals.ByService[o.ServiceID.Hex()]++
	if o.Status == StatusCompleted {
		c.totals.Revenue += o.Price
		if o.Payment != nil {
			c.totals.Collected += o.Payment.Amount
		}
	}
	day := o.CreatedAt.In(Tashkent)
	m, date := monthCounter(day), day.Format(time.DateOnly)
	if c.days[m] == nil {
		c.days[m] = map[string]map[string]int64{}
	}
	if c.days[m][date] == nil {
		c.days[m][date] = map[string]int64{}
	}
	c.days[m][date][o.Status]++
}

// dayFields are a month's counts by day and status as the fields of its
// counter document.
func dayFields(days map[string]map[string]int64) bson.D {
	var out bson.D
	for date, byStatus := range days {
		for st, n := range byStatus {
			out = append(out, bson.E{Key: "days." + date + "." + st, Value: n})
		}
	}
	return out
}

// write adds the counts to the counters ($inc, an import) or makes them the
// counters ($set, a reconcile: see setCounts). The caller holds the write
// lock.
func (c *orderCounts) write(ctx context.Context, db *DB, op string) error {
	if op == "$set" {
		return c.set(ctx, db)
	}
	t := bson.D{{Key: "n", Value: c.totals.N}, {Key: "revenue", Value: c.totals.Revenue}}
	// an import: its numbers were reserved already
	for k, n := range c.totals.ByStatus {
		t = append(t, bson.E{Key: "status." + k, Value: n})
	}
	for k, n := range c.totals.ByService {
		t = append(t, bson.E{Key: "services." + k, Value: n})
	}
	if err := db.upsertByID(ctx, colCounters, counterOrders, bson.D{{Key: "$inc", Value: t}}); err != nil {
		return err
	}
	for m, days := range c.days {
		if err := db.upsertByID(ctx, colCounters, m, bson.D{{Key: "$inc", Value: dayFields(days)}}); err != nil {
			return err
		}
	}
	return nil
}

// set makes the counts the counters, in place: the totals are overwritten
// but for seq, which only moves up ($max: it hands out the orders' numbers,
// and a booking of another instance may have taken one since the orders
// were read); each month's days are overwritten, then the days and
// statuses a month document holds that the orders do not are removed. No
// counter document is deleted first, so a reader never finds one missing.
func (c *orderCounts) set(ctx context.Context, db *DB) error {
	t := bson.D{{Key: "n", Value: c.totals.N}, {Key: "revenue", Value: c.totals.Revenue},
		{Key: "status", Value: c.totals.ByStatus}, {Key: "services", Value: c.totals.ByService}}
	if err := db.upsertByID(ctx, colCounters, counterOrders,
		bson.D{{Key: "$set", Value: t}, {Key: "$max", Value: bson.D{{Key: "seq", Value: c.totals.Seq}}}}); err != nil {
		return err
	}
	for m, days := range c.days {
		if err := db.upsertByID(ctx, colCounters, m, bson.D{{Key: "$set", Value: dayFields(days)}}); err != nil {
			return err
		}
	}
	// The month documents are few (one a month): read them all.
	cur, err := db.col(colCounters).Find(ctx, bson.D{{Key: "_id", Value: primitive.Regex{Pattern: "^orders:"}}})
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var doc struct {
			ID   string                      `bson:"_id"`
			Days map[string]map[string]int64 `bson:"days"`
		}
		if err := cur.Decode(&doc); err != nil {
			return err
		}
		var unset bson.D
		for date, byStatus := range doc.Days {
			counted, ok := c.days[doc.ID][date]
			if !ok {
				unset = append(unset, bson.E{Key: "days." + date, Value: ""})
				continue
			}
			for st := range byStatus {
				if _, ok := counted[st]; !ok {
					unset = append(unset, bson.E{Key: "days." + date + "." + st, Value: ""})
				}
			}
		}
		if len(unset) > 0 {
			if _, err := db.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: doc.ID}}, bson.D{{Key: "$unset", Value: unset}}); err != nil {
				return err
			}
		}
	}
	return cur.Err()
}

// ReconcileReport says what Reconcile found.
type ReconcileReport struct {
	Users, Services, Orders, Customers int64
	Renumbered                         int64 // orders that had no Seq
}

// Reconcile recomputes every counter, both read models of the orders (the
// board and the customers' lists) and the accounts' keys from the
// collections, repairing whatever a crash between the writes of one change
// left behind. It streams the orders, reading each once: a maintenance
// step, run by `stats reconcile` and by a start that finds the counters
// missing. (A crash needs no recount: the journal finishes what it cut off.)
//
// It is idempotent: a second run finds nothing to change. And it is safe
// while instances serve on the same database (MONGODB_URI), because it
// never deletes a document to write it again: rows, heads, keys and
// counters are written in place (upserts), and only then is what is left
// over removed, each piece checked again by _id as it stands now (a row
// whose order is gone or numbered elsewhere, a deleted account's list, a
// key nobody answers to). Numbers only move forward: the orders' seq and
// the customers' heads go up by $max, and the numbers it gives old orders
// that had none are reserved by the $inc the bookings use, so no number is
// ever handed out twice.
//
// What it cannot promise while other instances write: the counters are
// recomputed by read-then-overwrite (count the collections, then $set).
// A write that lands between the read and the overwrite (a signup, a
// booking, a status change on another instance) can be missing from a
// counter, or counted twice, until the next run; so can a list row of an
// order changed meanwhile show what was read, until that order's next
// change. With no write racing it the result is exact: the embedded
// database (one process, and Reconcile holds the write lock throughout),
// and the runs at start, which come before serving.
func (d *DB) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var r ReconcileReport
	// First the writes cut off by a crash, whose counts a recount would
	// otherwise take in and their repair add again.
	if _, err := d.RepairJournal(ctx, time.Now().UTC()); err != nil {
		return r, fmt.Errorf("reconcile: %w", err)
	}
	err := d.write(func() error { return d.reconcile(ctx, &r) })
	if err != nil {
		return r, fmt.Errorf("reconcile: %w", err)
	}
	return r, nil
}

// seenOrder is where Reconcile put an order's rows: 32 bytes an order, so
// a million orders take 32 MB.
type seenOrder struct {
	id        primitive.ObjectID
	seq, cseq int64
}

func (d *DB) reconcile(ctx context.Context, r *ReconcileReport) error {
	orders := NewOrderStore(d)
	accounts, err := d.loadAccounts(ctx)
	if err != nil {
		return err
	}
	r.Users = int64(len(accounts))
	if r.Services, err = d.col(colServices).CountDocuments(ctx, bson.D{{Key: "active", Value: true}}); err != nil {
		return err
	}
	keep := func(id primitive.ObjectID) bool { _, ok := accounts[id]; return ok }
	if err := d.syncUserKeys(ctx, accounts); err != nil {
		return err
	}
	for key, n := range map[string]int64{counterUsers: r.Users, counterServices: r.Services} {
		if err := d.upsertByID(ctx, colCounters, key, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: n}}}}); err != nil {
			return err
		}
	}

	// The orders come in the order they were stored; their rows are set
	// where their numbers put them. Those without a number (made before
	// numbers existed) are numbered after the rest, remembered by id only.
	cur, err := d.col(colOrders).Find(ctx, bson.D{})
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	counts := newOrderCounts()
	customers := map[primitive.ObjectID]int64{} // the highest CustomerSeq of each account's orders, deleted accounts' too
	var seen []seenOrder
	var batch []Order
	var unnumbered []primitive.ObjectID
	flush := func() error {
		err := orders.writeReadModels(ctx, batch, keep)
		batch = batch[:0]
		return err
	}
	take := func(o Order) error {
		counts.add(&o)
		customers[o.UserID] = max(customers[o.UserID], o.CustomerSeq)
		seen = append(seen, seenOrder{o.ID, o.Seq, o.CustomerSeq})
		if batch = append(batch, o); len(batch) == 2000 {
			return flush()
		}
		return nil
	}
	for cur.Next(ctx) {
		var o Order
		if err := cur.Decode(&o); err != nil {
			return err
		}
		if o.Seq == 0 || o.CustomerSeq == 0 {
			unnumbered = append(unnumbered, o.ID)
			continue
		}
		if err := take(o); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return err
	}
	// The numbers only go up, past every number the orders hold.
	if err := d.upsertByID(ctx, colCounters, counterOrders, bson.D{{Key: "$max", Value: bson.D{{Key: "seq", Value: counts.totals.Seq}}}}); err != nil {
		return err
	}
	for uid, n := range customers {
		if !keep(uid) {
			continue // a deleted account's list stays gone
		}
		if err := d.upsertByID(ctx, colCustomerOrders, uid.Hex(), bson.D{{Key: "$max", Value: bson.D{{Key: "n", Value: n}}}}); err != nil {
			return err
		}
	}
	if err := d.numberOld(ctx, orders, unnumbered, keep, customers, take); err != nil {
		return err
	}
	r.Renumbered = int64(len(unnumbered))
	if err := flush(); err != nil {
		return err
	}
	r.Orders = counts.totals.N
	for uid := range customers {
		if keep(uid) {
			r.Customers++
		}
	}
	if err := counts.write(ctx, d, "$set"); err != nil {
		return err
	}
	return d.sweepLists(ctx, orders, seen, accounts)
}

// numberOld numbers the orders that have none, oldest first, and hands
// each to take. The numbers are reserved as a booking reserves them (the
// totals' $inc, the customer's head), so none is given twice; a deleted
// account's orders, which no list shows, are numbered after the highest
// that account's orders hold (customers).
func (d *DB) numberOld(ctx context.Context, orders *OrderStore, ids []primitive.ObjectID, keep func(primitive.ObjectID) bool,
	customers map[primitive.ObjectID]int64, take func(Order) error) error {
	if len(ids) == 0 {
		return nil
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Hex() < ids[j].Hex() })
	var t OrderTotals
	if err := d.findAndUpsertByID(ctx, colCounters, counterOrders, bson.D{{Key: "$inc", Value: bson.D{{Key: "seq", Value: int64(len(ids))}}}}, true, &t); err != nil {
		return err
	}
	seq := t.Seq - int64(len(ids))
	for _, id := range ids {
		o, err := orders.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if o.Seq == 0 {
			seq++
			o.Seq = seq
		}
		if o.CustomerSeq == 0 {
			if keep(o.UserID) {
				if o.CustomerSeq, err = orders.nextCustomerSeq(ctx, o.UserID, 1); err != nil {
					return err
				}
			} else {
				o.CustomerSeq = customers[o.UserID] + 1
			}
		}
		customers[o.UserID] = max(customers[o.UserID], o.CustomerSeq)
		if _, err := d.col(colOrders).UpdateOne(ctx, bson.D{{Key: "_id", Value: o.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: o.Seq}, {Key: "cseq", Value: o.CustomerSeq}}}}); err != nil {
			return err
		}
		if err := take(*o); err != nil {
			return err
		}
	}
	return nil
}

// sweepLists removes from the lists what the orders do not put there: a
// row of an order that is gone or whose number puts it in another document,
// and the list of an account that is gone. Each is checked again as it
// stands before it goes (it may be an order or an account made after the
// collections were read).
func (d *DB) sweepLists(ctx context.Context, orders *OrderStore, seen []seenOrder, accounts map[primitive.ObjectID]accountNames) error {
	sort.Slice(seen, func(i, j int) bool { return bytes.Compare(seen[i].id[:], seen[j].id[:]) < 0 })
	find := func(id primitive.ObjectID) (seenOrder, bool) {
		i := sort.Search(len(seen), func(i int) bool { return bytes.Compare(seen[i].id[:], id[:]) >= 0 })
		if i < len(seen) && seen[i].id == id {
			return seen[i], true
		}
		return seenOrder{}, false
	}
	// belongs reports whether the row of order id belongs in document doc
	// of list p, asking the database when the orders read do not say so.
	belongs := func(p rowPages, doc string, id primitive.ObjectID) (bool, error) {
		o, ok := find(id)
		if !ok {
			got, err := orders.Get(ctx, id)
			if errors.Is(err, ErrNotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			o = seenOrder{got.ID, got.Seq, got.CustomerSeq}
		}
		if p.col == colCustomerOrders {
			return p.id(o.cseq) == doc, nil
		}
		return p.id(o.seq) == doc, nil
	}
	accountGone := func(id primitive.ObjectID) (bool, error) {
		if _, ok := accounts[id]; ok {
			return false, nil
		}
		_, err := NewUserStore(d).Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return true, nil
		}
		return false, err
	}
	for _, col := range []string{colOrderPages, colCustomerOrders} {
		cur, err := d.col(col).Find(ctx, bson.D{})
		if err != nil {
			return err
		}
		for cur.Next(ctx) {
			var doc struct {
				ID   string                   `bson:"_id"`
				Rows map[string]bson.RawValue `bson:"rows"` // only their ids are read
			}
			if err := cur.Decode(&doc); err != nil {
				cur.Close(ctx)
				return err
			}
			p := boardPages
			if col == colCustomerOrders {
				owner, _, _ := strings.Cut(doc.ID, ":")
				uid, err := primitive.ObjectIDFromHex(owner)
				if err != nil {
					continue // not one of ours
				}
				gone, err := accountGone(uid)
				if err != nil {
					cur.Close(ctx)
					return err
				}
				if gone { // a deleted account's list stays gone
					if _, err := d.col(col).DeleteOne(ctx, bson.D{{Key: "_id", Value: doc.ID}}); err != nil {
						cur.Close(ctx)
						return err
					}
					continue
				}
				p = customerPages(uid)
			}
			var unset bson.D
			for hex := range doc.Rows {
				id, err := primitive.ObjectIDFromHex(hex)
				ok := err == nil
				if ok {
					if ok, err = belongs(p, doc.ID, id); err != nil {
						cur.Close(ctx)
						return err
					}
				}
				if !ok {
					unset = append(unset, bson.E{Key: "rows." + hex, Value: ""})
				}
			}
			if len(unset) > 0 {
				if _, err := d.col(col).UpdateOne(ctx, bson.D{{Key: "_id", Value: doc.ID}}, bson.D{{Key: "$unset", Value: unset}}); err != nil {
					cur.Close(ctx)
					return err
				}
			}
		}
		err = cur.Err()
		cur.Close(ctx)
		if err != nil {
			return err
		}
	}
	return nil
}
