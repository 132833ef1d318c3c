package e2e

import (
	"context"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"tozalash/store"
)

// journey counts what a person does on the way: taps (a click, or a tap
// into a field before typing) and typed fields, and the page loads of the
// tab (main-frame navigations).
type journey struct {
	b            *browser
	taps, fields int
	loads        atomic.Int64
}

func (b *browser) journey(t *testing.T) *journey {
	j := &journey{b: b}
	navigated := chromedp.Events(b.ctx, page.FrameNavigated)
	go func() {
		for ev, err := range navigated {
			if err != nil {
				return
			}
			if ev.Frame != nil && ev.Frame.ParentID == "" {
				j.loads.Add(1)
			}
		}
	}()
	return j
}

// newPhone is a browser with a phone's screen: 390×844 CSS pixels at
// twice the density (the window alone leaves a wider page).
func newPhone(t *testing.T) *browser {
	b := newBrowser(t, 390, 844)
	b.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	return b
}

// tap clicks sel, once it is visible.
func (j *journey) tap(t *testing.T, sel string) {
	t.Helper()
	j.taps++
	j.b.do(t, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// fill types into the field sel: a tap first unless it has the focus.
func (j *journey) fill(t *testing.T, sel, text string) {
	t.Helper()
	j.fields++
	q := strings.ReplaceAll(sel, `'`, `\'`)
	if !get(t, j.b, chromedp.Evaluate[bool](`document.activeElement === document.querySelector('`+q+`')`)) {
		j.tap(t, sel)
	}
	j.b.do(t, chromedp.KeyEvent(text))
}

// clearOfChat fails unless sel's box and the chat button's do not meet,
// with sel scrolled to the bottom of the screen, to its middle and to the
// top, as a person scrolling to it sees it.
func (b *browser) clearOfChat(t *testing.T, sel string) {
	t.Helper()
	for _, block := range []string{"end", "center", "start"} {
		b.do(t, chromedp.Poll[chromedp.Void](`!!document.querySelector('[data-testid="chat-open"]')`))
		get(t, b, chromedp.Evaluate[bool](`document.querySelector('`+sel+`').scrollIntoView({block: '`+block+`'}); true`))
		// Two frames: the scroll handler runs on the next one.
		overlap := get(t, b, chromedp.Evaluate[string](`new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => {
			const a = document.querySelector('`+sel+`').getBoundingClientRect();
			const c = document.querySelector('[data-testid="chat-open"]').getBoundingClientRect();
			const meet = a.right > c.left && a.left < c.right && a.bottom > c.top && a.top < c.bottom;
			const inView = c.top >= 0 && c.bottom <= innerHeight;
			done(meet || !inView ? JSON.stringify({button: a, chat: c, inView}) : "");
		})))`, chromedp.EvalAwaitPromise))
		if overlap != "" {
			t.Errorf("%s scrolled to %s: the chat button covers it or left the screen: %s", sel, block, overlap)
		}
	}
}

var codeInMail = regexp.MustCompile(`: (\d{6})\s`)

// A first-time visitor on a phone goes from the home page to a booked
// visit: Book on a card, sign up, the code from the email typed on the
// waiting page, and back at the booking form of that service, signed in
// (#19, the journey of items 10–13).
func TestJourneyFirstVisitToBookedVisit(t *testing.T) {
	s := startApp(t)
	b := newPhone(t)
	j := b.journey(t)
	b.do(t, chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="card-book"]`)), htmxReady)
	svc := get(t, b, chromedp.AttributeValue(chromedp.CSS(`[data-testid="card-book"]`), "href")).Value
	// The catalogue starts on the first screen of a phone, not a screen down.
	if top := get(t, b, chromedp.Evaluate[float64](`document.querySelector('[data-testid="service-card"]').getBoundingClientRect().top / innerHeight`)); top >= 1 {
		t.Errorf("the first card starts %.2f screens down", top)
	}

	j.tap(t, `[data-testid="card-book"]`)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid="signup-form"]`)), htmxReady)
	j.fill(t, `#f-username`, "nilufar")
	j.fill(t, `#f-email`, "nilufar@example.uz")
	j.fill(t, `#f-password`, "Toza-Uy-2026!")
	j.tap(t, `[data-testid="signup-submit"]`)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid="verify-code-form"]`)), htmxReady)

	msg := s.smtp.WaitForText("nilufar@example.uz", "/auth/verify?token=", 15*time.Second)
	m := codeInMail.FindStringSubmatch(msg.Text)
	if m == nil {
		t.Fatalf("no code in the email:\n%s", msg.Text)
	}
	j.fill(t, `#f-code`, m[1])
	j.tap(t, `[data-testid="verify-code-submit"]`)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid="booking-form"]`)), htmxReady)
	// The card's Book goes through the sign-up carrying the service's form.
	if want := "/auth/signup?next=%2Forders%2Fnew%3FserviceId%3D"; !strings.HasPrefix(svc, want) {
		t.Errorf("a visitor's Book goes to %q", svc)
	}
	svc = "/orders/new?serviceId=" + svc[strings.LastIndex(svc, "%3D")+3:]
	if got := get(t, b, chromedp.Evaluate[string](`location.pathname + location.search`)); got != svc {
		t.Errorf("after the code: %s, want the booking form of %s", got, svc)
	}
	if name := b.text(t, `[data-testid="nav-username"]`); name != "nilufar" {
		t.Errorf("signed in as %q", name)
	}
	if focused := get(t, b, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "f-address" {
		t.Errorf("the booking form starts at %q, want the address", focused)
	}
	j.fill(t, `#f-address`, "Chilonzor 9-kvartal, 12-uy")
	j.fill(t, `#f-phone`, "90 123 45 67")
	b.clearOfChat(t, `[data-testid="booking-submit"]`)
	j.tap(t, `[data-testid="booking-submit"]`)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid="order-detail"]`)))
	loads := j.loads.Load()
	t.Logf("first visit to a booked visit: %d taps, %d typed fields, %d page loads", j.taps, j.fields, loads)
	if j.taps > 8 || loads > 7 {
		t.Errorf("%d taps and %d page loads, want at most 8 and 7", j.taps, loads)
	}
	b.screenshot(t, "journey-first-visit-phone")
	b.checkNoProblems(t)
}

// A signed-in customer with saved addresses and a phone books in three
// taps and types nothing: Book on the card, the second address, confirm.
func TestJourneySignedInCustomerBooks(t *testing.T) {
	s := startApp(t)
	u := s.createUser(t, "munisa", "munisa@example.uz", "toza-uy-2026", store.RoleUser)
	ctx := context.Background()
	phone := "+998901112233"
	if _, err := store.NewUserStore(s.db).Update(ctx, u.ID, store.UserChange{Phone: &phone}); err != nil {
		t.Fatal(err)
	}
	addresses := store.NewAddressStore(s.db)
	for _, a := range []store.Address{{Label: "Uy", Address: "Chilonzor 9-kvartal, 12-uy"}, {Label: "Onam", Address: "Yunusobod 4-mavze, 7-uy", Floor: "3", Apartment: "45"}} {
		if _, err := addresses.Add(ctx, u.ID, a); err != nil {
			t.Fatal(err)
		}
	}
	b := newPhone(t)
	b.login(t, s.base, "munisa@example.uz", "toza-uy-2026")
	b.do(t, chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="card-book"]`)), htmxReady)
	j := b.journey(t)
	j.tap(t, `[data-testid="card-book"]`)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid="booking-form"]`)), htmxReady)
	if v := get(t, b, chromedp.Evaluate[string](`document.querySelector('#f-phone').value + " | " + document.querySelector('#f-address').value`)); v != "+998 90 111 22 33 | Chilonzor 9-kvartal, 12-uy" {
		t.Errorf("the form starts with %q", v)
	}
	j.tap(t, `[data-testid="saved-address"]:nth-of-type(2)`)
	if v := get(t, b, chromedp.Evaluate[string](`document.querySelector('#f-address').value`)); v != "Yunusobod 4-mavze, 7-uy, qavat 3, xonadon 45" {
		t.Errorf("the second address fills %q", v)
	}
	b.clearOfChat(t, `[data-testid="booking-submit"]`)
	j.tap(t, `[data-testid="booking-submit"]`)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid="order-detail"]`)))
	if body := b.text(t, `[data-testid="order-detail"]`); !strings.Contains(body, "Yunusobod 4-mavze, 7-uy, qavat 3, xonadon 45") {
		t.Errorf("the order does not show the address picked: %s", body)
	}
	t.Logf("signed in with saved details: %d taps, %d typed fields, %d page loads", j.taps, j.fields, j.loads.Load())
	if j.taps > 3 || j.fields > 2 {
		t.Errorf("%d taps and %d typed fields, want at most 3 and 2", j.taps, j.fields)
	}
	b.screenshot(t, "journey-signed-in-phone")
	b.checkNoProblems(t)
}

// On a phone, 2FA set-up offers the otpauth:// link beside the QR code
// (the app on the same phone cannot scan its own screen), and the chat
// button covers none of the page's buttons; a dead reset link says so
// at once (#19 items 7 and 8).
func TestPhoneTwoFactorLinkAndChatButtonClear(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "kamola", "kamola@example.uz", "toza-uy-2026", store.RoleUser)
	b := newPhone(t)
	b.login(t, s.base, "kamola@example.uz", "toza-uy-2026")
	b.do(t, chromedp.Navigate(s.base+"/auth/2fa/setup"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="totp-link"]`)), htmxReady)
	href := get(t, b, chromedp.AttributeValue(chromedp.CSS(`[data-testid="totp-link"]`), "href")).Value
	secret := b.text(t, `[data-testid="totp-secret"]`)
	if !strings.HasPrefix(href, "otpauth://totp/") || !strings.Contains(href, "secret="+strings.ReplaceAll(secret, " ", "")) {
		t.Errorf("the app link is %q (secret %s)", href, secret)
	}
	b.clearOfChat(t, `[data-testid="totp-enable"]`)
	b.screenshot(t, "2fa-setup-phone")
	b.do(t, chromedp.Navigate(s.base+"/me"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="profile-form"]`)), htmxReady)
	for _, sel := range []string{`[data-testid="profile-save"]`, `[data-testid="address-save"]`, `[data-testid="password-save"]`, `[data-testid="delete-submit"]`} {
		b.clearOfChat(t, sel)
	}
	b.do(t, chromedp.Navigate(s.base+"/auth/password/reset?token=nothing.here"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="reset-gone"]`)))
	if n := get(t, b, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="reset-form"]').length`)); n != 0 {
		t.Error("a dead reset link shows the form")
	}
	b.checkNoProblems(t)
}
