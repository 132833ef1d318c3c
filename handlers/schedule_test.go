package handlers

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// The schedule seen through the routes: the test app has three crews
// doing every service, 08:00–20:00 every day; the fixture's service lasts
// 180 minutes, so a visit holds its crew 3.5 hours with the 30-minute
// buffer.

// visitsOn are the reservations of a local date.
func (f *orderFixture) visitsOn(t *testing.T, date string) []store.Reservation {
	t.Helper()
	day, err := f.a.h.schedule.Day(context.Background(), date)
	if err != nil {
		t.Fatal(err)
	}
	return day
}

func mustTime(rfc string) time.Time {
	at, _ := time.Parse(time.RFC3339, rfc)
	return at
}

func localDate(rfc string) string {
	at, _ := time.Parse(time.RFC3339, rfc)
	return store.LocalDate(at)
}

func TestAvailabilityAnswers(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	svc := f.svc.ID.Hex()
	day := localDate(slot(2, 9, 0))
	// Fill 09:00 on day 2: three crews, three visits.
	for i := range 3 {
		if r := a.api(f.alice).do("POST", "/orders", f.body("fill"+strconv.Itoa(i), slot(2, 9, 0), "Chilonzor 9-kvartal, 12-uy", "+998901234567")); r.status != 201 {
			t.Fatalf("fill %d = %d %s", i, r.status, clip(r.body))
		}
	}
	tests := []struct {
		name     string
		path     string
		status   int
		contains []string
		lacks    []string
	}{
		{name: "a week from today by default: the duration, the days", path: "/availability?serviceId=" + svc, status: 200,
			contains: []string{`"durationMinutes":180`, `"date":"` + store.LocalDate(time.Now()) + `"`}},
		{name: "a day with its three crews busy from 09:00 to 12:30: no visit before that fits, 12:30 free again, 17:00 the last that ends by 20:00", path: "/availability?serviceId=" + svc + "&from=" + day + "&to=" + day, status: 200,
			contains: []string{`"times":["12:30"`, `"17:00"]`}, lacks: []string{`"08:00"`, `"09:00"`, `"12:00"`, `"17:30"`}},
		{name: "five rooms last nine hours: nothing fits that day, which is listed as full", path: "/availability?serviceId=" + svc + "&from=" + day + "&to=" + day + "&rooms=5", status: 200,
			contains: []string{`"durationMinutes":540`, `"date":"` + day + `","times":[]`}},
		{name: "an unknown service", path: "/availability?serviceId=" + primitive.NewObjectID().Hex(), status: 422, contains: []string{`"serviceId":`}},
		{name: "not a date", path: "/availability?serviceId=" + svc + "&from=tomorrow", status: 422, contains: []string{`"from":`}},
		{name: "a range past 62 days", path: "/availability?serviceId=" + svc + "&from=" + day + "&to=2099-01-01", status: 422, contains: []string{`"to":`}},
		{name: "a size out of bounds", path: "/availability?serviceId=" + svc + "&rooms=500", status: 422, contains: []string{`"rooms":`}},
		{name: "a past range answers no day", path: "/availability?serviceId=" + svc + "&from=2020-01-01&to=2020-01-02", status: 200, contains: []string{`"days":[]`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := a.api("").do("GET", tc.path, "")
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tc.status, clip(r.body))
			}
			for _, want := range tc.contains {
				if !strings.Contains(r.body, want) {
					t.Errorf("body lacks %s: %s", want, clip(r.body))
				}
			}
			for _, bad := range tc.lacks {
				if strings.Contains(r.body, bad) {
					t.Errorf("body has %s: %s", bad, clip(r.body))
				}
			}
		})
	}
}

func TestTwoHundredBookersForThreeCrews(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	when := slot(3, 9, 0)
	const bookers = 200
	statuses := make([]response, bookers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range bookers {
		token := f.alice
		if i%2 == 1 {
			token = f.bob
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = a.api(token).do("POST", "/orders", f.body("race"+strconv.Itoa(i), when, "Chilonzor 9-kvartal, 12-uy", "+998901234567"))
		}()
	}
	close(start)
	wg.Wait()
	made, taken := 0, 0
	for _, r := range statuses {
		switch r.status {
		case 201:
			made++
		case 409:
			taken++
			// The free times named are read while the others commit:
			// they may still include one being taken (TestRetried… checks
			// them once the burst is over).
			if !strings.Contains(r.body, `"code":"slot_taken"`) || !strings.Contains(r.body, `"alternatives":["`) {
				t.Errorf("a refusal without free times: %s", clip(r.body))
			}
		default:
			t.Errorf("unexpected answer %d %s", r.status, clip(r.body))
		}
	}
	if made != 3 || taken != bookers-3 {
		t.Errorf("%d booked and %d refused, want 3 and %d", made, taken, bookers-3)
	}
	if n := f.orderCount(t); n != 3 {
		t.Errorf("%d orders, want 3", n)
	}
	crews := map[primitive.ObjectID]bool{}
	for _, v := range f.visitsOn(t, localDate(when)) {
		crews[v.CrewID] = true
	}
	if len(crews) != 3 {
		t.Errorf("the day holds visits of %d crews, want 3 (one each)", len(crews))
	}
}

// bookAt books the fixture's service at when as token and returns the order.
func (f *orderFixture) bookAt(t *testing.T, token, key, when string) *store.Order {
	t.Helper()
	r := f.a.api(token).do("POST", "/orders", f.body(key, when, "Chilonzor 9-kvartal, 12-uy", "+998901234567"))
	if r.status != 201 {
		t.Fatalf("book %s = %d %s", when, r.status, clip(r.body))
	}
	id, _ := primitive.ObjectIDFromHex(jsonField(t, r.body, "id").(string))
	o, err := f.a.h.orders.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestCancelMoveAndReassignKeepTheCrewsRight(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	at := slot(4, 9, 0)
	var orders []*store.Order
	for i := range 3 {
		orders = append(orders, f.bookAt(t, f.alice, "m"+strconv.Itoa(i), at))
	}
	full := f.a.api(f.bob).do("POST", "/orders", f.body("b-full", at, "Yunusobod 4-kvartal", "+998901234567"))
	if full.status != 409 {
		t.Fatalf("a fourth visit at 09:00 = %d, want 409", full.status)
	}
	// Cancelling frees the crew at once.
	if r := a.api(f.alice).do("PATCH", "/orders/"+orders[0].ID.Hex(), `{"status":"CANCELLED"}`); r.status != 200 {
		t.Fatalf("cancel = %d %s", r.status, clip(r.body))
	}
	again := f.bookAt(t, f.bob, "b-again", at)
	if again.CrewID != orders[0].CrewID {
		t.Errorf("the freed crew was not the one booked: %s, want %s", again.CrewName, orders[0].CrewName)
	}
	// A move over its own time is no conflict: the crew stays.
	r := a.api(f.alice).do("PATCH", "/orders/"+orders[1].ID.Hex(), `{"scheduledAt":"`+slot(4, 10, 0)+`"}`)
	if r.status != 200 || !strings.Contains(r.body, `"crewName":"`+orders[1].CrewName+`"`) {
		t.Fatalf("a move by an hour = %d %s", r.status, clip(r.body))
	}
	// A move to a time every crew is busy at is refused with the free
	// times, the visit left where it was.
	for i := range 3 {
		f.bookAt(t, f.bob, "d6-"+strconv.Itoa(i), slot(6, 9, 0))
	}
	r = a.api(f.alice).do("PATCH", "/orders/"+orders[1].ID.Hex(), `{"scheduledAt":"`+slot(6, 9, 0)+`"}`)
	if r.status != 409 || !strings.Contains(r.body, `"slot_taken"`) || !strings.Contains(r.body, `"alternatives":["12:30"`) {
		t.Fatalf("move onto busy crews = %d %s", r.status, clip(r.body))
	}
	if o, _ := a.h.orders.Get(context.Background(), orders[1].ID); !o.ScheduledAt.Equal(mustTime(slot(4, 10, 0))) {
		t.Errorf("the refused move moved the visit to %s", o.ScheduledAt)
	}
	// A move to a free time keeps the crew, and the old time is free.
	r = a.api(f.alice).do("PATCH", "/orders/"+orders[1].ID.Hex(), `{"scheduledAt":"`+slot(4, 14, 0)+`"}`)
	if r.status != 200 || !strings.Contains(r.body, `"crewName":"`+orders[1].CrewName+`"`) {
		t.Fatalf("move = %d %s", r.status, clip(r.body))
	}
	f.bookAt(t, f.bob, "b-old-time", at)
	// The admin reassigns a visit to a crew busy then: 409 on crewId; to
	// a free one: done, with a timeline entry.
	r = a.api(f.admin).do("PATCH", "/orders/"+orders[2].ID.Hex(), `{"crewId":"`+again.CrewID.Hex()+`"}`)
	if r.status != 409 || !strings.Contains(r.body, `"crewId":`) {
		t.Fatalf("reassign to a busy crew = %d %s", r.status, clip(r.body))
	}
	// At 14:00 only orders[1]'s crew is busy: move orders[2] there on
	// another crew, then reassign it to a third.
	r = a.api(f.admin).do("PATCH", "/orders/"+orders[2].ID.Hex(), `{"scheduledAt":"`+slot(4, 14, 0)+`"}`)
	if r.status != 200 {
		t.Fatalf("admin move = %d %s", r.status, clip(r.body))
	}
	moved, _ := a.h.orders.Get(context.Background(), orders[2].ID)
	var free primitive.ObjectID
	crews, _ := a.h.schedule.Crews(context.Background())
	for _, c := range crews {
		if c.ID != moved.CrewID && c.ID != orders[1].CrewID {
			free = c.ID
		}
	}
	r = a.api(f.admin).do("PATCH", "/orders/"+orders[2].ID.Hex(), `{"crewId":"`+free.Hex()+`"}`)
	if r.status != 200 || !strings.Contains(r.body, `"type":"crewId"`) {
		t.Fatalf("reassign to a free crew = %d %s", r.status, clip(r.body))
	}
	r = a.api(f.admin).do("PATCH", "/orders/"+orders[2].ID.Hex(), `{"crewId":"`+primitive.NewObjectID().Hex()+`"}`)
	if r.status != 404 {
		t.Errorf("reassign to no crew = %d %s", r.status, clip(r.body))
	}
	if r := a.api(f.alice).do("PATCH", "/orders/"+orders[2].ID.Hex(), `{"crewId":"`+free.Hex()+`"}`); r.status != 403 {
		t.Errorf("a customer choosing the crew = %d, want 403", r.status)
	}
	// The day's read model agrees with the orders: at 09:00 the two
	// booked into freed time, at 14:00 the two moved there.
	byStart := map[string]int{}
	for _, v := range f.visitsOn(t, localDate(at)) {
		byStart[v.From.In(store.Tashkent).Format("15:04")]++
	}
	if byStart["09:00"] != 2 || byStart["14:00"] != 2 || len(byStart) != 2 {
		t.Errorf("the day's visits by start = %v, want 09:00:2 14:00:2", byStart)
	}
}

func TestRetriedBookingIsOneOrderOnOneCrew(t *testing.T) {
	f := newOrderFixture(t)
	at := slot(5, 9, 0)
	first := f.bookAt(t, f.alice, "retry", at)
	r := f.a.api(f.alice).do("POST", "/orders", f.body("retry", at, "Chilonzor 9-kvartal, 12-uy", "+998901234567"))
	if r.status != 200 || jsonField(t, r.body, "id") != first.ID.Hex() {
		t.Fatalf("the retry = %d %s, want 200 and the first order", r.status, clip(r.body))
	}
	// The order page says when the visit ends and which crew comes.
	page := f.a.do(request{path: "/orders/" + first.ID.Hex(), headers: map[string]string{"Authorization": "Bearer " + f.alice}})
	if !strings.Contains(page.body, "09:00–12:00") || !strings.Contains(page.body, first.CrewName) {
		t.Errorf("the order page lacks the visit's hours or its crew %q: %s", first.CrewName, clip(page.body))
	}
	// Both other crews are still free at 09:00: the retry held none.
	for i := range 2 {
		f.bookAt(t, f.bob, "other"+strconv.Itoa(i), at)
	}
	if n := f.orderCount(t); n != 3 {
		t.Errorf("%d orders, want 3", n)
	}
	var e struct {
		Error struct {
			Alternatives []string `json:"alternatives"`
		} `json:"error"`
	}
	full := f.a.api(f.bob).do("POST", "/orders", f.body("late", at, "Chilonzor 9-kvartal, 12-uy", "+998901234567"))
	if err := json.Unmarshal([]byte(full.body), &e); err != nil || full.status != 409 || len(e.Error.Alternatives) == 0 || e.Error.Alternatives[0] != "12:30" {
		t.Errorf("the fourth = %d %s, want 409 with 12:30 first", full.status, clip(full.body))
	}
}

func TestNoCrewForTheServiceIs422(t *testing.T) {
	f := newOrderFixture(t)
	ctx := context.Background()
	crews, err := f.a.h.schedule.Crews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Every crew now does only another service.
	other := primitive.NewObjectID()
	for _, c := range crews {
		c.ServiceIDs = []primitive.ObjectID{other}
		if err := f.a.h.schedule.UpdateCrew(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	r := f.a.api(f.alice).do("POST", "/orders", f.body("nocrew", slot(2, 10, 0), "Chilonzor 9-kvartal, 12-uy", "+998901234567"))
	if r.status != 422 || !strings.Contains(r.body, `"serviceId":"Bu xizmatni hozircha hech bir brigada bajarmaydi."`) {
		t.Errorf("booking a service no crew does = %d %s", r.status, clip(r.body))
	}
	if n := f.orderCount(t); n != 0 {
		t.Errorf("%d orders written", n)
	}
}

func TestReassignRaceGivesTheCrewToOne(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	ctx := context.Background()
	at := slot(7, 9, 0)
	first := f.bookAt(t, f.alice, "r1", at)
	second := f.bookAt(t, f.bob, "r2", at)
	crews, err := a.h.schedule.Crews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var free primitive.ObjectID
	for _, c := range crews {
		if c.ID != first.CrewID && c.ID != second.CrewID {
			free = c.ID
		}
	}
	for round := range 5 {
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, o := range []*store.Order{first, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = a.api(f.admin).do("PATCH", "/orders/"+o.ID.Hex(), `{"crewId":"`+free.Hex()+`"}`).status
			}()
		}
		wg.Wait()
		won := 0
		for _, st := range statuses {
			if st == 200 {
				won++
			} else if st != 409 {
				t.Errorf("round %d: a reassignment answered %d", round, st)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d reassignments to one crew at one time succeeded, want 1 (%v)", round, won, statuses)
		}
		// Whoever won goes back to the crew it came from, for the next round.
		for _, o := range []*store.Order{first, second} {
			now, _ := a.h.orders.Get(ctx, o.ID)
			if now.CrewID == free {
				if r := a.api(f.admin).do("PATCH", "/orders/"+o.ID.Hex(), `{"crewId":"`+o.CrewID.Hex()+`"}`); r.status != 200 {
					t.Fatalf("back = %d %s", r.status, clip(r.body))
				}
			}
		}
	}
	// The two visits on two crews, and the third crew free again.
	if day := f.visitsOn(t, localDate(at)); len(day) != 2 || day[0].CrewID == day[1].CrewID {
		t.Errorf("the day's visits = %+v, want two on two crews", day)
	}
	f.bookAt(t, f.bob, "r3", at) // the third crew is free again
}

// Without JavaScript the order page's forms post to /orders/:id: a
// customer moves a visit and cancels another, as htmx would.
func TestOrderFormsWithoutJavaScript(t *testing.T) {
	f := newOrderFixture(t)
	moved := f.bookAt(t, f.alice, "nojs-1", slot(8, 9, 0))
	cancelled := f.bookAt(t, f.alice, "nojs-2", slot(9, 9, 0))
	b := f.a.browser()
	b.postForm("/auth/login", url.Values{"email": {"alice@example.uz"}, "password": {"toza-uy-2026"}})
	page := b.get("/orders/" + moved.ID.Hex())
	if !strings.Contains(page.body, `name="_csrf"`) || !strings.Contains(page.body, `data-testid="reschedule-form"`) {
		t.Fatalf("the order page has no plain reschedule form: %s", clip(page.body))
	}
	to := mustTime(slot(8, 14, 0)).In(store.Tashkent)
	r := b.postForm("/orders/"+moved.ID.Hex(), url.Values{"date": {to.Format("2006-01-02")}, "time": {to.Format("15:04")}})
	if r.status != 303 || !strings.HasSuffix(r.header.Get("Location"), "/orders/"+moved.ID.Hex()) {
		t.Fatalf("the reschedule form = %d %s", r.status, clip(r.body))
	}
	if o, _ := f.a.h.orders.Get(context.Background(), moved.ID); !o.ScheduledAt.Equal(to) || o.CrewID.IsZero() {
		t.Errorf("the visit is at %s on %q, want %s", o.ScheduledAt, o.CrewName, to)
	}
	r = b.postForm("/orders/"+cancelled.ID.Hex(), url.Values{"status": {"CANCELLED"}, "reason": {"Rejalar o‘zgardi"}})
	if r.status != 303 {
		t.Fatalf("the cancel form = %d %s", r.status, clip(r.body))
	}
	if o, _ := f.a.h.orders.Get(context.Background(), cancelled.ID); o.Status != store.StatusCancelled {
		t.Errorf("the visit is %s, want CANCELLED", o.Status)
	}
	// The admin's reassign form on the schedule, without JavaScript.
	admin := f.a.browser()
	admin.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	day := admin.get("/admin/schedule?date=" + localDate(slot(8, 14, 0)))
	if !strings.Contains(day.body, `action="/orders/`+moved.ID.Hex()+`"`) {
		t.Fatalf("the schedule's reassign form does not post to the order: %s", clip(day.body))
	}
	before, _ := f.a.h.orders.Get(context.Background(), moved.ID)
	crews, _ := f.a.h.schedule.Crews(context.Background())
	other := crews[0].ID
	if other == before.CrewID {
		other = crews[1].ID
	}
	if r := admin.postForm("/orders/"+moved.ID.Hex(), url.Values{"crewId": {other.Hex()}}); r.status != 303 {
		t.Fatalf("the reassign form = %d %s", r.status, clip(r.body))
	}
	if o, _ := f.a.h.orders.Get(context.Background(), moved.ID); o.CrewID != other {
		t.Errorf("the visit's crew is %q, want the one chosen", o.CrewName)
	}
	// Someone else's order stays theirs.
	if r := b.postForm("/orders/"+f.bookAt(t, f.bob, "nojs-bob", slot(10, 9, 0)).ID.Hex(), url.Values{"status": {"CANCELLED"}}); r.status != 404 {
		t.Errorf("cancelling bob's order = %d, want 404", r.status)
	}
}

// The availability answer is written by hand; what a client parses must
// stay what encoding/json wrote, for every shape of answer and any text.
func TestAvailabilityJSONIsEncodingJSONs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		minutes int
		days    []store.DayTimes
	}{
		{"no days", 90, []store.DayTimes{}},
		{"no list of days", 90, nil},
		{"a full day and a free one", 180, []store.DayTimes{{Date: "2026-12-08", Times: []string{}}, {Date: "2026-12-09", Times: []string{"08:00", "08:30", "16:30"}}}},
		{"a day without a list", 120, []store.DayTimes{{Date: "2026-12-10"}}},
		{"text to escape", 0, []store.DayTimes{{Date: "<b>\"a\\b\"</b> & \n ünï \u2028", Times: []string{"\x01", "09:00"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(map[string]any{"durationMinutes": tc.minutes, "days": tc.days})
			if err != nil {
				t.Fatal(err)
			}
			if got := availabilityJSON(tc.minutes, tc.days); string(got) != string(want) {
				t.Fatalf("written %s\nencoding/json %s", got, want)
			}
		})
	}
}
