package handlers

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// cleaner makes a CLEANER account in crew (nil: in none) and signs it in.
func (f *orderFixture) cleaner(t *testing.T, name string, crew primitive.ObjectID) (string, *store.User) {
	t.Helper()
	token, u := f.a.signupVerified(name, name+"@tozalash.uz", "tozalovchi-2026")
	role := store.RoleCleaner
	if _, err := f.a.h.users.Update(context.Background(), u.ID, store.UserChange{Role: &role}); err != nil {
		t.Fatal(err)
	}
	u.Role = role
	if !crew.IsZero() {
		f.setMembers(t, crew, append(f.crew(t, crew).MemberIDs, u.ID)...)
	}
	return token, u
}

func (f *orderFixture) crew(t *testing.T, id primitive.ObjectID) *store.Crew {
	t.Helper()
	c, err := f.a.h.schedule.Crew(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	cp := *c
	return &cp
}

func (f *orderFixture) setMembers(t *testing.T, crew primitive.ObjectID, ids ...primitive.ObjectID) {
	t.Helper()
	c := f.crew(t, crew)
	c.MemberIDs = ids
	if err := f.a.h.schedule.UpdateCrew(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

// otherCrew is a crew that is not id.
func (f *orderFixture) otherCrew(t *testing.T, id primitive.ObjectID) primitive.ObjectID {
	t.Helper()
	crews, err := f.a.h.schedule.Crews(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range crews {
		if c.ID != id {
			return c.ID
		}
	}
	t.Fatal("one crew only")
	return id
}

// arrived steps visit id on to IN_PROGRESS through the store: the crew
// is there, and the visit may be completed.
func (f *orderFixture) arrived(t *testing.T, id primitive.ObjectID) {
	t.Helper()
	if _, err := f.a.h.orders.Advance(context.Background(), id, store.StatusInProgress, store.StatusChange{ByName: "crew"}); err != nil {
		t.Fatal(err)
	}
}

func stepRequest(token, path, body string) request {
	h := map[string]string{"Accept": "application/json"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return request{method: "PATCH", path: path, body: body, contentType: "application/json", headers: h}
}

// TestVisitSteps is the visit's day through PATCH /orders/:id, for every
// role: the office confirms, the crew's cleaner steps it on the way,
// arrived and done with the payment, and everyone else is refused with
// nothing written.
func TestVisitSteps(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	ctx := context.Background()
	o := f.book(t, f.alice, "steps")
	path := "/orders/" + o.ID.Hex()
	mine, _ := f.cleaner(t, "bekzod", o.CrewID)
	theirs, _ := f.cleaner(t, "sardor", f.otherCrew(t, o.CrewID))
	status := func(want string, history int) func(*testing.T, *testApp) {
		return func(t *testing.T, a *testApp) {
			got, err := a.h.orders.Get(ctx, o.ID)
			if err != nil || got.Status != want || len(got.History) != history {
				t.Errorf("the order is %s with %d entries, want %s with %d (%v)", got.Status, len(got.History), want, history, err)
			}
		}
	}
	runScenarios(t, a, []scenario{
		{name: "cleaner: on the way before it is confirmed", req: stepRequest(mine, path, `{"status":"ON_THE_WAY"}`), status: 409, contains: []string{`"code":"bad_transition"`}, after: status(store.StatusPending, 1)},
		{name: "cleaner: confirming is the office's", req: stepRequest(mine, path, `{"status":"CONFIRMED"}`), status: 403, after: status(store.StatusPending, 1)},
		{name: "customer: confirming their own", req: stepRequest(f.alice, path, `{"status":"CONFIRMED"}`), status: 403, after: status(store.StatusPending, 1)},
		{name: "another customer", req: stepRequest(f.bob, path, `{"status":"CANCELLED"}`), status: 404, after: status(store.StatusPending, 1)},
		{name: "anonymous", req: stepRequest("", path, `{"status":"CONFIRMED"}`), status: 401, after: status(store.StatusPending, 1)},
		{name: "a status that is none", req: stepRequest(f.admin, path, `{"status":"DONE"}`), status: 422, after: status(store.StatusPending, 1)},
		{name: "a payment without completing", req: stepRequest(f.admin, path, `{"status":"CONFIRMED","payment":{"amount":1000,"method":"CASH"}}`), status: 422, contains: []string{"payment"}, after: status(store.StatusPending, 1)},
		{name: "admin confirms", req: stepRequest(f.admin, path, `{"status":"CONFIRMED"}`), status: 200, contains: []string{`"status":"CONFIRMED"`}, after: status(store.StatusConfirmed, 2)},
		{name: "admin confirms again", req: stepRequest(f.admin, path, `{"status":"CONFIRMED"}`), status: 409, contains: []string{`"code":"bad_transition"`}, after: status(store.StatusConfirmed, 2)},
		{name: "cleaner of another crew", req: stepRequest(theirs, path, `{"status":"ON_THE_WAY"}`), status: 404, after: status(store.StatusConfirmed, 2)},
		{name: "cleaner: on the way the day before", req: stepRequest(mine, path, `{"status":"ON_THE_WAY"}`), status: 409, contains: []string{`"code":"not_today"`}, after: status(store.StatusConfirmed, 2)},
		{name: "cleaner: cancelling", req: stepRequest(mine, path, `{"status":"CANCELLED"}`), status: 403, after: status(store.StatusConfirmed, 2)},
		{name: "cleaner: a new address", req: stepRequest(mine, path, `{"status":"ON_THE_WAY","address":"Yunusobod 4-mavze"}`), status: 403, after: status(store.StatusConfirmed, 2)},
	})

	f.visitStarted(o) // the visit's day, its time come
	runScenarios(t, a, []scenario{
		{name: "cleaner: on the way", req: stepRequest(mine, path, `{"status":"ON_THE_WAY"}`), status: 200, after: status(store.StatusOnTheWay, 3)},
		{name: "customer: cancelling once the crew set out", req: stepRequest(f.alice, path, `{"status":"CANCELLED"}`), status: 409, after: status(store.StatusOnTheWay, 3)},
		{name: "cleaner: done before arriving", req: stepRequest(mine, path, `{"status":"COMPLETED"}`), status: 409, contains: []string{`"code":"bad_transition"`}, after: status(store.StatusOnTheWay, 3)},
		{name: "cleaner: arrived", req: stepRequest(mine, path, `{"status":"IN_PROGRESS"}`), status: 200, after: status(store.StatusInProgress, 4)},
		{name: "cleaner: a payment by an unknown method", req: stepRequest(mine, path, `{"status":"COMPLETED","payment":{"amount":300000,"method":"BITCOIN"}}`), status: 422, after: status(store.StatusInProgress, 4)},
		{name: "cleaner: a negative payment", req: stepRequest(mine, path, `{"status":"COMPLETED","payment":{"amount":-5,"method":"CASH"}}`), status: 422, after: status(store.StatusInProgress, 4)},
		{name: "cleaner: done, paid by Click", req: stepRequest(mine, path, `{"status":"COMPLETED","payment":{"amount":300000,"method":"CLICK"}}`), status: 200,
			contains: []string{`"status":"COMPLETED"`, `"method":"CLICK"`}, after: status(store.StatusCompleted, 5)},
		{name: "cleaner: done twice", req: stepRequest(mine, path, `{"status":"COMPLETED"}`), status: 409, after: status(store.StatusCompleted, 5)},
		{name: "admin: cancelling a completed visit", req: stepRequest(f.admin, path, `{"status":"CANCELLED"}`), status: 409, after: status(store.StatusCompleted, 5)},
	})

	done, _ := a.h.orders.Get(ctx, o.ID)
	if h := done.History[2]; h.Status != store.StatusOnTheWay || h.ByName != "bekzod" {
		t.Errorf("the step on the way is recorded as %+v", h)
	}
	// The customer heard of the confirmation, the crew on its way and the
	// end, in Uzbek; not of the arrival (they opened the door).
	for subject, text := range map[string]string{"Buyurtmangiz tasdiqlandi": "Buyurtmangizni tasdiqladik", "Tozalovchingiz yo‘lda": "Brigada yo‘lga chiqdi",
		"Tozalash bajarildi": "Bajarildi"} {
		if m := a.smtp.WaitForText("alice@example.uz", text, 10*time.Second); m.Subject != subject {
			t.Errorf("email %q: got %q", subject, m.Subject)
		}
	}
	// And was asked to rate the visit (#24), once.
	if m := a.smtp.WaitForText("alice@example.uz", "tashrifni 1 dan 5 gacha baholang", 10*time.Second); m.Subject != "Tashrifni baholang" {
		t.Errorf("the review request: got %q", m.Subject)
	}
	if n := a.smtp.Count("alice@example.uz"); n != 6 { // verification, booking, confirmed, on the way, done, rate it
		t.Errorf("%d emails to the customer, want 6", n)
	}
	// Statistics: every status, and what was collected beside what was booked.
	r := a.api(f.admin).do("GET", "/admin/statistics", "")
	var st statisticsJSON
	r.json(t, &st)
	if len(st.OrdersByStatus) != len(store.Statuses) || st.OrdersByStatus[store.StatusCompleted] != 1 || st.RevenueCollected != 300000 || st.Revenue != o.Price {
		t.Errorf("statistics: %+v", st)
	}
	// The board and its CSV say it was paid.
	if r := a.api(f.admin).do("GET", "/orders?status=COMPLETED", ""); !strings.Contains(r.body, `"paid":true`) {
		t.Errorf("the board's JSON does not say the visit is paid: %s", clip(r.body))
	}
	if r := a.do(request{path: "/orders?status=COMPLETED", headers: map[string]string{"Authorization": "Bearer " + f.admin}}); !strings.Contains(r.body, `data-testid="board-paid"`) {
		t.Errorf("the board does not show the visit paid")
	}
	csv := a.do(request{path: "/orders.csv", headers: map[string]string{"Authorization": "Bearer " + f.admin, "Cookie": "lang=en"}}).body
	if !strings.Contains(csv, "Payment method") || !strings.Contains(csv, ",yes,300000,Click") {
		t.Errorf("the CSV lacks the payment:\n%s", clip(csv))
	}
}

// TestNoAccessAndCrewChanges: nobody home is a step with the cleaner's
// note; a cleaner taken off the crew loses the visit at their next request.
func TestNoAccessAndCrewChanges(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	ctx := context.Background()
	o := f.book(t, f.alice, "noaccess")
	path := "/orders/" + o.ID.Hex()
	mine, me := f.cleaner(t, "dilshod", o.CrewID)
	if _, err := a.h.orders.Advance(ctx, o.ID, store.StatusConfirmed, store.StatusChange{}); err != nil {
		t.Fatal(err)
	}
	f.visitStarted(o)
	if r := a.do(stepRequest(mine, path, `{"status":"ON_THE_WAY"}`)); r.status != 200 {
		t.Fatalf("on the way = %d %s", r.status, clip(r.body))
	}
	r := a.do(stepRequest(mine, path, `{"status":"NO_ACCESS","note":"Eshikni hech kim ochmadi"}`))
	if r.status != 200 {
		t.Fatalf("no access = %d %s", r.status, clip(r.body))
	}
	got, _ := a.h.orders.Get(ctx, o.ID)
	if last := got.History[len(got.History)-1]; got.Status != store.StatusNoAccess || last.Reason != "Eshikni hech kim ochmadi" || last.ByUserID != me.ID {
		t.Errorf("after no access: %s %+v", got.Status, last)
	}
	// The customer's page says so, and stops asking for itself again.
	page := a.do(request{path: path, headers: map[string]string{"Authorization": "Bearer " + f.alice, "HX-Request": "true", "HX-Target": "order-progress"}}).body
	if !strings.Contains(page, `data-testid="order-progress"`) || !strings.Contains(page, "kira olmadi") || strings.Contains(page, `hx-trigger="every`) {
		t.Errorf("the progress after no access:\n%s", clip(page))
	}

	// Taken off the crew: the next request finds no such visit.
	f.setMembers(t, o.CrewID)
	other := f.book(t, f.alice, "noaccess-2")
	if _, err := a.h.orders.Advance(ctx, other.ID, store.StatusConfirmed, store.StatusChange{}); err != nil {
		t.Fatal(err)
	}
	if r := a.do(stepRequest(mine, "/orders/"+other.ID.Hex(), `{"status":"ON_THE_WAY"}`)); r.status != 404 {
		t.Errorf("a cleaner off the crew = %d", r.status)
	}
	if got, _ := a.h.orders.Get(ctx, other.ID); got.Status != store.StatusConfirmed {
		t.Errorf("written anyway: %s", got.Status)
	}
}

// TestTwoTapsOneWinner: the same step sent twice at once (two taps, or the
// admin and the cleaner) is made once; the other gets 409.
func TestTwoTapsOneWinner(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	ctx := context.Background()
	o := f.book(t, f.alice, "taps")
	mine, _ := f.cleaner(t, "jasur", o.CrewID)
	if _, err := a.h.orders.Advance(ctx, o.ID, store.StatusConfirmed, store.StatusChange{}); err != nil {
		t.Fatal(err)
	}
	f.visitStarted(o)
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := mine
			if i%2 == 1 {
				token = f.admin
			}
			statuses[i] = a.do(stepRequest(token, "/orders/"+o.ID.Hex(), `{"status":"ON_THE_WAY"}`)).status
		}()
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case 200:
			won++
		case 409:
		default:
			t.Errorf("a tap answered %d", s)
		}
	}
	got, _ := a.h.orders.Get(ctx, o.ID)
	if won != 1 || len(got.History) != 3 {
		t.Errorf("%d winners, %d history entries (%v)", won, len(got.History), statuses)
	}
	if tt, _ := a.h.orders.Totals(ctx); tt.ByStatus[store.StatusOnTheWay] != 1 || tt.ByStatus[store.StatusConfirmed] != 0 {
		t.Errorf("counted %+v", tt.ByStatus)
	}
}

// TestAutoConfirmAndLiveProgress: with the company's setting on, a new
// booking is confirmed as made; the customer's page follows the crew.
func TestAutoConfirmAndLiveProgress(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	if r := a.api(f.admin).do("PUT", "/admin/settings", `{"autoConfirm":true}`); r.status != 200 || !strings.Contains(r.body, `"autoConfirm":true`) {
		t.Fatalf("setting = %d %s", r.status, clip(r.body))
	}
	o := f.book(t, f.alice, "auto")
	if o.Status != store.StatusConfirmed || len(o.History) != 2 {
		t.Fatalf("a booking with auto-confirm is %s (%d entries)", o.Status, len(o.History))
	}
	mine, _ := f.cleaner(t, "nodir", o.CrewID)
	f.visitStarted(o)
	progress := func() string {
		return a.do(request{path: "/orders/" + o.ID.Hex(), headers: map[string]string{"Authorization": "Bearer " + f.alice, "HX-Request": "true", "HX-Target": "order-progress"}}).body
	}
	if p := progress(); !strings.Contains(p, `hx-trigger="every 5s"`) || !strings.Contains(p, `data-testid="progress-ON_THE_WAY" data-reached="false"`) {
		t.Errorf("before the crew sets out:\n%s", clip(p))
	}
	if r := a.do(stepRequest(mine, "/orders/"+o.ID.Hex(), `{"status":"ON_THE_WAY"}`)); r.status != 200 {
		t.Fatalf("on the way = %d", r.status)
	}
	p := progress()
	if !strings.Contains(p, `data-testid="progress-ON_THE_WAY" data-reached="true"`) || !strings.Contains(p, "Tozalovchingiz yo‘lda") ||
		!strings.Contains(p, `id="order-status" hx-swap-oob="true"`) || !strings.Contains(p, o.CrewName) {
		t.Errorf("after the crew set out:\n%s", clip(p))
	}
	// Off again: a form without the box.
	if r := a.api(f.admin).do("PUT", "/admin/settings", `{"autoConfirm":false}`); !strings.Contains(r.body, `"autoConfirm":false`) {
		t.Errorf("turning it off: %s", clip(r.body))
	}
	if o := f.book(t, f.alice, "manual"); o.Status != store.StatusPending {
		t.Errorf("without the setting a booking is %s", o.Status)
	}
	// The board filters by crew.
	rows := a.api(f.admin).do("GET", "/orders?crewId="+f.otherCrew(t, o.CrewID).Hex()+"&q=%23"+itoa(o.Seq), "").body
	if strings.Contains(rows, o.ID.Hex()) {
		t.Errorf("another crew's filter shows the visit")
	}
	if rows := a.api(f.admin).do("GET", "/orders?crewId="+o.CrewID.Hex(), "").body; !strings.Contains(rows, o.ID.Hex()) {
		t.Errorf("its crew's filter does not show the visit")
	}
	if r := a.api(f.admin).do("GET", "/orders?crewId=nope", ""); r.status != 400 {
		t.Errorf("a bad crew id = %d", r.status)
	}
}
