package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Plans: regular cleanings (#23). A plan is the customer's standing order,
// the same visit weekly, every two weeks or monthly; its visits are real
// orders, made PlanWeeks ahead by the plans job (handlers/plans.go).
//
//	plans      {_id, userId, serviceId, terms: [{from, gen, frequency, anchor,
//	           time, monthDay, rooms, bathrooms, area, extras, quote}], status,
//	           pausedFrom, pausedUntil, endsFrom, skips: [date], through, v}
//	planLists  {_id: "<user hex>", plans: [ids]}: a customer's plans
//
// A change "from a date on" adds terms, never rewrites the ones before it,
// so every visit a plan ever had can be named again: the visit of terms
// gen on date d is the order keyedID("plan|<plan>|<gen>|<d>") (PlanVisitID).
// That _id is the one key that makes each visit once, whoever makes it and
// however often (two instances, a run cut off by a crash and run again): an
// insert of the same _id is refused on every database. The job needs no
// record of what it made: it asks, by _id.
//
// Every change of the plan document is a compare-and-set on v (updateIf).
// Dates are local (Tashkent) dates, "2006-01-02"; a visit's time is local.
const (
	colPlans     = "plans"
	colPlanLists = "planLists"

	PlanActive = "ACTIVE"
	PlanPaused = "PAUSED"
	PlanEnded  = "ENDED"

	// PlanWeeks is how far ahead a plan's visits exist as orders.
	PlanWeeks = 8
)

// Plan frequencies: the quote's, less "once".
var PlanFrequencies = []string{FrequencyWeekly, FrequencyBiweekly, FrequencyMonthly}

// PlanTerms are what a plan's visits are, from From on (until the next
// terms' From).
type PlanTerms struct {
	From string `bson:"from" json:"from"`
	Gen  int    `bson:"gen" json:"-"`
	// SetAt is when the terms were set (zero for a plan's first: its id's
	// time); it is the time in their visits' ids (PlanVisitID).
	SetAt     time.Time `bson:"setAt,omitempty" json:"-"`
	Frequency string    `bson:"frequency" json:"frequency"`
	// Anchor is the first visit's date under these terms: weekly and
	// every-two-weeks visits fall on its weekday, counted from it.
	Anchor string `bson:"anchor" json:"anchor"`
	// MonthDay is a monthly visit's day; in a shorter month, the last day
	// (the 31st is the 30th in April and the 28th or 29th in February).
	MonthDay  int           `bson:"monthDay,omitempty" json:"monthDay,omitempty"`
	Time      string        `bson:"time" json:"time"` // "09:00", local
	Rooms     int           `bson:"rooms" json:"rooms"`
	Bathrooms int           `bson:"bathrooms" json:"bathrooms"`
	Area      int           `bson:"area" json:"area"`
	Extras    []ExtraChoice `bson:"extras,omitempty" json:"extras"`
	// Quote is each visit's price under these terms, as quoted when they
	// were set (the frequency discount in it, no promo code).
	Quote Quote `bson:"quote" json:"-"`
}

// Plan is a customer's regular cleaning.
type Plan struct {
	ID           primitive.ObjectID `bson:"_id" json:"id"`
	UserID       primitive.ObjectID `bson:"userId" json:"userId"`
	CustomerName string             `bson:"customerName" json:"customerName"`
	ServiceID    primitive.ObjectID `bson:"serviceId" json:"serviceId"`
	ServiceNames Texts              `bson:"serviceNames" json:"serviceNames"`
	Address      string             `bson:"address" json:"address"`
	Phone        string             `bson:"phone" json:"phone"`
	Notes        string             `bson:"notes" json:"notes"`
	Terms        []PlanTerms        `bson:"terms" json:"-"`
	Status       string             `bson:"status" json:"-"`
	// A pause: no visits on PausedFrom … the day before PausedUntil.
	PausedFrom  string `bson:"pausedFrom" json:"-"`
	PausedUntil string `bson:"pausedUntil" json:"-"`
	// EndsFrom: no visits on or after it (an ended plan).
	EndsFrom string   `bson:"endsFrom" json:"-"`
	Skips    []string `bson:"skips" json:"skips"`
	// Missed are the dates whose visit had no free time that day or the
	// next: the customer was told, and books that one by hand.
	Missed []string `bson:"missed" json:"missed"`
	// Through is the last date whose visit the job has made (or found).
	Through string `bson:"through" json:"-"`
	// SweptV is the version whose visits were last swept (see the
	// handlers' sweepPlan): a plan changed since needs sweeping again.
	SweptV    int64     `bson:"sweptV" json:"-"`
	CreatedAt time.Time `bson:"createdAt" json:"createdAt"`
	UpdatedAt time.Time `bson:"updatedAt" json:"updatedAt"`
	V         int64     `bson:"v" json:"-"`
}

// PlanVisitID names the order of the visit of plan's terms gen on date. Its
// first four bytes are a time, as any ObjectID's (lists and exports read an
// order's creation from them): the time the terms were set, which the
// plan's id carries for its first terms and each later one keeps (SetAt);
// the rest is a hash of the three.
func PlanVisitID(plan primitive.ObjectID, t *PlanTerms, date string) primitive.ObjectID {
	at := t.SetAt
	if at.IsZero() {
		at = plan.Timestamp()
	}
	id := keyedID(fmt.Sprintf("plan|%s|%d|%s", plan.Hex(), t.Gen, date))
	binary.BigEndian.PutUint32(id[:4], uint32(at.Unix()))
	return id
}

// Current are the terms in force from the latest change on.
func (p *Plan) Current() *PlanTerms { return &p.Terms[len(p.Terms)-1] }

// StatusOn is the plan's status on date: a pause over by then is ACTIVE,
// a plan past its end ENDED.
func (p *Plan) StatusOn(date string) string {
	switch {
	case p.EndsFrom != "" && date >= p.EndsFrom:
		return PlanEnded
	case p.Status == PlanPaused && p.PausedUntil != "" && date >= p.PausedUntil:
		return PlanActive
	}
	return p.Status
}

// Occurrence is one date a plan's terms put a visit on.
type Occurrence struct {
	Date  string
	Terms *PlanTerms
	Order primitive.ObjectID // the visit's order's _id
}

// Occurrences are the dates from … to (inclusive) the plan's terms put
// visits on, each under the terms in force that day, in date order; skips,
// pauses and the end are not taken out (see Wanted). Terms added later
// take over from their From on, whatever came before: terms a later change
// starts earlier than theirs are in force on no day, but stay in the plan,
// so that their visits can still be named and swept.
func (p *Plan) Occurrences(from, to string) []Occurrence {
	var out []Occurrence
	for i := range p.Terms {
		t := &p.Terms[i]
		lo, hi := max(from, t.From), to
		for _, later := range p.Terms[i+1:] {
			hi = min(hi, dayBefore(later.From))
		}
		for _, d := range t.Dates(lo, hi) {
			out = append(out, Occurrence{Date: d, Terms: t, Order: PlanVisitID(p.ID, t, d)})
		}
	}
	slices.SortFunc(out, func(a, b Occurrence) int { return strings.Compare(a.Date, b.Date) })
	return out
}

// TermsOn are the terms in force on date: the last added that begin on or
// before it (the first, before any begins).
func (p *Plan) TermsOn(date string) *PlanTerms {
	for i := len(p.Terms) - 1; i >= 0; i-- {
		if p.Terms[i].From <= date {
			return &p.Terms[i]
		}
	}
	return &p.Terms[0]
}

// NextGen is the generation new terms of p take: above every one before.
func (p *Plan) NextGen() int {
	g := 0
	for _, t := range p.Terms {
		g = max(g, t.Gen+1)
	}
	return g
}

// Wanted reports whether the visit of date is to happen: not skipped,
// paused or past the plan's end.
func (p *Plan) Wanted(date string) bool {
	switch {
	case slices.Contains(p.Skips, date):
		return false
	case p.EndsFrom != "" && date >= p.EndsFrom:
		return false
	case p.PausedFrom != "" && date >= p.PausedFrom && (p.PausedUntil == "" || date < p.PausedUntil):
		return false
	}
	return true
}

// Dates are the dates from … to (inclusive) that t puts a visit on.
func (t *PlanTerms) Dates(from, to string) []string {
	anchor, err := time.Parse(time.DateOnly, t.Anchor)
	if err != nil || from > to {
		return nil
	}
	lo, err1 := time.Parse(time.DateOnly, max(from, t.Anchor))
	hi, err2 := time.Parse(time.DateOnly, to)
	if err1 != nil || err2 != nil {
		return nil
	}
	var out []string
	switch t.Frequency {
	case FrequencyWeekly, FrequencyBiweekly:
		step := 7
		if t.Frequency == FrequencyBiweekly {
			step = 14
		}
		days := int(lo.Sub(anchor).Hours() / 24)
		first := anchor.AddDate(0, 0, (days+step-1)/step*step)
		for d := first; !d.After(hi); d = d.AddDate(0, 0, step) {
			out = append(out, d.Format(time.DateOnly))
		}
	case FrequencyMonthly:
		day := t.MonthDay
		if day == 0 {
			day = anchor.Day()
		}
		for m := time.Date(lo.Year(), lo.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(hi); m = m.AddDate(0, 1, 0) {
			d := time.Date(m.Year(), m.Month(), min(day, daysIn(m)), 0, 0, 0, 0, time.UTC)
			if !d.Before(lo) && !d.After(hi) {
				out = append(out, d.Format(time.DateOnly))
			}
		}
	}
	return out
}

// daysIn is the number of days of m's month.
func daysIn(m time.Time) int {
	return time.Date(m.Year(), m.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func dayBefore(date string) string { return AddDays(date, -1) }

func parseDate(s string) (time.Time, bool) {
	t, err := time.ParseInLocation(time.DateOnly, s, Tashkent)
	return t, err == nil
}

// AddDays is date moved by n days.
func AddDays(date string, n int) string {
	t, ok := parseDate(date)
	if !ok {
		return date
	}
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}

// VisitTime is the local date at the terms' time.
func (t *PlanTerms) VisitTime(date string) (time.Time, error) {
	at, err := time.ParseInLocation("2006-01-02 15:04", date+" "+t.Time, Tashkent)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: plan visit %s %s", ErrInvalid, date, t.Time)
	}
	return at, nil
}

// NextTerms are the terms that follow t from date from on, set at now as
// generation gen, with frequency and time as given: the rhythm goes on from
// t's first visit on or after from (a monthly visit keeps its day, a visit
// that becomes monthly takes that first visit's).
func (t *PlanTerms) NextTerms(from, frequency, clock string, gen int, now time.Time) PlanTerms {
	next := *t
	next.From, next.Gen, next.Frequency, next.Time = from, gen, frequency, clock
	next.SetAt = now.UTC().Truncate(time.Second)
	next.Anchor = from
	if ds := t.Dates(from, AddDays(from, 62)); len(ds) > 0 {
		next.Anchor = ds[0]
	}
	if frequency == FrequencyMonthly && (t.Frequency != FrequencyMonthly || next.MonthDay == 0) {
		a, _ := parseDate(next.Anchor)
		next.MonthDay = a.Day()
	}
	if frequency != FrequencyMonthly {
		next.MonthDay = 0
	}
	return next
}

// PlanStore keeps the plans.
type PlanStore struct {
	db *DB
	// totals is the statistics' count of the plans, kept for at most
	// planTotalsFor (the bound on what another instance's change may take
	// to show) and dropped by this process's own changes: counting reads
	// every plan on the embedded database.
	totalsMu sync.Mutex
	totals   *planTotalsMemo
}

type planTotalsMemo struct {
	today string
	at    time.Time
	value PlanTotals
}

// planTotalsFor is how long a count of the plans is kept.
const planTotalsFor = time.Second

// NewPlanStore returns the plans of db.
func NewPlanStore(db *DB) *PlanStore { return &PlanStore{db: db} }

// changed drops the kept count: this process changed a plan.
func (s *PlanStore) changed() {
	s.totalsMu.Lock()
	s.totals = nil
	s.totalsMu.Unlock()
}

type planList struct {
	Plans []primitive.ObjectID `bson:"plans"`
}

// Create stores new plan p: first in its customer's list (a plan listed
// but never stored is skipped by a reader), then itself.
func (s *PlanStore) Create(ctx context.Context, p *Plan) error {
	if len(p.Terms) == 0 {
		return fmt.Errorf("%w: a plan without terms", ErrInvalid)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	p.CreatedAt, p.UpdatedAt, p.V = now, now, 1
	if p.Status == "" {
		p.Status = PlanActive
	}
	if err := s.db.upsertByID(ctx, colPlanLists, p.UserID.Hex(), bson.D{{Key: "$addToSet", Value: bson.D{{Key: "plans", Value: p.ID}}}}); err != nil {
		return err
	}
	_, err := s.db.col(colPlans).InsertOne(ctx, p)
	s.changed()
	return translate(err)
}

// Get returns plan id.
func (s *PlanStore) Get(ctx context.Context, id primitive.ObjectID) (*Plan, error) {
	var p Plan
	if err := s.db.col(colPlans).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&p); err != nil {
		return nil, translate(err)
	}
	return &p, nil
}

// ForCustomer returns the customer's plans, newest first.
func (s *PlanStore) ForCustomer(ctx context.Context, user primitive.ObjectID) ([]Plan, error) {
	var l planList
	err := s.db.col(colPlanLists).FindOne(ctx, bson.D{{Key: "_id", Value: user.Hex()}}).Decode(&l)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err)
	}
	var out []Plan
	for i := len(l.Plans) - 1; i >= 0; i-- {
		p, err := s.Get(ctx, l.Plans[i])
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, nil
}

// List returns up to limit plans older than before (zero: the newest),
// newest first, and the cursor of the next page (zero: none).
func (s *PlanStore) List(ctx context.Context, before primitive.ObjectID, limit int) ([]Plan, primitive.ObjectID, error) {
	filter := bson.D{}
	if !before.IsZero() {
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: before}}}}
	}
	cur, err := s.db.col(colPlans).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit+1)))
	if err != nil {
		return nil, primitive.NilObjectID, translate(err)
	}
	var out []Plan
	if err := cur.All(ctx, &out); err != nil {
		return nil, primitive.NilObjectID, translate(err)
	}
	var next primitive.ObjectID
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// Open returns the plans not ended, to extend: each page of up to batch is
// handed to fn. On MongoDB the status index serves it; the embedded
// database reads every plan.
func (s *PlanStore) Open(ctx context.Context, batch int, fn func([]Plan) error) error {
	cur, err := s.db.col(colPlans).Find(ctx, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{PlanActive, PlanPaused}}}}},
		options.Find().SetBatchSize(int32(batch)))
	if err != nil {
		return translate(err)
	}
	defer cur.Close(ctx)
	var page []Plan
	for cur.Next(ctx) {
		var p Plan
		if err := cur.Decode(&p); err != nil {
			return err
		}
		if page = append(page, p); len(page) == batch {
			if err := fn(page); err != nil {
				return err
			}
			page = nil
		}
	}
	if err := cur.Err(); err != nil {
		return translate(err)
	}
	if len(page) > 0 {
		return fn(page)
	}
	return nil
}

// Change applies edit to plan id, as read now, and stores the result if
// nobody changed the plan meanwhile (compare-and-set on v), else reads it
// again and edits again. edit may refuse (its error is returned, nothing
// written). It returns the plan as stored.
func (s *PlanStore) Change(ctx context.Context, id primitive.ObjectID, edit func(p *Plan) error) (*Plan, error) {
	for try := range changeTries {
		p, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		v := p.V
		if err := edit(p); err != nil {
			return nil, err
		}
		p.V, p.UpdatedAt = v+1, time.Now().UTC().Truncate(time.Millisecond)
		set, err := planFields(p)
		if err != nil {
			return nil, err
		}
		// The version is claimed first: FerretDB applies no filtered
		// update atomically across processes, but refuses a second insert
		// of a claim's _id; so of two instances writing version v+1, one
		// writes and the other reads the plan again. The claim is released
		// once the version is written, and a crash's lapses with its lease.
		now := time.Now()
		claim, err := s.db.claim(ctx, fmt.Sprintf("plan:%s@v%d", id.Hex(), v+1), now, now.Add(planChangeLease))
		if errors.Is(err, ErrConflict) {
			select { // its writer is at it: a moment
			case <-time.After(time.Duration(try+1) * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		var ok bool
		err = s.db.write(func() error {
			ok, err = s.db.updateIf(ctx, colPlans, id, bson.D{{Key: "v", Value: v}}, bson.D{{Key: "$set", Value: set}})
			return err
		})
		s.db.release(context.WithoutCancel(ctx), claim)
		s.changed()
		if err != nil {
			return nil, err
		}
		if ok {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: plan %s changed too often meanwhile", ErrConflict, id.Hex())
}

// PlanEdit is one plan's change for ChangeAll: the plan as its caller
// read it, and the edit.
type PlanEdit struct {
	Plan *Plan
	Edit func(p *Plan) error
}

// ChangeAll is Change of many plans at once (the plans job's records):
// each edit is applied to its plan as the caller read it, the versions are
// claimed in one insert and released in one delete, and each plan is
// written if still at the version read. A plan changed meanwhile (its
// claim or its write refused) goes through Change: read again, edited
// again. It returns each plan as stored, or its error.
func (s *PlanStore) ChangeAll(ctx context.Context, edits []PlanEdit) ([]*Plan, []error) {
	out, errs := make([]*Plan, len(edits)), make([]error, len(edits))
	type write struct {
		i   int
		p   *Plan
		v   int64
		set bson.D
	}
	var writes []write
	var claims []any
	now := time.Now()
	for i, e := range edits {
		p := *e.Plan
		v := p.V
		if errs[i] = e.Edit(&p); errs[i] != nil {
			continue
		}
		p.V, p.UpdatedAt = v+1, now.UTC().Truncate(time.Millisecond)
		set, err := planFields(&p)
		if errs[i] = err; err != nil {
			continue
		}
		writes = append(writes, write{i: i, p: &p, v: v, set: set})
		claims = append(claims, claimDoc{ID: fmt.Sprintf("plan:%s@v%d.0", p.ID.Hex(), v+1), Until: now.Add(planChangeLease)})
	}
	again := map[int]bool{} // by edit: through Change
	refused := map[int]bool{}
	if len(claims) > 0 {
		_, err := s.db.col(colClaims).InsertMany(ctx, claims, options.InsertMany().SetOrdered(false))
		var bulk mongo.BulkWriteException
		switch {
		case err == nil:
		case errors.As(err, &bulk) && bulk.WriteConcernError == nil:
			for _, we := range bulk.WriteErrors {
				if we.Index >= 0 && we.Index < len(writes) {
					refused[we.Index] = true // another writer's, or an error: Change says which
				}
			}
		default:
			for k := range writes {
				errs[writes[k].i] = translate(err)
			}
			return out, errs
		}
	}
	var held []string
	for start := 0; start < len(writes); start += planWritesAtOnce {
		batch := writes[start:min(start+planWritesAtOnce, len(writes))]
		_ = s.db.write(func() error {
			for k, w := range batch {
				if refused[start+k] {
					again[w.i] = true
					continue
				}
				held = append(held, claims[start+k].(claimDoc).ID)
				ok, err := s.db.updateIf(ctx, colPlans, w.p.ID, bson.D{{Key: "v", Value: w.v}}, bson.D{{Key: "$set", Value: w.set}})
				switch {
				case err != nil:
					errs[w.i] = err
				case ok:
					out[w.i] = w.p
				default:
					again[w.i] = true
				}
			}
			return nil
		})
	}
	if len(held) > 0 {
		_, _ = s.db.col(colClaims).DeleteMany(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: held}}}})
	}
	s.changed()
	for i, e := range edits {
		if again[i] {
			out[i], errs[i] = s.Change(ctx, e.Plan.ID, e.Edit)
		}
	}
	return out, errs
}

// planWritesAtOnce bounds the writes ChangeAll makes in one hold of the
// write lock, which bookings and messages wait for.
const planWritesAtOnce = 16

// planChangeLease bounds how long a writer that died holds a plan's next
// version.
const planChangeLease = 30 * time.Second

// planFields are p's fields but _id, to $set: every field, empty ones too
// (none is omitempty), so that a change can clear one (a pause ended).
func planFields(p *Plan) (bson.D, error) {
	raw, err := bson.Marshal(p)
	if err != nil {
		return nil, err
	}
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(d, func(e bson.E) bool { return e.Key == "_id" }), nil
}

// PlanTotals are the statistics' figures of the plans: those not ended,
// and what their visits bring in a month at their current prices (a
// weekly visit 52/12 times a month, every two weeks 26/12, monthly once).
type PlanTotals struct {
	Active         int64 `json:"active"`
	Paused         int64 `json:"paused"`
	MonthlyRevenue int64 `json:"monthlyRevenue"`
}

// MonthlyRevenue is what p's visits bring in a month at its current terms.
func (t *PlanTerms) MonthlyRevenue() int64 {
	switch t.Frequency {
	case FrequencyWeekly:
		return t.Quote.Total * 52 / 12
	case FrequencyBiweekly:
		return t.Quote.Total * 26 / 12
	}
	return t.Quote.Total
}

// Totals counts the plans not ended. It reads them (the embedded
// database decodes every plan; MongoDB serves it from the status index),
// at most once per planTotalsFor unless this process changes a plan.
func (s *PlanStore) Totals(ctx context.Context, today string) (PlanTotals, error) {
	s.totalsMu.Lock()
	if m := s.totals; m != nil && m.today == today && time.Since(m.at) < planTotalsFor {
		s.totalsMu.Unlock()
		return m.value, nil
	}
	s.totalsMu.Unlock()
	started := time.Now()
	t, err := s.count(ctx, today)
	if err == nil {
		s.totalsMu.Lock()
		s.totals = &planTotalsMemo{today: today, at: started, value: t}
		s.totalsMu.Unlock()
	}
	return t, err
}

func (s *PlanStore) count(ctx context.Context, today string) (PlanTotals, error) {
	var t PlanTotals
	err := s.Open(ctx, 500, func(ps []Plan) error {
		for i := range ps {
			p := &ps[i]
			if p.EndsFrom != "" && p.EndsFrom <= today {
				continue
			}
			if p.StatusOn(today) == PlanPaused {
				t.Paused++
				continue
			}
			t.Active++
			t.MonthlyRevenue += p.Current().MonthlyRevenue()
		}
		return nil
	})
	return t, err
}

// NearestFree is the free start time for a visit of service lasting
// minutes nearest to at on its day (earlier or later), else the first one
// of the next day; false when neither day has one. visit's own hold is
// free.
func (s *Schedule) NearestFree(service primitive.ObjectID, minutes int, at, now time.Time, visit primitive.ObjectID) (time.Time, bool) {
	local := at.In(Tashkent)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, Tashkent)
	var best time.Time
	for _, t := range s.dayTimes(service, minutes, day, now, visit) {
		m, _ := ParseClock(t)
		tt := day.Add(time.Duration(m) * time.Minute)
		if best.IsZero() || absDuration(tt.Sub(at)) < absDuration(best.Sub(at)) {
			best = tt
		}
	}
	if !best.IsZero() {
		return best, true
	}
	next := day.AddDate(0, 0, 1)
	for _, t := range s.dayTimes(service, minutes, next, now, visit) {
		m, _ := ParseClock(t)
		return next.Add(time.Duration(m) * time.Minute), true
	}
	return time.Time{}, false
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Import stores plans made elsewhere (a benchmark's, a restore's) in bulk,
// with their customers' lists; the database must not hold them yet.
func (s *PlanStore) Import(ctx context.Context, plans []Plan) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	docs := make([]any, len(plans))
	byUser := map[primitive.ObjectID][]primitive.ObjectID{}
	var users []primitive.ObjectID
	for i := range plans {
		p := &plans[i]
		if p.CreatedAt.IsZero() {
			p.CreatedAt, p.UpdatedAt = now, now
		}
		if p.Status == "" {
			p.Status = PlanActive
		}
		p.V = max(p.V, 1)
		docs[i] = p
		if _, ok := byUser[p.UserID]; !ok {
			users = append(users, p.UserID)
		}
		byUser[p.UserID] = append(byUser[p.UserID], p.ID)
	}
	if len(docs) > 0 {
		if _, err := s.db.col(colPlans).InsertMany(ctx, docs); err != nil {
			return translate(err)
		}
	}
	lists := make([]any, 0, len(users))
	for _, u := range users {
		lists = append(lists, bson.D{{Key: "_id", Value: u.Hex()}, {Key: "plans", Value: byUser[u]}})
	}
	if len(lists) > 0 {
		if _, err := s.db.col(colPlanLists).InsertMany(ctx, lists); err != nil {
			return translate(err)
		}
	}
	s.changed()
	return nil
}

// Renewed are the terms that book p's visits from from on again, as they
// are now, except that the visits before until get new orders: each stretch
// of terms in force from from on is added again in date order, the part
// before until as new terms (generations from gen, set at now: new visit
// ids), the part from until on as it was (the same ids: its visits stay).
// Added after the plan's terms, they take over from from on.
func (p *Plan) Renewed(from, until string, gen int, now time.Time) []PlanTerms {
	type stretch struct {
		t      PlanTerms
		lo, hi string // hi "" : no end
	}
	var stretches []stretch
	for i, t := range p.Terms {
		hi := ""
		for _, later := range p.Terms[i+1:] {
			if d := dayBefore(later.From); hi == "" || d < hi {
				hi = d
			}
		}
		if hi == "" || hi >= t.From {
			stretches = append(stretches, stretch{t, t.From, hi})
		}
	}
	slices.SortStableFunc(stretches, func(a, b stretch) int { return strings.Compare(a.lo, b.lo) })
	var out []PlanTerms
	for _, s := range stretches {
		if s.hi != "" && s.hi < from {
			continue
		}
		lo := max(from, s.lo)
		if lo < until {
			renewed := s.t
			renewed.From, renewed.Gen, renewed.SetAt = lo, gen, now.UTC().Truncate(time.Second)
			gen++
			out = append(out, renewed)
			lo = until
		}
		if s.hi == "" || s.hi >= lo {
			kept := s.t
			kept.From = lo
			out = append(out, kept)
		}
	}
	return out
}
