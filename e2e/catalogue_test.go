package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tozalash/store"
)

// A Russian reader sees the service's Russian name on the catalogue, the
// booking form and their order (its page and their list).
func TestRussianReaderSeesRussianServiceNames(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser) // profile: Uzbek
	all, err := store.NewServiceStore(s.db).All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var svc store.Service
	for _, x := range all {
		if x.Name.Uz == "Kvartirani umumiy tozalash" {
			svc = x
		}
	}
	ru := svc.Name.Ru
	tomorrow := time.Now().In(time.FixedZone("UZT", 5*3600)).AddDate(0, 0, 1).Format("2006-01-02")

	b := newBrowser(t, 1280, 900)
	b.login(t, s.base, "madina@example.uz", "toza-uy-2026")
	b.do(t,
		chromedp.Navigate(s.base+"/services"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="lang-ru"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="lang-ru"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	names := get(t, b, chromedp.Evaluate[string](`[...document.querySelectorAll('[data-testid="service-name"]')].map(e => e.innerText).join("|")`))
	if !strings.Contains(names, ru) || strings.Contains(names, svc.Name.Uz) {
		t.Errorf("the Russian catalogue shows %q", names)
	}
	b.do(t,
		chromedp.Navigate(s.base+"/services/"+svc.ID.Hex()),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="book"]`)),
		htmxReady,
		chromedp.Click(chromedp.CSS(`[data-testid="book"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="booking-form"]`)),
		htmxSettled,
	)
	if form := b.text(t, `[data-testid="booking"]`); !strings.Contains(form, ru) || strings.Contains(form, svc.Name.Uz) {
		t.Errorf("the Russian booking form shows %q", form[:min(len(form), 200)])
	}
	b.do(t,
		pickSlot(tomorrow, "10:30"),
		chromedp.SendKeys(chromedp.CSS(`#f-address`), "Chilonzor 9-kvartal, 12-uy"),
		chromedp.SendKeys(chromedp.CSS(`#f-phone`), "90 123 45 67"),
		chromedp.Click(chromedp.CSS(`[data-testid="booking-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="order-detail"]`)),
	)
	if title := b.text(t, `[data-testid="order-title"]`); title != ru {
		t.Errorf("the Russian order page is titled %q", title)
	}
	b.do(t, chromedp.Navigate(s.base+"/orders"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="order-item"]`)))
	if item := b.text(t, `[data-testid="order-item"]`); !strings.Contains(item, ru) {
		t.Errorf("the Russian list of orders shows %q", item)
	}
	b.screenshot(t, "order-russian")
	b.checkNoProblems(t)

	// a Russian admin reads the order on the board in Russian too
	s.createUser(t, "boss", "boss@tozalash.uz", "boshliq-parol-2026", store.RoleAdmin)
	admin := newBrowser(t, 1280, 900)
	admin.login(t, s.base, "boss@tozalash.uz", "boshliq-parol-2026")
	admin.do(t,
		chromedp.Navigate(s.base+"/orders"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="lang-ru"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="lang-ru"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="board-row"]`)),
	)
	if row := admin.text(t, `[data-testid="board-row"]`); !strings.Contains(row, ru) || strings.Contains(row, svc.Name.Uz) {
		t.Errorf("the Russian board shows %q", row)
	}
	admin.checkNoProblems(t)
}
