package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Order statuses. An order starts PENDING and ends COMPLETED or CANCELLED.
const (
	StatusPending   = "PENDING"
	StatusCompleted = "COMPLETED"
	StatusCancelled = "CANCELLED"
)

// Statuses lists every status in display order.
var Statuses = []string{StatusPending, StatusCompleted, StatusCancelled}

// Order is one booked cleaning. Price is a snapshot of the service's price at
// booking, ServiceName of its name and CustomerName of the customer's, so
// later changes never rewrite history.
type Order struct {
	ID             primitive.ObjectID `bson:"_id" json:"id"`
	UserID         primitive.ObjectID `bson:"userId" json:"userId"`
	CustomerName   string             `bson:"customerName" json:"customerName"`
	ServiceID      primitive.ObjectID `bson:"serviceId" json:"serviceId"`
	ServiceName    string             `bson:"serviceName" json:"serviceName"`
	Status         string             `bson:"status" json:"status"`
	Price          int64              `bson:"price" json:"price"`
	ScheduledAt    time.Time          `bson:"scheduledAt" json:"scheduledAt"`
	Address        string             `bson:"address" json:"address"`
	Phone          string             `bson:"phone" json:"phone"`
	Notes          string             `bson:"notes" json:"notes"`
	History        []StatusChange     `bson:"history" json:"history"`
	IdempotencyKey string             `bson:"idempotencyKey" json:"idempotencyKey"`
	RequestHash    string             `bson:"requestHash" json:"-"` // what the key was first used for
	CreatedAt      time.Time          `bson:"createdAt" json:"createdAt"`
	UpdatedAt      time.Time          `bson:"updatedAt" json:"updatedAt"`
}

// StatusChange is one entry of an order's timeline; ByName is the name of
// who made it, as it was then.
type StatusChange struct {
	Status   string             `bson:"status" json:"status"`
	At       time.Time          `bson:"at" json:"at"`
	ByUserID primitive.ObjectID `bson:"byUserId" json:"byUserId"`
	ByName   string             `bson:"byName,omitempty" json:"byName,omitempty"`
	Reason   string             `bson:"reason,omitempty" json:"reason,omitempty"`
}

// OrderSummary is what the lists show of an order: the customer's "My
// orders" and the admin's board. It is kept, as an extended reference, in
// small documents read by _id (see the read models below).
type OrderSummary struct {
	ID           primitive.ObjectID `bson:"id" json:"id"`
	UserID       primitive.ObjectID `bson:"userId" json:"-"`
	CustomerName string             `bson:"customerName" json:"-"`
	ServiceID    primitive.ObjectID `bson:"serviceId" json:"serviceId"`
	ServiceName  string             `bson:"serviceName" json:"serviceName"`
	Status       string             `bson:"status" json:"status"`
	Price        int64              `bson:"price" json:"price"`
	ScheduledAt  time.Time          `bson:"scheduledAt" json:"scheduledAt"`
	Address      string             `bson:"address" json:"-"`
	Phone        string             `bson:"phone" json:"-"`
	CreatedAt    time.Time          `bson:"createdAt" json:"createdAt"`
}

// Summary is the list line of o.
func (o *Order) Summary() OrderSummary { return o.summary() }

func (o *Order) summary() OrderSummary {
	return OrderSummary{ID: o.ID, UserID: o.UserID, CustomerName: o.CustomerName, ServiceID: o.ServiceID, ServiceName: o.ServiceName,
		Status: o.Status, Price: o.Price, ScheduledAt: o.ScheduledAt, Address: o.Address, Phone: o.Phone, CreatedAt: o.CreatedAt}
}

// The read models. The embedded database finds even an _id by parsing every
// row of the collection (its whole text), and answers any other query by
// decoding every document in Go: a look-up costs the bytes of the
// collection, a filtered or sorted find every document. So:
//
//   - customerOrders_NN (64 collections, by a hash of the user id) keep one
//     document per customer, {_id: userId, items: {orderHex: order}}: "My
//     orders" and the customer's order page are one _id look-up in a small
//     collection;
//   - orderRows keeps one lean row per order (short keys, no history): the
//     admin's board filters and sorts these instead of the full orders.
//
// Items are keyed by order id, so each is set or removed with a plain
// dotted path, atomically, on MongoDB and FerretDB alike. On MongoDB the
// board's filters use the indexes declared on orderRows.
const customerShards = 64

func customerCol(userID primitive.ObjectID) string {
	h := fnv.New32a()
	h.Write(userID[:])
	return fmt.Sprintf("customerOrders_%02d", h.Sum32()%customerShards)
}

// customerDoc is one customer's orders, in full: the customer's pages read
// nothing else.
type customerDoc struct {
	Items map[string]Order `bson:"items"`
}

// orderRow is an order as the board needs it, with short keys: the board
// decodes every row on the embedded database, so every byte counts.
type orderRow struct {
	ID           primitive.ObjectID `bson:"_id"`
	UserID       primitive.ObjectID `bson:"u"`
	CustomerName string             `bson:"c"`
	ServiceID    primitive.ObjectID `bson:"s"`
	ServiceName  string             `bson:"n"`
	Status       string             `bson:"st"`
	Price        int64              `bson:"p"`
	ScheduledAt  time.Time          `bson:"at"`
	Address      string             `bson:"a"`
	Phone        string             `bson:"ph"`
}

func rowOf(o *Order) orderRow {
	return orderRow{o.ID, o.UserID, o.CustomerName, o.ServiceID, o.ServiceName, o.Status, o.Price, o.ScheduledAt, o.Address, o.Phone}
}

func (r *orderRow) summary() OrderSummary {
	return OrderSummary{ID: r.ID, UserID: r.UserID, CustomerName: r.CustomerName, ServiceID: r.ServiceID, ServiceName: r.ServiceName,
		Status: r.Status, Price: r.Price, ScheduledAt: r.ScheduledAt, Address: r.Address, Phone: r.Phone, CreatedAt: r.ID.Timestamp().UTC()}
}

// OrderFilter selects a page of the admin's board, newest first.
type OrderFilter struct {
	Status    string
	ServiceID primitive.ObjectID
	UserIDs   []primitive.ObjectID // any of them; nil: everyone
	From, To  time.Time            // scheduledAt range; zero: open
	Text      string               // part of the address, phone or customer's name, any case
	Before    primitive.ObjectID
	Limit     int
}

func (f OrderFilter) match(s *OrderSummary) bool {
	if f.Status != "" && s.Status != f.Status {
		return false
	}
	if !f.ServiceID.IsZero() && s.ServiceID != f.ServiceID {
		return false
	}
	if f.UserIDs != nil {
		found := false
		for _, id := range f.UserIDs {
			if id == s.UserID {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if !f.From.IsZero() && s.ScheduledAt.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && !s.ScheduledAt.Before(f.To) {
		return false
	}
	if f.Text != "" {
		t := strings.ToLower(f.Text)
		if !strings.Contains(strings.ToLower(s.Address), t) && !strings.Contains(s.Phone, t) {
			return false
		}
	}
	return f.Before.IsZero() || s.ID.Hex() < f.Before.Hex()
}

// OrderChange is a partial update of an order's details.
type OrderChange struct {
	ScheduledAt *time.Time
	Address     *string
	Phone       *string
	Notes       *string
	Price       *int64
}

// OrderStore keeps the orders and, with each write, the read models and
// the status counters.
type OrderStore struct{ db *DB }

// NewOrderStore returns the order store of db.
func NewOrderStore(db *DB) *OrderStore { return &OrderStore{db: db} }

// Counter keys kept by the order writes.
const CounterOrders = "orders"

// StatusCounter is the counter key of the orders in status.
func StatusCounter(status string) string { return "orders:" + status }

// Create inserts o as a new PENDING order. The same idempotency key twice
// for one user is ErrConflict (a unique index on {userId, idempotencyKey}).
func (s *OrderStore) Create(ctx context.Context, o *Order) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	o.ID = primitive.NewObjectID()
	o.Status = StatusPending
	o.CreatedAt, o.UpdatedAt = now, now
	o.History = []StatusChange{{Status: StatusPending, At: now, ByUserID: o.UserID, ByName: o.CustomerName}}
	return s.db.write(func() error {
		if _, err := s.db.col(colOrders).InsertOne(ctx, o); err != nil {
			return translate(err)
		}
		// The same code path keeps the read models and the counters.
		if _, err := s.db.col(colOrderRows).InsertOne(ctx, rowOf(o)); err != nil {
			return translate(err)
		}
		if err := s.project(ctx, o); err != nil {
			return err
		}
		return s.count(ctx, "", StatusPending)
	})
}

// project writes o's summary into the customer's list.
func (s *OrderStore) project(ctx context.Context, o *Order) error {
	_, err := s.db.col(customerCol(o.UserID)).UpdateOne(ctx, bson.D{{Key: "_id", Value: o.UserID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "items." + o.ID.Hex(), Value: o}}}}, options.Update().SetUpsert(true))
	return err
}

// reproject writes a changed order into both read models.
func (s *OrderStore) reproject(ctx context.Context, o *Order) error {
	if err := s.project(ctx, o); err != nil {
		return err
	}
	_, err := s.db.col(colOrderRows).ReplaceOne(ctx, bson.D{{Key: "_id", Value: o.ID}}, rowOf(o), options.Replace().SetUpsert(true))
	return err
}

// count moves one order from status from to status to in the counters
// (from "" for a new order, to "" for a deleted one).
func (s *OrderStore) count(ctx context.Context, from, to string) error {
	inc := func(key string, d int64) error {
		_, err := s.db.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: d}}}}, options.Update().SetUpsert(true))
		return err
	}
	if from == "" {
		if err := inc(CounterOrders, 1); err != nil {
			return err
		}
	} else if err := inc(StatusCounter(from), -1); err != nil {
		return err
	}
	if to == "" {
		return inc(CounterOrders, -1)
	}
	return inc(StatusCounter(to), 1)
}

// Get returns one order.
func (s *OrderStore) Get(ctx context.Context, id primitive.ObjectID) (*Order, error) {
	var o Order
	if err := s.db.col(colOrders).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&o); err != nil {
		return nil, translate(err)
	}
	return &o, nil
}

// ByIdempotencyKey finds the order a user made with key. (Index
// {userId:1, idempotencyKey:1}; on the embedded database a scan, on the
// rare path of a repeated submit only.)
func (s *OrderStore) ByIdempotencyKey(ctx context.Context, userID primitive.ObjectID, key string) (*Order, error) {
	var o Order
	err := s.db.col(colOrders).FindOne(ctx, bson.D{{Key: "userId", Value: userID}, {Key: "idempotencyKey", Value: key}}).Decode(&o)
	if err != nil {
		return nil, translate(err)
	}
	return &o, nil
}

// customerOrders reads a customer's document: one _id look-up in a small
// collection.
func (s *OrderStore) customerOrders(ctx context.Context, userID primitive.ObjectID) (map[string]Order, error) {
	var doc customerDoc
	err := s.db.col(customerCol(userID)).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&doc)
	if err != nil && !errors.Is(translate(err), ErrNotFound) {
		return nil, err
	}
	return doc.Items, nil
}

// ForCustomerOrder returns one of a customer's orders from their own
// document; another customer's order is ErrNotFound.
func (s *OrderStore) ForCustomerOrder(ctx context.Context, userID, id primitive.ObjectID) (*Order, error) {
	all, err := s.customerOrders(ctx, userID)
	if err != nil {
		return nil, err
	}
	o, ok := all[id.Hex()]
	if !ok {
		return nil, ErrNotFound
	}
	return &o, nil
}

// page sorts matching items newest first and cuts a page.
func page(items []OrderSummary, limit int) ([]OrderSummary, primitive.ObjectID) {
	sort.Slice(items, func(i, j int) bool { return items[i].ID.Hex() > items[j].ID.Hex() })
	var next primitive.ObjectID
	if len(items) > limit {
		items = items[:limit]
		next = items[limit-1].ID
	}
	return items, next
}

// ForCustomer returns a page of a customer's orders, newest first, from
// their own document: one _id look-up, however many orders exist.
func (s *OrderStore) ForCustomer(ctx context.Context, userID, before primitive.ObjectID, limit int) ([]OrderSummary, primitive.ObjectID, error) {
	all, err := s.customerOrders(ctx, userID)
	if err != nil {
		return nil, primitive.NilObjectID, err
	}
	f := OrderFilter{Before: before}
	items := make([]OrderSummary, 0, len(all))
	for _, o := range all {
		if it := o.summary(); f.match(&it) {
			items = append(items, it)
		}
	}
	items, next := page(items, limit)
	return items, next, nil
}

// List is the admin's board: a page of orders matching f, newest first,
// from the lean rows. Indexes that serve it on MongoDB: {st:1,_id:-1} with
// a status, {s:1,_id:-1} with a service, {u:1,_id:-1} with customers,
// {at:1} with a date range, _id alone otherwise.
func (s *OrderStore) List(ctx context.Context, f OrderFilter) ([]OrderSummary, primitive.ObjectID, error) {
	filter := bson.D{}
	if f.Status != "" {
		filter = append(filter, bson.E{Key: "st", Value: f.Status})
	}
	if !f.ServiceID.IsZero() {
		filter = append(filter, bson.E{Key: "s", Value: f.ServiceID})
	}
	if f.UserIDs != nil {
		filter = append(filter, bson.E{Key: "u", Value: bson.D{{Key: "$in", Value: f.UserIDs}}})
	}
	if !f.From.IsZero() || !f.To.IsZero() {
		r := bson.D{}
		if !f.From.IsZero() {
			r = append(r, bson.E{Key: "$gte", Value: f.From})
		}
		if !f.To.IsZero() {
			r = append(r, bson.E{Key: "$lt", Value: f.To})
		}
		filter = append(filter, bson.E{Key: "at", Value: r})
	}
	if f.Text != "" {
		// Matched literally (QuoteMeta): the text is never a pattern.
		re := primitive.Regex{Pattern: regexp.QuoteMeta(f.Text), Options: "i"}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{bson.D{{Key: "a", Value: re}}, bson.D{{Key: "ph", Value: re}}, bson.D{{Key: "c", Value: re}}}})
	}
	rows, next, err := newestPage(ctx, s.db.col(colOrderRows), filter, f.Before, f.Limit, func(r *orderRow) primitive.ObjectID { return r.ID })
	if err != nil {
		return nil, primitive.NilObjectID, err
	}
	items := make([]OrderSummary, len(rows))
	for i := range rows {
		items[i] = rows[i].summary()
	}
	return items, next, nil
}

// Transition moves an order from PENDING to status, appending the change to
// the history in the same update, filtered on the old status: of two racers
// one wins, the other gets ErrConflict.
func (s *OrderStore) Transition(ctx context.Context, id primitive.ObjectID, to string, by StatusChange) (*Order, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	by.Status, by.At = to, now
	var o *Order
	err := s.db.write(func() error {
		var err error
		o, err = s.updateByID(ctx, id, bson.D{{Key: "status", Value: StatusPending}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: to}, {Key: "updatedAt", Value: now}}},
			{Key: "$push", Value: bson.D{{Key: "history", Value: by}}},
		})
		if err != nil {
			return err
		}
		if err := s.reproject(ctx, o); err != nil {
			return err
		}
		return s.count(ctx, StatusPending, to)
	})
	return o, err
}

// updateByID applies update to order id if it still has the fields of
// cond, and returns it as it is afterwards; a missing order is ErrNotFound,
// one that no longer matches cond ErrConflict. On MongoDB cond is part of
// the filter: one atomic update. FerretDB pushes down only a bare _id
// filter and would decode every order for any other; there, under the
// write mutex that already serializes all writes, it reads by _id, checks
// cond, and updates by _id: the same guarantee, without the scan. Call it
// within db.write.
func (s *OrderStore) updateByID(ctx context.Context, id primitive.ObjectID, cond, update bson.D) (*Order, error) {
	col := s.db.col(colOrders)
	var o Order
	if s.db.SerializesWrites() {
		if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&o); err != nil {
			return nil, translate(err)
		}
		raw, _ := bson.Marshal(o)
		for _, c := range cond {
			want, _ := bson.Marshal(bson.D{{Key: c.Key, Value: c.Value}})
			got := bson.Raw(raw).Lookup(c.Key)
			if !bson.Raw(want).Lookup(c.Key).Equal(got) {
				return nil, ErrConflict
			}
		}
		if _, err := col.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update); err != nil {
			return nil, translate(err)
		}
		return s.Get(ctx, id)
	}
	filter := append(bson.D{{Key: "_id", Value: id}}, cond...)
	err := col.FindOneAndUpdate(ctx, filter, update, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&o)
	if errors.Is(translate(err), ErrNotFound) && len(cond) > 0 {
		if _, gerr := s.Get(ctx, id); gerr == nil {
			return nil, ErrConflict
		}
	}
	if err != nil {
		return nil, translate(err)
	}
	return &o, nil
}

// Update changes an order's details; with onlyPending, only while it is
// PENDING (ErrConflict otherwise).
func (s *OrderStore) Update(ctx context.Context, id primitive.ObjectID, ch OrderChange, onlyPending bool) (*Order, error) {
	set := bson.D{{Key: "updatedAt", Value: time.Now().UTC().Truncate(time.Millisecond)}}
	set = setIf(set, "scheduledAt", ch.ScheduledAt)
	set = setIf(set, "address", ch.Address)
	set = setIf(set, "phone", ch.Phone)
	set = setIf(set, "notes", ch.Notes)
	set = setIf(set, "price", ch.Price)
	var cond bson.D
	if onlyPending {
		cond = bson.D{{Key: "status", Value: StatusPending}}
	}
	var o *Order
	err := s.db.write(func() error {
		var err error
		if o, err = s.updateByID(ctx, id, cond, bson.D{{Key: "$set", Value: set}}); err != nil {
			return err
		}
		return s.reproject(ctx, o)
	})
	return o, err
}

// Delete removes an order, its lines in the read models and its count.
func (s *OrderStore) Delete(ctx context.Context, id primitive.ObjectID) error {
	return s.db.write(func() error {
		o, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		if _, err := s.db.col(colOrders).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
			return err
		}
		unset := bson.D{{Key: "$unset", Value: bson.D{{Key: "items." + o.ID.Hex(), Value: ""}}}}
		if _, err := s.db.col(customerCol(o.UserID)).UpdateOne(ctx, bson.D{{Key: "_id", Value: o.UserID}}, unset); err != nil {
			return err
		}
		if _, err := s.db.col(colOrderRows).DeleteOne(ctx, bson.D{{Key: "_id", Value: o.ID}}); err != nil {
			return err
		}
		return s.count(ctx, o.Status, "")
	})
}

// ReconcileCustomerLists rebuilds the read models (the customers' lists and
// the board's rows) and the order counters from the orders, repairing a
// split left by a crash between the writes of an order. It reads every
// order, all under the write lock on the embedded database (on MongoDB, run
// it while the app is stopped): a maintenance command, not a request path.
// It returns how many customers have orders.
func (s *OrderStore) ReconcileCustomerLists(ctx context.Context) (int, error) {
	customers := 0
	err := s.db.write(func() error {
		cur, err := s.db.col(colOrders).Find(ctx, bson.D{})
		if err != nil {
			return err
		}
		var orders []Order
		if err := cur.All(ctx, &orders); err != nil {
			return err
		}
		for i := 0; i < customerShards; i++ {
			if err := s.db.col(fmt.Sprintf("customerOrders_%02d", i)).Drop(ctx); err != nil {
				return err
			}
		}
		if _, err := s.db.col(colOrderRows).DeleteMany(ctx, bson.D{}); err != nil {
			return err
		}
		counts := map[string]int64{CounterOrders: int64(len(orders))}
		seen := map[primitive.ObjectID]bool{}
		for i := range orders {
			counts[StatusCounter(orders[i].Status)]++
			seen[orders[i].UserID] = true
		}
		customers = len(seen)
		for _, st := range Statuses {
			if _, err := s.db.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: StatusCounter(st)}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: counts[StatusCounter(st)]}}}}, options.Update().SetUpsert(true)); err != nil {
				return err
			}
		}
		if _, err := s.db.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: CounterOrders}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: counts[CounterOrders]}}}}, options.Update().SetUpsert(true)); err != nil {
			return err
		}
		return s.writeReadModelsLocked(ctx, orders)
	})
	return customers, err
}

// writeReadModels adds orders to both read models.
func (s *OrderStore) writeReadModels(ctx context.Context, orders []Order) error {
	return s.db.write(func() error { return s.writeReadModelsLocked(ctx, orders) })
}

// writeReadModelsLocked is writeReadModels for a caller holding the write
// lock: a document at a time for the customers, in batches for the rows.
func (s *OrderStore) writeReadModelsLocked(ctx context.Context, orders []Order) error {
	byCustomer := map[primitive.ObjectID]bson.D{}
	rows := make([]any, 0, len(orders))
	for i := range orders {
		o := &orders[i]
		byCustomer[o.UserID] = append(byCustomer[o.UserID], bson.E{Key: "items." + o.ID.Hex(), Value: o})
		rows = append(rows, rowOf(o))
	}
	for uid, set := range byCustomer {
		if _, err := s.db.col(customerCol(uid)).UpdateOne(ctx, bson.D{{Key: "_id", Value: uid}}, bson.D{{Key: "$set", Value: set}}, options.Update().SetUpsert(true)); err != nil {
			return err
		}
	}
	for start := 0; start < len(rows); start += 1000 {
		if _, err := s.db.col(colOrderRows).InsertMany(ctx, rows[start:min(start+1000, len(rows))]); err != nil {
			return translate(err)
		}
	}
	return nil
}

// DeleteForUser removes a deleted account's list (its orders stay, for the
// books, and on the board).
func (s *OrderStore) DeleteForUser(ctx context.Context, userID primitive.ObjectID) error {
	return s.db.write(func() error {
		_, err := s.db.col(customerCol(userID)).DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}})
		return err
	})
}

// Import bulk-loads orders made elsewhere (demo data, benchmarks): the
// orders, the read models and the counters, in batches.
func (s *OrderStore) Import(ctx context.Context, orders []Order) error {
	counts := map[string]int64{}
	docs := make([]any, 0, 1000)
	flush := func() error {
		if len(docs) == 0 {
			return nil
		}
		err := s.db.write(func() error {
			_, err := s.db.col(colOrders).InsertMany(ctx, docs)
			return translate(err)
		})
		docs = docs[:0]
		return err
	}
	for i := range orders {
		docs = append(docs, &orders[i])
		counts[StatusCounter(orders[i].Status)]++
		counts[CounterOrders]++
		if len(docs) == cap(docs) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := s.writeReadModels(ctx, orders); err != nil {
		return err
	}
	return s.db.write(func() error {
		for key, n := range counts {
			if _, err := s.db.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
				bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: n}}}}, options.Update().SetUpsert(true)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ImportUsers bulk-loads accounts (demo data, benchmarks).
func (s *UserStore) ImportUsers(ctx context.Context, users []User) error {
	docs := make([]any, len(users))
	for i := range users {
		docs[i] = &users[i]
	}
	return s.db.write(func() error {
		_, err := s.db.col(colUsers).InsertMany(ctx, docs)
		return translate(err)
	})
}
