package handlers

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// setChecklist gives service id the visit checklist items.
func (f *orderFixture) setChecklist(t *testing.T, id primitive.ObjectID, items ...store.ChecklistItem) {
	t.Helper()
	if _, err := f.a.h.services.Update(context.Background(), id, store.ServiceChange{Checklist: &items}); err != nil {
		t.Fatal(err)
	}
}

var testChecklist = []store.ChecklistItem{
	{ID: "dust", Text: store.Texts{Uz: "Changni artish", Ru: "Протереть пыль", En: "Dust the surfaces"}},
	{ID: "floor", Text: store.Texts{Uz: "Polni yuvish", Ru: "Вымыть пол", En: "Mop the floors"}},
}

func cleanerJSON(token, method, path, body string) request {
	h := map[string]string{"Accept": "application/json"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	r := request{method: method, path: path, headers: h, body: body}
	if body != "" {
		r.contentType = "application/json"
	}
	return r
}

func asForm(token, path string, v url.Values) request {
	return request{method: "POST", path: path, body: v.Encode(), contentType: "application/x-www-form-urlencoded",
		headers: map[string]string{"Authorization": "Bearer " + token}}
}

// TestCleanerPagesByRole: every role on the cleaner's routes, and the
// checklist's ticks, each with what the database holds afterwards.
func TestCleanerPagesByRole(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	ctx := context.Background()
	o := f.book(t, f.alice, "myday-roles")
	f.setChecklist(t, o.ServiceID, testChecklist...)
	mine, me := f.cleaner(t, "bekzod", o.CrewID)
	theirs, _ := f.cleaner(t, "sardor", f.otherCrew(t, o.CrewID))
	day := "/my/day?date=" + store.LocalDate(o.ScheduledAt)
	visit := "/my/visits/" + o.ID.Hex()
	tick := visit + "/checklist/dust"
	ticks := func(want map[string]bool) func(*testing.T, *testApp) {
		return func(t *testing.T, a *testApp) {
			got, err := a.h.orders.Get(ctx, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Checklist) != len(want) {
				t.Errorf("ticks %+v, want %v", got.Checklist, want)
			}
			for id, done := range want {
				if tk, ok := got.Checklist[id]; !ok || tk.Done != done || tk.ByUserID != me.ID {
					t.Errorf("tick %s = %+v, want done %v by the cleaner", id, tk, done)
				}
			}
		}
	}
	runScenarios(t, a, []scenario{
		{name: "anonymous: the day", req: cleanerJSON("", "GET", day, ""), status: 401},
		{name: "customer: the day", req: cleanerJSON(f.alice, "GET", day, ""), status: 403},
		{name: "admin: the day", req: cleanerJSON(f.admin, "GET", day, ""), status: 403},
		{name: "cleaner of the crew: the day", req: cleanerJSON(mine, "GET", day, ""), status: 200,
			contains: []string{`"visits":[{"id":"` + o.ID.Hex(), `"customerFirstName":"alice"`, `"address":"Chilonzor 9-kvartal, 12-uy"`, `"phone":"+998901234567"`,
				`"mapUrl":"https://www.google.com/maps/search/?api=1\u0026query=Chilonzor`, `"steps":[]`, `"notes":"Mushuk bor"`},
			notContains: []string{"alice@example.uz", `"userId"`}},
		{name: "cleaner of another crew: the day", req: cleanerJSON(theirs, "GET", day, ""), status: 200, contains: []string{`"visits":[]`}, notContains: []string{o.ID.Hex()}},
		{name: "cleaner: a day that is none", req: cleanerJSON(mine, "GET", "/my/day?date=2026-13-40", ""), status: 422},

		{name: "anonymous: the visit", req: cleanerJSON("", "GET", visit, ""), status: 401},
		{name: "customer: the visit", req: cleanerJSON(f.alice, "GET", visit, ""), status: 403},
		{name: "admin: the visit", req: cleanerJSON(f.admin, "GET", visit, ""), status: 403},
		{name: "cleaner of another crew: the visit", req: cleanerJSON(theirs, "GET", visit, ""), status: 404},
		{name: "cleaner: a visit that is none", req: cleanerJSON(mine, "GET", "/my/visits/"+primitive.NewObjectID().Hex(), ""), status: 404},
		{name: "cleaner of the crew: the visit", req: cleanerJSON(mine, "GET", visit, ""), status: 200,
			contains: []string{`"checklist":[{"id":"dust","text":"Changni artish","done":false},{"id":"floor"`, `"status":"PENDING"`}},

		{name: "cleaner of another crew: the order", req: cleanerJSON(theirs, "GET", "/orders/"+o.ID.Hex(), ""), status: 404},
		{name: "cleaner of the crew: the order's page is their visit's", req: cleanerJSON(mine, "GET", "/orders/"+o.ID.Hex(), ""), status: 303, header: map[string]string{"Location": visit}},
		{name: "cleaner: the users", req: cleanerJSON(mine, "GET", "/users", ""), status: 403},
		{name: "cleaner: the orders' CSV", req: cleanerJSON(mine, "GET", "/orders.csv", ""), status: 403},
		{name: "cleaner: the schedule", req: cleanerJSON(mine, "GET", "/admin/schedule", ""), status: 403},
		{name: "cleaner: a customer's list is none of theirs", req: cleanerJSON(mine, "GET", "/orders", ""), status: 200, notContains: []string{o.ID.Hex()}},

		{name: "cleaner: ticking before arrival", req: cleanerJSON(mine, "PUT", tick, `{"done":true}`), status: 409, contains: []string{`"code":"checklist_closed"`}, after: ticks(nil)},
	})

	f.arrived(t, o.ID)
	runScenarios(t, a, []scenario{
		{name: "anonymous ticks", req: cleanerJSON("", "PUT", tick, `{"done":true}`), status: 401, after: ticks(nil)},
		{name: "customer ticks", req: cleanerJSON(f.alice, "PUT", tick, `{"done":true}`), status: 403, after: ticks(nil)},
		{name: "admin ticks", req: cleanerJSON(f.admin, "PUT", tick, `{"done":true}`), status: 403, after: ticks(nil)},
		{name: "cleaner of another crew ticks", req: cleanerJSON(theirs, "PUT", tick, `{"done":true}`), status: 404, after: ticks(nil)},
		{name: "an item the service has not", req: cleanerJSON(mine, "PUT", visit+"/checklist/windows", `{"done":true}`), status: 404, after: ticks(nil)},
		{name: "an item id that is a field path", req: cleanerJSON(mine, "PUT", visit+"/checklist/a.b", `{"done":true}`), status: 404, after: ticks(nil)},
		{name: "done left out", req: cleanerJSON(mine, "PUT", tick, `{}`), status: 422, after: ticks(nil)},
		{name: "done not a boolean", req: cleanerJSON(mine, "PUT", tick, `{"done":"yes"}`), status: 400, after: ticks(nil)},
		{name: "cleaner ticks", req: cleanerJSON(mine, "PUT", tick, `{"done":true}`), status: 200,
			contains: []string{`{"id":"dust","text":"Changni artish","done":true}`}, after: ticks(map[string]bool{"dust": true})},
		{name: "the same tick again", req: cleanerJSON(mine, "PUT", tick, `{"done":true}`), status: 200, after: ticks(map[string]bool{"dust": true})},
		{name: "another, from the form without JavaScript", req: asForm(mine, visit+"/checklist/floor", url.Values{"done": {"true"}}), status: 303,
			header: map[string]string{"Location": visit}, after: ticks(map[string]bool{"dust": true, "floor": true})},
		{name: "cleaner unticks", req: cleanerJSON(mine, "PUT", tick, `{"done":false}`), status: 200, after: ticks(map[string]bool{"dust": false, "floor": true})},
	})

	// The page shows the ticks, in the reader's language.
	page := a.do(request{path: visit, headers: map[string]string{"Authorization": "Bearer " + mine, "Cookie": "lang=ru"}}).body
	for _, want := range []string{`data-testid="visit-checklist"`, "Вымыть пол", `data-item="floor" data-done="true"`, `data-item="dust" data-done="false"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the visit's page lacks %q", want)
		}
	}

	// Taken off the crew: the next request finds no such visit.
	f.setMembers(t, o.CrewID)
	if r := a.do(cleanerJSON(mine, "GET", visit, "")); r.status != 404 {
		t.Errorf("the visit after leaving the crew = %d", r.status)
	}
	if r := a.do(cleanerJSON(mine, "PUT", tick, `{"done":true}`)); r.status != 404 {
		t.Errorf("a tick after leaving the crew = %d", r.status)
	}
	if r := a.do(cleanerJSON(mine, "GET", day, "")); !strings.Contains(r.body, `"visits":[]`) {
		t.Errorf("the day after leaving the crew: %s", clip(r.body))
	}
}

// TestCleanerTapsThroughAVisit: the steps from the visit's page as a phone
// sends them (htmx, and the forms without JavaScript), the completion with
// what was collected, and the customer's details gone a day after.
func TestCleanerTapsThroughAVisit(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	ctx := context.Background()
	o := f.book(t, f.alice, "myday-taps")
	mine, _ := f.cleaner(t, "jasur", o.CrewID)
	if _, err := a.h.orders.Advance(ctx, o.ID, store.StatusConfirmed, store.StatusChange{}); err != nil {
		t.Fatal(err)
	}
	visit := "/my/visits/" + o.ID.Hex()
	path := "/orders/" + o.ID.Hex()
	htmx := func(body string) request {
		return request{method: "PATCH", path: path, body: body, contentType: "application/x-www-form-urlencoded",
			headers: map[string]string{"Authorization": "Bearer " + mine, "HX-Request": "true", "HX-Target": "visit-detail"}}
	}
	status := func(want string) func(*testing.T, *testApp) {
		return func(t *testing.T, a *testApp) {
			if got, _ := a.h.orders.Get(ctx, o.ID); got.Status != want {
				t.Errorf("the order is %s, want %s", got.Status, want)
			}
		}
	}
	// The day before: the page says when setting out opens.
	if page := a.do(request{path: visit, headers: map[string]string{"Authorization": "Bearer " + mine}}).body; !strings.Contains(page, `data-testid="visit-not-today"`) || strings.Contains(page, `data-testid="visit-step-ON_THE_WAY"`) {
		t.Errorf("the visit's page the day before offers setting out:\n%s", clip(page))
	}
	// The order's own page sends a cleaner to theirs.
	if r := a.do(request{path: path, headers: map[string]string{"Authorization": "Bearer " + mine}}); r.status != 303 || r.header.Get("Location") != visit {
		t.Errorf("GET %s = %d %s", path, r.status, r.header.Get("Location"))
	}
	f.visitStarted(o)
	runScenarios(t, a, []scenario{
		{name: "on the way, by htmx", req: htmx("status=ON_THE_WAY"), status: 200,
			contains: []string{`id="visit-detail"`, `data-testid="visit-step-IN_PROGRESS"`, `data-testid="visit-noaccess-form"`, `hx-swap-oob`}, after: status(store.StatusOnTheWay)},
		{name: "arrived, from the form without JavaScript", req: asForm(mine, path, url.Values{"status": {"IN_PROGRESS"}}), status: 303,
			header: map[string]string{"Location": visit}, after: status(store.StatusInProgress)},
		{name: "done without saying what was collected", req: htmx("status=COMPLETED"), status: 422,
			contains: []string{`data-testid="error-payment-amount"`}, after: status(store.StatusInProgress)},
		{name: "done, paid by a method that is none", req: htmx("status=COMPLETED&payment.amount=350000&payment.method=BARTER"), status: 422,
			contains: []string{`data-testid="error-payment-method"`, `value="350000"`}, after: status(store.StatusInProgress)},
		{name: "done, paid in cash, from the form", req: asForm(mine, path, url.Values{"status": {"COMPLETED"}, "payment.amount": {"350000"}, "payment.method": {"CASH"}}), status: 303,
			header: map[string]string{"Location": visit}, after: status(store.StatusCompleted)},
	})
	done, _ := a.h.orders.Get(ctx, o.ID)
	if p := done.Payment; p == nil || p.Amount != 350000 || p.Method != store.PayCash {
		t.Errorf("the payment recorded: %+v", p)
	}
	page := a.do(request{path: visit, headers: map[string]string{"Authorization": "Bearer " + mine}}).body
	for _, want := range []string{`data-testid="visit-paid"`, "Chilonzor 9-kvartal, 12-uy", `href="tel:+998901234567"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the visit's page after completion lacks %q", want)
		}
	}
	if strings.Contains(page, `data-testid="visit-step-`) {
		t.Errorf("a completed visit still offers steps")
	}

	// More than a day after the visit: no address, phone or notes.
	f.clock.advance(2 * 24 * time.Hour)
	r := a.do(cleanerJSON(mine, "GET", visit, ""))
	if r.status != 200 || !strings.Contains(r.body, `"detailsHidden":true`) {
		t.Errorf("the visit two days on = %d %s", r.status, clip(r.body))
	}
	for _, leak := range []string{"9-kvartal", "998901234567", "Mushuk", "mapUrl"} {
		if strings.Contains(r.body, leak) {
			t.Errorf("two days on, the cleaner still sees %q", leak)
		}
	}
	page = a.do(request{path: visit, headers: map[string]string{"Authorization": "Bearer " + mine}}).body
	if !strings.Contains(page, `data-testid="visit-hidden"`) || strings.Contains(page, "9-kvartal") || strings.Contains(page, "tel:+998901234567") {
		t.Errorf("two days on, the page still shows the customer's details")
	}
	dayJSON := a.do(cleanerJSON(mine, "GET", "/my/day?date="+store.LocalDate(o.ScheduledAt), "")).body
	if !strings.Contains(dayJSON, o.ID.Hex()) || strings.Contains(dayJSON, "9-kvartal") {
		t.Errorf("the past day: %s", clip(dayJSON))
	}
}

// TestMyDayInOrder: the day lists the crews' visits by time, a cancelled
// one not at all; today's page has the next day below.
func TestMyDayInOrder(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	ctx := context.Background()
	late := f.bookAt(t, f.alice, "late", slot(1, 14, 0))
	early := f.bookAt(t, f.bob, "early", slot(1, 9, 0))
	gone := f.bookAt(t, f.alice, "gone", slot(1, 16, 30))
	next := f.bookAt(t, f.bob, "next", slot(2, 11, 0))
	mine, me := f.cleaner(t, "nodira", primitive.NilObjectID)
	crews, err := a.h.schedule.Crews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range crews { // in every crew: each visit is theirs
		f.setMembers(t, cr.ID, me.ID)
	}
	if _, err := a.h.orders.Move(ctx, gone.ID, store.Step{To: store.StatusCancelled}); err != nil {
		t.Fatal(err)
	}
	r := a.do(cleanerJSON(mine, "GET", "/my/day?date="+store.LocalDate(early.ScheduledAt), ""))
	i, j := strings.Index(r.body, early.ID.Hex()), strings.Index(r.body, late.ID.Hex())
	if r.status != 200 || i < 0 || j < i || strings.Contains(r.body, gone.ID.Hex()) || strings.Contains(r.body, next.ID.Hex()) {
		t.Errorf("the day = %d %s", r.status, clip(r.body))
	}
	// Today's page, a day on: the visits, then the next day's.
	f.clock.advance(time.Until(early.ScheduledAt.Add(-3 * time.Hour)))
	page := a.do(request{path: "/my/day", headers: map[string]string{"Authorization": "Bearer " + mine}}).body
	i, j = strings.Index(page, early.ID.Hex()), strings.Index(page, late.ID.Hex())
	k, l := strings.Index(page, `data-testid="myday-tomorrow"`), strings.Index(page, next.ID.Hex())
	if i < 0 || j < i || k < j || l < k {
		t.Errorf("today's page is not in order (%d %d %d %d)", i, j, k, l)
	}
	if !strings.Contains(page, `data-testid="nav-myday"`) {
		t.Errorf("no link to the day in the menu")
	}
}
