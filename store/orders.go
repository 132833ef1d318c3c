package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Order is one booked cleaning. Price is a snapshot of the service's price at
// booking, ServiceName of its name and CustomerName of the customer's, so
// later changes never rewrite history.
type Order struct {
	ID           primitive.ObjectID `bson:"_id" json:"id"`
	UserID       primitive.ObjectID `bson:"userId" json:"userId"`
	CustomerName string             `bson:"customerName" json:"customerName"`
	ServiceID    primitive.ObjectID `bson:"serviceId" json:"serviceId"`
	ServiceName  string             `bson:"serviceName" json:"serviceName"`
	// ServiceNames is the name in every language at booking; empty on an
	// order booked before the catalogue had three (see ServiceTitle).
	ServiceNames Texts  `bson:"serviceNames,omitempty" json:"serviceNames"`
	Status       string `bson:"status" json:"status"`
	Price        int64  `bson:"price" json:"price"` // = Total
	// The price as quoted at booking (see Quote): changing the price list
	// later changes no order. Empty on an order booked before the
	// calculator: PriceLines reads it as one line of Price.
	Lines           []PriceLine     `bson:"lines,omitempty" json:"lines"`
	Subtotal        int64           `bson:"subtotal,omitempty" json:"subtotal"`
	Discounts       []PriceDiscount `bson:"discounts,omitempty" json:"discounts"`
	Rounding        int64           `bson:"rounding,omitempty" json:"rounding"`
	Total           int64           `bson:"total,omitempty" json:"total"`
	DurationMinutes int             `bson:"durationMinutes,omitempty" json:"durationMinutes"`
	PromoCode       string          `bson:"promoCode,omitempty" json:"promoCode,omitempty"`
	Frequency       string          `bson:"frequency,omitempty" json:"frequency"`
	ScheduledAt     time.Time       `bson:"scheduledAt" json:"scheduledAt"`
	// The crew that goes, and until when: EndsAt is the visit's end,
	// ReservedUntil the end of the crew's hold on it (the buffer after;
	// see reservations.go). None on an order booked before the schedule.
	CrewID         primitive.ObjectID `bson:"crewId,omitempty" json:"crewId,omitempty"`
	CrewName       string             `bson:"crewName,omitempty" json:"crewName,omitempty"`
	EndsAt         time.Time          `bson:"endsAt,omitempty" json:"endsAt,omitempty"`
	ReservedUntil  time.Time          `bson:"reservedUntil,omitempty" json:"-"`
	Address        string             `bson:"address" json:"address"`
	Phone          string             `bson:"phone" json:"phone"`
	Notes          string             `bson:"notes" json:"notes"`
	History        []StatusChange     `bson:"history" json:"history"`
	IdempotencyKey string             `bson:"idempotencyKey" json:"idempotencyKey"`
	RequestHash    string             `bson:"requestHash" json:"-"` // what the key was first used for
	CreatedAt      time.Time          `bson:"createdAt" json:"createdAt"`
	UpdatedAt      time.Time          `bson:"updatedAt" json:"updatedAt"`
	// Seq numbers the orders in the order they were made; the board's page
	// documents hold orderPageSize orders each, by Seq. It is also the
	// order's number people read out (#1042): short, and unique (see
	// reserveSeqs).
	Seq int64 `bson:"seq" json:"number"`
	// CustomerSeq numbers the customer's own orders, for their list.
	CustomerSeq int64 `bson:"cseq" json:"-"`
	// Booking is the journal entry of the group that made it (see journal.go).
	Booking primitive.ObjectID `bson:"booking,omitempty" json:"-"`
	// Payment is what the cleaner collected on site, once completed.
	Payment *Payment `bson:"payment,omitempty" json:"payment,omitempty"`
	// Checklist is the service's checklist as ticked on this visit, by the
	// item's id: each tick is one field set on its own (see Tick), so two
	// ticks at once, or one sent twice, never undo each other.
	Checklist map[string]ChecklistTick `bson:"checklist,omitempty" json:"checklist,omitempty"`
	// PlanID is the regular cleaning this visit is one of, and PlanDate
	// the date the plan put it on (the visit may have been moved since).
	PlanID   primitive.ObjectID `bson:"planId,omitempty" json:"planId,omitempty"`
	PlanDate string             `bson:"planDate,omitempty" json:"planDate,omitempty"`
}

// StatusChange is one entry of an order's timeline; ByName is the name of
// who made it, as it was then. Type says what changed: "status" (Status
// is the new one; entries made before types existed have no Type), or a
// detail: "scheduledAt", "address", "phone", "notes", "price". From and To
// are the values before and after, as stored (a time in RFC 3339 UTC, a
// price in so'm): the timeline writes them in the reader's language.
type StatusChange struct {
	Status   string             `bson:"status,omitempty" json:"status,omitempty"`
	Type     string             `bson:"type,omitempty" json:"type"`
	From     string             `bson:"from,omitempty" json:"from,omitempty"`
	To       string             `bson:"to,omitempty" json:"to,omitempty"`
	At       time.Time          `bson:"at" json:"at"`
	ByUserID primitive.ObjectID `bson:"byUserId" json:"byUserId"`
	ByName   string             `bson:"byName,omitempty" json:"byName,omitempty"`
	Reason   string             `bson:"reason,omitempty" json:"reason,omitempty"`
	Op       primitive.ObjectID `bson:"op,omitempty" json:"-"` // the journaled write that made it
}

// An order's timeline is stored packed (see pack), an entry a field: the
// order page reads an order on each view, and FerretDB's cost of a read or
// an update grows with the document's fields.
func (c StatusChange) MarshalBSONValue() (bsontype.Type, []byte, error) {
	type plain StatusChange
	return pack(plain(c))
}

func (c *StatusChange) UnmarshalBSONValue(t bsontype.Type, data []byte) error {
	type plain StatusChange
	return unpack(t, data, (*plain)(c), "an order's timeline entry")
}

// OrderSummary is an order as the lists show it: the customer's "My
// orders" and the admin's board. The lists keep it in small documents read
// by _id (see rowPages), so it is stored with short keys: the board decodes
// every row of a page, and every byte counts. Seq and CustomerSeq are its
// places in the two lists.
type OrderSummary struct {
	ID           primitive.ObjectID `bson:"_id" json:"id"`
	UserID       primitive.ObjectID `bson:"u" json:"-"`
	CustomerName string             `bson:"c" json:"-"`
	ServiceID    primitive.ObjectID `bson:"s" json:"serviceId"`
	ServiceName  string             `bson:"n" json:"serviceName"`
	ServiceNames Texts              `bson:"ns,omitempty" json:"serviceNames"`
	Status       string             `bson:"st" json:"status"`
	Price        int64              `bson:"p" json:"price"`
	ScheduledAt  time.Time          `bson:"at" json:"scheduledAt"`
	Address      string             `bson:"a" json:"-"`
	Phone        string             `bson:"ph" json:"-"`
	Seq          int64              `bson:"q" json:"number"` // the order's number
	CustomerSeq  int64              `bson:"cq" json:"-"`
	UpdatedAt    time.Time          `bson:"up,omitempty" json:"updatedAt"` // the board marks what changed since an admin last looked
	MadeAt       time.Time          `bson:"mk,omitempty" json:"-"`         // CreatedAt to the millisecond (the id's time is in seconds)
	CrewID       primitive.ObjectID `bson:"cr,omitempty" json:"crewId,omitempty"`
	CrewName     string             `bson:"cn,omitempty" json:"crewName,omitempty"`
	Paid         bool               `bson:"pd,omitempty" json:"paid"` // a payment was recorded on site
	PlanID       primitive.ObjectID `bson:"pl,omitempty" json:"planId,omitempty"`
	CreatedAt    time.Time          `bson:"-" json:"createdAt"` // the id's time
	// VisitEnd and Moves are for the calendar feed (#24), which reads the
	// list rather than every order: the visit's end (EndsAt, or its start
	// plus its length on an order booked before the schedule), and how
	// many times the visit was moved. A row written before them has
	// neither: the feed reads that order whole.
	VisitEnd time.Time `bson:"ve,omitempty" json:"-"`
	Moves    int       `bson:"mv,omitempty" json:"-"`
}

// Summary is the list line of o.
func (o *Order) Summary() OrderSummary {
	return OrderSummary{ID: o.ID, UserID: o.UserID, CustomerName: o.CustomerName, ServiceID: o.ServiceID, ServiceName: o.ServiceName,
		ServiceNames: o.ServiceNames, Status: o.Status, Price: o.Price, ScheduledAt: o.ScheduledAt, Address: o.Address, Phone: o.Phone,
		Seq: o.Seq, CustomerSeq: o.CustomerSeq, UpdatedAt: o.UpdatedAt, MadeAt: o.CreatedAt, CreatedAt: o.CreatedAt,
		CrewID: o.CrewID, CrewName: o.CrewName, Paid: o.Payment != nil, PlanID: o.PlanID,
		VisitEnd: o.VisitEnd(), Moves: o.Moves()}
}

// VisitEnd is when the visit ends: EndsAt, or its start plus its length on
// an order booked before the schedule.
func (o *Order) VisitEnd() time.Time {
	if !o.EndsAt.IsZero() {
		return o.EndsAt
	}
	return o.ScheduledAt.Add(time.Duration(o.VisitMinutes()) * time.Minute)
}

// Moves is how many times the visit was moved: its timeline's scheduledAt
// changes.
func (o *Order) Moves() int {
	n := 0
	for _, ch := range o.History {
		if ch.Type == ChangeScheduledAt {
			n++
		}
	}
	return n
}

// OrderFilter selects a page of the admin's board, newest first.
type OrderFilter struct {
	Status    string
	ServiceID primitive.ObjectID
	CrewID    primitive.ObjectID   // zero: every crew
	UserIDs   []primitive.ObjectID // any of them; nil: everyone
	From, To  time.Time            // scheduledAt range; zero: open
	Text      string               // part of the address, phone or customer's name, any case; or the order's number (#1042 or 1042)
	Plans     bool                 // only the visits of regular cleanings (plans)
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
	if !f.CrewID.IsZero() && s.CrewID != f.CrewID {
		return false
	}
	if f.Plans && s.PlanID.IsZero() {
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
		if n, ok := OrderNumber(t); ok && s.Seq == n {
			return f.Before.IsZero() || s.ID.Hex() < f.Before.Hex()
		}
		if strings.HasPrefix(t, "#") {
			return false // a number, and not this one
		}
		if !strings.Contains(strings.ToLower(s.Address), t) && !strings.Contains(s.Phone, t) && !strings.Contains(strings.ToLower(s.CustomerName), t) {
			return false
		}
	}
	return f.Before.IsZero() || s.ID.Hex() < f.Before.Hex()
}

// OrderNumber reads an order's number as people write it: "#1042" or
// "1042".
func OrderNumber(s string) (int64, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	if s == "" || len(s) > 18 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// OrderChange is a partial update of an order's details.
type OrderChange struct {
	ScheduledAt *time.Time
	Address     *string
	Phone       *string
	Notes       *string
	Price       *int64
	// Reservation moves the visit (its time, its crew, or both) to a hold
	// the caller has made (ScheduleStore.Reserve); CrewName names its crew.
	// Only a PENDING order moves (else ErrConflict: the caller gives the
	// hold back, Unreserve).
	Reservation *Reservation
	CrewName    string
}

// OrderStore keeps the orders and, with each write, the read models and
// the status counters.
type OrderStore struct {
	db      *DB
	creates createQueue
	// cutAt, in tests, cuts an order write off at that step as a crash
	// would: what is written stays, the rest is left to the journal.
	cutAt string
}

// errCut is the error of a write cut off by cutAt.
var errCut = errors.New("cut off (test)")

// cut reports whether a test cuts the write off at step.
func (s *OrderStore) cut(step string) bool { return s.cutAt != "" && s.cutAt == step }

// NewOrderStore returns the order store of db.
func NewOrderStore(db *DB) *OrderStore {
	return &OrderStore{db: db, creates: createQueue{what: "booking", forBooking: true}}
}

// Counter keys kept by the order writes.
const CounterOrders = "orders"

// StatusCounter is the counter key of the orders in status.
func StatusCounter(status string) string { return "orders:" + status }

// Create inserts o as a new PENDING order. The same idempotency key twice
// for one user is ErrConflict (a unique index on {userId, idempotencyKey}).
func (s *OrderStore) Create(ctx context.Context, o *Order) error {
	return s.CreateWithEmail(ctx, o, nil)
}

// CreateWithEmail is Create with the email that confirms the booking: it
// goes into the outbox together with the order (when the order is made),
// in the same group of writes. The caller may set o.ID beforehand, to link
// to the order from the email.
func (s *OrderStore) CreateWithEmail(ctx context.Context, o *Order, confirm *Email) error {
	r := newCreateReq(o, confirm, time.Now())
	if err := s.creates.do(ctx, s.db, r, s.createBatch); err != nil {
		return err
	}
	if r.mailErr != nil {
		// The order is made; its email could not be queued (logged, as the
		// database failing is). The order page and the admin still have it.
		s.db.log.Warn("orders: the booking email could not be queued", "order", o.ID.Hex(), "error", r.mailErr)
	}
	return nil
}

// newCreateReq is the booking of o, new and PENDING at now, with its
// email, if any.
func newCreateReq(o *Order, mail *Email, now time.Time) *createReq {
	now = now.UTC().Truncate(time.Millisecond)
	if o.ID.IsZero() {
		o.ID = primitive.NewObjectID()
	}
	o.Status = StatusPending
	o.CreatedAt, o.UpdatedAt = now, now
	o.History = []StatusChange{{Type: ChangeStatus, To: StatusPending, Status: StatusPending, At: now, ByUserID: o.UserID, ByName: o.CustomerName}}
	return &createReq{o: o, mail: mail}
}

// CreateMany books many orders in one commit (the plans job's visits),
// none with an email: each as CreateWithEmail would. It returns each
// order's error (ErrConflict: made already), or the error that kept the
// whole group from an answer in time.
func (s *OrderStore) CreateMany(ctx context.Context, orders []*Order) ([]error, error) {
	now := time.Now()
	rs := make([]*createReq, len(orders))
	for i, o := range orders {
		rs[i] = newCreateReq(o, nil, now)
	}
	if err := s.creates.doAll(ctx, s.db, rs, s.createBatch); err != nil {
		return nil, err
	}
	errs := make([]error, len(rs))
	for i, r := range rs {
		errs[i] = r.err
	}
	return errs, nil
}

// statusInc is the totals' $inc for o entering (d = 1) or leaving (d = -1)
// status: its count and, for COMPLETED, the revenue booked and collected.
func statusInc(o *Order, status string, d int64) bson.D {
	inc := bson.D{{Key: "status." + status, Value: d}}
	if status == StatusCompleted {
		inc = append(inc, bson.E{Key: "revenue", Value: d * o.Price})
		if o.Payment != nil {
			inc = append(inc, bson.E{Key: "collected", Value: d * o.Payment.Amount})
		}
	}
	return inc
}

// dayInc is inc (status: delta) as the $inc of the day o was made, in
// its month's document (see monthCounter).
func dayInc(o *Order, inc bson.D) bson.D {
	prefix := "days." + o.CreatedAt.In(Tashkent).Format(time.DateOnly) + "."
	out := make(bson.D, len(inc))
	for i, e := range inc {
		out[i] = bson.E{Key: prefix + e.Key, Value: e.Value}
	}
	return out
}

// reproject writes an order's row into both lists.
func (s *OrderStore) reproject(ctx context.Context, o *Order) error {
	row := o.Summary()
	if err := customerPages(o.UserID).set(ctx, s.db, o.CustomerSeq, row); err != nil {
		return err
	}
	return boardPages.set(ctx, s.db, o.Seq, row)
}

// Get returns one order.
func (s *OrderStore) Get(ctx context.Context, id primitive.ObjectID) (*Order, error) {
	var o Order
	if err := s.db.findByID(ctx, colOrders, id, &o); err != nil {
		return nil, err
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

// ForCustomerOrder returns one of a customer's orders; another customer's
// order is ErrNotFound, as if it did not exist.
func (s *OrderStore) ForCustomerOrder(ctx context.Context, userID, id primitive.ObjectID) (*Order, error) {
	o, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.UserID != userID {
		return nil, ErrNotFound
	}
	return o, nil
}

// ForCustomer returns a page of a customer's orders, newest first, from
// their list: a few _id look-ups, however many orders exist.
func (s *OrderStore) ForCustomer(ctx context.Context, userID, before primitive.ObjectID, limit int) ([]OrderSummary, primitive.ObjectID, error) {
	if limit < 1 || limit > 100 {
		return nil, primitive.NilObjectID, fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	}
	pages := customerPages(userID)
	from, err := s.customerHead(ctx, userID)
	if err != nil {
		return nil, primitive.NilObjectID, err
	}
	f := OrderFilter{Limit: limit}
	if !before.IsZero() {
		o, err := s.Get(ctx, before)
		switch {
		case errors.Is(err, ErrNotFound):
			// The cursor's order is gone: go by its id from the top (ids and
			// numbers agree but for orders made at the same moment).
			f.Before = before
		case err != nil:
			return nil, primitive.NilObjectID, err
		case o.UserID != userID:
			return nil, primitive.NilObjectID, nil // a cursor to someone else's: nothing
		default:
			from = o.CustomerSeq - 1
		}
	}
	return pages.newest(ctx, s.db, from, f)
}

// List is the admin's board: a page of orders matching f, newest first,
// from the board's pages (those before f.Before when it is set).
func (s *OrderStore) List(ctx context.Context, f OrderFilter) ([]OrderSummary, primitive.ObjectID, error) {
	if f.Limit < 1 || f.Limit > 100 {
		return nil, primitive.NilObjectID, fmt.Errorf("%w: limit %d", ErrInvalid, f.Limit)
	}
	t, err := s.Totals(ctx)
	if err != nil {
		return nil, primitive.NilObjectID, err
	}
	from := t.Seq
	if !f.Before.IsZero() {
		o, err := s.Get(ctx, f.Before)
		switch {
		case errors.Is(err, ErrNotFound): // gone: go by its id from the top
		case err != nil:
			return nil, primitive.NilObjectID, err
		default:
			from, f.Before = min(from, o.Seq-1), primitive.NilObjectID
		}
	}
	return boardPages.newest(ctx, s.db, from, f)
}

// Each calls fn with every order matching f (f.Before and f.Limit aside),
// newest first, reading a page document at a time, and done after each
// page: an export streams without holding the orders.
func (s *OrderStore) Each(ctx context.Context, f OrderFilter, fn func(OrderSummary) error, done func() error) error {
	t, err := s.Totals(ctx)
	if err != nil {
		return err
	}
	return boardPages.each(ctx, s.db, t.Seq, f, fn, done)
}

// Step is one move of an order along the status graph (see CanMove).
type Step struct {
	To string
	By StatusChange // who makes it (ByUserID, ByName), and why (Reason)
	// ScheduledAt, when set, is the visit's time the caller checked the
	// step against (a visit is completed only once it has started): a
	// reschedule meanwhile is ErrConflict.
	ScheduledAt time.Time
	Payment     *Payment // with COMPLETED: what was collected on site
}

// Transition moves an order to status to (see Move).
func (s *OrderStore) Transition(ctx context.Context, id primitive.ObjectID, to string, by StatusChange) (*Order, error) {
	return s.Move(ctx, id, Step{To: to, By: by})
}

// Move makes step: one update filtered on the status the order had, with
// the change appended to its history (and the payment set), so of two
// racers one wins and the other gets ErrConflict. A step the graph does
// not allow from the order's status is ErrBadTransition. Journaled (see
// journal.go).
func (s *OrderStore) Move(ctx context.Context, id primitive.ObjectID, step Step) (*Order, error) {
	if step.Payment != nil && step.To != StatusCompleted {
		return nil, fmt.Errorf("%w: a payment is recorded with the visit's completion", ErrInvalid)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var o *Order
	err := s.db.write(func() error {
		j, err := s.beginOrderWrite(ctx, journalStatus, id)
		if err != nil {
			return err
		}
		from := j.Order.Status
		if !CanMove(from, step.To) {
			return fmt.Errorf("%w: %s to %s", ErrBadTransition, from, step.To)
		}
		j.To = step.To
		by := step.By
		by.Type, by.From, by.To = ChangeStatus, from, step.To
		by.Status, by.At, by.Op = step.To, now, j.ID
		cond := bson.D{{Key: "status", Value: from}}
		if !step.ScheduledAt.IsZero() {
			cond = append(cond, bson.E{Key: "scheduledAt", Value: step.ScheduledAt})
		}
		set := bson.D{{Key: "status", Value: step.To}, {Key: "updatedAt", Value: now}}
		if p := step.Payment; p != nil {
			paid := *p
			paid.At, paid.ByUserID = now, by.ByUserID
			set = append(set, bson.E{Key: "payment", Value: paid})
		}
		if err := s.db.begin(ctx, j); err != nil {
			return err
		}
		if s.cut("journaled") {
			return errCut
		}
		o, err = s.updateByID(ctx, id, cond, bson.D{
			{Key: "$set", Value: set},
			{Key: "$push", Value: bson.D{{Key: "history", Value: by}}},
		})
		if err != nil {
			return s.abandon(ctx, j, err)
		}
		if s.cut("written") {
			return errCut
		}
		if err := s.settleTransition(ctx, j, o); err != nil {
			return err
		}
		return s.db.finish(ctx, j.ID, s.countersOf(j)...)
	})
	return o, err
}

// TickStatuses are the statuses in which a visit's checklist is ticked:
// from arrival on, and after completion for ticks that waited for a
// connection.
var TickStatuses = []string{StatusInProgress, StatusCompleted}

// Tick records item of order id's checklist as done or not, by by, unless
// the order has left TickStatuses meanwhile (ErrConflict). item is an id
// of the service's checklist, which the caller checked: it becomes a field
// name.
func (s *OrderStore) Tick(ctx context.Context, id primitive.ObjectID, item string, done bool, by primitive.ObjectID) (*Order, error) {
	if item == "" || strings.ContainsAny(item, ".$") {
		return nil, fmt.Errorf("%w: checklist item", ErrInvalid)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var o *Order
	err := s.db.write(func() error {
		cur, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		if !slices.Contains(TickStatuses, cur.Status) {
			return fmt.Errorf("%w: the visit is %s", ErrConflict, cur.Status)
		}
		// Filtered on the status read (an equality: what the embedded
		// database checks itself), so a step meanwhile is a conflict.
		o, err = s.updateByID(ctx, id, bson.D{{Key: "status", Value: cur.Status}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "checklist." + item, Value: ChecklistTick{Done: done, At: now, ByUserID: by}}}},
		})
		return err
	})
	return o, err
}

// Advance moves an order along the visit's path (PENDING, CONFIRMED,
// ON_THE_WAY, IN_PROGRESS, COMPLETED) one step at a time until it is in
// status to, each step in its history: the demo's visits, and tests that
// need a visit done.
func (s *OrderStore) Advance(ctx context.Context, id primitive.ObjectID, to string, by StatusChange) (*Order, error) {
	path := []string{StatusPending, StatusConfirmed, StatusOnTheWay, StatusInProgress, StatusCompleted}
	for {
		o, err := s.Get(ctx, id)
		if err != nil || o.Status == to {
			return o, err
		}
		next := to
		if !CanMove(o.Status, to) {
			i := slices.Index(path, o.Status)
			if i < 0 || i == len(path)-1 {
				return nil, fmt.Errorf("%w: %s to %s", ErrBadTransition, o.Status, to)
			}
			next = path[i+1]
		}
		if _, err := s.Move(ctx, id, Step{To: next, By: by}); err != nil {
			return nil, err
		}
	}
}

// abandon ends the journal entry of a write that failed with err: at once
// when the write certainly did not happen (the order is gone, or no longer
// in the state asked for), else it is left to the repair, which looks.
func (s *OrderStore) abandon(ctx context.Context, j *journalEntry, err error) error {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		return errors.Join(err, s.db.finish(ctx, j.ID))
	}
	return err
}

// beginOrderWrite reads order id and makes the journal entry of a write to
// it (not yet written: the caller completes and begins it).
func (s *OrderStore) beginOrderWrite(ctx context.Context, kind string, id primitive.ObjectID) (*journalEntry, error) {
	before, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	before.History = nil // the journal needs the counted fields only
	return &journalEntry{ID: primitive.NewObjectID(), Kind: kind, Order: before}, nil
}

// settleTransition counts o's move from j's old status to its new one and
// sets its rows; once per op.
func (s *OrderStore) settleTransition(ctx context.Context, j *journalEntry, o *Order) error {
	from := j.Order.Status
	mark := j.ID.Hex()
	if err := s.db.countOnce(ctx, counterOrders, mark, j.fresh, append(statusInc(o, from, -1), statusInc(o, j.To, 1)...)); err != nil {
		return err
	}
	if err := s.db.countOnce(ctx, monthCounter(o.CreatedAt.In(Tashkent)), mark, j.fresh, dayInc(o, bson.D{{Key: from, Value: -1}, {Key: j.To, Value: 1}})); err != nil {
		return err
	}
	if s.cut("counted") {
		return errCut
	}
	if err := settleReservation(ctx, s.db, j.Order.Reservation(), o); err != nil {
		return err
	}
	return s.reproject(ctx, o)
}

// updateByID applies update to order id if it still has the fields of
// cond (see updateIf), and returns it as it is afterwards; a missing order
// is ErrNotFound, one that no longer matches cond ErrConflict. Call it
// within db.write.
func (s *OrderStore) updateByID(ctx context.Context, id primitive.ObjectID, cond, update bson.D) (*Order, error) {
	if s.db.filtersItself() {
		// One atomic update that answers the order as it made it.
		var o Order
		err := s.db.col(colOrders).FindOneAndUpdate(ctx, append(bson.D{{Key: "_id", Value: id}}, cond...), update,
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&o)
		if errors.Is(err, mongo.ErrNoDocuments) && len(cond) > 0 {
			if _, gerr := s.Get(ctx, id); gerr == nil {
				return nil, ErrConflict
			}
		}
		if err != nil {
			return nil, translate(err)
		}
		return &o, nil
	}
	ok, err := s.db.updateIf(ctx, colOrders, id, cond, update)
	if err != nil {
		return nil, err
	}
	o, err := s.Get(ctx, id)
	if err == nil && !ok {
		err = ErrConflict
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// Timeline entry types (StatusChange.Type).
const (
	ChangeStatus      = "status"
	ChangeScheduledAt = "scheduledAt"
	ChangeAddress     = "address"
	ChangePhone       = "phone"
	ChangeNotes       = "notes"
	ChangePrice       = "price"
	ChangeCrew        = "crewId" // From and To are the crews' names
)

// changeEntries are the timeline entries of ch applied to before: one per
// detail whose value changes.
func changeEntries(before *Order, ch OrderChange, by StatusChange, at time.Time, op primitive.ObjectID) []StatusChange {
	var out []StatusChange
	add := func(typ, from, to string) {
		if from != to {
			out = append(out, StatusChange{Type: typ, From: from, To: to, At: at, ByUserID: by.ByUserID, ByName: by.ByName, Op: op})
		}
	}
	if ch.ScheduledAt != nil {
		add(ChangeScheduledAt, before.ScheduledAt.UTC().Format(time.RFC3339), ch.ScheduledAt.UTC().Format(time.RFC3339))
	}
	if ch.Address != nil {
		add(ChangeAddress, before.Address, *ch.Address)
	}
	if ch.Phone != nil {
		add(ChangePhone, before.Phone, *ch.Phone)
	}
	if ch.Notes != nil {
		add(ChangeNotes, before.Notes, *ch.Notes)
	}
	if ch.Price != nil {
		add(ChangePrice, strconv.FormatInt(before.Price, 10), strconv.FormatInt(*ch.Price, 10))
	}
	if ch.Reservation != nil && ch.Reservation.CrewID != before.CrewID {
		add(ChangeCrew, before.CrewName, ch.CrewName)
	}
	return out
}

// Update changes an order's details; with onlyUpcoming, only while the
// visit has not begun (PENDING or CONFIRMED; ErrConflict otherwise). See
// UpdateBy.
func (s *OrderStore) Update(ctx context.Context, id primitive.ObjectID, ch OrderChange, onlyUpcoming bool) (*Order, error) {
	o, _, err := s.UpdateBy(ctx, id, ch, onlyUpcoming, StatusChange{})
	return o, err
}

// UpdateBy is Update made by by (ByUserID, ByName): each detail that
// changes is a timeline entry, pushed in the same update as the change.
// It returns the order as it is afterwards and those entries.
func (s *OrderStore) UpdateBy(ctx context.Context, id primitive.ObjectID, ch OrderChange, onlyUpcoming bool, by StatusChange) (*Order, []StatusChange, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	if ch.Reservation != nil {
		ch.ScheduledAt = &ch.Reservation.From
	}
	set := bson.D{{Key: "updatedAt", Value: now}}
	set = setIf(set, "scheduledAt", ch.ScheduledAt)
	set = setIf(set, "address", ch.Address)
	set = setIf(set, "phone", ch.Phone)
	set = setIf(set, "notes", ch.Notes)
	set = setIf(set, "price", ch.Price)
	// The total follows the price an admin sets; the lines stay as quoted,
	// and the order page shows the difference as the company's adjustment.
	set = setIf(set, "total", ch.Price)
	if r := ch.Reservation; r != nil {
		set = append(set, bson.E{Key: "crewId", Value: r.CrewID}, bson.E{Key: "crewName", Value: ch.CrewName},
			bson.E{Key: "endsAt", Value: r.EndsAt}, bson.E{Key: "reservedUntil", Value: r.Until})
	}
	var o *Order
	var entries []StatusChange
	err := s.db.write(func() error {
		j, err := s.beginOrderWrite(ctx, journalUpdate, id)
		if err != nil {
			return err
		}
		if ch.Reservation == nil && ch.ScheduledAt != nil && !j.Order.CrewID.IsZero() && !ch.ScheduledAt.Equal(j.Order.ScheduledAt) {
			// Its crew's cells would stay at the old time, the order at
			// the new one, over a span ending where the old one did.
			return fmt.Errorf("%w: a visit with a crew moves with a reservation (ScheduleStore.Reserve)", ErrInvalid)
		}
		// Only a visit to come moves: a cancelled one holds no cells, and
		// its settle would not release the new ones (the caller, told of
		// the conflict, gives them back). Filtered on the status read.
		var cond bson.D
		if onlyUpcoming || ch.Reservation != nil {
			if !Upcoming(j.Order.Status) {
				return fmt.Errorf("%w: the visit has begun or ended", ErrConflict)
			}
			cond = bson.D{{Key: "status", Value: j.Order.Status}}
		}
		entries = changeEntries(j.Order, ch, by, now, j.ID)
		update := bson.D{{Key: "$set", Value: set}}
		if len(entries) > 0 {
			update = append(update, bson.E{Key: "$push", Value: bson.D{{Key: "history", Value: bson.D{{Key: "$each", Value: entries}}}}})
		}
		j.Price = ch.Price
		if ch.Reservation != nil {
			// From the hold the journal knows: its cells are released
			// when the move is settled, so a move meanwhile is a conflict.
			cond = append(cond, bson.E{Key: "scheduledAt", Value: j.Order.ScheduledAt})
			if !j.Order.CrewID.IsZero() {
				cond = append(cond, bson.E{Key: "crewId", Value: j.Order.CrewID})
			}
		}
		if ch.Price != nil {
			// From the price the journal knows: a concurrent edit of it is
			// a conflict, not a revenue counted twice.
			cond = append(cond, bson.E{Key: "price", Value: j.Order.Price})
		}
		if err := s.db.begin(ctx, j); err != nil {
			return err
		}
		if o, err = s.updateByID(ctx, id, cond, update); err != nil {
			return s.abandon(ctx, j, err)
		}
		if s.cut("written") {
			return errCut
		}
		if err := s.settleUpdate(ctx, j, o); err != nil {
			return err
		}
		return s.db.finish(ctx, j.ID, s.countersOf(j)...)
	})
	if err != nil {
		return nil, nil, err
	}
	return o, entries, nil
}

// settleUpdate counts a completed order's new price in the revenue, once
// per op, and sets its rows.
func (s *OrderStore) settleUpdate(ctx context.Context, j *journalEntry, o *Order) error {
	// Revenue counts completed orders, and a completed order stays so: the
	// edit moves it when the order was completed at the edit and carries
	// the new price now (in a repair, that the edit happened).
	if j.Price != nil && *j.Price != j.Order.Price && j.Order.Status == StatusCompleted && o.Price == *j.Price {
		if err := s.db.countOnce(ctx, counterOrders, j.ID.Hex(), j.fresh, bson.D{{Key: "revenue", Value: o.Price - j.Order.Price}}); err != nil {
			return err
		}
	}
	if err := settleReservation(ctx, s.db, j.Order.Reservation(), o); err != nil {
		return err
	}
	return s.reproject(ctx, o)
}

// Delete removes an order, its lines in the read models and its count.
// Journaled (see journal.go).
func (s *OrderStore) Delete(ctx context.Context, id primitive.ObjectID) error {
	return s.db.write(func() error {
		j, err := s.beginOrderWrite(ctx, journalDelete, id)
		if err != nil {
			return err
		}
		// An order whose booking is still being settled (cut off, awaiting
		// its repair) is not counted yet: it goes once it is.
		if !j.Order.Booking.IsZero() {
			if err := s.db.col(colJournal).FindOne(ctx, bson.D{{Key: "_id", Value: j.Order.Booking}}).Err(); err == nil {
				return fmt.Errorf("%w: its booking is still being recorded", ErrConflict)
			} else if !errors.Is(err, mongo.ErrNoDocuments) {
				return translate(err)
			}
		}
		if err := s.db.begin(ctx, j); err != nil {
			return err
		}
		// The delete hands back what it removed: of two deleting at once
		// (on MongoDB) only one gets the order, and only it counts it out.
		if s.cut("journaled") {
			return errCut
		}
		var o Order
		if err := s.db.col(colOrders).FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&o); err != nil {
			return s.abandon(ctx, j, translate(err))
		}
		if s.cut("written") {
			return errCut
		}
		j.Order = &o
		if err := s.settleDelete(ctx, j); err != nil {
			return err
		}
		return s.db.finish(ctx, j.ID, s.countersOf(j)...)
	})
}

// settleDelete takes the deleted order of j out of its lists and its
// counts, once per op.
func (s *OrderStore) settleDelete(ctx context.Context, j *journalEntry) error {
	o := j.Order
	if err := settleReservation(ctx, s.db, o.Reservation(), &Order{ID: o.ID}); err != nil {
		return err
	}
	if err := customerPages(o.UserID).unset(ctx, s.db, o.CustomerSeq, o.ID); err != nil {
		return err
	}
	if err := boardPages.unset(ctx, s.db, o.Seq, o.ID); err != nil {
		return err
	}
	mark := j.ID.Hex()
	if err := s.db.countOnce(ctx, counterOrders, mark, j.fresh, append(bson.D{{Key: "n", Value: -1}, {Key: "services." + o.ServiceID.Hex(), Value: -1}},
		statusInc(o, o.Status, -1)...)); err != nil {
		return err
	}
	return s.db.countOnce(ctx, monthCounter(o.CreatedAt.In(Tashkent)), mark, j.fresh, dayInc(o, bson.D{{Key: o.Status, Value: -1}}))
}

// DeleteForUser removes a deleted account's list (its orders stay, for the
// books, and on the board).
func (s *OrderStore) DeleteForUser(ctx context.Context, userID primitive.ObjectID) error {
	return s.db.write(func() error {
		n, err := s.customerHead(ctx, userID)
		if err != nil {
			return err
		}
		pages := customerPages(userID)
		for seq := n; seq >= 0; seq -= pages.size {
			if _, err := s.db.col(colCustomerOrders).DeleteOne(ctx, bson.D{{Key: "_id", Value: pages.id(seq)}}); err != nil {
				return err
			}
		}
		_, err = s.db.col(colCustomerOrders).DeleteOne(ctx, bson.D{{Key: "_id", Value: userID.Hex()}})
		return err
	})
}

// Import bulk-loads orders made elsewhere (demo data, benchmarks), oldest
// first: it numbers them after the orders there are, then writes them, their
// lists and their counts, in batches. An order with a crew (CrewID,
// ScheduledAt, EndsAt, ReservedUntil set) gets its reservation too: its
// cells and its day's entry, as a booking's (see importReservations).
func (s *OrderStore) Import(ctx context.Context, orders []Order) error {
	sort.Slice(orders, func(i, j int) bool { return orders[i].ID.Hex() < orders[j].ID.Hex() })
	return s.db.write(func() error {
		// The numbers are reserved first, in one $inc, so nothing made
		// meanwhile (or after a failed batch) can take them.
		var t OrderTotals
		err := s.db.findAndUpsertByID(ctx, colCounters, counterOrders, bson.D{{Key: "$inc", Value: bson.D{{Key: "seq", Value: int64(len(orders))}}}}, true, &t)
		if err != nil {
			return err
		}
		first := t.Seq - int64(len(orders)) + 1
		counts := newOrderCounts()
		perCustomer := map[primitive.ObjectID][]*Order{}
		for i := range orders {
			o := &orders[i]
			o.Seq = first + int64(i)
			counts.add(o)
			perCustomer[o.UserID] = append(perCustomer[o.UserID], o)
		}
		for uid, os := range perCustomer {
			last, err := s.nextCustomerSeq(ctx, uid, int64(len(os)))
			if err != nil {
				return err
			}
			for i, o := range os {
				o.CustomerSeq = last - int64(len(os)) + int64(i) + 1
			}
		}
		// The crews' time first: an import that would sell a crew twice
		// stops before any order of it is written.
		if err := importReservations(ctx, s.db, orders); err != nil {
			return err
		}
		for start := 0; start < len(orders); start += 1000 {
			batch := make([]any, 0, 1000)
			for i := start; i < min(start+1000, len(orders)); i++ {
				batch = append(batch, &orders[i])
			}
			if _, err := s.db.col(colOrders).InsertMany(ctx, batch); err != nil {
				return translate(err)
			}
		}
		if err := s.writeReadModels(ctx, orders, nil); err != nil {
			return err
		}
		return counts.write(ctx, s.db, "$inc")
	})
}

// writeReadModels adds orders to both lists, one update per document; a
// customer's list only when keep (nil: always) says so. The caller holds the
// write lock.
func (s *OrderStore) writeReadModels(ctx context.Context, orders []Order, keep func(primitive.ObjectID) bool) error {
	type list struct {
		seqs []int64
		rows []OrderSummary
	}
	board := list{}
	customers := map[primitive.ObjectID]*list{}
	for i := range orders {
		o := &orders[i]
		row := o.Summary()
		board.seqs, board.rows = append(board.seqs, o.Seq), append(board.rows, row)
		if keep != nil && !keep(o.UserID) {
			continue
		}
		c := customers[o.UserID]
		if c == nil {
			c = &list{}
			customers[o.UserID] = c
		}
		c.seqs, c.rows = append(c.seqs, o.CustomerSeq), append(c.rows, row)
	}
	if err := boardPages.setMany(ctx, s.db, board.seqs, board.rows); err != nil {
		return err
	}
	for uid, c := range customers {
		if err := customerPages(uid).setMany(ctx, s.db, c.seqs, c.rows); err != nil {
			return err
		}
	}
	return nil
}

// ImportUsers bulk-loads accounts (demo data, benchmarks).
func (s *UserStore) ImportUsers(ctx context.Context, users []User) error {
	docs := make([]any, len(users))
	for i := range users {
		docs[i] = &users[i]
	}
	return s.db.write(func() error {
		if _, err := s.db.col(colUsers).InsertMany(ctx, docs); err != nil {
			return translate(err)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		keys := make([]any, 0, 2*len(users))
		for i := range users {
			keys = append(keys, userKey{ID: emailKey(users[i].Email), UserID: users[i].ID, At: now}, userKey{ID: usernameKey(users[i].Username), UserID: users[i].ID, At: now})
		}
		if _, err := s.db.col(colUserKeys).InsertMany(ctx, keys); err != nil {
			return translate(err)
		}
		return s.db.addCounter(ctx, counterUsers, int64(len(users)))
	})
}
