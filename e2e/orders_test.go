package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tozalash/store"
)

// bookThroughForm books the first service for tomorrow at 10:30 as the
// signed-in customer, through the booking page, and returns the order
// page's path.
func bookThroughForm(t *testing.T, s *site, customer *browser, address string) string {
	t.Helper()
	tomorrow := time.Now().In(time.FixedZone("UZT", 5*3600)).AddDate(0, 0, 1).Format("2006-01-02")
	customer.do(t,
		chromedp.Navigate(s.base+"/services"),
		chromedp.Click(chromedp.CSS(`[data-testid="service-card"] [data-testid="service-name"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="book"]`)),
	)
	href := get(t, customer, chromedp.AttributeValue(chromedp.CSS(`[data-testid="book"]`), "href")).Value
	customer.do(t, chromedp.Navigate(s.base+href), chromedp.WaitVisible(chromedp.CSS(`[data-testid="booking-form"]`)), htmxReady,
		chromedp.SetValue(chromedp.CSS(`#f-date`), tomorrow),
		chromedp.SetValue(chromedp.CSS(`#f-time`), "10:30"),
		chromedp.SendKeys(chromedp.CSS(`#f-address`), address),
		chromedp.SendKeys(chromedp.CSS(`#f-phone`), "90 123 45 67"),
		chromedp.Click(chromedp.CSS(`[data-testid="booking-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="order-detail"]`)),
	)
	return get(t, customer, chromedp.Evaluate[string](`location.pathname`))
}

const flashTexts = `[...document.querySelectorAll('[data-testid="flash"], [data-testid="form-notice"]')].map(e => e.innerText.trim())`

// #19 item 4: a customer who cancels sees one banner, in their own words:
// the booking's "accepted" banner gives way to "your booking is
// cancelled", and the admin's "an email was sent to the customer" is not
// theirs to read.
func TestCustomerCancellingSeesOneBannerOfTheirOwn(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
	customer := newBrowser(t, 390, 844)
	customer.login(t, s.base, "madina@example.uz", "toza-uy-2026")
	bookThroughForm(t, s, customer, "Chilonzor 9-kvartal, 12-uy")
	if got := get(t, customer, chromedp.Evaluate[[]string](flashTexts)); len(got) != 1 || !strings.Contains(got[0], "qabul qilindi") {
		t.Fatalf("after booking the banners are %q", got)
	}
	customer.do(t,
		htmxReady,
		chromedp.SendKeys(chromedp.CSS(`#f-reason`), "Mehmonlar keladi"),
		chromedp.Click(chromedp.CSS(`[data-testid="cancel-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="timeline-reason"]`)),
		htmxSettled,
	)
	got := get(t, customer, chromedp.Evaluate[[]string](flashTexts))
	if len(got) != 1 || got[0] != "Buyurtmangiz bekor qilindi." {
		t.Errorf("after cancelling the banners are %q, want one: %q", got, "Buyurtmangiz bekor qilindi.")
	}
	if body := customer.text(t, "body"); strings.Contains(body, "Mijozga xat yuborildi") {
		t.Error("the customer reads the admin's message")
	}
	customer.screenshot(t, "order-cancelled-banner")
	customer.checkNoProblems(t)
}
