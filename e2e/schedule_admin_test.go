package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// postJSON sends body to path as a JSON client signed in with token and
// decodes the answer into out; it returns the status.
func (s *site) postJSON(t *testing.T, token, path, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("POST", s.base+path, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("%s: %d, not JSON: %v", path, res.StatusCode, err)
	}
	return res.StatusCode
}

// #21: on a tablet (1024×768), the admin opens a day of the schedule,
// tries to give a visit to a crew that is busy then (the block says so,
// the page stays), then to a free one: the visit moves to its column.
func TestAdminReassignsVisitOnTablet(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "boss", "boss@tozalash.uz", "boshliq-parol-2026", store.RoleAdmin)
	s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
	var login struct {
		AccessToken string `json:"accessToken"`
	}
	if st := s.postJSON(t, "", "/auth/login", `{"email":"madina@example.uz","password":"toza-uy-2026"}`, &login); st != 200 {
		t.Fatalf("login = %d", st)
	}
	services, _, err := store.NewServiceStore(s.db).List(context.Background(), store.ServiceFilter{Limit: 1})
	if err != nil || len(services) == 0 {
		t.Fatalf("no service: %v", err)
	}
	d := time.Now().In(views.Tashkent).AddDate(0, 0, 2)
	date := d.Format(time.DateOnly)
	at := time.Date(d.Year(), d.Month(), d.Day(), 10, 0, 0, 0, views.Tashkent).Format(time.RFC3339)
	// Two visits at 10:00: two of the three crews.
	var orders [2]struct {
		ID     string `json:"id"`
		CrewID string `json:"crewId"`
	}
	for i := range orders {
		body := `{"serviceId":"` + services[0].ID.Hex() + `","scheduledAt":"` + at + `","address":"Yunusobod 4-mavze, 7-uy","phone":"+998 90 123 45 67","idempotencyKey":"tablet-` + string(rune('a'+i)) + `"}`
		if st := s.postJSON(t, login.AccessToken, "/orders", body, &orders[i]); st != 201 || orders[i].CrewID == "" {
			t.Fatalf("booking %d = %d, crew %q", i, st, orders[i].CrewID)
		}
	}
	crews, err := store.NewScheduleStore(s.db).Crews(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	free := ""
	for _, c := range crews {
		if h := c.ID.Hex(); h != orders[0].CrewID && h != orders[1].CrewID {
			free = h
		}
	}
	visit, busy := orders[0].ID, orders[1].CrewID
	block := `#visit-` + visit

	b := newBrowser(t, 1024, 768)
	b.login(t, s.base, "boss@tozalash.uz", "boshliq-parol-2026")
	b.do(t,
		chromedp.Navigate(s.base+"/admin/schedule?date="+date),
		chromedp.WaitVisible(chromedp.CSS(block)),
		htmxReady,
	)
	if n := get(t, b, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="crew-column"]').length`)); n != 3 {
		t.Errorf("%d crew columns, want 3", n)
	}
	// Readable on a tablet: the page itself does not scroll sideways (the
	// columns would, within their box).
	if wide := get(t, b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
		t.Error("the page is wider than the tablet")
	}
	if got := b.text(t, block+` [data-testid="visit-time"]`); !strings.HasPrefix(got, "10:00–") {
		t.Errorf("the visit shows %q, want from 10:00 local", got)
	}

	// To the busy crew: refused in the block, the page as it was.
	lang := get(t, b, chromedp.Evaluate[string](`document.documentElement.lang`))
	cat, err := views.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	b.do(t,
		chromedp.SetValue(chromedp.CSS(`#reassign-`+visit), busy),
		chromedp.Click(chromedp.CSS(block+` [data-testid="reassign-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(block+` [data-testid="error-fragment"]`)),
		htmxSettled,
	)
	if got, want := b.text(t, block+` [data-testid="error-fragment"]`), cat.T(lang, "err.schedule.crew_busy"); !strings.Contains(got, want) {
		t.Errorf("the refusal reads %q, want %q", got, want)
	}
	if n := get(t, b, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="crew-column"]').length`)); n != 3 {
		t.Errorf("after the refusal %d crew columns, want the page as it was", n)
	}
	b.screenshot(t, "admin-schedule-refused")

	// To the free crew: the visit is in its column.
	b.do(t,
		chromedp.SetValue(chromedp.CSS(`#reassign-`+visit), free),
		chromedp.Click(chromedp.CSS(block+` [data-testid="reassign-submit"]`)),
		chromedp.Poll[chromedp.Void](`!!document.querySelector('[data-crew-id="`+free+`"] `+block+`')`),
		htmxSettled,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="schedule-notice"]`)),
	)
	if n := get(t, b, chromedp.Evaluate[int](`document.querySelectorAll('`+block+`').length`)); n != 1 {
		t.Errorf("the visit shows %d times", n)
	}
	b.screenshot(t, "admin-schedule-tablet")
	b.checkNoProblems(t)

	id, _ := primitive.ObjectIDFromHex(visit)
	o, err := store.NewOrderStore(s.db).Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if o.CrewID.Hex() != free {
		t.Errorf("the order's crew is %s, want %s", o.CrewID.Hex(), free)
	}

	// The week: the free crew's day holds the visit's hours of 12.
	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="schedule-to-week"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="week-table"]`)),
	)
	hours := o.EndsAt.Sub(o.ScheduledAt).Hours()
	want := strconv.FormatFloat(hours, 'f', -1, 64) + " / 12 "
	if got := b.text(t, `[data-testid="week-row"][data-crew-id="`+free+`"] [data-date="`+date+`"] [data-testid="week-hours"]`); !strings.HasPrefix(got, want) {
		t.Errorf("the week shows %q for the crew's day, want %q…", got, want)
	}
	if wide := get(t, b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
		t.Error("the week is wider than the tablet")
	}
	b.screenshot(t, "admin-schedule-week-tablet")
	b.checkNoProblems(t)
}
