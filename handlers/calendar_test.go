package handlers

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"tozalash/ics/icstest"
	"tozalash/store"
	"tozalash/views"
)

// icsEvents checks body against RFC 5545's rules (icstest) and returns its
// events by UID.
func icsEvents(t *testing.T, body string) map[string]icstest.Event {
	t.Helper()
	events, err := icstest.Parse([]byte(body))
	if err != nil {
		t.Fatalf("not RFC 5545: %v\n%s", err, clip(body))
	}
	out := map[string]icstest.Event{}
	for _, e := range events {
		out[e.Value("UID")] = e
	}
	return out
}

// feedPath is the path of the user's feed URL, from GET /me/calendar.
func (f *orderFixture) feedPath(t *testing.T, token string) string {
	t.Helper()
	r := f.a.api(token).do("GET", "/me/calendar", "")
	if r.status != 200 {
		t.Fatalf("GET /me/calendar = %d %s", r.status, r.body)
	}
	u, err := url.Parse(jsonField(t, r.body, "url").(string))
	if err != nil || !strings.HasPrefix(u.Path, "/calendar/") || !strings.HasSuffix(u.Path, ".ics") {
		t.Fatalf("feed url %q", r.body)
	}
	return u.Path
}

// uid is o's event's UID: its id at BASE_URL's host.
func (f *orderFixture) uid(o *store.Order) string {
	base, _ := url.Parse(f.a.h.cfg.BaseURL)
	return o.ID.Hex() + "@" + base.Hostname()
}

// TestCalendarOrderICSByRole: the order's .ics for its owner and an admin,
// nobody else; what it holds follows RFC 5545 and says the visit.
func TestCalendarOrderICSByRole(t *testing.T) {
	f := newOrderFixture(t)
	o := f.book(t, f.alice, "cal-ics")
	path := "/orders/" + o.ID.Hex() + "/calendar.ics"
	start := "DTSTART;TZID=Asia/Tashkent:" + o.ScheduledAt.In(views.Tashkent).Format("20060102T150405")
	valid := func(t *testing.T, body string) {
		e, ok := icsEvents(t, body)[f.uid(o)]
		if !ok {
			t.Fatalf("no event %s", f.uid(o))
		}
		if e["DTSTART"] != start || e.Value("SEQUENCE") != "0" || e.Value("STATUS") == "CANCELLED" {
			t.Errorf("event %v", e)
		}
		if !strings.Contains(icstest.Unescape(e.Value("DESCRIPTION")), "/orders/"+o.ID.Hex()) || icstest.Unescape(e.Value("LOCATION")) != o.Address {
			t.Errorf("event %v", e)
		}
	}
	runScenarios(t, f.a, []scenario{
		{name: "anonymous", req: cleanerJSON("", "GET", path, ""), status: 401},
		{name: "another customer", req: cleanerJSON(f.bob, "GET", path, ""), status: 404, notContains: []string{"BEGIN:VCALENDAR"}},
		{name: "an order that is none", req: cleanerJSON(f.alice, "GET", "/orders/0123456789abcdef01234567/calendar.ics", ""), status: 404},
		{name: "an id that is none", req: cleanerJSON(f.alice, "GET", "/orders/nonsense/calendar.ics", ""), status: 400},
	})
	for _, who := range []struct{ name, token string }{{"owner", f.alice}, {"admin", f.admin}} {
		r := f.a.api(who.token).do("GET", path, "")
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/calendar; charset=utf-8") ||
			!strings.Contains(r.header.Get("Content-Disposition"), `filename="tozalash-`) || !strings.Contains(r.header.Get("Cache-Control"), "private") {
			t.Fatalf("%s: %d %v", who.name, r.status, r.header)
		}
		valid(t, r.body)
	}
}

// TestCalendarFeedRotateMoveCancel: the feed's URL, its rotation (the old
// URL 404, the new one 200), and the feed after a move (the new time, a
// higher SEQUENCE, the same UID) and after a cancel (STATUS:CANCELLED).
func TestCalendarFeedRotateMoveCancel(t *testing.T) {
	f := newOrderFixture(t)
	ctx := context.Background()
	o := f.book(t, f.alice, "cal-feed")
	bobs := f.book(t, f.bob, "cal-feed-bob")
	first := f.feedPath(t, f.alice)
	if again := f.feedPath(t, f.alice); again != first {
		t.Fatalf("GET /me/calendar again gave another URL: %s, %s", first, again)
	}
	secretStored := func(t *testing.T, a *testApp) {
		feed, err := a.h.calendars.Current(ctx, f.aliceU.ID)
		if err != nil {
			t.Fatal(err)
		}
		secret := strings.TrimSuffix(strings.TrimPrefix(first, "/calendar/"), ".ics")
		if strings.Contains(feed.Hash+feed.Sealed, secret) {
			t.Errorf("the secret is stored raw: %+v", feed)
		}
	}
	runScenarios(t, f.a, []scenario{
		{name: "anonymous: the URL", req: cleanerJSON("", "GET", "/me/calendar", ""), status: 401},
		{name: "the feed, no login", req: request{method: "GET", path: first}, status: 200,
			contains: []string{"BEGIN:VCALENDAR\r\n", "UID:" + f.uid(o) + "\r\n", "METHOD:PUBLISH\r\n"}, notContains: []string{bobs.ID.Hex()},
			header: map[string]string{"Content-Type": "text/calendar; charset=utf-8", "Cache-Control": "private, max-age=300"}, after: secretStored},
		{name: "a wrong secret", req: request{method: "GET", path: "/calendar/" + strings.Repeat("A", 43) + ".ics"}, status: 404, notContains: []string{"VCALENDAR", "secret"}},
		{name: "not a secret", req: request{method: "GET", path: "/calendar/x.ics"}, status: 404},
		{name: "anonymous rotates", req: cleanerJSON("", "POST", "/me/calendar/rotate", ""), status: 401},
	})
	rot := f.a.api(f.alice).do("POST", "/me/calendar/rotate", "")
	if rot.status != 200 {
		t.Fatalf("rotate = %d %s", rot.status, rot.body)
	}
	second := f.feedPath(t, f.alice)
	if second == first || !strings.Contains(rot.body, second) {
		t.Fatalf("rotate gave %s; GET says %s (before %s)", rot.body, second, first)
	}
	runScenarios(t, f.a, []scenario{
		{name: "the old URL after rotate", req: request{method: "GET", path: first}, status: 404, notContains: []string{"VCALENDAR"}},
		{name: "the new URL", req: request{method: "GET", path: second}, status: 200, contains: []string{"UID:" + f.uid(o) + "\r\n"}},
	})

	// A move: the same UID, the new time, a higher SEQUENCE.
	before := icsEvents(t, f.a.do(request{method: "GET", path: second}).body)[f.uid(o)]
	to := o.ScheduledAt.Add(4 * time.Hour)
	if r := f.a.api(f.alice).do("PATCH", "/orders/"+o.ID.Hex(), `{"scheduledAt":"`+to.Format(time.RFC3339)+`"}`); r.status != 200 {
		t.Fatalf("move = %d %s", r.status, r.body)
	}
	after := icsEvents(t, f.a.do(request{method: "GET", path: second}).body)[f.uid(o)]
	if after == nil || after["DTSTART"] != "DTSTART;TZID=Asia/Tashkent:"+to.In(views.Tashkent).Format("20060102T150405") {
		t.Fatalf("after the move: %v (before %v)", after, before)
	}
	if before.Value("SEQUENCE") != "0" || after.Value("SEQUENCE") != "1" {
		t.Errorf("SEQUENCE %s → %s", before.Value("SEQUENCE"), after.Value("SEQUENCE"))
	}
	// A cancel: the visit stays, cancelled, newer again.
	if r := f.a.api(f.admin).do("PATCH", "/orders/"+o.ID.Hex(), `{"status":"CANCELLED"}`); r.status != 200 {
		t.Fatalf("cancel = %d %s", r.status, r.body)
	}
	gone := icsEvents(t, f.a.do(request{method: "GET", path: second}).body)[f.uid(o)]
	if gone == nil || gone.Value("STATUS") != "CANCELLED" || gone.Value("SEQUENCE") != "2" {
		t.Fatalf("after the cancel: %v", gone)
	}
	if _, err := f.a.h.calendars.Owner(ctx, "nothing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	// A deleted account's feed answers nothing, and leaves nothing behind.
	if r := f.a.api(f.alice).do("DELETE", "/me", `{"password":"toza-uy-2026"}`); r.status != 204 {
		t.Fatalf("delete the account = %d %s", r.status, r.body)
	}
	if r := f.a.do(request{method: "GET", path: second}); r.status != 404 {
		t.Errorf("the feed of a deleted account = %d", r.status)
	}
	for _, col := range []string{"calendarFeeds", "calendarFeedOwners"} {
		docs, _ := f.a.db.RawFind(ctx, col)
		for _, d := range docs {
			if d["userId"] == f.aliceU.ID || d["_id"] == f.aliceU.ID.Hex() {
				t.Errorf("%s keeps the deleted account's feed: %v", col, d)
			}
		}
	}
}

// TestCalendarConfirmationEmailCarriesICS: the booking's confirmation
// email has the visit as a text/calendar attachment, numbered, and valid.
func TestCalendarConfirmationEmailCarriesICS(t *testing.T) {
	f := newOrderFixture(t)
	o := f.book(t, f.alice, "cal-email")
	m := f.a.smtp.WaitForText("alice@example.uz", views.OrderNo(o.Seq), 10*time.Second)
	if len(m.Attachments) != 1 {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	a := m.Attachments[0]
	if a.ContentType != "text/calendar" || !strings.HasSuffix(a.Filename, ".ics") || a.Params["method"] != "PUBLISH" {
		t.Fatalf("attachment %+v", a)
	}
	e := icsEvents(t, a.Content)[f.uid(o)]
	if e == nil || !strings.HasSuffix(icstest.Unescape(e.Value("SUMMARY")), " "+views.OrderNo(o.Seq)) {
		t.Fatalf("event %v in\n%s", e, a.Content)
	}
}

// TestCalendarPagesShowTheLinks: the order page's Google Calendar and .ics
// links, the profile's feed card.
func TestCalendarPagesShowTheLinks(t *testing.T) {
	f := newOrderFixture(t)
	o := f.book(t, f.alice, "cal-pages")
	feed := f.feedPath(t, f.alice)
	alice := loginBrowser(t, f.a, "alice@example.uz", "toza-uy-2026")
	page := alice.get("/orders/" + o.ID.Hex())
	for _, want := range []string{`data-testid="google-calendar"`, "https://calendar.google.com/calendar/render?action=TEMPLATE", "dates=" + o.ScheduledAt.UTC().Format("20060102T150405Z"),
		`href="/orders/` + o.ID.Hex() + `/calendar.ics"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the order page lacks %q", want)
		}
	}
	profile := alice.get("/me")
	if !strings.Contains(profile.body, `data-testid="calendar-card"`) || !strings.Contains(profile.body, feed) || !strings.Contains(profile.body, "/me/calendar/rotate") {
		t.Errorf("the profile lacks the calendar card with %s", feed)
	}
	// The card's "new link" without JavaScript: back to the profile, which
	// shows another URL; the old one is gone.
	r := alice.postForm("/me/calendar/rotate", url.Values{})
	if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/me") {
		t.Fatalf("the form's rotate = %d %v", r.status, r.header)
	}
	if now := f.feedPath(t, f.alice); now == feed || !strings.Contains(alice.get("/me").body, now) {
		t.Errorf("after the form's rotate the feed is %s (was %s)", now, feed)
	}
	if r := f.a.do(request{method: "GET", path: feed}); r.status != 404 {
		t.Errorf("the old feed = %d", r.status)
	}
}
