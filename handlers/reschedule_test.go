package handlers

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tozalash/store"
)

// #21: moving a visit offers only free times, its own counting as free.

// rescheduleDay books day 2 so that alice's 11:30 visit is on a crew of
// its own from 08:00 (bob's) to 15:00, the two others busy until 15:00
// too: for anyone else the day's free times are 15:00 to 17:00; for her
// visit, 11:30 to 17:00 (its crew is free from 11:30 but for itself).
func (f *orderFixture) rescheduleDay(t *testing.T) (date string, o *store.Order) {
	t.Helper()
	date = slot(2, 0, 0)[:10]
	for _, k := range []string{"08a", "08b", "08c"} {
		f.bookAt(t, f.bob, "resched-"+k, slot(2, 8, 0))
	}
	o = f.bookAt(t, f.alice, "resched-alice", slot(2, 11, 30))
	f.bookAt(t, f.bob, "resched-1130a", slot(2, 11, 30))
	f.bookAt(t, f.bob, "resched-1130b", slot(2, 11, 30))
	return date, o
}

var (
	othersFree = []string{"15:00", "15:30", "16:00", "16:30", "17:00"}
	aliceFree  = []string{"11:30", "12:00", "12:30", "13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00"}
)

func loginBrowser(t *testing.T, a *testApp, email, password string) *browser {
	t.Helper()
	b := a.browser()
	if r := b.postForm("/auth/login", url.Values{"email": {email}, "password": {password}}); r.status >= 400 {
		t.Fatalf("login %s = %d", email, r.status)
	}
	return b
}

// The order page's reschedule picker lists the visit's day with the
// times that overlap its own reservation; GET /availability with its
// orderId answers the same to its customer, and nothing to anyone else.
func TestReschedulePickerOffersTheVisitsOwnTime(t *testing.T) {
	f := newOrderFixture(t)
	date, o := f.rescheduleDay(t)
	if got := f.freeTimes(t, date); strings.Join(got, " ") != strings.Join(othersFree, " ") {
		t.Fatalf("the day's free times for anyone %q, want %q", got, othersFree)
	}
	path := "/orders/" + o.ID.Hex()
	alice := loginBrowser(t, f.a, "alice@example.uz", "toza-uy-2026")
	page := alice.get(path)
	form := between(page.body, `data-testid="reschedule-form"`, `</form>`)
	if page.status != 200 || !strings.Contains(form, `data-testid="slot-picker"`) {
		t.Fatalf("order page = %d, reschedule form %s", page.status, clip(form))
	}
	if got := chips(form); strings.Join(got, " ") != strings.Join(aliceFree, " ") {
		t.Errorf("the reschedule picker offers %q, want %q", got, aliceFree)
	}
	if !strings.Contains(between(form, `data-testid="time-11:30"`, `</label>`), "checked") ||
		!strings.Contains(between(form, `data-testid="day-`+date+`"`, `</label>`), "checked") {
		t.Error("the visit's own day and time are not the ones chosen")
	}
	if !strings.Contains(form, `name="orderId" value="`+o.ID.Hex()+`"`) || strings.Contains(form, `name="slotsAdmin"`) {
		t.Error("the customer's picker does not ask for its order's times, or asks as an admin")
	}

	// htmx asks GET /availability for the picker of another day and back.
	q := "/availability?orderId=" + o.ID.Hex() + "&date=" + date
	hx := func(token string) response {
		h := map[string]string{"HX-Request": "true"}
		if token != "" {
			h["Authorization"] = "Bearer " + token
		}
		return f.a.do(request{path: q, headers: h})
	}
	r := hx(f.alice)
	if r.status != 200 || !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="slot-picker"`) || strings.Join(chips(r.body), " ") != strings.Join(aliceFree, " ") {
		t.Errorf("alice's picker fragment = %d, chips %q", r.status, chips(r.body))
	}
	var out struct {
		DurationMinutes int              `json:"durationMinutes"`
		Days            []store.DayTimes `json:"days"`
	}
	r = f.a.api(f.alice).do("GET", "/availability?orderId="+o.ID.Hex()+"&from="+date+"&to="+date, "")
	if err := json.Unmarshal([]byte(r.body), &out); r.status != 200 || err != nil || len(out.Days) != 1 ||
		out.DurationMinutes != 180 || strings.Join(out.Days[0].Times, " ") != strings.Join(aliceFree, " ") {
		t.Errorf("alice's JSON = %d %s", r.status, clip(r.body))
	}

	// Another customer, or nobody, learns nothing of alice's visit.
	for name, r := range map[string]response{
		"bob's fragment":  hx(f.bob),
		"nobody's":        hx(""),
		"bob's JSON":      f.a.api(f.bob).do("GET", "/availability?orderId="+o.ID.Hex()+"&from="+date+"&to="+date, ""),
		"an id, no order": f.a.api(f.bob).do("GET", "/availability?orderId=0123456789abcdef01234567&from="+date, ""),
	} {
		if (r.status != 404 && r.status != 403) || len(chips(r.body)) > 0 || strings.Contains(r.body, "11:30") || strings.Contains(r.body, `"days"`) {
			t.Errorf("%s = %d %s", name, r.status, clip(r.body))
		}
	}

	// Moving by an hour on its own crew is allowed.
	moved := alice.htmx("PATCH", path, url.Values{"date": {date}, "time": {"12:30"}, "from": {slot(0, 0, 0)[:10]}})
	got, _ := f.a.h.orders.Get(context.Background(), o.ID)
	if moved.status != 200 || !got.ScheduledAt.Equal(mustTime(slot(2, 12, 30))) || got.CrewID != o.CrewID {
		t.Fatalf("move to 12:30 = %d, order at %v on %s (was %s)", moved.status, got.ScheduledAt, got.CrewName, o.CrewName)
	}
	if !strings.Contains(moved.body, `data-testid="timeline-change"`) {
		t.Error("the answer lacks the move's timeline entry")
	}

	// A day and no time: the time is asked for, nothing moved.
	r = alice.htmx("PATCH", path, url.Values{"date": {date}})
	if r.status != 422 || !strings.Contains(r.body, `data-testid="error-scheduledAt"`) {
		t.Errorf("a day without a time = %d %s", r.status, clip(r.body))
	}
}

// A time taken between the form's render and its post: the reschedule
// form again with the message and the free times near it to pick; the
// order stays as it was; a picked time then moves it.
func TestRescheduleTakenTimeOffersAlternatives(t *testing.T) {
	f := newOrderFixture(t)
	date, o := f.rescheduleDay(t)
	path := "/orders/" + o.ID.Hex()
	alice := loginBrowser(t, f.a, "alice@example.uz", "toza-uy-2026")
	if !strings.Contains(between(alice.get(path).body, `data-testid="reschedule-form"`, `</form>`), `data-testid="time-16:00"`) {
		t.Fatal("16:00 is not offered")
	}
	for _, k := range []string{"a", "b", "c"} { // every crew from 15:00 to 18:30
		f.bookAt(t, f.bob, "resched-15"+k, slot(2, 15, 0))
	}
	form := url.Values{"date": {date}, "time": {"16:00"}, "from": {slot(0, 0, 0)[:10]}}
	r := alice.htmx("PATCH", path, form)
	if r.status != 409 || strings.Contains(r.body, "<html") || !strings.Contains(r.body, `data-testid="reschedule-form"`) {
		t.Fatalf("the taken time = %d %s", r.status, clip(r.body))
	}
	re := between(r.body, `data-testid="reschedule-form"`, `</form>`)
	msg := between(re, `data-testid="error-scheduledAt">`, `<`)
	alts := regexp.MustCompile(`name="pick" value="([^"]+)"[^>]*data-testid="alternative">([^<]+)<`).FindAllStringSubmatch(re, -1)
	if len(alts) == 0 || !strings.Contains(msg, strings.TrimSpace(alts[0][2])) {
		t.Fatalf("alternatives %q, message %q", alts, msg)
	}
	for _, a := range alts {
		if a[1] == date+" 16:00" {
			t.Errorf("the taken time is offered: %q", alts)
		}
	}
	if got, _ := f.a.h.orders.Get(context.Background(), o.ID); !got.ScheduledAt.Equal(o.ScheduledAt) || len(got.History) != len(o.History) {
		t.Errorf("the 409 moved the visit: %+v", got)
	}

	// The last alternative (another day): the form with it chosen, then saved.
	picked := alts[len(alts)-1][1]
	day, clock, _ := strings.Cut(picked, " ")
	form.Set("pick", picked)
	r = alice.htmx("PATCH", path, form)
	if r.status != 200 || !strings.Contains(between(r.body, `data-testid="day-`+day+`"`, `</label>`), "checked") ||
		!strings.Contains(between(r.body, `data-testid="time-`+clock+`"`, `</label>`), "checked") {
		t.Fatalf("pick %s = %d %s", picked, r.status, clip(r.body))
	}
	if got, _ := f.a.h.orders.Get(context.Background(), o.ID); !got.ScheduledAt.Equal(o.ScheduledAt) {
		t.Error("picking moved the visit")
	}
	form.Del("pick")
	form.Set("date", day)
	form.Set("time", clock)
	r = alice.htmx("PATCH", path, form)
	got, _ := f.a.h.orders.Get(context.Background(), o.ID)
	if r.status != 200 || store.LocalDate(got.ScheduledAt) != day || got.ScheduledAt.In(store.Tashkent).Format("15:04") != clock {
		t.Errorf("saving the alternative = %d, the visit at %v", r.status, got.ScheduledAt)
	}
}

var crewOption = regexp.MustCompile(`<option value="([0-9a-f]{24})"( selected)?>([^<]+)</option>`)

// The admin's edit form: the picker at short notice, and a select of
// the crews free at the visit's time (its own chosen), which reassigns.
func TestRescheduleAdminCrewSelectReassigns(t *testing.T) {
	f := newOrderFixture(t)
	o := f.bookAt(t, f.alice, "crew-alice", slot(3, 10, 0))
	busy := f.bookAt(t, f.bob, "crew-bob", slot(3, 10, 0))
	path := "/orders/" + o.ID.Hex()
	admin := loginBrowser(t, f.a, "boss@tozalash.uz", "admin-parol-2026")
	page := admin.get(path)
	edit := between(page.body, `data-testid="edit-form"`, `</form>`)
	if page.status != 200 || !strings.Contains(edit, `data-testid="slot-picker"`) || !strings.Contains(edit, `name="slotsAdmin"`) {
		t.Fatalf("the admin's order page = %d %s", page.status, clip(edit))
	}
	if !strings.Contains(between(edit, `data-testid="time-10:00"`, `</label>`), "checked") {
		t.Error("the visit's time is not chosen in the admin's picker")
	}
	opts := crewOption.FindAllStringSubmatch(between(edit, `data-testid="field-crewId"`, `</select>`), -1)
	if len(opts) != 2 || opts[0][1] != o.CrewID.Hex() || opts[0][2] == "" || opts[1][1] == busy.CrewID.Hex() || opts[1][1] == o.CrewID.Hex() {
		t.Fatalf("crew options %q (own %s, busy %s)", opts, o.CrewName, busy.CrewName)
	}
	local := o.ScheduledAt.In(store.Tashkent)
	form := url.Values{"date": {local.Format("2006-01-02")}, "time": {"10:00"}, "from": {slot(0, 0, 0)[:10]},
		"address": {o.Address}, "phone": {o.Phone}, "notes": {o.Notes}, "price": {strconv.FormatInt(o.Price, 10)}, "crewId": {opts[1][1]}}
	r := admin.htmx("PATCH", path, form)
	got, _ := f.a.h.orders.Get(context.Background(), o.ID)
	if r.status != 200 || got.CrewID.Hex() != opts[1][1] || got.CrewName != opts[1][3] || !got.ScheduledAt.Equal(o.ScheduledAt) {
		t.Fatalf("reassign = %d, crew %s (%s) %s", r.status, got.CrewName, got.CrewID.Hex(), clip(r.body))
	}
	// The busy crew is refused: the form again with the crew's message.
	form.Set("crewId", busy.CrewID.Hex())
	r = admin.htmx("PATCH", path, form)
	if r.status != 409 || !strings.Contains(r.body, `data-testid="error-crewId"`) || !strings.Contains(r.body, `data-testid="edit-form"`) {
		t.Errorf("the busy crew = %d %s", r.status, clip(r.body))
	}
	if again, _ := f.a.h.orders.Get(context.Background(), o.ID); again.CrewID != got.CrewID {
		t.Error("the refused reassignment moved the visit")
	}

	// Within 2 hours of the visit the customer may not move it (409
	// too_late) and has no form for it.
	f.clock.advance(time.Until(o.ScheduledAt) - 90*time.Minute)
	alice := loginBrowser(t, f.a, "alice@example.uz", "toza-uy-2026")
	if p := alice.get(path); p.status != 200 || strings.Contains(p.body, `data-testid="reschedule-form"`) {
		t.Errorf("the customer's page 90 minutes before = %d, with a reschedule form", p.status)
	}
	if r := f.a.api(f.alice).do("PATCH", path, `{"scheduledAt":"`+slot(5, 10, 0)+`"}`); r.status != 409 || !strings.Contains(r.body, "too_late") {
		t.Errorf("a move 90 minutes before = %d %s", r.status, clip(r.body))
	}

	// A visit begun offers no time: the admin's edit of its address keeps
	// its time and crew.
	f.clock.advance(2 * time.Hour)
	edit = between(admin.get(path).body, `data-testid="edit-form"`, `</form>`)
	day := regexp.MustCompile(`name="date" value="([0-9-]+)" checked`).FindStringSubmatch(edit)
	if day == nil || strings.Contains(edit, `name="time" value="10:00" checked`) {
		t.Fatalf("the begun visit's picker: %s", clip(edit))
	}
	form = url.Values{"date": {day[1]}, "from": {day[1]}, "address": {"Yunusobod 4-mavze, 7-uy"}, "phone": {o.Phone},
		"notes": {o.Notes}, "price": {strconv.FormatInt(o.Price, 10)}, "crewId": {got.CrewID.Hex()}}
	r = admin.htmx("PATCH", path, form)
	after, _ := f.a.h.orders.Get(context.Background(), o.ID)
	if r.status != 200 || after.Address != "Yunusobod 4-mavze, 7-uy" || !after.ScheduledAt.Equal(o.ScheduledAt) || after.CrewID != got.CrewID {
		t.Errorf("the begun visit's edit = %d, %+v %s", r.status, after, clip(r.body))
	}
}
