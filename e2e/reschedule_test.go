package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tozalash/store"
)

// #21: a customer on a phone moves their visit with the order page's
// picker (the day's free times come from GET /availability for this
// order), saves, and reads the new time and the timeline's entry.
func TestCustomerReschedulesWithThePicker(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
	customer := newBrowser(t, 390, 844)
	customer.login(t, s.base, "madina@example.uz", "toza-uy-2026")
	path := bookThroughForm(t, s, customer, "Chilonzor 9-kvartal, 12-uy")

	uzt := time.FixedZone("UZT", 5*3600)
	tomorrow := time.Now().In(uzt).AddDate(0, 0, 1)
	later := tomorrow.AddDate(0, 0, 1)
	day := later.Format("2006-01-02")
	customer.do(t,
		chromedp.Navigate(s.base+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="reschedule-form"] [data-testid="slot-picker"]`)),
		htmxReady,
		// The visit's own day and time are the ones chosen.
		chromedp.Poll[chromedp.Void](`!!document.querySelector('#slot-picker input[name="time"][value="10:30"]:checked')`),
		chromedp.ScrollIntoView(chromedp.CSS(`[data-testid="reschedule-form"]`)),
		pickSlot(day, "11:00"),
	)
	customer.screenshot(t, "order-reschedule-picker-phone")
	customer.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="reschedule-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="timeline-change"]`)),
		htmxSettled,
	)
	if got := customer.text(t, `[data-testid="timeline-change"]`); !strings.Contains(got, tomorrow.Format("02.01.2006")+" 10:30") || !strings.Contains(got, later.Format("02.01.2006")+" 11:00") {
		t.Errorf("the timeline's entry reads %q", got)
	}
	if got := customer.text(t, `[data-testid="order-detail"] dl`); !strings.Contains(got, later.Format("02.01.2006")+" 11:00") {
		t.Errorf("the order's time reads %q", got)
	}
	if got := get(t, customer, chromedp.Evaluate[[]string](flashTexts)); len(got) != 1 || got[0] != "Yangi vaqt saqlandi." {
		t.Errorf("the banners %q", got)
	}
	// The picker now has the new time chosen, the old one free again.
	customer.do(t, chromedp.Poll[chromedp.Void](`!!document.querySelector('#slot-picker input[name="time"][value="11:00"]:checked')`))
	customer.screenshot(t, "order-rescheduled-phone")
	customer.checkNoProblems(t)
}
