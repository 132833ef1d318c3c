package store_test

import (
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
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
		if oc.Order != store.PlanVisitID(p.ID, oc.Terms.Gen, oc.Date) {
			t.Errorf("%s: the occurrence's order is not its visit id", oc.Date)
		}
		if d, ok := seen[oc.Order]; ok {
			t.Errorf("%s and %s share an order id", d, oc.Date)
		}
		seen[oc.Order] = oc.Date
	}
	if store.PlanVisitID(p.ID, 0, "2026-12-21") == store.PlanVisitID(p.ID, 1, "2026-12-21") {
		t.Error("the same date under other terms has the same id: a change could not book it again")
	}
	// The terms' rhythm goes on after a change of time only.
	next := p.Terms[0].NextTerms("2026-12-16", "weekly", "12:00")
	if next.Anchor != "2026-12-21" || next.Time != "12:00" || next.Gen != 1 {
		t.Errorf("next terms %+v: want the first visit on or after the 16th (the 21st) at 12:00", next)
	}
}
