package handlers

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tozalash/store"
)

// shapeDay books f.svc (180 minutes, a 30-minute buffer: 210 reserved)
// on the day days ahead at each of the local times, through POST /orders
// as bob, and returns the day's free times then (GET /availability). The
// test app's three crews work 08:00–20:00: 08:00, 11:30 and 15:00 three
// times each fill the day; with 11:30 twice, 11:30 is its last free time.
func (f *orderFixture) shapeDay(t *testing.T, days int, times ...string) (date string, free []string) {
	t.Helper()
	date = slot(days, 0, 0)[:10]
	for i, at := range times {
		hour, _ := strconv.Atoi(at[:2])
		minute, _ := strconv.Atoi(at[3:])
		r := f.a.api(f.bob).do("POST", "/orders", f.body("shape-"+strconv.FormatInt(time.Now().UnixNano(), 36)+"-"+strconv.Itoa(i), slot(days, hour, minute), "Chilonzor 9-kvartal, 12-uy", "+998 90 123 45 67"))
		if r.status != 201 {
			t.Fatalf("booking %s %s = %d %s", date, at, r.status, r.body)
		}
	}
	return date, f.freeTimes(t, date)
}

// freeTimes are date's free times of f.svc as the JSON API lists them.
func (f *orderFixture) freeTimes(t *testing.T, date string) []string {
	t.Helper()
	r := f.a.api(f.alice).do("GET", "/availability?serviceId="+f.svc.ID.Hex()+"&from="+date+"&to="+date, "")
	var out struct {
		DurationMinutes int              `json:"durationMinutes"`
		Days            []store.DayTimes `json:"days"`
	}
	if err := json.Unmarshal([]byte(r.body), &out); r.status != 200 || err != nil || len(out.Days) != 1 || out.DurationMinutes != 180 {
		t.Fatalf("availability %s = %d %s", date, r.status, r.body)
	}
	return out.Days[0].Times
}

var fullDay = []string{"08:00", "08:00", "08:00", "11:30", "11:30", "11:30", "15:00", "15:00", "15:00"}

// chips are the start times a picker offers, in order.
func chips(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`data-testid="time-(\d\d:\d\d)"`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// The picker htmx asks GET /availability for lists the chosen day's free
// times and marks a full day as full, in view but not choosable; the JSON
// of the same URL is the days, as before.
func TestSlotPickerFragmentListsTimesAndFullDays(t *testing.T) {
	f := newOrderFixture(t)
	full, free := f.shapeDay(t, 3, fullDay...)
	if len(free) != 0 {
		t.Fatalf("the day booked full still has %q", free)
	}
	open := slot(2, 0, 0)[:10]
	base := "/availability?serviceId=" + f.svc.ID.Hex() + "&rooms=1&bathrooms=1&frequency=once"
	htmx := map[string]string{"HX-Request": "true", "Authorization": "Bearer " + f.alice}

	r := f.a.do(request{path: base + "&date=" + open, headers: htmx})
	if r.status != 200 || strings.Contains(r.body, "<html") || !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="slot-picker"`) {
		t.Fatalf("fragment = %d %s", r.status, clip(r.body))
	}
	want := f.freeTimes(t, open)
	if got := chips(r.body); strings.Join(got, " ") != strings.Join(want, " ") || len(got) == 0 || got[0] != "08:00" {
		t.Errorf("the day's chips %q, want %q", got, want)
	}
	fullChip := between(r.body, `data-testid="day-`+full+`"`, `</label>`)
	for _, s := range []string{`data-free="0"`, `disabled`, `data-testid="day-full"`, "Band"} {
		if !strings.Contains(fullChip, s) {
			t.Errorf("the full day's chip lacks %q: %s", s, fullChip)
		}
	}
	openChip := between(r.body, `data-testid="day-`+open+`"`, `</label>`)
	if !strings.Contains(openChip, `checked`) || strings.Contains(openChip, "disabled") || !strings.Contains(openChip, strconv.Itoa(len(want))+" ta bo‘sh") {
		t.Errorf("the chosen day's chip: %s", openChip)
	}
	if strings.Count(r.body, `name="date"`) != pickerDays || !strings.Contains(r.body, `data-testid="days-next"`) || strings.Contains(r.body, `data-testid="days-prev"`) {
		t.Errorf("the strip is not %d days from today with a next page", pickerDays)
	}

	// The full day chosen: no times, said so.
	r = f.a.do(request{path: base + "&date=" + full, headers: htmx})
	if r.status != 200 || len(chips(r.body)) != 0 || !strings.Contains(r.body, `data-testid="times-none"`) {
		t.Errorf("the full day's picker = %d, chips %q", r.status, chips(r.body))
	}
	// A longer visit (an extra's minutes) has fewer start times.
	longer := f.a.do(request{path: base + "&date=" + open + "&extra_windows=3", headers: htmx})
	if n, m := len(chips(longer.body)), len(want); longer.status != 200 || n >= m {
		t.Errorf("with extras %d times, without %d", n, m)
	}
	// The next page of days starts where this one ends.
	next := between(r.body, `data-testid="days-next"`, `>`)
	r = f.a.do(request{path: base + "&daysFrom=" + slot(pickerDays, 0, 0)[:10], headers: htmx})
	if r.status != 200 || !strings.Contains(r.body, `name="from" value="`+slot(pickerDays, 0, 0)[:10]+`"`) || !strings.Contains(r.body, `data-testid="days-prev"`) {
		t.Errorf("the next days (%s) = %d", next, r.status)
	}

	// The admin's booking form for a customer on the phone has the picker,
	// which asks for short-notice times; a customer asking so is not an admin.
	adminForm := f.a.do(request{path: "/orders/new", headers: map[string]string{"Authorization": "Bearer " + f.admin}})
	if adminForm.status != 200 || !strings.Contains(adminForm.body, `data-testid="slot-picker"`) || !strings.Contains(adminForm.body, `name="slotsAdmin" value="1"`) {
		t.Errorf("the admin's form = %d, without its picker", adminForm.status)
	}
	today := slot(0, 0, 0)[:10]
	asAdmin := f.a.do(request{path: base + "&slotsAdmin=1&date=" + today, headers: map[string]string{"HX-Request": "true", "Authorization": "Bearer " + f.admin}})
	asCustomer := f.a.do(request{path: base + "&slotsAdmin=1&date=" + today, headers: htmx})
	if !strings.Contains(asAdmin.body, `name="slotsAdmin"`) || strings.Contains(asCustomer.body, `name="slotsAdmin"`) || len(chips(asAdmin.body)) < len(chips(asCustomer.body)) {
		t.Errorf("short notice: the admin's today has %d times, a customer's %d", len(chips(asAdmin.body)), len(chips(asCustomer.body)))
	}

	// JSON clients: the days, as before.
	j := f.a.api(f.alice).do("GET", "/availability?serviceId="+f.svc.ID.Hex()+"&from="+full+"&to="+full, "")
	if j.status != 200 || j.body != `{"days":[{"date":"`+full+`","times":[]}],"durationMinutes":180}` {
		t.Errorf("JSON = %d %s", j.status, j.body)
	}
}

// Without JavaScript the form's "show times" posts it back with the
// chosen day's times, booking nothing; a booking of a time just taken
// answers 409 with the message at the time and the free times offered,
// the values kept; a time offered, picked, books.
func TestBookingFormTimesWithoutJavaScriptAndTheTakenSlot(t *testing.T) {
	f := newOrderFixture(t)
	date, free := f.shapeDay(t, 2, "08:00", "08:00", "08:00", "11:30", "11:30", "15:00", "15:00", "15:00")
	if strings.Join(free, " ") != "11:30" {
		t.Fatalf("the day's free times %q, want its last one, 11:30", free)
	}
	b := f.a.browser()
	b.postForm("/auth/login", url.Values{"email": {"alice@example.uz"}, "password": {"toza-uy-2026"}})
	page := b.get("/orders/new?serviceId=" + f.svc.ID.Hex())
	if page.status != 200 || !strings.Contains(page.body, `data-testid="slot-picker"`) || !strings.Contains(page.body, `name="showTimes"`) {
		t.Fatalf("booking page = %d", page.status)
	}
	key := between(page.body, `name="idempotencyKey" value="`, `"`)
	before := f.orderCount(t)
	form := url.Values{"serviceId": {f.svc.ID.Hex()}, "idempotencyKey": {key}, "from": {slot(0, 0, 0)[:10]}, "date": {date},
		"rooms": {"1"}, "bathrooms": {"1"}, "frequency": {"once"}, "address": {"Sergeli 5"}, "phone": {"901234567"}, "notes": {"Mushuk bor"}}

	shown := form
	shown.Set("showTimes", "1")
	r := b.postForm("/orders", shown)
	if r.status != 200 || !strings.Contains(r.body, "<html") || strings.Join(chips(r.body), " ") != "11:30" || !strings.Contains(r.body, `value="Sergeli 5"`) {
		t.Errorf("show times = %d, chips %q", r.status, chips(r.body))
	}
	if !strings.Contains(between(r.body, `data-testid="day-`+date+`"`, `</label>`), "checked") {
		t.Error("the day asked for is not the one chosen")
	}
	if n := f.orderCount(t); n != before {
		t.Errorf("show times booked: %d orders, was %d", n, before)
	}
	form.Del("showTimes")

	// A day and no time: the time is asked for, nothing booked.
	r = b.postForm("/orders", form)
	if r.status != 422 || !strings.Contains(r.body, `data-testid="error-scheduledAt">Boshlanish vaqtini tanlang.<`) {
		t.Errorf("no time = %d %s", r.status, clip(r.body))
	}

	// Bob takes 11:30 first; alice's form answers 409 with the free times.
	f.shapeDay(t, 2, "11:30")
	form.Set("time", "11:30")
	r = b.htmx("POST", "/orders", form)
	if r.status != 409 || strings.Contains(r.body, "<html") || !strings.Contains(r.body, `data-testid="booking-form"`) {
		t.Fatalf("the taken time = %d %s", r.status, clip(r.body))
	}
	msg := between(r.body, `data-testid="error-scheduledAt">`, `<`)
	if !strings.Contains(msg, "hozirgina band qilindi") {
		t.Errorf("the time's message: %q", msg)
	}
	alts := regexp.MustCompile(`name="pick" value="([^"]+)"[^>]*data-testid="alternative">([^<]+)<`).FindAllStringSubmatch(r.body, -1)
	if len(alts) == 0 || !strings.Contains(msg, strings.TrimSpace(alts[0][2])) {
		t.Fatalf("alternatives %q, message %q", alts, msg)
	}
	for _, kept := range []string{`value="Sergeli 5"`, "Mushuk bor", `value="` + key + `"`, `name="rooms" type="number" inputmode="numeric" min="1" max="20" value="1"`} {
		if !strings.Contains(r.body, kept) {
			t.Errorf("the 409 form lost %q", kept)
		}
	}
	if len(chips(between(r.body, `data-testid="slot-times"`, `</fieldset>`))) != 0 || !strings.Contains(r.body, `data-testid="times-none"`) {
		t.Error("the day's times were not refreshed: 11:30 is still offered")
	}

	// Picking an alternative shows the form with it chosen; booking it books.
	picked := alts[0][1]
	form.Set("pick", picked)
	r = b.htmx("POST", "/orders", form)
	day, clock, _ := strings.Cut(picked, " ")
	if r.status != 200 || !strings.Contains(between(r.body, `data-testid="day-`+day+`"`, `</label>`), "checked") ||
		!strings.Contains(between(r.body, `data-testid="time-`+clock+`"`, `</label>`), "checked") {
		t.Fatalf("pick %s = %d", picked, r.status)
	}
	if n := f.orderCount(t); n != before+1 { // bob's
		t.Errorf("picking booked: %d orders", n)
	}
	form.Del("pick")
	form.Set("from", between(r.body, `name="from" value="`, `"`))
	form.Set("date", day)
	form.Set("time", clock)
	r = b.htmx("POST", "/orders", form)
	if r.status != 204 || !strings.HasPrefix(r.header.Get("HX-Redirect"), "/orders/") {
		t.Fatalf("booking the alternative = %d %s", r.status, clip(r.body))
	}
}
