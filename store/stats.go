package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
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
	Revenue   int64            `bson:"revenue"`
	ByService map[string]int64 `bson:"services"` // by service id hex
}

// Totals reads the orders' totals: one _id look-up.
func (s *OrderStore) Totals(ctx context.Context) (OrderTotals, error) {
	return readTotals(ctx, s.db)
}

func readTotals(ctx context.Context, db *DB) (OrderTotals, error) {
	var t OrderTotals
	err := db.findByID(ctx, colCounters, counterOrders, &t)
	if errors.Is(err, ErrNotFound) {
		err = nil
	}
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
			var doc struct {
				Days map[string]map[string]int64 `bson:"days"`
			}
			err := d.findByID(gctx, colCounters, monthCounter(m), &doc)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			monthDays[i] = doc.Days
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
	for day := first; !day.After(today); day = day.AddDate(0, 0, 1) {
		date := day.Format(time.DateOnly)
		dc := DayCount{Date: date, ByStatus: map[string]int64{}}
		for _, s := range Statuses {
			dc.ByStatus[s] = byMonth[day.Format("2006-01")][date][s]
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
	_, err := d.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: delta}}}}, options.Update().SetUpsert(true))
	return err
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

// write adds the counts to the counters ($inc, an import) or makes them the
// counters ($set, a reconcile, which first removes every month document).
// The caller holds the write lock.
func (c *orderCounts) write(ctx context.Context, db *DB, op string) error {
	t := bson.D{{Key: "n", Value: c.totals.N}, {Key: "revenue", Value: c.totals.Revenue}}
	if op == "$set" {
		t = append(t, bson.E{Key: "seq", Value: c.totals.Seq},
			bson.E{Key: "status", Value: c.totals.ByStatus}, bson.E{Key: "services", Value: c.totals.ByService})
	} else { // an import: its numbers were reserved already
		for k, n := range c.totals.ByStatus {
			t = append(t, bson.E{Key: "status." + k, Value: n})
		}
		for k, n := range c.totals.ByService {
			t = append(t, bson.E{Key: "services." + k, Value: n})
		}
	}
	if _, err := db.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: counterOrders}},
		bson.D{{Key: op, Value: t}}, options.Update().SetUpsert(true)); err != nil {
		return err
	}
	for m, days := range c.days {
		var set bson.D
		for date, byStatus := range days {
			for st, n := range byStatus {
				set = append(set, bson.E{Key: "days." + date + "." + st, Value: n})
			}
		}
		if _, err := db.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: m}},
			bson.D{{Key: op, Value: set}}, options.Update().SetUpsert(true)); err != nil {
			return err
		}
	}
	return nil
}

// ReconcileReport says what Reconcile found.
type ReconcileReport struct {
	Users, Services, Orders, Customers int64
	Renumbered                         int64 // orders that had no Seq
}

// Reconcile recomputes every counter, both read models of the orders and
// the chat's inboxes from the collections, repairing whatever a crash between the writes of
// one change left behind. It holds the write lock throughout (on MongoDB,
// run it while the app is stopped) and streams the orders, reading each
// once: a maintenance command, not a request path.
func (d *DB) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var r ReconcileReport
	orders := NewOrderStore(d)
	err := d.write(func() error {
		var err error
		if r.Users, err = d.col(colUsers).CountDocuments(ctx, bson.D{}); err != nil {
			return err
		}
		if r.Services, err = d.col(colServices).CountDocuments(ctx, bson.D{{Key: "active", Value: true}}); err != nil {
			return err
		}
		if err := d.rebuildUserKeys(ctx); err != nil {
			return err
		}
		for key, n := range map[string]int64{counterUsers: r.Users, counterServices: r.Services} {
			if _, err := d.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: n}}}}, options.Update().SetUpsert(true)); err != nil {
				return err
			}
		}
		for _, c := range []string{colCustomerOrders, colOrderPages} {
			if _, err := d.col(c).DeleteMany(ctx, bson.D{}); err != nil {
				return err
			}
		}
		if _, err := d.col(colCounters).DeleteMany(ctx, bson.D{{Key: "_id", Value: primitive.Regex{Pattern: "^orders:"}}}); err != nil {
			return err
		}
		// Lists are kept for accounts that exist: a deleted account's list
		// went with it and stays gone.
		users := map[primitive.ObjectID]bool{}
		ucur, err := d.col(colUsers).Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return err
		}
		for ucur.Next(ctx) {
			var u struct {
				ID primitive.ObjectID `bson:"_id"`
			}
			if err := ucur.Decode(&u); err != nil {
				ucur.Close(ctx)
				return err
			}
			users[u.ID] = true
		}
		ucur.Close(ctx)
		keep := func(id primitive.ObjectID) bool { return users[id] }

		// The orders come in the order they were stored; those without a
		// number (made before numbers existed) are numbered after the rest,
		// remembered by id only, so a million of them fit in memory.
		cur, err := d.col(colOrders).Find(ctx, bson.D{})
		if err != nil {
			return err
		}
		defer cur.Close(ctx)
		counts := newOrderCounts()
		customers := map[primitive.ObjectID]int64{} // the highest CustomerSeq
		var batch []Order
		var unnumbered []primitive.ObjectID
		flush := func() error {
			err := orders.writeReadModels(ctx, batch, keep)
			batch = batch[:0]
			return err
		}
		take := func(o Order) error {
			counts.add(&o)
			if keep(o.UserID) {
				customers[o.UserID] = max(customers[o.UserID], o.CustomerSeq)
			}
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
		sort.Slice(unnumbered, func(i, j int) bool { return unnumbered[i].Hex() < unnumbered[j].Hex() })
		for _, id := range unnumbered {
			o, err := orders.Get(ctx, id)
			if err != nil {
				return err
			}
			if o.Seq == 0 {
				o.Seq = counts.totals.Seq + 1
			}
			if o.CustomerSeq == 0 {
				o.CustomerSeq = customers[o.UserID] + 1
			}
			if _, err := d.col(colOrders).UpdateOne(ctx, bson.D{{Key: "_id", Value: o.ID}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: o.Seq}, {Key: "cseq", Value: o.CustomerSeq}}}}); err != nil {
				return err
			}
			customers[o.UserID] = max(customers[o.UserID], o.CustomerSeq) // numbers stay unique even for a deleted account's orders
			if err := take(*o); err != nil {
				return err
			}
		}
		r.Renumbered = int64(len(unnumbered))
		if err := flush(); err != nil {
			return err
		}
		for uid, n := range customers {
			if !keep(uid) {
				continue
			}
			if _, err := d.col(colCustomerOrders).UpdateOne(ctx, bson.D{{Key: "_id", Value: uid.Hex()}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: n}}}}, options.Update().SetUpsert(true)); err != nil {
				return err
			}
		}
		r.Orders, r.Customers = counts.totals.N, int64(len(customers))
		if err := d.rebuildChatInboxes(ctx, func(owner string) bool {
			id, err := primitive.ObjectIDFromHex(owner)
			return err != nil || users[id] // support's, and those of accounts that exist
		}); err != nil {
			return err
		}
		return counts.write(ctx, d, "$set")
	})
	if err != nil {
		return r, fmt.Errorf("reconcile: %w", err)
	}
	return r, nil
}
