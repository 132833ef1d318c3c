package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"

	"tozalash/store"
)

// noSideScroll is true when the page is no wider than the window.
const noSideScroll = `document.documentElement.scrollWidth <= document.documentElement.clientWidth`

// On a tablet (1024×768) the admin's sections fold into a menu that opens
// and leads to them, and no admin page scrolls sideways; on a wider screen
// they stand beside the page.
func TestAdminNavigationOnTablet(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "boss", "boss@tozalash.uz", "boshliq-parol-2026", store.RoleAdmin)
	b := newBrowser(t, 1024, 768)
	b.do(t, chromedp.EmulateViewport(1024, 768))
	b.login(t, s.base, "boss@tozalash.uz", "boshliq-parol-2026")

	for _, path := range []string{"/admin", "/orders", "/services", "/users", "/chat", "/admin/outbox"} {
		b.do(t,
			chromedp.Navigate(s.base+path),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="admin-menu-button"]`)),
			chromedp.WaitNotVisible(chromedp.CSS(`[data-testid="admin-nav"]`)),
		)
		if !get(t, b, chromedp.Evaluate[bool](noSideScroll)) {
			w := get(t, b, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			t.Errorf("%s scrolls sideways at 1024 px: %d px wide", path, w)
		}
	}
	b.do(t,
		chromedp.Navigate(s.base+"/admin"),
		htmxReady,
		chromedp.Click(chromedp.CSS(`[data-testid="admin-menu-button"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="admin-menu-nav"] [data-testid="admin-nav-users"]`)),
	)
	b.screenshot(t, "admin-tablet-menu")
	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="admin-menu-nav"] [data-testid="admin-nav-users"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-row"]`)),
	)
	if cur := get(t, b, chromedp.Evaluate[string](`document.querySelector('[data-testid="admin-menu-nav"] [aria-current="page"]').textContent.trim()`)); cur != "Foydalanuvchilar" {
		t.Errorf("the menu marks %q as where the admin is", cur)
	}

	b.do(t,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(s.base+"/orders"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="admin-nav"] [data-testid="admin-nav-services"]`)),
		chromedp.WaitNotVisible(chromedp.CSS(`[data-testid="admin-menu-button"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="admin-nav"] [data-testid="admin-nav-services"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="service-new"]`)),
	)
	b.screenshot(t, "admin-desktop")
	b.checkNoProblems(t)
}
