package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"tozalash/store"
)

// #21: at a desk, the admin opens Crews from the navigation, makes a crew
// that works Monday to Saturday 08:00–19:00 with Sunday off (trying a
// Sunday interval with the htmx rows and taking it away again), and finds
// it in the list.
func TestAdminCreatesACrew(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "boss", "boss@tozalash.uz", "boshliq-parol-2026", store.RoleAdmin)
	b := newBrowser(t, 1280, 900)
	b.login(t, s.base, "boss@tozalash.uz", "boshliq-parol-2026")

	sunday := `[data-testid="hours-sun"] `
	b.do(t,
		chromedp.Navigate(s.base+"/admin"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="admin-nav"] [data-testid="admin-nav-crews"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="admin-nav"] [data-testid="admin-nav-crews"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="crew-form"]`)),
		htmxReady,
		chromedp.SendKeys(chromedp.CSS(`[data-testid="field-name"]`), "Alfa brigada"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="field-members"]`), "Dilnoza\nJasur"),
		// Sunday: an interval added, then taken away; a day off again
		chromedp.Click(chromedp.CSS(sunday+`[data-testid="interval-add"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="hours-sun"] [data-testid="interval"]').length === 1`),
		htmxSettled,
		chromedp.Click(chromedp.CSS(sunday+`[data-testid="interval-remove"]`)),
		chromedp.Poll[chromedp.Void](`!!document.querySelector('[data-testid="hours-sun"] [data-testid="day-off"]')`),
		htmxSettled,
	)
	// Monday to Saturday are 08:00–19:00 as the form offers them, the name
	// typed before the rows changed still there.
	if got := get(t, b, chromedp.Evaluate[string](`[...document.querySelectorAll('[data-testid="hours-editor"] [data-testid="interval"]')].map(r => r.querySelector('[data-testid="interval-from"]').value + "-" + r.querySelector('[data-testid="interval-to"]').value).join(",")`)); got != strings.Repeat("08:00-19:00,", 5)+"08:00-19:00" {
		t.Errorf("the week's intervals are %q", got)
	}
	if name := get(t, b, chromedp.Evaluate[string](`document.querySelector('[data-testid="field-name"]').value`)); name != "Alfa brigada" {
		t.Errorf("the name typed is now %q", name)
	}
	b.screenshot(t, "admin-crew-form")
	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="crew-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="crew-row"]`)),
	)
	row := b.text(t, `[data-crew="Alfa brigada"]`)
	for _, want := range []string{"Alfa brigada", "Dilnoza, Jasur", "Du 08:00–19:00", "Sh 08:00–19:00", "Ya Dam olish kuni", "Barcha xizmatlar", "Ishlaydi"} {
		if !strings.Contains(strings.Join(strings.Fields(row), " "), want) {
			t.Errorf("the list's row lacks %q: %q", want, row)
		}
	}
	b.screenshot(t, "admin-crews")
	// The site starts with the three crews the tests seed; the new one is
	// the fourth.
	crews, err := store.NewScheduleStore(s.db).Crews(context.Background())
	var c store.Crew
	for _, cr := range crews {
		if cr.Name == "Alfa brigada" {
			c = cr
		}
	}
	if err != nil || len(crews) != 4 || c.ID.IsZero() {
		t.Fatalf("crews = %v %v", crews, err)
	}
	for _, d := range store.Weekdays[:6] {
		if len(c.Hours[d]) != 1 || c.Hours[d][0] != [2]string{"08:00", "19:00"} {
			t.Errorf("%s: %v", d, c.Hours[d])
		}
	}
	if len(c.Hours["sun"]) != 0 || !c.Active || len(c.ServiceIDs) != 0 || strings.Join(c.Members, ",") != "Dilnoza,Jasur" {
		t.Errorf("the crew as stored: %+v", c)
	}
	b.checkNoProblems(t)
}
