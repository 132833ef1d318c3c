package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// How a crew is never sold twice, on every database.
//
// A visit's reservation is a set of half-hour cells of its crew's time,
// crewTime {_id: "<crew>@<UTC start, 20060102T1504>", o: order, at, b},
// one document per cell, inserted in ascending time; b names the booking
// (BookingTag) when it has an idempotency key. The unique _id lets one
// insert win a cell whatever the database (FerretDB too, across
// processes): of two bookings that would overlap, the first to insert
// their first shared cell holds it, the other stops there and takes back
// the cells it inserted. Nothing is read and then written without a guard,
// and no lock lives in a process.
//
// The order says which reservation is the visit's (crewId, scheduledAt,
// reservedUntil); cells it does not cover are left-overs of a booking or a
// move cut off halfway (a crash), and are taken back by whoever finds one
// in its way once it is older than orphanAge. Releases delete a cell only
// while the order still holds it (deleteIf), so a late release never
// frees a cell someone else has since taken.
//
// The schedule's pages read the reservations from the days' documents,
// scheduleDays {_id: "2026-12-05", visits: {<order>: {c, f, u, e}}}, kept
// by the order writes (settle*) and repaired with them by the journal:
// one read by _id a day, through the document cache.

// orphanAge is how old a cell its order does not cover must be before it
// is taken back: far past any booking's or move's commit (commitTimeout).
const orphanAge = 2 * time.Minute

type crewCell struct {
	ID    string             `bson:"_id"`
	Order primitive.ObjectID `bson:"o"`
	At    time.Time          `bson:"at"`
	// Tag is the BookingTag of the booking that claimed the cell, if it
	// has one: a retry of it that finds the cell held learns that its own
	// other try holds it.
	Tag string `bson:"b,omitempty"`
}

// BookingTag names a customer's booking made with an idempotency key in
// the cells it claims ("" without a key): a retry carries the same one.
// A hash, so that the key itself is not stored a second time.
func BookingTag(user primitive.ObjectID, key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(user.Hex() + "\x00" + key))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// OwnTriesError is ErrSlotTaken for a retry of a booking (the same
// BookingTag) whose own other tries hold some of the crews: Tries, the
// orders they are making and a cell each holds. At most one of those is
// made (one order per key), and it is the retry's answer once it is. A
// try that gives up gives its cells back (StillTrying). Without this a
// retry sent while its first try commits would be told the time is taken:
// the days' documents list the first order only once its commit has
// settled.
type OwnTriesError struct{ Tries []OwnTry }

// OwnTry is another try of a booking: the order it makes, and a cell it
// held when the retry looked.
type OwnTry struct {
	Order primitive.ObjectID
	Cell  string
}

func (e *OwnTriesError) Error() string {
	return fmt.Sprintf("%v (the booking's other tries hold %d of the crews)", ErrSlotTaken, len(e.Tries))
}

func (e *OwnTriesError) Unwrap() error { return ErrSlotTaken }

func cellID(crew primitive.ObjectID, t time.Time) string {
	return crew.Hex() + "@" + t.UTC().Format("20060102T1504")
}

// cells are the ids of the cells of [from, until) of crew.
func cells(crew primitive.ObjectID, from, until time.Time) []string {
	var ids []string
	for t := from; t.Before(until); t = t.Add(CellMinutes * time.Minute) {
		ids = append(ids, cellID(crew, t))
	}
	return ids
}

// Reservation of o: its crew's hold, nil when it has none (an order
// booked before the schedule, or cancelled).
func (o *Order) Reservation() *Reservation {
	if o.CrewID.IsZero() || o.Status == StatusCancelled {
		return nil
	}
	return &Reservation{OrderID: o.ID, CrewID: o.CrewID, From: o.ScheduledAt, Until: o.ReservedUntil, EndsAt: o.EndsAt}
}

// covers reports whether r holds cell id.
func (r *Reservation) covers(id string) bool {
	if r == nil {
		return false
	}
	for _, c := range cells(r.CrewID, r.From, r.Until) {
		if c == id {
			return true
		}
	}
	return false
}

// Reserve holds the first of crews (in their order) that is free for a
// visit of order lasting minutes from at, plus the buffer, for the
// booking tagged tag ("" for none, see BookingTag): it returns the
// reservation, or ErrSlotTaken when every one of them is taken, as a
// *OwnTriesError when the booking's own other tries hold some. Cells the
// order holds already (a move overlapping its old time) count as its own.
func (s *ScheduleStore) Reserve(ctx context.Context, crews []*Crew, order primitive.ObjectID, at time.Time, minutes int, rules ScheduleRules, tag string) (*Reservation, error) {
	var tries []OwnTry
	for _, c := range crews {
		r := NewReservation(order, c.ID, at, minutes, rules)
		held, err := s.claim(ctx, r, tag)
		if err != nil {
			return nil, err
		}
		if held == nil {
			return r, nil
		}
		if tag != "" && held.Tag == tag && !slices.ContainsFunc(tries, func(t OwnTry) bool { return t.Order == held.Order }) {
			tries = append(tries, OwnTry{Order: held.Order, Cell: held.ID})
		}
	}
	if len(tries) > 0 {
		return nil, &OwnTriesError{Tries: tries}
	}
	return nil, ErrSlotTaken
}

// NewReservation is the hold of crew for order's visit lasting minutes
// from at, with the rules' buffer after it.
func NewReservation(order, crew primitive.ObjectID, at time.Time, minutes int, rules ScheduleRules) *Reservation {
	return &Reservation{OrderID: order, CrewID: crew, From: at.UTC(),
		Until:  at.Add(time.Duration(rules.ReservedMinutes(minutes)) * time.Minute).UTC(),
		EndsAt: at.Add(time.Duration(minutes) * time.Minute).UTC()}
}

// ReserveAll claims the cells of many reservations at once, each chosen
// free on a schedule the caller read (a batch of the plans job): one
// insert for all of them. It reports which it holds; one whose cell
// another order holds (a booking meanwhile, an order made already, a
// left-over) is not held, and none of its cells stays: its caller places
// it again the careful way (Reserve).
func (s *ScheduleStore) ReserveAll(ctx context.Context, rs []*Reservation) ([]bool, error) {
	now := time.Now().UTC()
	var docs []any
	var owner []int // docs' reservation, by index
	for i, r := range rs {
		for _, id := range cells(r.CrewID, r.From, r.Until) {
			docs = append(docs, crewCell{ID: id, Order: r.OrderID, At: now})
			owner = append(owner, i)
		}
	}
	held := make([]bool, len(rs))
	for i := range held {
		held[i] = true
	}
	if len(docs) == 0 {
		return held, nil
	}
	refused := map[int]bool{} // docs not inserted
	_, err := s.db.col(colCrewTime).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bulk mongo.BulkWriteException
	switch {
	case err == nil:
	case errors.As(err, &bulk) && bulk.WriteConcernError == nil:
		for _, we := range bulk.WriteErrors {
			if !isDuplicate(we) || we.Index < 0 || we.Index >= len(docs) {
				return nil, errors.Join(translate(err), s.releaseAll(ctx, rs, docs, owner, nil))
			}
			refused[we.Index] = true
			held[owner[we.Index]] = false
		}
	default:
		return nil, errors.Join(translate(err), s.releaseAll(ctx, rs, docs, owner, nil))
	}
	if len(refused) == 0 {
		return held, nil
	}
	return held, s.releaseAll(ctx, rs, docs, owner, func(k int) bool { return !held[owner[k]] && !refused[k] })
}

// releaseAll gives back the cells docs[k] of ReserveAll that which picks
// (nil: all of them).
func (s *ScheduleStore) releaseAll(ctx context.Context, rs []*Reservation, docs []any, owner []int, which func(k int) bool) error {
	ids := make([][]string, len(rs)) // by reservation: one release each
	for k, d := range docs {
		if which == nil || which(k) {
			ids[owner[k]] = append(ids[owner[k]], d.(crewCell).ID)
		}
	}
	var errs []error
	for i, r := range rs {
		if len(ids[i]) > 0 {
			errs = append(errs, s.release(context.WithoutCancel(ctx), r.OrderID, ids[i]))
		}
	}
	return errors.Join(errs...)
}

// claim inserts r's cells, tagged tag; when another order holds one of
// them it returns that cell (and then none of those inserted here stays).
func (s *ScheduleStore) claim(ctx context.Context, r *Reservation, tag string) (*crewCell, error) {
	ids := cells(r.CrewID, r.From, r.Until)
	now := time.Now().UTC()
	var mine []string // inserted here: taken back if the claim fails
	// Left-overs taken back: a booking cut off leaves its whole span, so
	// each cell in the way may be one; none can become one again meanwhile
	// (a cell inserted now is fresh), so this bounds the loop.
	repaired := 0
	for i := 0; i < len(ids); {
		docs := make([]any, 0, len(ids)-i)
		for _, id := range ids[i:] {
			docs = append(docs, crewCell{ID: id, Order: r.OrderID, At: now, Tag: tag})
		}
		_, err := s.db.col(colCrewTime).InsertMany(ctx, docs, options.InsertMany().SetOrdered(true))
		if err == nil {
			return nil, nil
		}
		// Ordered: the cells before the first refused one are in.
		var bulk mongo.BulkWriteException
		if !errors.As(err, &bulk) || bulk.WriteConcernError != nil || len(bulk.WriteErrors) == 0 || !isDuplicate(bulk.WriteErrors[0]) {
			return nil, errors.Join(translate(err), s.release(ctx, r.OrderID, append(mine, ids[i:]...)))
		}
		k := i + bulk.WriteErrors[0].Index
		mine = append(mine, ids[i:k]...)
		held, err := s.holder(ctx, ids[k])
		if err != nil {
			return nil, errors.Join(err, s.release(ctx, r.OrderID, mine))
		}
		switch {
		case held == nil: // gone meanwhile: try it again
			i = k
		case held.Order == r.OrderID: // the order's own (a move over its old time)
			i = k + 1
		case repaired < len(ids) && s.orphan(ctx, held, now):
			repaired++
			if err := s.release(ctx, held.Order, []string{held.ID}); err != nil {
				return nil, errors.Join(err, s.release(ctx, r.OrderID, mine))
			}
			i = k
		default:
			return held, s.release(ctx, r.OrderID, mine)
		}
	}
	return nil, nil
}

// StillTrying reports whether try still holds its cell: a try that gave
// up (its booking refused after it claimed the crew) has given it back;
// one whose order is made keeps it.
func (s *ScheduleStore) StillTrying(ctx context.Context, try OwnTry) (bool, error) {
	held, err := s.holder(ctx, try.Cell)
	return held != nil && held.Order == try.Order, err
}

// holder reads cell id; nil when nobody holds it.
func (s *ScheduleStore) holder(ctx context.Context, id string) (*crewCell, error) {
	var c crewCell
	err := s.db.col(colCrewTime).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// orphan reports whether cell c is a left-over: old enough, and its order
// gone or not holding it.
func (s *ScheduleStore) orphan(ctx context.Context, c *crewCell, now time.Time) bool {
	if now.Sub(c.At) < orphanAge {
		return false
	}
	var o Order
	err := s.db.col(colOrders).FindOne(ctx, bson.D{{Key: "_id", Value: c.Order}}).Decode(&o)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return true
	}
	return err == nil && !o.Reservation().covers(c.ID)
}

// release deletes each of the cells ids while order holds it (a failed
// claim's, an orphan's, a failed move's).
func (s *ScheduleStore) release(ctx context.Context, order primitive.ObjectID, ids []string) error {
	return s.db.writeForBooking(func() error { return releaseCells(ctx, s.db, order, ids) })
}

// releaseCells is release within db.write (or db.writeForBooking).
func releaseCells(ctx context.Context, db *DB, order primitive.ObjectID, ids []string) error {
	for _, id := range ids {
		if _, err := db.deleteIf(ctx, colCrewTime, id, bson.D{{Key: "o", Value: order}}); err != nil {
			return translate(err)
		}
	}
	return nil
}

// Unreserve takes back r (a booking or a move that then failed), apart
// from the cells the order's reservation keep holds.
func (s *ScheduleStore) Unreserve(ctx context.Context, r *Reservation, keep *Reservation) error {
	if r == nil {
		return nil
	}
	var ids []string
	for _, id := range cells(r.CrewID, r.From, r.Until) {
		if !keep.covers(id) {
			ids = append(ids, id)
		}
	}
	return s.release(ctx, r.OrderID, ids)
}

// dayVisit is a reservation as a day's document keeps it.
type dayVisit struct {
	Crew   primitive.ObjectID `bson:"c"`
	From   time.Time          `bson:"f"`
	Until  time.Time          `bson:"u"`
	EndsAt time.Time          `bson:"e"`
}

// A day's document stores each visit packed (see pack): a busy day holds
// hundreds of them.
func (v dayVisit) MarshalBSONValue() (bsontype.Type, []byte, error) {
	type plain dayVisit
	return pack(plain(v))
}

func (v *dayVisit) UnmarshalBSONValue(t bsontype.Type, data []byte) error {
	type plain dayVisit
	return unpack(t, data, (*plain)(v), "a day's visit")
}

type scheduleDay struct {
	Visits map[string]dayVisit `bson:"visits"`
}

// dayReservations are the reservations of local date, by start, shared
// (see bookedDay): the caller must not change them.
func (s *ScheduleStore) dayReservations(ctx context.Context, date string) ([]Reservation, error) {
	d, err := s.bookedDay(ctx, date)
	if err != nil {
		return nil, err
	}
	return d.all, nil
}

// bookedDay is a day's reservations, by start and by crew.
type bookedDay struct {
	all    []Reservation
	byCrew map[primitive.ObjectID][]Reservation
	// answer numbers the cache's answer this was decoded from (see
	// DB.answerSerial); 0 for a day without a document.
	answer uint64
}

// bookedDay reads the reservations of local date: decoded once for each
// answer of the document cache (a month's free times read thirty busy
// days), and shared: the caller must not change them.
func (s *ScheduleStore) bookedDay(ctx context.Context, date string) (*bookedDay, error) {
	v, err := s.db.findShared(ctx, colScheduleDays, date, func(raw bson.Raw) (any, error) {
		var d scheduleDay
		if err := bson.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
		b := &bookedDay{all: decodeDay(&d), byCrew: map[primitive.ObjectID][]Reservation{}, answer: s.db.answerSerial.Add(1)}
		for _, r := range b.all {
			b.byCrew[r.CrewID] = append(b.byCrew[r.CrewID], r)
		}
		return b, nil
	})
	if errors.Is(err, ErrNotFound) {
		return noBookings, nil
	} else if err != nil {
		return nil, err
	}
	return v.(*bookedDay), nil
}

// noBookings is a day without a document. Nobody changes it.
var noBookings = &bookedDay{all: []Reservation{}}

// decodeDay lists a day document's reservations, by start.
func decodeDay(d *scheduleDay) []Reservation {
	out := make([]Reservation, 0, len(d.Visits))
	for id, v := range d.Visits {
		oid, err := primitive.ObjectIDFromHex(id)
		if err != nil {
			continue
		}
		out = append(out, Reservation{OrderID: oid, CrewID: v.Crew, From: v.From, Until: v.Until, EndsAt: v.EndsAt})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].From.Equal(out[j].From) {
			return out[i].From.Before(out[j].From)
		}
		return out[i].OrderID.Hex() < out[j].OrderID.Hex()
	})
	return out
}

// Day returns the reservations of local date, by start.
func (s *ScheduleStore) Day(ctx context.Context, date string) ([]Reservation, error) {
	if _, err := time.ParseInLocation(time.DateOnly, date, Tashkent); err != nil {
		return nil, fmt.Errorf("%w: date", ErrInvalid)
	}
	day, err := s.dayReservations(ctx, date)
	return append([]Reservation(nil), day...), err // the caller's own
}

// CrewVisits are the reservations of crew from now to the horizon's end.
func (s *ScheduleStore) CrewVisits(ctx context.Context, crew primitive.ObjectID, now time.Time) ([]Reservation, error) {
	rules, err := s.Rules(ctx)
	if err != nil {
		return nil, err
	}
	var out []Reservation
	for d := 0; d <= rules.HorizonDays; d++ {
		day, err := s.dayReservations(ctx, LocalDate(now.AddDate(0, 0, d)))
		if err != nil {
			return nil, err
		}
		for _, r := range day {
			if r.CrewID == crew && r.EndsAt.After(now) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// settleReservation brings the cells and the days' documents in line
// with order o after a write, from its reservation before (nil: none),
// within db.write:
// the cells before holds and o no longer does are released, the old day's
// entry goes, the new one is set. Idempotent: the journal's repair runs it
// again after a crash.
func settleReservation(ctx context.Context, db *DB, before *Reservation, o *Order) error {
	after := o.Reservation()
	if before != nil {
		var ids []string
		for _, id := range cells(before.CrewID, before.From, before.Until) {
			if !after.covers(id) {
				ids = append(ids, id)
			}
		}
		if err := releaseCells(ctx, db, o.ID, ids); err != nil {
			return err
		}
		if after == nil || LocalDate(after.From) != LocalDate(before.From) {
			if err := db.upsertByID(ctx, colScheduleDays, LocalDate(before.From), bson.D{{Key: "$unset", Value: bson.D{{Key: "visits." + o.ID.Hex(), Value: ""}}}}); err != nil {
				return err
			}
		}
	}
	if after == nil {
		return nil
	}
	return setDayVisits(ctx, db, []*Order{o})
}

// setDayVisits sets the day entries of orders' reservations: one update a
// day, however many of them it has (a booking group's, within db.write).
func setDayVisits(ctx context.Context, db *DB, orders []*Order) error {
	byDay := map[string]bson.D{}
	var days []string
	for _, o := range orders {
		r := o.Reservation()
		if r == nil {
			continue
		}
		day := LocalDate(r.From)
		if _, ok := byDay[day]; !ok {
			days = append(days, day)
		}
		byDay[day] = append(byDay[day], bson.E{Key: "visits." + o.ID.Hex(), Value: dayVisit{Crew: r.CrewID, From: r.From, Until: r.Until, EndsAt: r.EndsAt}})
	}
	for _, day := range days {
		if err := db.upsertByID(ctx, colScheduleDays, day, bson.D{{Key: "$set", Value: byDay[day]}}); err != nil {
			return err
		}
	}
	return nil
}

// defaultVisitMinutes is the length of a visit booked before the price
// calculator gave each its duration.
const defaultVisitMinutes = 120

// VisitMinutes is how long the visit lasts, as quoted at booking.
func (o *Order) VisitMinutes() int {
	if o.DurationMinutes > 0 {
		return o.DurationMinutes
	}
	return defaultVisitMinutes
}

// importReservations writes the reservations of imported orders in bulk,
// within db.write: their cells, a thousand to an insert, and each day's
// entries in one update of its document. Two of them that would share a
// cell are refused before anything is written, and a cell held already
// (a booking made before the import) stops it: an import never sells a
// crew twice either. Cancelled orders and orders without a crew hold none.
func importReservations(ctx context.Context, db *DB, orders []Order) error {
	now := time.Now().UTC()
	seen := map[string]bool{}
	var held []any
	days := map[string]bson.D{}
	var dates []string
	for i := range orders {
		r := orders[i].Reservation()
		if r == nil {
			continue
		}
		if !r.Until.After(r.From) || r.EndsAt.Before(r.From) || r.EndsAt.After(r.Until) {
			return fmt.Errorf("%w: order %s: its reservation ends before it starts", ErrInvalid, r.OrderID.Hex())
		}
		for _, id := range cells(r.CrewID, r.From, r.Until) {
			if seen[id] {
				return fmt.Errorf("%w: order %s: its crew is reserved twice at %s", ErrConflict, r.OrderID.Hex(), id)
			}
			seen[id] = true
			held = append(held, crewCell{ID: id, Order: r.OrderID, At: now})
		}
		date := LocalDate(r.From)
		if _, ok := days[date]; !ok {
			dates = append(dates, date)
		}
		days[date] = append(days[date], bson.E{Key: "visits." + r.OrderID.Hex(), Value: dayVisit{Crew: r.CrewID, From: r.From, Until: r.Until, EndsAt: r.EndsAt}})
	}
	for start := 0; start < len(held); start += 1000 {
		if _, err := db.col(colCrewTime).InsertMany(ctx, held[start:min(start+1000, len(held))]); err != nil {
			return translate(err)
		}
	}
	for _, date := range dates {
		if err := db.upsertByID(ctx, colScheduleDays, date, bson.D{{Key: "$set", Value: days[date]}}); err != nil {
			return translate(err)
		}
	}
	return nil
}
