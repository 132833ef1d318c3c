package e2e

import (
	"context"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"tozalash/store"
)

// rowNames are the Uzbek names of the offered extras on the service's
// form, in order.
const rowNames = `[...document.querySelectorAll('[data-testid="extra-row"] [data-testid="extra-name_uz"]')].map(e => e.value)`

// #20: at a desk, the admin adds an extra to a service (htmx rows), moves
// it up, saves, and finds it in its place after a reload; then makes a
// promo code and disables it in place.
func TestAdminPricesExtrasAndPromoCodes(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "boss", "boss@tozalash.uz", "boshliq-parol-2026", store.RoleAdmin)
	services := store.NewServiceStore(s.db)
	all, err := services.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var carpet store.Service
	for _, svc := range all {
		if svc.Name.Uz == "Gilam yuvish" {
			carpet = svc
		}
	}
	if len(carpet.Extras) != 3 {
		t.Fatalf("the demo carpet service has %d extras, want 3", len(carpet.Extras))
	}
	b := newBrowser(t, 1280, 900)
	b.login(t, s.base, "boss@tozalash.uz", "boshliq-parol-2026")

	edit := s.base + "/services/" + carpet.ID.Hex() + "/edit"
	last := `[data-testid="extra-row"]:last-of-type `
	b.do(t,
		chromedp.Navigate(edit),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="extras-editor"]`)),
		htmxReady,
		chromedp.Click(chromedp.CSS(`[data-testid="extra-add"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="extra-row"]').length === 4`),
		htmxSettled,
		chromedp.SendKeys(chromedp.CSS(last+`[data-testid="extra-name_uz"]`), "Derazalar"),
		chromedp.SendKeys(chromedp.CSS(last+`[data-testid="extra-name_ru"]`), "Окна"),
		chromedp.SendKeys(chromedp.CSS(last+`[data-testid="extra-price"]`), "15000"),
		chromedp.SendKeys(chromedp.CSS(last+`[data-testid="extra-minutes"]`), "15"),
		chromedp.Click(chromedp.CSS(last+`[data-testid="extra-countable"]`)),
		chromedp.Click(chromedp.CSS(last+`[data-testid="extra-up"]`)),
		chromedp.Poll[chromedp.Void](rowNames+`[2] === "Derazalar"`),
		htmxSettled,
	)
	b.screenshot(t, "admin-service-pricing")
	// Moved, not saved: the service is as it was.
	if svc, _ := services.Get(context.Background(), carpet.ID, true); len(svc.Extras) != 3 {
		t.Errorf("moving a row saved the service: %d extras", len(svc.Extras))
	}
	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="service-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
		chromedp.Navigate(edit),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="extras-editor"]`)),
	)
	want := []string{carpet.Extras[0].Name.Uz, carpet.Extras[1].Name.Uz, "Derazalar", carpet.Extras[2].Name.Uz}
	if got := get(t, b, chromedp.Evaluate[[]string](rowNames)); !slices.Equal(got, want) {
		t.Errorf("after a reload the extras are %q, want %q", got, want)
	}
	third := `document.querySelectorAll('[data-testid="extra-row"]')[2]`
	if price := get(t, b, chromedp.Evaluate[string](third+`.querySelector('[data-testid="extra-price"]').value`)); price != "15000" {
		t.Errorf("its price shows %q", price)
	}
	if !get(t, b, chromedp.Evaluate[bool](third+`.querySelector('[data-testid="extra-countable"]').checked`)) {
		t.Error("it is not counted any more")
	}
	svc, err := services.Get(context.Background(), carpet.ID, true)
	if err != nil || len(svc.Extras) != 4 || svc.Extras[2].Name.Ru != "Окна" || svc.Extras[2].Price != 15000 || !svc.Extras[2].Countable || !svc.Extras[2].Active || len(svc.Extras[2].ID) != 8 {
		t.Errorf("saved: %+v %v", svc, err)
	}

	// A promo code from the page's form; its row's button disables it in
	// place.
	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="admin-nav"] [data-testid="admin-nav-promo-codes"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="promo-form"]`)),
		htmxReady,
		chromedp.SendKeys(chromedp.CSS(`#f-code`), "bahor-2027"),
		chromedp.SendKeys(chromedp.CSS(`#f-percentOff`), "20"),
		chromedp.SendKeys(chromedp.CSS(`#f-maxUses`), "50"),
		chromedp.Click(chromedp.CSS(`[data-testid="promo-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="promo-row"][data-code="BAHOR-2027"]`)),
		htmxReady,
		chromedp.Click(chromedp.CSS(`[data-code="BAHOR-2027"] [data-testid="promo-toggle"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-code="BAHOR-2027"] [data-testid="promo-state"]').textContent.trim() === "O‘chirilgan"`),
	)
	b.screenshot(t, "admin-promo-codes")
	if code, err := store.NewPromoCodeStore(s.db).ByCode(context.Background(), "Bahor-2027"); err != nil || code.Active || code.PercentOff != 20 || code.MaxUses != 50 {
		t.Errorf("the code: %+v %v", code, err)
	}
	b.checkNoProblems(t)
}
