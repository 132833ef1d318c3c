package handlers

import (
	"context"
	"strings"
	"testing"

	"tozalash/store"
)

// #19 item 17: a visit is COMPLETED only once it has started; before, the
// admin gets 409 not_started in their language, and nothing is written
// (no status, no timeline entry, no revenue).
func TestCompletingBeforeTheVisitStarts(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o := f.book(t, f.alice, "early")
	if _, err := a.h.orders.Advance(context.Background(), o.ID, store.StatusInProgress, store.StatusChange{}); err != nil {
		t.Fatal(err) // the crew arrived early, the day before
	}
	path := "/orders/" + o.ID.Hex()
	complete := func(lang string) request {
		return request{method: "PATCH", path: path, body: `{"status":"COMPLETED"}`, contentType: "application/json",
			headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.admin, "Cookie": "lang=" + lang}}
	}
	unchanged := func(t *testing.T, a *testApp) {
		got, err := a.h.orders.Get(context.Background(), o.ID)
		if err != nil || got.Status != store.StatusInProgress || len(got.History) != 4 {
			t.Errorf("after the refusal: %v %+v", err, got)
		}
		totals, _ := a.h.orders.Totals(context.Background())
		if totals.Revenue != 0 || totals.ByStatus[store.StatusCompleted] != 0 {
			t.Errorf("revenue %d, completed %d after the refusal", totals.Revenue, totals.ByStatus[store.StatusCompleted])
		}
	}
	runScenarios(t, a, []scenario{
		{name: "a day before the visit (Uzbek)", req: complete("uz"), status: 409, contains: []string{`"code":"not_started"`, "boshlanishidan oldin"}, after: unchanged},
		{name: "in Russian", req: complete("ru"), status: 409, contains: []string{"до его начала"}, after: unchanged},
		{name: "in English", req: complete("en"), status: 409, contains: []string{"before it starts"}, after: unchanged},
		{name: "with a new time in the same request: refused, the time unchanged", req: request{method: "PATCH", path: path, body: `{"status":"COMPLETED","scheduledAt":"` + slot(2, 10, 0) + `"}`, contentType: "application/json",
			headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.admin}}, status: 409, after: func(t *testing.T, a *testApp) {
			if got, _ := a.h.orders.Get(context.Background(), o.ID); !got.ScheduledAt.Equal(o.ScheduledAt) {
				t.Errorf("the refused request moved the visit to %v", got.ScheduledAt)
			}
		}},
	})
	// The admin is not offered "Complete" before the visit starts.
	asAdmin := map[string]string{"Authorization": "Bearer " + f.admin}
	completeButtons := func() int {
		return strings.Count(a.do(request{path: path, headers: asAdmin}).body, `data-testid="order-step-COMPLETED"`) +
			strings.Count(a.do(request{path: "/orders", headers: asAdmin}).body, `data-testid="row-step-COMPLETED"`)
	}
	if n := completeButtons(); n != 0 {
		t.Errorf("%d Complete buttons before the visit", n)
	}
	f.visitStarted(o)
	if n := completeButtons(); n != 2 {
		t.Errorf("%d Complete buttons once it started, want 2 (page and board)", n)
	}
	r := a.do(complete("uz"))
	if r.status != 200 || !strings.Contains(r.body, `"status":"COMPLETED"`) {
		t.Fatalf("once started = %d %s", r.status, r.body)
	}
	if totals, _ := a.h.orders.Totals(context.Background()); totals.Revenue != o.Price {
		t.Errorf("revenue %d, want %d", totals.Revenue, o.Price)
	}
}
