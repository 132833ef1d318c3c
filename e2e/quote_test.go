package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.mongodb.org/mongo-driver/bson"

	"tozalash/store"
)

// #20: on a phone, a customer prices a cleaning of their flat as they
// fill the form: more rooms and the fridge change the total in place (no
// page load), and the total booked is the total on the order page and in
// the confirmation email.
func TestPhoneCalculatorBooksTheQuotedTotal(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
	svc := &store.Service{Name: store.Texts{Uz: "Uyni tozalash"}, Description: store.Texts{Uz: "Xonalar soniga qarab"}, Price: 200_000, DurationMinutes: 120,
		Pricing: store.Pricing{Base: 100_000, PerRoom: 50_000, PerBathroom: 40_000, Minimum: 200_000, BaseMinutes: 60, MinutesPerRoom: 30, MinutesPerBathroom: 20},
		Extras: []store.Extra{
			{ID: "fridge", Name: store.Texts{Uz: "Muzlatgich ichi"}, Price: 35_000, Minutes: 30, Active: true},
			{ID: "windows", Name: store.Texts{Uz: "Derazalar"}, Price: 15_000, Minutes: 10, Countable: true, Active: true},
		}}
	if err := store.NewServiceStore(s.db).Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.InsertRaw(context.Background(), "settings", bson.D{{Key: "_id", Value: "company"},
		{Key: "frequencyDiscounts", Value: store.FrequencyDiscounts{Weekly: 15, Biweekly: 10, Monthly: 5}}}); err != nil {
		t.Fatal(err)
	}
	customer := newBrowser(t, 390, 844)
	customer.login(t, s.base, "madina@example.uz", "toza-uy-2026")
	total := func() string {
		return strings.ReplaceAll(customer.text(t, `[data-testid="price-total"]`), "\u00a0", " ")
	}
	waitTotal := func(want string) {
		t.Helper()
		customer.do(t, chromedp.Poll[chromedp.Void](`((document.querySelector('[data-testid="price-total"]')||{}).innerText||'').replace(/\u00a0/g, ' ') === `+jsString(want), chromedp.WithPollingTimeout(10*time.Second)))
	}
	customer.do(t, chromedp.Navigate(s.base+"/orders/new?serviceId="+svc.ID.Hex()), chromedp.WaitVisible(chromedp.CSS(`[data-testid="booking-form"]`)), htmxReady)
	// 2 rooms and a bathroom to start: 100 000 + 100 000 + 40 000.
	if got := total(); got != "240 000 so‘m" {
		t.Fatalf("the first total = %q", got)
	}
	customer.do(t, chromedp.Evaluate[chromedp.Void](`window.stillHere = location.href`))
	customer.do(t, chromedp.Click(chromedp.CSS(`[data-testid="more-rooms"]`)))
	waitTotal("290 000 so‘m") // 3 rooms
	customer.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="field-extra_fridge"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="more-extra_windows"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="more-extra_windows"]`)),
	)
	waitTotal("355 000 so‘m") // + the fridge 35 000 + 2 windows 30 000
	customer.do(t, choosePricing(`[data-testid="frequency-weekly"]`))
	waitTotal("302 000 so‘m") // 355 000 − 15 % = 301 750 → 302 000
	customer.do(t, htmxSettled)
	if got := get(t, customer, chromedp.Evaluate[string](`window.stillHere || ""`)); got == "" {
		t.Fatal("the page was loaded again: the total changed by a navigation, not in place")
	}
	lines := get(t, customer, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="price-panel"] [data-testid="price-line"], [data-testid="price-panel"] [data-testid="price-discount"]')].map(e => e.innerText.replace(/\s+/g, ' ').trim())`))
	if want := []string{"Asosiy narx 100 000 so‘m", "Xonalar · 3 × 50 000 so‘m 150 000 so‘m", "Hammomlar 40 000 so‘m", "Muzlatgich ichi 35 000 so‘m",
		"Derazalar · 2 × 15 000 so‘m 30 000 so‘m", "Har hafta: −15% -53 250 so‘m"}; strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("the panel's lines = %q\nwant %q", lines, want)
	}
	customer.screenshot(t, "calculator-phone")
	quoted := total()

	tomorrow := time.Now().In(store.Tashkent).AddDate(0, 0, 1).Format("2006-01-02")
	customer.do(t,
		pickSlot(tomorrow, "10:00"),
		chromedp.SendKeys(chromedp.CSS(`#f-address`), "Chilonzor 9-kvartal, 12-uy"),
		chromedp.SendKeys(chromedp.CSS(`#f-phone`), "90 123 45 67"),
		chromedp.Click(chromedp.CSS(`[data-testid="booking-submit"]`)),
		// A weekly booking lands on its plan (#23); the first visit is the order.
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="plan-visit-order"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="plan-visit-order"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="order-price"]`)),
	)
	if got := strings.ReplaceAll(customer.text(t, `[data-testid="order-total"]`), "\u00a0", " "); got != quoted {
		t.Errorf("the order page's total = %q, the form said %q", got, quoted)
	}
	mail := s.smtp.WaitForText("madina@example.uz", "Xonalar", 10*time.Second)
	if !strings.Contains(strings.ReplaceAll(mail.Text, "\u00a0", " "), "Jami: "+quoted) {
		t.Errorf("the email lacks the total %q:\n%s", quoted, mail.Text)
	}
	customer.screenshot(t, "calculator-order")
	customer.checkNoProblems(t)
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
