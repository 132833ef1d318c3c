package handlers

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/event"

	"tozalash/demo"
	"tozalash/store"
	"tozalash/store/storetest"
	"tozalash/views"
)

// slot is a time that passes every booking rule: a day ahead at 10:00 in
// Tashkent (days > 0), or the given local time.
func slot(days, hour, minute int) string {
	d := time.Now().In(views.Tashkent).AddDate(0, 0, days)
	return time.Date(d.Year(), d.Month(), d.Day(), hour, minute, 0, 0, views.Tashkent).Format(time.RFC3339)
}

type orderFixture struct {
	a                 *testApp
	clock             *shiftClock // the handler's: tests move it past a visit's start
	admin, alice, bob string      // tokens
	aliceU, bobU      *store.User
	carol             string // unverified
	svc, archived     store.Service
	booked            int // bookings made by book: each goes on a day of its own
}

func newOrderFixture(t *testing.T) *orderFixture { return newOrderFixtureWith(t, Config{}) }

// newOrderFixtureWith is newOrderFixture with the app's cfg (its clock is
// the fixture's).
func newOrderFixtureWith(t *testing.T, cfg Config) *orderFixture {
	return newOrderFixtureOn(t, storetest.Open(t), cfg)
}

// newOrderFixtureOn is newOrderFixtureWith on db.
func newOrderFixtureOn(t *testing.T, db *store.DB, cfg Config) *orderFixture {
	if _, err := demo.Seed(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	clock := &shiftClock{}
	cfg.Now = clock.Now
	a := newTestAppWith(t, db, cfg)
	f := &orderFixture{a: a, clock: clock}
	f.admin, _ = a.admin()
	f.alice, f.aliceU = a.signupVerified("alice", "alice@example.uz", "toza-uy-2026")
	f.bob, f.bobU = a.signupVerified("bob", "bob@example.uz", "toza-uy-2026")
	a.api("").do("POST", "/auth/signup", `{"username":"carol","email":"carol@example.uz","password":"toza-uy-2026"}`)
	f.carol, _ = a.login("carol@example.uz", "toza-uy-2026")
	svcs := demoServices(t, a)
	f.svc = svcs[0] // 180 minutes
	f.archived = svcs[1]
	off := false
	if _, err := a.h.services.Update(context.Background(), f.archived.ID, store.ServiceChange{Active: &off}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *orderFixture) body(key, when, address, phone string) string {
	return `{"serviceId":"` + f.svc.ID.Hex() + `","scheduledAt":"` + when + `","address":"` + address + `","phone":"` + phone + `","notes":"Mushuk bor","idempotencyKey":"` + key + `"}`
}

func (f *orderFixture) book(t *testing.T, token, key string) *store.Order {
	t.Helper()
	// A day each (three crews a day would take three), tomorrow first.
	f.booked++
	r := f.a.api(token).do("POST", "/orders", f.body(key, slot(f.booked, 10, 0), "Chilonzor 9-kvartal, 12-uy", "+998 90 123 45 67"))
	if r.status != 201 {
		t.Fatalf("book = %d %s", r.status, r.body)
	}
	id, _ := primitive.ObjectIDFromHex(jsonField(t, r.body, "id").(string))
	o, err := f.a.h.orders.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (f *orderFixture) orderCount(t *testing.T) int64 {
	totals, err := f.a.h.orders.Totals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return totals.N
}

func TestBookingRules(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	post := func(token, body string) request {
		return request{method: "POST", path: "/orders", body: body, contentType: "application/json",
			headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + token}}
	}
	none := func(n int64) func(*testing.T, *testApp) {
		return func(t *testing.T, _ *testApp) {
			if got := f.orderCount(t); got != n {
				t.Errorf("%d orders, want %d", got, n)
			}
		}
	}
	good := f.body("k1", slot(1, 10, 0), "Chilonzor 9-kvartal, 12-uy", "90 123-45-67")
	withField := func(field, value string) string {
		return strings.Replace(f.body("kx", slot(1, 10, 0), "Chilonzor 9-kvartal, 12-uy", "+998901234567"), `"`+field+`":`, `"`+field+`":`+value+`,"_":`, 1)
	}
	runScenarios(t, a, []scenario{
		{name: "anonymous", req: request{method: "POST", path: "/orders", body: good, contentType: "application/json", headers: asJSON}, status: 401, after: none(0)},
		{name: "an unverified user cannot book", req: post(f.carol, good), status: 403, contains: []string{`"code":"not_verified"`}, after: none(0)},
		{
			name: "a verified user books: PENDING, the price of today, the phone normalized", req: post(f.alice, good), status: 201,
			contains: []string{`"status":"PENDING"`, `"price":350000`, `"phone":"+998901234567"`, `"serviceName":"Kvartirani umumiy tozalash"`, `"history":[{"status":"PENDING"`},
			after:    none(1),
		},
		{name: "the same key and body again: the same order, 200", req: post(f.alice, good), status: 200, after: none(1)},
		{name: "the same key with another body: 422", req: post(f.alice, strings.Replace(good, "Mushuk bor", "It bor", 1)), status: 422, contains: []string{`"idempotencyKey":`}, after: none(1)},
		{name: "an unknown service", req: post(f.alice, strings.Replace(good, f.svc.ID.Hex(), primitive.NewObjectID().Hex(), 1)), status: 422, contains: []string{`"serviceId":"Bunday xizmat yo‘q."`}},
		{name: "an archived service", req: post(f.alice, strings.Replace(good, f.svc.ID.Hex(), f.archived.ID.Hex(), 1)), status: 422, contains: []string{`"serviceId":"Bu xizmat endi taklif qilinmaydi."`}},
		{name: "a malformed service id", req: post(f.alice, strings.Replace(good, f.svc.ID.Hex(), "xyz", 1)), status: 422},
		{name: "an operator for the service id is 400", req: post(f.alice, withField("serviceId", `{"$ne":""}`)), status: 400, after: none(1)},
		{name: "not RFC 3339", req: post(f.alice, f.body("k2", "tomorrow at ten", "Chilonzor 9-kvartal", "+998901234567")), status: 422, contains: []string{`"scheduledAt":`}},
		{name: "in the past", req: post(f.alice, f.body("k3", slot(-1, 10, 0), "Chilonzor 9-kvartal", "+998901234567")), status: 422, contains: []string{"Bu vaqt allaqachon o‘tgan."}},
		{name: "before opening", req: post(f.alice, f.body("k4", slot(1, 7, 30), "Chilonzor 9-kvartal", "+998901234567")), status: 422, contains: []string{"Bu vaqtda hech bir brigada ishlamaydi"}},
		{name: "ending after closing (3 h from 18:00)", req: post(f.alice, f.body("k5", slot(1, 18, 0), "Chilonzor 9-kvartal", "+998901234567")), status: 422},
		{name: "beyond the 60-day horizon", req: post(f.alice, f.body("k6", slot(62, 10, 0), "Chilonzor 9-kvartal", "+998901234567")), status: 422, contains: []string{"60 kundan"}},
		{name: "off the half-hour grid", req: post(f.alice, f.body("k6b", slot(1, 10, 15), "Chilonzor 9-kvartal", "+998901234567")), status: 422, contains: []string{"har 30 daqiqada"}},
		{name: "sooner than 3 hours ahead", req: post(f.alice, f.body("k6c", time.Now().Add(time.Hour).Truncate(30*time.Minute).Add(30*time.Minute).Format(time.RFC3339), "Chilonzor 9-kvartal", "+998901234567")), status: 422, contains: []string{"Kamida 3 soat oldin"}},
		{name: "a 10 KB address", req: post(f.alice, f.body("k7", slot(1, 10, 0), strings.Repeat("a", 10_000), "+998901234567")), status: 422, contains: []string{`"address":`}},
		{name: "a foreign phone", req: post(f.alice, f.body("k8", slot(1, 10, 0), "Chilonzor 9-kvartal", "+7 999 123 45 67")), status: 422, contains: []string{`"phone":"O‘zbekiston raqamini kiriting`}},
		{name: "in Russian", req: request{method: "POST", path: "/orders", body: f.body("k9", slot(1, 10, 0), "", "1"), contentType: "application/json", headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.alice, "Cookie": "lang=ru"}}, status: 422, contains: []string{`"address":"Обязательное поле."`}, after: none(1)},
	})
	msg := a.smtp.WaitForText("alice@example.uz", "Chilonzor", 10*time.Second)
	if msg.Subject != "Buyurtmangiz qabul qilindi" || !strings.Contains(msg.Text, "350\u00a0000\u00a0so‘m") || !strings.Contains(msg.HTML, "/orders/") {
		t.Errorf("confirmation email: %q\n%s", msg.Subject, msg.Text)
	}
	if n := a.smtp.Count("alice@example.uz"); n != 2 { // verification + one confirmation
		t.Errorf("alice got %d emails", n)
	}
}

func TestDoubleSubmitMakesOneOrder(t *testing.T) {
	f := newOrderFixture(t)
	body := f.body("double", slot(2, 11, 0), "Yunusobod 4-mavze, 7-uy", "+998935551122")
	var wg sync.WaitGroup
	ids := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := f.a.api(f.alice).do("POST", "/orders", body)
			if r.status == 200 || r.status == 201 {
				ids <- jsonField(t, r.body, "id").(string)
			} else {
				t.Errorf("submit = %d %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 || f.orderCount(t) != 1 {
		t.Fatalf("20 identical submits: %d distinct ids, %d orders", len(seen), f.orderCount(t))
	}
	items, _, _ := f.a.h.orders.ForCustomer(context.Background(), f.aliceU.ID, primitive.NilObjectID, 100)
	if len(items) != 1 {
		t.Errorf("the customer's list has %d", len(items))
	}
}

// TestARetryWhileItsFirstTryCommitsAnswersIt: a retry of a booking (the
// same key and body) sent while its first try commits finds every crew
// taken, one by that first try, whose order the days' documents do not
// list yet. It answers that order once it is made, not a 409. On the
// embedded database the write lock mostly hides this window; on MongoDB
// nothing does. Here the first try is laid down as its commit leaves it
// halfway: its cells claimed and tagged, its order inserted or not yet,
// its day's entry not written (the last step of the commit).
func TestARetryWhileItsFirstTryCommitsAnswersIt(t *testing.T) {
	// looked hears when the app reads the order awaited, as a retry
	// waiting for it does.
	var awaited atomic.Value // primitive.ObjectID
	looked := make(chan struct{}, 1)
	db := storetest.OpenWatching(t, func(e *event.CommandStartedEvent) {
		id, _ := awaited.Load().(primitive.ObjectID)
		v, err := e.Command.LookupErr("filter", "_id")
		if oid, ok := v.ObjectIDOK(); err == nil && ok && e.CommandName == "find" && !id.IsZero() && oid == id {
			select {
			case looked <- struct{}{}:
			default:
			}
		}
	})
	f := newOrderFixtureOn(t, db, Config{})
	ctx := context.Background()
	sch := f.a.h.schedule
	rules, err := sch.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	crews, err := sch.Crews(ctx)
	if err != nil || len(crews) < 2 {
		t.Fatalf("crews %d %v", len(crews), err)
	}
	// firstTry claims one crew at when for alice's booking with key, and
	// every other crew for someone else's, and returns the order that
	// first try is making, not written yet.
	firstTry := func(t *testing.T, key, when string) (*store.Order, string) {
		t.Helper()
		body := f.body(key, when, "Yunusobod 4-mavze, 7-uy", "+998935551122")
		var in orderInput
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
		at, _ := time.Parse(time.RFC3339, when)
		o := &store.Order{
			ID: primitive.NewObjectID(), UserID: f.aliceU.ID, CustomerName: "alice", ServiceID: f.svc.ID, ServiceName: f.svc.Name.Uz, ServiceNames: f.svc.Name,
			ScheduledAt: at.UTC(), Address: in.Address, Phone: in.Phone, Notes: in.Notes, Status: store.StatusPending,
			IdempotencyKey: key, RequestHash: in.requestHash(at),
		}
		for i := range crews {
			order, tag := primitive.NewObjectID(), ""
			if i == len(crews)-1 {
				order, tag = o.ID, store.BookingTag(f.aliceU.ID, key)
			}
			r, err := sch.Reserve(ctx, []*store.Crew{&crews[i]}, order, at, f.svc.DurationMinutes, rules, tag)
			if err != nil {
				t.Fatal(err)
			}
			if order == o.ID {
				o.CrewID, o.CrewName, o.EndsAt, o.ReservedUntil = r.CrewID, crews[i].Name, r.EndsAt, r.Until
			}
		}
		return o, body
	}
	cellCount := func(t *testing.T) int {
		cells, err := f.a.h.db.RawFind(ctx, "crewTime")
		if err != nil {
			t.Fatal(err)
		}
		return len(cells)
	}
	answersFirst := func(t *testing.T, r response, first *store.Order, cells int) {
		t.Helper()
		if r.status != 200 || jsonField(t, r.body, "id") != first.ID.Hex() {
			t.Fatalf("retry = %d %s, want 200 with the first try's order %s", r.status, r.body, first.ID.Hex())
		}
		if n := cellCount(t); n != cells {
			t.Errorf("%d crew cells held after the retry, want %d: the retry keeps none", n, cells)
		}
	}
	// retryWaiting sends the retry of first's booking and returns once it
	// has looked for first's order: its answer comes on the channel.
	retryWaiting := func(t *testing.T, first *store.Order, body string) <-chan response {
		t.Helper()
		awaited.Store(first.ID)
		answer := make(chan response, 1)
		go func() { answer <- f.a.api(f.alice).do("POST", "/orders", body) }()
		select {
		case r := <-answer:
			t.Fatalf("the retry answered %d %s without looking for its first try's order", r.status, r.body)
		case <-looked:
		}
		return answer
	}
	t.Run("its order inserted, its day not yet", func(t *testing.T) {
		first, body := firstTry(t, "mid-1", slot(2, 11, 0))
		if _, err := f.a.h.db.InsertRaw(ctx, "orders", first); err != nil {
			t.Fatal(err)
		}
		cells := cellCount(t)
		answersFirst(t, f.a.api(f.alice).do("POST", "/orders", body), first, cells)
	})
	t.Run("its order inserted while the retry waits for it", func(t *testing.T) {
		first, body := firstTry(t, "mid-2", slot(3, 11, 0))
		cells := cellCount(t)
		answer := retryWaiting(t, first, body) // it looked, and found none: now it is made
		if _, err := f.a.h.db.InsertRaw(ctx, "orders", first); err != nil {
			t.Fatal(err)
		}
		answersFirst(t, <-answer, first, cells)
	})
	t.Run("its first try gives up: the retry books the crew it gave back", func(t *testing.T) {
		// The first try's booking is refused after it claimed its crew (a
		// promo code used up meanwhile, say): it gives the crew back while
		// the retry waits on it. The wait may not end before the retry
		// sees that (an hour, but for the request's deadline).
		f.a.h.firstTryWait = time.Hour
		first, body := firstTry(t, "mid-4", slot(5, 11, 0))
		cells := cellCount(t)
		answer := retryWaiting(t, first, body)
		if err := sch.Unreserve(ctx, first.Reservation(), nil); err != nil {
			t.Fatal(err)
		}
		r := <-answer
		if r.status != 201 || jsonField(t, r.body, "id") == first.ID.Hex() {
			t.Fatalf("retry = %d %s, want 201 with an order of its own", r.status, r.body)
		}
		id, _ := primitive.ObjectIDFromHex(jsonField(t, r.body, "id").(string))
		made, err := f.a.h.orders.Get(ctx, id)
		if err != nil || made.CrewID != first.CrewID || made.IdempotencyKey != "mid-4" {
			t.Fatalf("the retry's order %+v %v, want it on the crew %s the first try gave back", made, err, first.CrewID.Hex())
		}
		if n := cellCount(t); n != cells {
			t.Errorf("%d crew cells held, want %d: the retry's in place of the first try's", n, cells)
		}
	})
	t.Run("its order never made: the time is taken", func(t *testing.T) {
		f.a.h.firstTryWait = 50 * time.Millisecond // the first try was cut off holding its crew: nothing comes
		_, body := firstTry(t, "mid-3", slot(4, 11, 0))
		cells := cellCount(t)
		r := f.a.api(f.alice).do("POST", "/orders", body)
		if r.status != 409 || !strings.Contains(r.body, `"slot_taken"`) {
			t.Fatalf("retry = %d %s, want 409 slot_taken", r.status, r.body)
		}
		if n := cellCount(t); n != cells {
			t.Errorf("%d crew cells held after the refusal, want %d", n, cells)
		}
	})
}

func TestOrderOwnershipAndChanges(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	mine := f.book(t, f.alice, "o1")
	other := f.book(t, f.bob, "o2")
	path := "/orders/" + mine.ID.Hex()
	req := func(method, path, token, body string) request {
		r := request{method: method, path: path, body: body, headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + token}}
		if body != "" {
			r.contentType = "application/json"
		}
		return r
	}
	status := func(id primitive.ObjectID, want string) func(*testing.T, *testApp) {
		return func(t *testing.T, a *testApp) {
			o, err := a.h.orders.Get(context.Background(), id)
			if err != nil || o.Status != want {
				t.Errorf("order status %v %v, want %s", o, err, want)
			}
		}
	}
	f.arrived(t, other.ID) // early: the visit's time has not come
	runScenarios(t, a, []scenario{
		{name: "the owner sees it with its history", req: req("GET", path, f.alice, ""), status: 200, contains: []string{`"history":[`, `"notes":"Mushuk bor"`}},
		{name: "another user: not found", req: req("GET", path, f.bob, ""), status: 404},
		{name: "the admin sees it", req: req("GET", path, f.admin, ""), status: 200},
		{name: "a bad id", req: req("GET", "/orders/zzz", f.alice, ""), status: 400},
		{name: "a missing order", req: req("GET", "/orders/"+primitive.NewObjectID().Hex(), f.alice, ""), status: 404},
		{name: "my list has only mine", req: req("GET", "/orders", f.alice, ""), status: 200, contains: []string{mine.ID.Hex()}, notContains: []string{other.ID.Hex()}},
		{name: "another user cannot cancel it", req: req("PATCH", path, f.bob, `{"status":"CANCELLED"}`), status: 404, after: status(mine.ID, store.StatusPending)},
		{name: "the customer cannot change the price", req: req("PATCH", path, f.alice, `{"price":1}`), status: 403},
		{name: "the customer cannot complete", req: req("PATCH", path, f.alice, `{"status":"COMPLETED"}`), status: 403, after: status(mine.ID, store.StatusPending)},
		{name: "the customer cannot move it to another service", req: req("PATCH", path, f.alice, `{"serviceId":"`+f.svc.ID.Hex()+`"}`), status: 403},
		{name: "an unknown status is 422", req: req("PATCH", path, f.admin, `{"status":"DONE"}`), status: 422},
		{name: "reschedule outside the hours", req: req("PATCH", path, f.alice, `{"scheduledAt":"`+slot(2, 21, 0)+`"}`), status: 422},
		{name: "reschedule", req: req("PATCH", path, f.alice, `{"scheduledAt":"`+slot(3, 9, 30)+`"}`), status: 200, contains: []string{`"status":"PENDING"`}},
		{
			name: "the customer cancels with a reason", req: req("PATCH", path, f.alice, `{"status":"CANCELLED","reason":"Rejalar o‘zgardi"}`), status: 200,
			contains: []string{`"status":"CANCELLED"`, `"reason":"Rejalar o‘zgardi"`}, after: status(mine.ID, store.StatusCancelled),
		},
		{name: "cancelled: 409", req: req("PATCH", path, f.admin, `{"status":"COMPLETED"}`), status: 409, after: status(mine.ID, store.StatusCancelled)},
		{name: "no rescheduling a cancelled order", req: req("PATCH", path, f.alice, `{"scheduledAt":"`+slot(4, 9, 30)+`"}`), status: 409},
		{name: "the admin cannot complete a visit not started", req: req("PATCH", "/orders/"+other.ID.Hex(), f.admin, `{"status":"COMPLETED"}`), status: 409, contains: []string{`"code":"not_started"`}, after: status(other.ID, store.StatusInProgress)},
		{name: "a USER cannot delete", req: req("DELETE", "/orders/"+other.ID.Hex(), f.bob, ""), status: 403},
	})
	f.visitStarted(other)
	if r := a.api(f.admin).do("PATCH", "/orders/"+other.ID.Hex(), `{"status":"COMPLETED"}`); r.status != 200 {
		t.Errorf("the admin completes a started visit = %d %s", r.status, r.body)
	}
	cancelled := a.smtp.WaitForText("alice@example.uz", "Rejalar", 10*time.Second)
	if cancelled.Subject != "Buyurtma bekor qilindi" {
		t.Errorf("cancel email %q", cancelled.Subject)
	}
	if done := a.smtp.WaitForText("bob@example.uz", "Bajarildi", 10*time.Second); done.Subject != "Tozalash bajarildi" {
		t.Errorf("completion email %q", done.Subject)
	}

	// Less than 2 hours before: the customer must call.
	soon := &store.Order{UserID: f.aliceU.ID, ServiceID: f.svc.ID, ServiceName: f.svc.Name.Uz, ServiceNames: f.svc.Name, Price: 1, ScheduledAt: time.Now().Add(time.Hour), Address: "x", Phone: "+998901234567", IdempotencyKey: "soon"}
	if err := a.h.orders.Create(context.Background(), soon); err != nil {
		t.Fatal(err)
	}
	if r := a.api(f.alice).do("PATCH", "/orders/"+soon.ID.Hex(), `{"status":"CANCELLED"}`); r.status != 409 || !strings.Contains(r.body, "too_late") {
		t.Errorf("cancel 1 h before = %d %s", r.status, r.body)
	}
	if r := a.api(f.admin).do("PATCH", "/orders/"+soon.ID.Hex(), `{"status":"CANCELLED","reason":"Mijoz qo‘ng‘iroq qildi"}`); r.status != 200 {
		t.Errorf("the admin cancels 1 h before = %d", r.status)
	}

	// Deleting keeps the counters right.
	before := f.orderCount(t)
	if r := a.api(f.admin).do("DELETE", "/orders/"+other.ID.Hex(), ""); r.status != 204 {
		t.Errorf("admin delete = %d", r.status)
	}
	if f.orderCount(t) != before-1 {
		t.Errorf("orders counter %d → %d", before, f.orderCount(t))
	}
	totals, _ := a.h.orders.Totals(context.Background())
	if n := totals.ByStatus[store.StatusCompleted]; n != 0 {
		t.Errorf("completed counter %d after deleting the completed order", n)
	}

	// A service with orders is archived, and its orders still show its name.
	if r := a.api(f.admin).do("DELETE", "/services/"+f.svc.ID.Hex(), ""); !strings.Contains(r.body, `"archived":true`) {
		t.Errorf("delete a booked service = %s", r.body)
	}
	if r := a.do(request{path: path, headers: map[string]string{"Authorization": "Bearer " + f.alice}}); r.status != 200 || !strings.Contains(r.body, "Kvartirani umumiy tozalash") {
		t.Errorf("order page of an archived service = %d", r.status)
	}
}

func TestAdminBoard(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o1 := f.book(t, f.alice, "b1")
	o2 := f.book(t, f.bob, "b2")
	r := a.api(f.bob).do("POST", "/orders", `{"serviceId":"`+f.svc.ID.Hex()+`","scheduledAt":"`+slot(5, 9, 0)+`","address":"Mirzo Ulug‘bek, Buyuk Ipak yo‘li 15","phone":"+998977777777","idempotencyKey":"b3"}`)
	o3, _ := primitive.ObjectIDFromHex(jsonField(t, r.body, "id").(string))
	f.visitStarted(o1)
	f.arrived(t, o1.ID)
	a.api(f.admin).do("PATCH", "/orders/"+o1.ID.Hex(), `{"status":"COMPLETED"}`)
	as := map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.admin}
	get := func(q string) request { return request{path: "/orders" + q, headers: as} }
	runScenarios(t, a, []scenario{
		{name: "all orders, newest first", req: get(""), status: 200, contains: []string{`"items":[{"id":"` + o3.Hex() + `"`, o1.ID.Hex(), o2.ID.Hex()}},
		{name: "by status", req: get("?status=PENDING"), status: 200, contains: []string{o2.ID.Hex(), o3.Hex()}, notContains: []string{o1.ID.Hex()}},
		{name: "by customer id", req: get("?userId=" + f.aliceU.ID.Hex()), status: 200, contains: []string{o1.ID.Hex()}, notContains: []string{o2.ID.Hex()}},
		{name: "by customer name", req: get("?customer=bo"), status: 200, contains: []string{o2.ID.Hex()}, notContains: []string{o1.ID.Hex()}},
		{name: "by service", req: get("?serviceId=" + f.archived.ID.Hex()), status: 200, contains: []string{`"items":[]`}},
		{name: "by address text", req: get("?q=ulug"), status: 200, contains: []string{o3.Hex()}, notContains: []string{o2.ID.Hex()}},
		{name: "by phone text", req: get("?q=97777"), status: 200, contains: []string{o3.Hex()}},
		{name: "by the customer's name in the text", req: get("?q=ALIC"), status: 200, contains: []string{o1.ID.Hex()}, notContains: []string{o2.ID.Hex()}},
		{name: "by date range", req: get("?from=" + slot(4, 0, 0)[:10] + "&to=" + slot(6, 0, 0)[:10]), status: 200, contains: []string{o3.Hex()}, notContains: []string{o1.ID.Hex()}},
		{name: "pages", req: get("?limit=1"), status: 200, contains: []string{`"next":"` + o3.Hex() + `"`}},
		{name: "a bad status is 400", req: get("?status=DONE"), status: 400},
		{name: "a bad date is 400", req: get("?from=yesterday"), status: 400},
	})

	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	page := b.get("/orders")
	for _, want := range []string{`data-testid="count-">3<`, `data-testid="count-PENDING">2<`, `data-testid="count-COMPLETED">1<`, `data-testid="board-row"`, "alice", "+998 97 777 77 77"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("board lacks %q", want)
		}
	}
	row := b.send("PATCH", "/orders/"+o2.ID.Hex(), "form", "status=CANCELLED", map[string]string{"HX-Request": "true", "HX-Target": "order-row-" + o2.ID.Hex(), "HX-Prompt": "Mijoz rad etdi", "X-Csrf-Token": b.csrf()})
	if row.status != 200 || !strings.HasPrefix(strings.TrimSpace(row.body), `<tr id="order-row-`+o2.ID.Hex()) || !strings.Contains(row.body, "Bekor qilindi") {
		t.Errorf("board row after cancel = %d %s", row.status, clip(row.body))
	}
	got, _ := a.h.orders.Get(context.Background(), o2.ID)
	if got.History[len(got.History)-1].Reason != "Mijoz rad etdi" {
		t.Errorf("the prompt's reason was not kept: %+v", got.History)
	}
}

func TestCustomerPages(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	for i := 0; i < 23; i++ {
		f.book(t, f.alice, "p"+strings.Repeat("x", i+1))
	}
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"alice@example.uz"}, "password": {"toza-uy-2026"}})
	list := b.get("/orders")
	if n := strings.Count(list.body, `data-testid="order-item"`); n != 20 || !strings.Contains(list.body, `data-testid="orders-more"`) {
		t.Errorf("my orders: %d items", n)
	}
	more := b.send("GET", "/orders?before="+between(list.body, `/orders?before=`, `"`), "", "", map[string]string{"HX-Request": "true"})
	if n := strings.Count(more.body, `data-testid="order-item"`); n != 3 || strings.Contains(more.body, "<html") {
		t.Errorf("the next page: %d items", n)
	}
	// The booking form from the service page, as htmx loads it.
	form := b.send("GET", "/orders/new?serviceId="+f.svc.ID.Hex(), "", "", map[string]string{"HX-Request": "true"})
	if form.status != 200 || !strings.Contains(form.body, `data-testid="booking-form"`) || !strings.Contains(form.body, "350\u00a0000\u00a0so‘m") || strings.Contains(form.body, "<html") {
		t.Fatalf("booking form = %d", form.status)
	}
	key := between(form.body, `name="idempotencyKey" value="`, `"`)
	v := url.Values{"serviceId": {f.svc.ID.Hex()}, "idempotencyKey": {key}, "date": {slot(2, 0, 0)[:10]}, "time": {"07:00"}, "address": {"Sergeli 5"}, "phone": {"901234567"}}
	r := b.htmx("POST", "/orders", v)
	if r.status != 422 || !strings.Contains(r.body, `data-testid="error-scheduledAt"`) || !strings.Contains(r.body, `value="Sergeli 5"`) {
		t.Errorf("booking at 07:00 = %d %s", r.status, clip(r.body))
	}
	v.Set("time", "09:00")
	r = b.htmx("POST", "/orders", v)
	if r.status != 204 || !strings.HasPrefix(r.header.Get("HX-Redirect"), "/orders/") {
		t.Fatalf("booking = %d %s", r.status, clip(r.body))
	}
	detail := b.get(r.header.Get("HX-Redirect"))
	for _, want := range []string{`data-testid="flash"`, "Kutilmoqda", "+998 90 123 45 67", `data-testid="cancel-form"`, `data-testid="timeline-entry"`} {
		if !strings.Contains(detail.body, want) {
			t.Errorf("order page lacks %q", want)
		}
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		return s[:j]
	}
	return s
}

// What a review found: each of these once went wrong.
func TestOrderEdgeCases(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	ctx := context.Background()

	// A visit must end by 20:00, seconds included.
	late := strings.Replace(slot(2, 17, 0), "17:00:00", "17:00:59", 1)
	if r := a.api(f.alice).do("POST", "/orders", f.body("sec", late, "Chilonzor 9-kvartal", "+998901234567")); r.status != 422 {
		t.Errorf("a 3 h visit from 17:00:59 = %d", r.status)
	}

	// A retry answers the first order even once the service is archived.
	body := f.body("retry", slot(2, 10, 0), "Chilonzor 9-kvartal, 3-uy", "+998901234567")
	first := a.api(f.alice).do("POST", "/orders", body)
	off := false
	a.h.services.Update(ctx, f.svc.ID, store.ServiceChange{Active: &off})
	if r := a.api(f.alice).do("POST", "/orders", body); r.status != 200 || jsonField(t, r.body, "id") != jsonField(t, first.body, "id") {
		t.Errorf("retry after archiving = %d %s", r.status, r.body)
	}
	on := true
	a.h.services.Update(ctx, f.svc.ID, store.ServiceChange{Active: &on})

	// A refused status change changes nothing else either.
	o := f.book(t, f.bob, "edge")
	f.visitStarted(o)
	f.arrived(t, o.ID)
	a.api(f.admin).do("PATCH", "/orders/"+o.ID.Hex(), `{"status":"COMPLETED"}`)
	if r := a.api(f.admin).do("PATCH", "/orders/"+o.ID.Hex(), `{"status":"CANCELLED","address":"Yangi manzil 77"}`); r.status != 409 {
		t.Errorf("cancel a completed order = %d", r.status)
	}
	f.clock.reset()
	if got, _ := a.h.orders.Get(ctx, o.ID); got.Address == "Yangi manzil 77" {
		t.Error("a 409 still saved the new address")
	}

	// A prompt htmx had to percent-encode arrives as typed.
	o2 := f.book(t, f.bob, "edge2")
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	b.send("PATCH", "/orders/"+o2.ID.Hex(), "form", "status=CANCELLED", map[string]string{"HX-Request": "true", "HX-Target": "order-row-" + o2.ID.Hex(),
		"HX-Prompt": url.PathEscape("Mijoz qo‘ng‘iroq qildi"), "HX-Prompt-URI-AutoEncoded": "true", "X-Csrf-Token": b.csrf()})
	if got, _ := a.h.orders.Get(ctx, o2.ID); got.History[len(got.History)-1].Reason != "Mijoz qo‘ng‘iroq qildi" {
		t.Errorf("reason stored as %q", got.History[len(got.History)-1].Reason)
	}

	// The board's "more" keeps the customer filter.
	page := b.send("GET", "/orders?userId="+f.bobU.ID.Hex()+"&limit=1", "", "", nil)
	if !strings.Contains(page.body, "userId="+f.bobU.ID.Hex()) || !strings.Contains(page.body, "before=") {
		t.Errorf("the board's next page lost its filter")
	}

	// The reconcile puts the counters right too.
	counters := store.NewCounterStore(a.db)
	counters.Add(ctx, "orders", 40) // the totals' n, broken
	if _, err := a.db.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	totals, _ := a.h.orders.Totals(ctx)
	all, pending := totals.N, totals.ByStatus[store.StatusPending]
	rows, _, _ := a.h.orders.List(ctx, store.OrderFilter{Limit: 100})
	nPending := 0
	for _, r := range rows {
		if r.Status == store.StatusPending {
			nPending++
		}
	}
	if all != int64(len(rows)) || pending != int64(nPending) {
		t.Errorf("after reconcile: orders %d (rows %d), pending %d (rows %d)", all, len(rows), pending, nPending)
	}
	if items, _, _ := a.h.orders.ForCustomer(ctx, f.bobU.ID, primitive.NilObjectID, 100); len(items) != 2 {
		t.Errorf("bob's list after reconcile: %d", len(items))
	}
}
