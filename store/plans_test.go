package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// The dates a plan puts visits on, written out by hand from the rules:
// weekly and every two weeks from the first visit's date, monthly on its
// day or the last day of a shorter month; skips, a pause and the end take
// dates out; a change from a date on starts a new rhythm there.
func TestPlanDates(t *testing.T) {
	terms := func(freq, anchor string, monthDay int) store.PlanTerms {
		return store.PlanTerms{From: anchor, Frequency: freq, Anchor: anchor, MonthDay: monthDay, Time: "10:00"}
	}
	cases := []struct {
		name     string
		plan     store.Plan
		from, to string
		want     string // the wanted dates, space-separated
	}{
		{"weekly, from its first visit", store.Plan{Terms: []store.PlanTerms{terms("weekly", "2026-12-07", 0)}},
			"2026-12-01", "2027-01-05", "2026-12-07 2026-12-14 2026-12-21 2026-12-28 2027-01-04"},
		{"weekly, asked from the middle of a week", store.Plan{Terms: []store.PlanTerms{terms("weekly", "2026-12-07", 0)}},
			"2026-12-15", "2026-12-28", "2026-12-21 2026-12-28"},
		{"every two weeks, across the new year", store.Plan{Terms: []store.PlanTerms{terms("biweekly", "2026-12-17", 0)}},
			"2026-12-18", "2027-02-01", "2026-12-31 2027-01-14 2027-01-28"},
		{"monthly on the 31st: the last day of shorter months", store.Plan{Terms: []store.PlanTerms{terms("monthly", "2026-12-31", 31)}},
			"2026-12-01", "2027-05-31", "2026-12-31 2027-01-31 2027-02-28 2027-03-31 2027-04-30 2027-05-31"},
		{"monthly on the 30th in a leap year's February", store.Plan{Terms: []store.PlanTerms{terms("monthly", "2028-01-30", 30)}},
			"2028-01-01", "2028-03-31", "2028-01-30 2028-02-29 2028-03-30"},
		{"monthly, nothing before the first visit", store.Plan{Terms: []store.PlanTerms{terms("monthly", "2026-12-15", 15)}},
			"2026-11-01", "2027-01-31", "2026-12-15 2027-01-15"},
		{"skips", store.Plan{Terms: []store.PlanTerms{terms("weekly", "2026-12-07", 0)}, Skips: []string{"2026-12-14", "2026-12-28"}},
			"2026-12-07", "2027-01-04", "2026-12-07 2026-12-21 2027-01-04"},
		{"a pause: from, up to the day before until", store.Plan{Terms: []store.PlanTerms{terms("weekly", "2026-12-07", 0)}, PausedFrom: "2026-12-10", PausedUntil: "2026-12-28"},
			"2026-12-07", "2027-01-04", "2026-12-07 2026-12-28 2027-01-04"},
		{"the end", store.Plan{Terms: []store.PlanTerms{terms("weekly", "2026-12-07", 0)}, EndsFrom: "2026-12-21"},
			"2026-12-07", "2027-01-04", "2026-12-07 2026-12-14"},
		{"a change from a date: weekly, then every two weeks from the 21st's rhythm", store.Plan{Terms: []store.PlanTerms{
			terms("weekly", "2026-12-07", 0),
			{From: "2026-12-19", Gen: 1, Frequency: "biweekly", Anchor: "2026-12-21", Time: "12:00"}}},
			"2026-12-01", "2027-01-31", "2026-12-07 2026-12-14 2026-12-21 2027-01-04 2027-01-18"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, oc := range c.plan.Occurrences(c.from, c.to) {
				if c.plan.Wanted(oc.Date) {
					got = append(got, oc.Date)
				}
			}
			if strings.Join(got, " ") != c.want {
				t.Errorf("dates %v\nwant  %s", got, c.want)
			}
		})
	}
}

// A visit is named by its plan, terms and date: the same visit is the
// same order id wherever it is made, and another date or terms another.
func TestPlanVisitIDs(t *testing.T) {
	p := store.Plan{ID: primitive.NewObjectID(), Terms: []store.PlanTerms{
		{From: "2026-12-07", Frequency: "weekly", Anchor: "2026-12-07", Time: "10:00"},
		{From: "2026-12-20", Gen: 1, Frequency: "weekly", Anchor: "2026-12-21", Time: "10:00"}}}
	seen := map[primitive.ObjectID]string{}
	for _, oc := range p.Occurrences("2026-12-01", "2027-01-31") {
		if oc.Order != store.PlanVisitID(p.ID, oc.Terms, oc.Date) {
			t.Errorf("%s: the occurrence's order is not its visit id", oc.Date)
		}
		if d, ok := seen[oc.Order]; ok {
			t.Errorf("%s and %s share an order id", d, oc.Date)
		}
		seen[oc.Order] = oc.Date
	}
	if store.PlanVisitID(p.ID, &p.Terms[0], "2026-12-21") == store.PlanVisitID(p.ID, &p.Terms[1], "2026-12-21") {
		t.Error("the same date under other terms has the same id: a change could not book it again")
	}
	// An id's time is when its terms were set (lists and exports read an
	// order's creation from it): the plan's own for the first terms.
	if at := store.PlanVisitID(p.ID, &p.Terms[0], "2026-12-07").Timestamp(); !at.Equal(p.ID.Timestamp()) {
		t.Errorf("a first visit's id says %v, want the plan's %v", at, p.ID.Timestamp())
	}
	later := p.Terms[1]
	later.SetAt = p.ID.Timestamp().Add(72 * time.Hour)
	if at := store.PlanVisitID(p.ID, &later, "2026-12-21").Timestamp(); !at.Equal(later.SetAt) {
		t.Errorf("a changed visit's id says %v, want its terms' %v", at, later.SetAt)
	}
	// The terms' rhythm goes on after a change of time only.
	next := p.Terms[0].NextTerms("2026-12-16", "weekly", "12:00", 1, time.Now())
	if next.Anchor != "2026-12-21" || next.Time != "12:00" || next.Gen != 1 {
		t.Errorf("next terms %+v: want the first visit on or after the 16th (the 21st) at 12:00", next)
	}
}

// A plan is stored, listed for its customer (newest first) and among the
// plans not ended, and counted; two changes at once, through two
// connections (as two instances), both land, one after the other.
func TestPlanStore(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	plans := store.NewPlanStore(db)
	other := store.NewPlanStore(storetest.OpenNamed(t, db.Name()))
	alice, bob := primitive.NewObjectID(), primitive.NewObjectID()
	terms := func(freq string, total int64) []store.PlanTerms {
		return []store.PlanTerms{{From: "2026-12-07", Frequency: freq, Anchor: "2026-12-07", Time: "10:00", Quote: store.Quote{Total: total}}}
	}
	weekly := &store.Plan{ID: primitive.NewObjectID(), UserID: alice, Terms: terms("weekly", 300_000), Through: "2026-12-07"}
	monthly := &store.Plan{ID: primitive.NewObjectID(), UserID: alice, Terms: terms("monthly", 500_000), Through: "2026-12-07"}
	ended := &store.Plan{ID: primitive.NewObjectID(), UserID: bob, Terms: terms("weekly", 100_000), Status: store.PlanEnded, EndsFrom: "2026-12-01"}
	for _, p := range []*store.Plan{weekly, monthly, ended} {
		if err := plans.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	mine, err := plans.ForCustomer(ctx, alice)
	if err != nil || len(mine) != 2 || mine[0].ID != monthly.ID || mine[1].ID != weekly.ID {
		t.Fatalf("alice's plans = %v, %v: want the monthly, then the weekly", mine, err)
	}
	if none, err := plans.ForCustomer(ctx, primitive.NewObjectID()); err != nil || len(none) != 0 {
		t.Errorf("a customer without plans: %v, %v", none, err)
	}
	var open []primitive.ObjectID
	if err := plans.Open(ctx, 1, func(ps []store.Plan) error {
		for _, p := range ps {
			open = append(open, p.ID)
		}
		return nil
	}); err != nil || len(open) != 2 {
		t.Errorf("plans not ended = %v, %v: want 2", open, err)
	}
	totals, err := plans.Totals(ctx, "2026-12-06")
	if want := (store.PlanTotals{Active: 2, MonthlyRevenue: 300_000*52/12 + 500_000}); err != nil || totals != want {
		t.Errorf("totals = %+v, %v; want %+v", totals, err, want)
	}
	// Two skips at once, one per connection: both are kept.
	var wg sync.WaitGroup
	for i, s := range []*store.PlanStore{plans, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			date := []string{"2026-12-14", "2026-12-21"}[i]
			if _, err := s.Change(ctx, weekly.ID, func(p *store.Plan) error { p.Skips = append(p.Skips, date); return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := plans.Get(ctx, weekly.ID)
	if err != nil || len(got.Skips) != 2 || got.V != 3 {
		t.Errorf("after two skips at once: skips %v, v %d, %v", got.Skips, got.V, err)
	}
	// An edit that refuses writes nothing.
	refused := errors.New("no")
	if _, err := plans.Change(ctx, weekly.ID, func(p *store.Plan) error { p.Skips = nil; return refused }); !errors.Is(err, refused) {
		t.Errorf("a refused change = %v", err)
	}
	if again, _ := plans.Get(ctx, weekly.ID); again.V != 3 || len(again.Skips) != 2 {
		t.Errorf("a refused change wrote: %+v", again)
	}
	if _, err := plans.Get(ctx, primitive.NewObjectID()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown plan = %v", err)
	}
}

// Terms that follow others keep their rhythm, and a monthly day is the
// first visit's, not one left from terms before.
func TestNextTerms(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	monthly := store.PlanTerms{From: "2026-12-31", Frequency: "monthly", Anchor: "2026-12-31", MonthDay: 31, Time: "10:00"}
	weekly := monthly.NextTerms("2027-02-10", "weekly", "10:00", 1, now)
	if weekly.Anchor != "2027-02-28" || weekly.MonthDay != 0 || weekly.Gen != 1 || !weekly.SetAt.Equal(now) {
		t.Errorf("weekly after monthly = %+v: want from the 28th (the next monthly visit), no month day", weekly)
	}
	again := weekly.NextTerms("2027-03-10", "monthly", "10:00", 2, now)
	if again.Anchor != "2027-03-14" || again.MonthDay != 14 {
		t.Errorf("monthly after weekly = anchor %s day %d: want the 14th (the next weekly visit), day 14", again.Anchor, again.MonthDay)
	}
	if d := again.Dates("2027-03-01", "2027-05-31"); strings.Join(d, " ") != "2027-03-14 2027-04-14 2027-05-14" {
		t.Errorf("its dates %v", d)
	}
}

// ChangeAll writes each plan at the version its caller read; a plan
// changed meanwhile is read and edited again, so no change is lost.
func TestPlanStoreChangeAll(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	plans := store.NewPlanStore(db)
	other := store.NewPlanStore(storetest.OpenNamed(t, db.Name()))
	var read []*store.Plan
	for range 3 {
		p := &store.Plan{ID: primitive.NewObjectID(), UserID: primitive.NewObjectID(), Through: "2026-12-07",
			Terms: []store.PlanTerms{{From: "2026-12-07", Frequency: "weekly", Anchor: "2026-12-07", Time: "10:00"}}}
		if err := plans.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		q, _ := plans.Get(ctx, p.ID)
		read = append(read, q)
	}
	// The second is skipped on another instance after the read.
	if _, err := other.Change(ctx, read[1].ID, func(p *store.Plan) error { p.Skips = []string{"2026-12-14"}; return nil }); err != nil {
		t.Fatal(err)
	}
	edits := make([]store.PlanEdit, len(read))
	for i, p := range read {
		edits[i] = store.PlanEdit{Plan: p, Edit: func(q *store.Plan) error { q.Through = "2027-01-31"; return nil }}
	}
	stored, errs := plans.ChangeAll(ctx, edits)
	for i, p := range read {
		got, err := plans.Get(ctx, p.ID)
		if errs[i] != nil || err != nil || got.Through != "2027-01-31" || stored[i] == nil || stored[i].V != got.V {
			t.Errorf("plan %d: %v, %v; stored %+v, as read now %+v", i, errs[i], err, stored[i], got)
		}
	}
	v := read[0].V
	if got, _ := plans.Get(ctx, read[1].ID); len(got.Skips) != 1 || got.V != v+2 {
		t.Errorf("the plan skipped meanwhile: skips %v, v %d; want the skip kept, v %d", got.Skips, got.V, v+2)
	}
	if got, _ := plans.Get(ctx, read[0].ID); got.V != v+1 {
		t.Errorf("a plan written at the version read: v %d, want %d", got.V, v+1)
	}
	// An edit that refuses writes nothing, and the others go on.
	refused := errors.New("no")
	fresh, _ := plans.Get(ctx, read[0].ID)
	_, errs = plans.ChangeAll(ctx, []store.PlanEdit{{Plan: fresh, Edit: func(*store.Plan) error { return refused }}})
	if !errors.Is(errs[0], refused) {
		t.Errorf("a refused edit = %v", errs[0])
	}
	if got, _ := plans.Get(ctx, read[0].ID); got.V != v+1 {
		t.Errorf("a refused edit wrote: v %d", got.V)
	}
}
