package handlers

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// bookPlan books a regular cleaning of f.svc days from today at hour, as
// the booking form does with a frequency, and returns its first visit and
// its plan.
func (f *orderFixture) bookPlan(t *testing.T, token, key, frequency string, days, hour int) (*store.Order, *store.Plan) {
	t.Helper()
	body := strings.Replace(f.body(key, slot(days, hour, 0), "Chilonzor 9-kvartal, 12-uy", "+998 90 123 45 67"), `"idempotencyKey"`, `"frequency":"`+frequency+`","idempotencyKey"`, 1)
	r := f.a.api(token).do("POST", "/orders", body)
	if r.status != 201 {
		t.Fatalf("book a plan = %d %s", r.status, r.body)
	}
	id, _ := primitive.ObjectIDFromHex(jsonField(t, r.body, "id").(string))
	o, err := f.a.h.orders.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if o.PlanID.IsZero() {
		t.Fatalf("a %s booking made no plan: %s", frequency, r.body)
	}
	return o, f.plan(t, o.PlanID)
}

func (f *orderFixture) plan(t *testing.T, id primitive.ObjectID) *store.Plan {
	t.Helper()
	p, err := f.a.h.plans.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// planOrders are the orders of p's visits from today to the horizon, by
// date, whatever their status (a date without one is absent).
func (f *orderFixture) planOrders(t *testing.T, p *store.Plan) map[string]*store.Order {
	t.Helper()
	ctx := context.Background()
	today := store.LocalDate(f.clock.Now())
	out := map[string]*store.Order{}
	for i := range p.Terms {
		term := &p.Terms[i]
		for _, d := range term.Dates(today, store.AddDays(today, 70)) {
			o, err := f.a.h.orders.Get(ctx, store.PlanVisitID(p.ID, term, d))
			if err == nil {
				if prev, ok := out[d]; !ok || prev.Status == store.StatusCancelled {
					out[d] = o
				}
			}
		}
	}
	return out
}

// planJSON reads GET /plans/:id as token sees it.
func (f *orderFixture) planJSON(t *testing.T, token string, id primitive.ObjectID) planOut {
	t.Helper()
	r := f.a.api(token).do("GET", "/plans/"+id.Hex(), "")
	if r.status != 200 {
		t.Fatalf("GET /plans/%s = %d %s", id.Hex(), r.status, r.body)
	}
	var out planOut
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// A weekly booking makes a plan whose next eight weeks of visits are real
// orders at once, each priced with the weekly discount and holding its
// crew; the customer sees them, nobody else but an admin does, and the
// job run again makes nothing twice.
func TestWeeklyBookingMakesThePlansVisits(t *testing.T) {
	f := newOrderFixture(t)
	if _, err := f.a.h.settings.PutFrequencyDiscounts(context.Background(), store.FrequencyDiscounts{Weekly: 15, Biweekly: 10, Monthly: 5}); err != nil {
		t.Fatal(err)
	}
	first, p := f.bookPlan(t, f.alice, "plan-weekly", "weekly", 2, 10)
	out := f.planJSON(t, f.alice, p.ID)
	if out.Frequency != "weekly" || out.Time != "10:00" || out.Status != "ACTIVE" || out.Weekday == "" {
		t.Errorf("plan = %+v", out)
	}
	// Visits on the first visit's weekday, 8 weeks (56 days) ahead of today.
	var booked []planVisitOut
	for _, v := range out.NextVisits {
		if v.State == "booked" {
			booked = append(booked, v)
		}
	}
	if len(booked) != 8 {
		t.Fatalf("%d visits booked, want 8 (the first and seven more within 56 days): %+v", len(booked), out.NextVisits)
	}
	quote := p.Current().Quote
	for i, v := range booked {
		want := store.AddDays(store.LocalDate(first.ScheduledAt), 7*i)
		if v.Date != want || v.OrderID == nil || v.Status != store.StatusPending || v.Moved {
			t.Errorf("visit %d = %+v, want %s booked", i, v, want)
		}
		o, err := f.a.h.orders.Get(context.Background(), *v.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		if o.PlanID != p.ID || o.PlanDate != want || o.CrewID.IsZero() || o.Frequency != "weekly" {
			t.Errorf("visit %d's order = plan %s date %s crew %s frequency %s", i, o.PlanID.Hex(), o.PlanDate, o.CrewID.Hex(), o.Frequency)
		}
		if i > 0 && o.Total != quote.Total {
			t.Errorf("visit %d costs %d, want the plan's %d", i, o.Total, quote.Total)
		}
		if len(o.Discounts) == 0 {
			t.Errorf("visit %d has no frequency discount", i)
		}
	}
	before := f.orderCount(t)
	if run, err := f.a.h.ExtendPlans(context.Background()); err != nil || run.Made != 0 {
		t.Errorf("the job again made %+v, %v: want nothing", run, err)
	}
	if after := f.orderCount(t); after != before {
		t.Errorf("orders %d → %d after the job ran again", before, after)
	}
	runScenarios(t, f.a, []scenario{
		{name: "the owner's list", req: jsonReq(f.alice, "uz", "GET", "/my/plans", ""), status: 200, contains: []string{p.ID.Hex(), `"frequency":"weekly"`}},
		{name: "another customer's list", req: jsonReq(f.bob, "uz", "GET", "/plans", ""), status: 200, notContains: []string{p.ID.Hex()}},
		{name: "another customer's plan", req: jsonReq(f.bob, "uz", "GET", "/plans/"+p.ID.Hex(), ""), status: 404},
		{name: "anonymous", req: jsonReq("", "uz", "GET", "/plans/"+p.ID.Hex(), ""), status: 401},
		{name: "the admin's list", req: jsonReq(f.admin, "uz", "GET", "/plans", ""), status: 200, contains: []string{p.ID.Hex(), `"customerName":"alice"`}},
		{name: "the admin's board, plans only", req: jsonReq(f.admin, "uz", "GET", "/orders?plan=1", ""), status: 200, contains: []string{first.ID.Hex(), `"planId":"` + p.ID.Hex()}},
		{name: "the board's plan filter, bad", req: jsonReq(f.admin, "uz", "GET", "/orders?plan=maybe", ""), status: 400},
		{name: "the statistics count it", req: jsonReq(f.admin, "uz", "GET", "/admin/statistics", ""), status: 200,
			contains: []string{`"plans":{"active":1,"paused":0,"monthlyRevenue":` + strconv.FormatInt(quote.Total*52/12, 10) + `}`}},
	})
	once := f.bob
	f.bookOnce(t, once)
	r := f.a.do(jsonReq(f.admin, "uz", "GET", "/orders?plan=1&limit=100", ""))
	if strings.Count(r.body, `"planId"`) != 8 {
		t.Errorf("the board's plan filter shows %d plan visits, want 8", strings.Count(r.body, `"planId"`))
	}
}

// bookOnce books a one-off cleaning for token (no plan).
func (f *orderFixture) bookOnce(t *testing.T, token string) *store.Order {
	t.Helper()
	o := f.book(t, token, "once-"+primitive.NewObjectID().Hex())
	if !o.PlanID.IsZero() {
		t.Fatal("a one-off booking made a plan")
	}
	return o
}

// Every action on a plan, by every role, with what the database holds
// afterwards: a skip, a pause, a resume, a change from a date, the end,
// and the input each refuses (422, nothing written).
func TestPlanActions(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	_, p := f.bookPlan(t, f.alice, "plan-actions", "weekly", 2, 10)
	dates := p.Current().Dates(store.LocalDate(f.clock.Now()), store.AddDays(store.LocalDate(f.clock.Now()), 56))
	second, third := dates[1], dates[2]
	path := "/plans/" + p.ID.Hex()
	post := func(token, action, body string) request { return jsonReq(token, "uz", "POST", path+"/"+action, body) }
	state := func(date, want string) func(*testing.T, *testApp) {
		return func(t *testing.T, _ *testApp) {
			for _, v := range f.planJSON(t, f.alice, p.ID).NextVisits {
				if v.Date == date {
					if v.State != want {
						t.Errorf("%s is %q, want %q", date, v.State, want)
					}
					return
				}
			}
			t.Errorf("%s not among the plan's visits", date)
		}
	}
	unchanged := func(t *testing.T, _ *testApp) {
		if q := f.plan(t, p.ID); q.V != p.V || len(q.Skips) != 0 {
			t.Errorf("the plan was written: v %d → %d, skips %v", p.V, q.V, q.Skips)
		}
	}
	p = f.plan(t, p.ID)
	orders := f.planOrders(t, p)
	if len(orders) != 8 {
		t.Fatalf("%d visits made, want 8", len(orders))
	}
	runScenarios(t, a, []scenario{
		{name: "anonymous skips", req: post("", "skip", `{"date":"`+second+`"}`), status: 401, after: unchanged},
		{name: "another customer skips", req: post(f.bob, "skip", `{"date":"`+second+`"}`), status: 404, after: unchanged},
		{name: "a date the plan has no visit on", req: post(f.alice, "skip", `{"date":"`+store.AddDays(second, 1)+`"}`), status: 422, contains: []string{`"date"`}, after: unchanged},
		{name: "a past date", req: post(f.alice, "skip", `{"date":"2020-01-06"}`), status: 422, after: unchanged},
		{name: "not a date", req: post(f.alice, "skip", `{"date":"next week"}`), status: 422, after: unchanged},
		{name: "no date", req: post(f.alice, "skip", `{}`), status: 422, after: unchanged},
		{name: "a pause until the past", req: post(f.alice, "pause", `{"until":"2020-01-01"}`), status: 422, contains: []string{`"until"`}, after: unchanged},
		{name: "an end before the start", req: post(f.alice, "end", `{"date":"2020-01-01"}`), status: 422, after: unchanged},
		{name: "a change from the past", req: jsonReq(f.alice, "uz", "PATCH", path, `{"from":"2020-01-01","time":"12:00"}`), status: 422, contains: []string{`"from"`}, after: unchanged},
		{name: "a change to a time off the grid", req: jsonReq(f.alice, "uz", "PATCH", path, `{"from":"`+third+`","time":"12:10"}`), status: 422, contains: []string{`"time"`}, after: unchanged},
		{name: "a change to once", req: jsonReq(f.alice, "uz", "PATCH", path, `{"from":"`+third+`","frequency":"once"}`), status: 422, after: unchanged},
		{name: "a change to 0 rooms", req: jsonReq(f.alice, "uz", "PATCH", path, `{"from":"`+third+`","rooms":0}`), status: 422, after: unchanged},
		{name: "resuming a plan not paused", req: post(f.alice, "resume", ""), status: 409, contains: []string{`"plan_not_paused"`}, after: unchanged},

		{name: "the owner skips the second visit", req: post(f.alice, "skip", `{"date":"`+second+`"}`), status: 200,
			contains: []string{`"skips":["` + second + `"]`}, after: func(t *testing.T, a *testApp) {
				state(second, "skipped")(t, a)
				o := orders[second]
				got, _ := a.h.orders.Get(context.Background(), o.ID)
				if got.Status != store.StatusCancelled || got.History[len(got.History)-1].Reason != "plan: skipped" {
					t.Errorf("the skipped visit = %s, history %+v", got.Status, got.History[len(got.History)-1])
				}
				// Its crew's time is free again: the day's schedule no longer shows it.
				if r := a.do(jsonReq(f.admin, "uz", "GET", "/admin/schedule?date="+second, "")); strings.Contains(r.body, o.ID.Hex()) {
					t.Error("the skipped visit still holds its crew's time")
				}
				state(third, "booked")(t, a) // the others stay
			}},
		{name: "the same skip again changes nothing", req: post(f.alice, "skip", `{"date":"`+second+`"}`), status: 422},
	})
	state(third, "booked")(t, a)

	// A change from the third visit on: every two weeks, at 14:00, a larger
	// home. The visits before stay as they were; those from then on are
	// re-priced and booked again.
	r := a.do(jsonReq(f.alice, "uz", "PATCH", path, `{"from":"`+third+`","time":"11:00","frequency":"biweekly","rooms":3}`))
	if r.status != 200 {
		t.Fatalf("change = %d %s", r.status, r.body)
	}
	changed := f.plan(t, p.ID)
	if len(changed.Terms) != 2 || changed.Current().Quote.Total <= p.Current().Quote.Total {
		t.Fatalf("terms after the change: %+v", changed.Terms)
	}
	now := f.planOrders(t, changed)
	if o := now[dates[0]]; o == nil || o.Status != store.StatusPending || store.LocalDate(o.ScheduledAt) != dates[0] {
		t.Errorf("the first visit changed: %+v", o)
	}
	for _, d := range dates[2:] {
		old := orders[d]
		got, _ := a.h.orders.Get(context.Background(), old.ID)
		if got.Status != store.StatusCancelled || !strings.HasPrefix(got.History[len(got.History)-1].Reason, "plan: changed from") {
			t.Errorf("the old visit of %s = %s, want cancelled for the change", d, got.Status)
		}
	}
	var biweekly int
	for d, o := range now {
		if d >= third && o.Status == store.StatusPending {
			biweekly++
			if o.ScheduledAt.In(store.Tashkent).Format("15:04") != "11:00" || o.Total != changed.Current().Quote.Total || o.Frequency != "biweekly" {
				t.Errorf("the new visit of %s: %s, %d so'm, %s", d, o.ScheduledAt.In(store.Tashkent).Format("15:04"), o.Total, o.Frequency)
			}
		}
	}
	if biweekly < 3 || biweekly > 4 {
		t.Errorf("%d visits every two weeks from %s, want 3 or 4", biweekly, third)
	}

	// A pause, then a resume: the visits of the pause come back.
	until := store.AddDays(third, 28)
	runScenarios(t, a, []scenario{
		{name: "the owner pauses", req: post(f.alice, "pause", `{"until":"`+until+`"}`), status: 200,
			contains: []string{`"status":"PAUSED"`, `"pausedUntil":"` + until + `"`}, after: func(t *testing.T, a *testApp) {
				for d, o := range f.planOrders(t, f.plan(t, p.ID)) {
					if d >= f.a.h.firstChangeableDate() && d < until && o.Status != store.StatusCancelled {
						t.Errorf("the visit of %s inside the pause is %s", d, o.Status)
					}
				}
			}},
		{name: "the owner resumes", req: post(f.alice, "resume", ""), status: 200, contains: []string{`"status":"ACTIVE"`}, after: func(t *testing.T, a *testApp) {
			q := f.plan(t, p.ID)
			for _, oc := range q.Occurrences(f.a.h.firstChangeableDate(), store.AddDays(store.LocalDate(f.clock.Now()), 56)) {
				if !q.Wanted(oc.Date) {
					continue // skipped before
				}
				if o, err := a.h.orders.Get(context.Background(), oc.Order); err != nil || o.Status != store.StatusPending {
					t.Errorf("the visit of %s was not booked again: %v", oc.Date, err)
				}
			}
		}},
		{name: "the admin ends it", req: post(f.admin, "end", ""), status: 200, contains: []string{`"status":"ENDED"`}, after: func(t *testing.T, a *testApp) {
			for d, o := range f.planOrders(t, f.plan(t, p.ID)) {
				if d >= f.a.h.firstChangeableDate() && o.Status != store.StatusCancelled {
					t.Errorf("the visit of %s after the end is %s", d, o.Status)
				}
			}
		}},
		{name: "skipping in an ended plan", req: post(f.alice, "skip", `{"date":"`+until+`"}`), status: 422},
		{name: "pausing an ended plan", req: post(f.alice, "pause", `{"until":"`+store.AddDays(until, 7)+`"}`), status: 409, contains: []string{`"plan_ended"`}},
	})
	if run, err := a.h.ExtendPlans(context.Background()); err != nil || run.Made != 0 {
		t.Errorf("the job made %+v for an ended plan (%v)", run, err)
	}
}

// The job, run on two instances at once, and again after a run cut off
// halfway (visits made, their plan not told; a crew held, its order not
// made), makes each visit exactly once.
func TestPlanVisitsAreMadeOnceByConcurrentAndCutOffRuns(t *testing.T) {
	f := newOrderFixture(t)
	ctx := context.Background()
	_, p := f.bookPlan(t, f.alice, "plan-once", "weekly", 2, 10)
	other := newTestAppWith(t, f.a.db, Config{Now: f.clock.Now}) // a second instance on the same database
	// Forget that the visits were made, and take away all but the first
	// three; hold the fourth's crew as a cut-off run would have.
	made := f.planOrders(t, p)
	var dates []string
	for _, d := range p.Current().Dates(store.LocalDate(f.clock.Now()), store.AddDays(store.LocalDate(f.clock.Now()), 56)) {
		dates = append(dates, d)
	}
	for _, d := range dates[3:] {
		if err := f.a.h.orders.Delete(ctx, made[d].ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.a.h.plans.Change(ctx, p.ID, func(q *store.Plan) error { q.Through = dates[0]; return nil }); err != nil {
		t.Fatal(err)
	}
	fourth := p.Occurrences(dates[3], dates[3])[0]
	at, _ := fourth.Terms.VisitTime(fourth.Date)
	if _, _, err := f.a.h.placePlanVisit(ctx, f.svc.ID, fourth.Order, at, fourth.Terms.Quote.DurationMinutes, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	runs := make([]planRun, 4)
	for i, h := range []*Handler{f.a.h, other.h, f.a.h, other.h} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if runs[i], err = h.ExtendPlans(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, r := range runs {
		total += r.Made
	}
	if total != len(dates)-3 {
		t.Errorf("the runs made %d visits (%+v), want %d", total, runs, len(dates)-3)
	}
	after := f.planOrders(t, f.plan(t, p.ID))
	if len(after) != len(dates) {
		t.Errorf("%d visits, want %d", len(after), len(dates))
	}
	for _, d := range dates {
		o := after[d]
		if o == nil || o.Status != store.StatusPending || store.LocalDate(o.ScheduledAt) != d {
			t.Errorf("visit %s = %+v", d, o)
		}
	}
	// One order a date on the board too: the lists count each once.
	r := f.a.do(jsonReq(f.admin, "uz", "GET", "/orders?plan=1&limit=100", ""))
	if n := strings.Count(r.body, `"planId"`); n != len(dates) {
		t.Errorf("the board lists %d plan visits, want %d", n, len(dates))
	}
}

// A visit whose usual time is taken goes to the nearest free time that
// day, and the customer is emailed; a day and the next closed leave the
// visit unplaced, recorded, and the customer emailed to pick a time.
func TestPlanVisitMovesWhenItsTimeIsTaken(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	// Every crew is busy at 10:00 a week after the first visit.
	busyDay := store.LocalDate(mustTime(slot(9, 10, 0)))
	for i := range 3 {
		r := a.api(f.bob).do("POST", "/orders", f.body("busy-"+strconv.Itoa(i), slot(9, 10, 0), "Yunusobod 4-kvartal, 7-uy", "+998 90 765 43 21"))
		if r.status != 201 {
			t.Fatalf("filling the crews = %d %s", r.status, r.body)
		}
	}
	// A fortnight on, the company is closed that day and the next.
	closedDay := store.AddDays(busyDay, 14)
	for _, d := range []string{closedDay, store.AddDays(closedDay, 1)} {
		if r := a.do(jsonReq(f.admin, "uz", "POST", "/admin/closures", `{"date":"`+d+`","reason":"Bayram"}`)); r.status != 201 {
			t.Fatalf("closure = %d %s", r.status, r.body)
		}
	}
	_, p := f.bookPlan(t, f.alice, "plan-moved", "weekly", 2, 10)
	out := f.planJSON(t, f.alice, p.ID)
	for _, v := range out.NextVisits {
		switch v.Date {
		case busyDay:
			if v.State != "booked" || !v.Moved || v.ScheduledAt == nil || store.LocalDate(*v.ScheduledAt) != busyDay {
				t.Errorf("the busy day's visit = %+v, want moved within the day", v)
			}
		case closedDay:
			if v.State != "missed" || v.OrderID != nil {
				t.Errorf("the closed day's visit = %+v, want missed, no order", v)
			}
		}
	}
	moved := a.smtp.WaitForText("alice@example.uz", "odatiy vaqti band edi", 10*time.Second)
	if !strings.Contains(moved.Text, busyDay[8:10]+"."+busyDay[5:7]) {
		t.Errorf("the moved visit's email: %s\n%s", moved.Subject, moved.Text)
	}
	if q := f.plan(t, p.ID); len(q.Missed) != 1 || q.Missed[0] != closedDay {
		t.Errorf("missed = %v, want [%s]", q.Missed, closedDay)
	}
	missed := a.smtp.WaitForText("alice@example.uz", "topa olmadik", 10*time.Second)
	if !strings.Contains(missed.Text, "/my/plans/"+p.ID.Hex()) {
		t.Errorf("the unplaced visit's email links elsewhere:\n%s", missed.Text)
	}
}

// The job places a batch of visits on one read of the schedule and claims
// their crews' time together; time taken after that read (here held by
// another order, not yet in the day's reservations) is found by the claim,
// and that visit is placed again: moved within its day, the customer told,
// the other order's time untouched.
func TestPlanJobMeetsTimeTakenAfterItsRead(t *testing.T) {
	f := newOrderFixture(t)
	ctx := context.Background()
	_, p := f.bookPlan(t, f.alice, "plan-late-taken", "weekly", 2, 10)
	made := f.planOrders(t, p)
	today := store.LocalDate(f.clock.Now())
	dates := p.Current().Dates(today, store.AddDays(today, 56))
	// Forget the last two visits; every crew's 10:00 on the last date is
	// held by another order the schedule's read does not show.
	for _, d := range dates[len(dates)-2:] {
		if err := f.a.h.orders.Delete(ctx, made[d].ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.a.h.plans.Change(ctx, p.ID, func(q *store.Plan) error { q.Through = dates[len(dates)-3]; return nil }); err != nil {
		t.Fatal(err)
	}
	last := p.Occurrences(dates[len(dates)-1], dates[len(dates)-1])[0]
	usual, _ := last.Terms.VisitTime(last.Date)
	crews, err := f.a.h.schedule.Crews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := f.a.h.schedule.Rules(ctx)
	others := map[primitive.ObjectID]primitive.ObjectID{} // by crew
	for i := range crews {
		others[crews[i].ID] = primitive.NewObjectID()
		if _, err := f.a.h.schedule.Reserve(ctx, []*store.Crew{&crews[i]}, others[crews[i].ID], usual, last.Terms.Quote.DurationMinutes, rules, ""); err != nil {
			t.Fatal(err)
		}
	}
	run, err := f.a.h.ExtendPlans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if run.Made != 2 || run.Moved != 1 || run.Missed != 0 {
		t.Errorf("the run = %+v, want 2 made, 1 of them moved", run)
	}
	after := f.planOrders(t, f.plan(t, p.ID))
	o := after[last.Date]
	if o == nil || o.Status != store.StatusPending || store.LocalDate(o.ScheduledAt) != last.Date || o.ScheduledAt.Equal(usual) {
		t.Fatalf("the visit whose time was taken = %+v, want it moved within %s", o, last.Date)
	}
	if o := after[dates[len(dates)-2]]; o == nil || !o.ScheduledAt.Equal(mustPlanTime(t, p, dates[len(dates)-2])) {
		t.Errorf("the other visit = %+v, want it at its usual time", o)
	}
	f.a.smtp.WaitForText("alice@example.uz", "odatiy vaqti band edi", 10*time.Second)
	// The other orders still hold every crew at 10:00.
	cells, err := f.a.db.RawFind(ctx, "crewTime")
	if err != nil {
		t.Fatal(err)
	}
	cell := usual.UTC().Format("20060102T1504")
	for _, c := range crews {
		found := false
		for _, d := range cells {
			found = found || d["_id"] == c.ID.Hex()+"@"+cell && d["o"] == others[c.ID]
		}
		if !found {
			t.Errorf("crew %s: its %s cell is no longer the other order's", c.Name, cell)
		}
	}
}

func mustPlanTime(t *testing.T, p *store.Plan, date string) time.Time {
	t.Helper()
	oc := p.Occurrences(date, date)[0]
	at, err := oc.Terms.VisitTime(oc.Date)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// openVisits are the plan visits an admin's board lists as booked
// (PENDING), by local date: each date's times.
func (f *orderFixture) openVisits(t *testing.T) map[string][]string {
	t.Helper()
	r := f.a.do(jsonReq(f.admin, "uz", "GET", "/orders?plan=1&status=PENDING&limit=100", ""))
	var page struct {
		Items []struct {
			ScheduledAt time.Time `json:"scheduledAt"`
		} `json:"items"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &page) != nil {
		t.Fatalf("board = %d %s", r.status, clip(r.body))
	}
	out := map[string][]string{}
	for _, it := range page.Items {
		l := it.ScheduledAt.In(store.Tashkent)
		out[l.Format(time.DateOnly)] = append(out[l.Format(time.DateOnly)], l.Format("15:04"))
	}
	return out
}

// Changes that overlap (a later one made first, then one from an earlier
// date), a pause with its resume on the same day, and an end a few weeks
// on: every date keeps exactly one visit, at the time of the change in
// force that day, and none after the end.
func TestPlanChangesNeverDoubleBook(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	_, p := f.bookPlan(t, f.alice, "plan-overlap", "weekly", 2, 10)
	today := store.LocalDate(f.clock.Now())
	dates := p.Current().Dates(today, store.AddDays(today, 56))
	path := "/plans/" + p.ID.Hex()
	for _, ch := range []string{`{"from":"` + dates[4] + `","time":"12:00"}`, `{"from":"` + dates[2] + `","time":"14:00"}`} {
		if r := a.do(jsonReq(f.alice, "uz", "PATCH", path, ch)); r.status != 200 {
			t.Fatalf("change %s = %d %s", ch, r.status, r.body)
		}
	}
	want := func(stage string, ends string) {
		t.Helper()
		open := f.openVisits(t)
		for _, d := range dates {
			times := open[d]
			switch {
			case ends != "" && d >= ends:
				if len(times) != 0 {
					t.Errorf("%s: %s after the end has visits %v", stage, d, times)
				}
			case d < dates[2]:
				if len(times) != 1 || times[0] != "10:00" {
					t.Errorf("%s: %s has %v, want one at 10:00", stage, d, times)
				}
			default:
				if len(times) != 1 || times[0] != "14:00" {
					t.Errorf("%s: %s has %v, want one at 14:00 (the change from %s, not the one from %s)", stage, d, times, dates[2], dates[4])
				}
			}
		}
	}
	want("after the two changes", "")

	// A pause, and its resume the same day: the visits of the pause are
	// booked again; those after it stay the very orders they were.
	after := f.planOrders(t, f.plan(t, p.ID))
	until := dates[5]
	for _, act := range []struct{ path, body string }{{"/pause", `{"until":"` + until + `"}`}, {"/resume", ""}} {
		if r := a.do(jsonReq(f.alice, "uz", "POST", path+act.path, act.body)); r.status != 200 {
			t.Fatalf("%s = %d %s", act.path, r.status, r.body)
		}
	}
	want("after a pause and its resume", "")
	now := f.planOrders(t, f.plan(t, p.ID))
	for _, d := range dates[5:] {
		if now[d].ID != after[d].ID {
			t.Errorf("the visit of %s after the pause was booked again (%s → %s): it should have stayed", d, after[d].ID.Hex(), now[d].ID.Hex())
		}
	}

	// An end a few weeks on: active until then, no visits from then.
	ends := dates[6]
	r := a.do(jsonReq(f.alice, "uz", "POST", path+"/end", `{"date":"`+ends+`"}`))
	if r.status != 200 || !strings.Contains(r.body, `"status":"ACTIVE"`) || !strings.Contains(r.body, `"endsFrom":"`+ends+`"`) {
		t.Fatalf("end from %s = %d %s", ends, r.status, clip(r.body))
	}
	want("after the end was set", ends)
	if run, err := a.h.ExtendPlans(context.Background()); err != nil || run.Made != 0 {
		t.Errorf("the job made %+v (%v) for a plan ending on %s", run, err, ends)
	}
	f.clock.advance(mustTime(slot(57, 10, 0)).Sub(f.clock.Now())) // past the end
	if _, err := a.h.ExtendPlans(context.Background()); err != nil {
		t.Fatal(err)
	}
	if q := f.plan(t, p.ID); q.Status != store.PlanEnded {
		t.Errorf("past its end the plan is %s, want ENDED", q.Status)
	}
}

// A booking whose plan was lost (a crash between the first visit and the
// plan) makes the plan when the customer's browser sends it again.
func TestPlanBookingRetryMakesAMissingPlan(t *testing.T) {
	f := newOrderFixture(t)
	first, p := f.bookPlan(t, f.alice, "plan-retry", "weekly", 2, 10)
	client := storetest.Client(t)
	if _, err := client.Database(f.a.db.Name()).Collection("plans").DeleteOne(context.Background(), bson.D{{Key: "_id", Value: p.ID}}); err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(f.body("plan-retry", slot(2, 10, 0), "Chilonzor 9-kvartal, 12-uy", "+998 90 123 45 67"), `"idempotencyKey"`, `"frequency":"weekly","idempotencyKey"`, 1)
	r := f.a.api(f.alice).do("POST", "/orders", body)
	if r.status != 200 || !strings.Contains(r.body, first.ID.Hex()) {
		t.Fatalf("the retry = %d %s, want 200 with the first order", r.status, clip(r.body))
	}
	again := f.plan(t, p.ID)
	if again.Current().Anchor != p.Current().Anchor || again.Current().Time != "10:00" {
		t.Errorf("the plan made again: %+v", again.Current())
	}
	if n := len(f.planOrders(t, again)); n != 8 {
		t.Errorf("%d visits after the retry, want 8", n)
	}
}
