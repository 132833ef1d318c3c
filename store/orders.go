package store

import (
	"context"
	"errors"
	"regexp"
	"sort"
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
// booking, and ServiceName of its name, so later changes to the catalogue
// never rewrite history.
type Order struct {
	ID             primitive.ObjectID `bson:"_id" json:"id"`
	UserID         primitive.ObjectID `bson:"userId" json:"userId"`
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

// StatusChange is one entry of an order's timeline.
type StatusChange struct {
	Status   string             `bson:"status" json:"status"`
	At       time.Time          `bson:"at" json:"at"`
	ByUserID primitive.ObjectID `bson:"byUserId" json:"byUserId"`
	Reason   string             `bson:"reason,omitempty" json:"reason,omitempty"`
}

// OrderSummary is what a customer's list shows of one order: the extended
// reference kept in the customer's own document.
type OrderSummary struct {
	ID          primitive.ObjectID `bson:"id" json:"id"`
	ServiceID   primitive.ObjectID `bson:"serviceId" json:"serviceId"`
	ServiceName string             `bson:"serviceName" json:"serviceName"`
	Status      string             `bson:"status" json:"status"`
	Price       int64              `bson:"price" json:"price"`
	ScheduledAt time.Time          `bson:"scheduledAt" json:"scheduledAt"`
	CreatedAt   time.Time          `bson:"createdAt" json:"createdAt"`
}

func (o *Order) summary() OrderSummary {
	return OrderSummary{ID: o.ID, ServiceID: o.ServiceID, ServiceName: o.ServiceName, Status: o.Status, Price: o.Price, ScheduledAt: o.ScheduledAt, CreatedAt: o.CreatedAt}
}

// customerOrders is one customer's list of orders, read by _id (the user's
// id): on the embedded database any other filter scans every order. Items
// are keyed by the order's hex id, so each is set or removed with a plain
// dotted path, atomically, on MongoDB and FerretDB alike.
type customerOrders struct {
	ID    primitive.ObjectID      `bson:"_id"`
	Items map[string]OrderSummary `bson:"items"`
}

// OrderFilter selects a page of the admin's board, newest first.
type OrderFilter struct {
	Status    string
	ServiceID primitive.ObjectID
	UserIDs   []primitive.ObjectID // any of them; nil: everyone
	From, To  time.Time            // scheduledAt range; zero: open
	Text      string               // part of the address or phone
	Before    primitive.ObjectID
	Limit     int
}

// OrderChange is a partial update of an order's details.
type OrderChange struct {
	ScheduledAt *time.Time
	Address     *string
	Phone       *string
	Notes       *string
	Price       *int64
}

// OrderStore keeps the orders and, with each write, the customer's list
// and the status counters.
type OrderStore struct {
	db       *DB
	counters *CounterStore
}

// NewOrderStore returns the order store of db.
func NewOrderStore(db *DB) *OrderStore { return &OrderStore{db: db, counters: NewCounterStore(db)} }

// Counter keys kept by the order writes.
const (
	CounterOrders = "orders"
)

// StatusCounter is the counter key of the orders in status.
func StatusCounter(status string) string { return "orders:" + status }

// Create inserts o as a new PENDING order. The same idempotency key twice
// for one user is ErrConflict (a unique index on {userId, idempotencyKey}).
func (s *OrderStore) Create(ctx context.Context, o *Order) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	o.ID = primitive.NewObjectID()
	o.Status = StatusPending
	o.CreatedAt, o.UpdatedAt = now, now
	o.History = []StatusChange{{Status: StatusPending, At: now, ByUserID: o.UserID}}
	return s.db.write(func() error {
		if _, err := s.db.col(colOrders).InsertOne(ctx, o); err != nil {
			return translate(err)
		}
		// The same code path keeps the customer's list and the counters.
		if err := s.setSummary(ctx, o); err != nil {
			return err
		}
		return s.count(ctx, "", StatusPending)
	})
}

func (s *OrderStore) setSummary(ctx context.Context, o *Order) error {
	_, err := s.db.col(colCustomerOrders).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: o.UserID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "items." + o.ID.Hex(), Value: o.summary()}}}},
		options.Update().SetUpsert(true))
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

// ForCustomer returns a page of a customer's orders, newest first, from
// their own document: one _id look-up, however many orders exist.
func (s *OrderStore) ForCustomer(ctx context.Context, userID, before primitive.ObjectID, limit int) ([]OrderSummary, primitive.ObjectID, error) {
	var doc customerOrders
	err := s.db.col(colCustomerOrders).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&doc)
	if err != nil && !errors.Is(translate(err), ErrNotFound) {
		return nil, primitive.NilObjectID, err
	}
	items := make([]OrderSummary, 0, len(doc.Items))
	for _, it := range doc.Items {
		if before.IsZero() || it.ID.Hex() < before.Hex() {
			items = append(items, it)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ID.Hex() > items[j].ID.Hex() })
	var next primitive.ObjectID
	if len(items) > limit {
		items = items[:limit]
		next = items[limit-1].ID
	}
	return items, next, nil
}

// List is the admin's board: a page of orders matching f, newest first.
// Indexes that serve it on MongoDB: {status:1,_id:-1} with a status,
// {serviceId:1,_id:-1} with a service, {userId:1,_id:-1} with customers,
// {scheduledAt:1} with a date range; _id alone otherwise.
func (s *OrderStore) List(ctx context.Context, f OrderFilter) ([]Order, primitive.ObjectID, error) {
	if f.Limit < 1 || f.Limit > 100 {
		return nil, primitive.NilObjectID, ErrInvalid
	}
	filter := bson.D{}
	if f.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: f.Status})
	}
	if !f.ServiceID.IsZero() {
		filter = append(filter, bson.E{Key: "serviceId", Value: f.ServiceID})
	}
	if f.UserIDs != nil {
		filter = append(filter, bson.E{Key: "userId", Value: bson.D{{Key: "$in", Value: f.UserIDs}}})
	}
	if !f.From.IsZero() || !f.To.IsZero() {
		r := bson.D{}
		if !f.From.IsZero() {
			r = append(r, bson.E{Key: "$gte", Value: f.From})
		}
		if !f.To.IsZero() {
			r = append(r, bson.E{Key: "$lt", Value: f.To})
		}
		filter = append(filter, bson.E{Key: "scheduledAt", Value: r})
	}
	if f.Text != "" {
		// Matched literally (QuoteMeta): the text is never a pattern.
		re := primitive.Regex{Pattern: regexp.QuoteMeta(f.Text), Options: "i"}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "address", Value: re}}, bson.D{{Key: "phone", Value: re}},
		}})
	}
	if !f.Before.IsZero() {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: f.Before}}})
	}
	cur, err := s.db.col(colOrders).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(f.Limit+1)))
	if err != nil {
		return nil, primitive.NilObjectID, err
	}
	items := make([]Order, 0, f.Limit+1)
	if err := cur.All(ctx, &items); err != nil {
		return nil, primitive.NilObjectID, err
	}
	var next primitive.ObjectID
	if len(items) > f.Limit {
		items = items[:f.Limit]
		next = items[f.Limit-1].ID
	}
	return items, next, nil
}

// Transition moves an order from PENDING to status in one update filtered
// on the old status, appending the change to the history in the same
// update: of two racers one wins, the other gets ErrConflict.
func (s *OrderStore) Transition(ctx context.Context, id primitive.ObjectID, to string, by primitive.ObjectID, reason string) (*Order, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	var o Order
	err := s.db.write(func() error {
		err := s.db.col(colOrders).FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "status", Value: StatusPending}},
			bson.D{
				{Key: "$set", Value: bson.D{{Key: "status", Value: to}, {Key: "updatedAt", Value: now}}},
				{Key: "$push", Value: bson.D{{Key: "history", Value: StatusChange{Status: to, At: now, ByUserID: by, Reason: reason}}}},
			}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&o)
		if err != nil {
			return translate(err)
		}
		if _, err := s.db.col(colCustomerOrders).UpdateOne(ctx, bson.D{{Key: "_id", Value: o.UserID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "items." + o.ID.Hex(), Value: o.summary()}}}}); err != nil {
			return err
		}
		return s.count(ctx, StatusPending, to)
	})
	if errors.Is(err, ErrNotFound) {
		if _, gerr := s.Get(ctx, id); gerr == nil {
			return nil, ErrConflict // it exists, but is no longer PENDING
		}
	}
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// Update changes an order's details; with onlyPending, only while it is
// PENDING (ErrConflict otherwise).
func (s *OrderStore) Update(ctx context.Context, id primitive.ObjectID, ch OrderChange, onlyPending bool) (*Order, error) {
	set := bson.D{{Key: "updatedAt", Value: time.Now().UTC().Truncate(time.Millisecond)}}
	add := func(k string, v any) { set = append(set, bson.E{Key: k, Value: v}) }
	if ch.ScheduledAt != nil {
		add("scheduledAt", *ch.ScheduledAt)
	}
	if ch.Address != nil {
		add("address", *ch.Address)
	}
	if ch.Phone != nil {
		add("phone", *ch.Phone)
	}
	if ch.Notes != nil {
		add("notes", *ch.Notes)
	}
	if ch.Price != nil {
		add("price", *ch.Price)
	}
	filter := bson.D{{Key: "_id", Value: id}}
	if onlyPending {
		filter = append(filter, bson.E{Key: "status", Value: StatusPending})
	}
	var o Order
	err := s.db.write(func() error {
		err := s.db.col(colOrders).FindOneAndUpdate(ctx, filter, bson.D{{Key: "$set", Value: set}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&o)
		if err != nil {
			return translate(err)
		}
		_, err = s.db.col(colCustomerOrders).UpdateOne(ctx, bson.D{{Key: "_id", Value: o.UserID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "items." + o.ID.Hex(), Value: o.summary()}}}})
		return err
	})
	if errors.Is(err, ErrNotFound) && onlyPending {
		if _, gerr := s.Get(ctx, id); gerr == nil {
			return nil, ErrConflict
		}
	}
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// Delete removes an order, its line in the customer's list and its count.
func (s *OrderStore) Delete(ctx context.Context, id primitive.ObjectID) error {
	return s.db.write(func() error {
		var o Order
		if err := s.db.col(colOrders).FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&o); err != nil {
			return translate(err)
		}
		if _, err := s.db.col(colCustomerOrders).UpdateOne(ctx, bson.D{{Key: "_id", Value: o.UserID}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: "items." + o.ID.Hex(), Value: ""}}}}); err != nil {
			return err
		}
		return s.count(ctx, o.Status, "")
	})
}

// ReconcileCustomerLists rebuilds every customer's list from the orders,
// repairing a split left by a crash between the two writes of an order.
// It reads every order: a maintenance command, not a request path.
func (s *OrderStore) ReconcileCustomerLists(ctx context.Context) (int, error) {
	cur, err := s.db.col(colOrders).Find(ctx, bson.D{})
	if err != nil {
		return 0, err
	}
	lists := map[primitive.ObjectID]map[string]OrderSummary{}
	for cur.Next(ctx) {
		var o Order
		if err := cur.Decode(&o); err != nil {
			return 0, err
		}
		if lists[o.UserID] == nil {
			lists[o.UserID] = map[string]OrderSummary{}
		}
		lists[o.UserID][o.ID.Hex()] = o.summary()
	}
	if err := cur.Err(); err != nil {
		return 0, err
	}
	err = s.db.write(func() error {
		if _, err := s.db.col(colCustomerOrders).DeleteMany(ctx, bson.D{}); err != nil {
			return err
		}
		for uid, items := range lists {
			if _, err := s.db.col(colCustomerOrders).InsertOne(ctx, customerOrders{ID: uid, Items: items}); err != nil {
				return err
			}
		}
		return nil
	})
	return len(lists), err
}

// DeleteForUser removes a deleted account's list (its orders stay, for the
// books).
func (s *OrderStore) DeleteForUser(ctx context.Context, userID primitive.ObjectID) error {
	return s.db.write(func() error {
		_, err := s.db.col(colCustomerOrders).DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}})
		return err
	})
}
