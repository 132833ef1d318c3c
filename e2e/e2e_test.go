// Package e2e drives the real app in headless Chromium: real clicks, real
// htmx, real CSP.
package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"tozalash/auth"
	"tozalash/demo"
	"tozalash/handlers"
	"tozalash/mail"
	"tozalash/mail/mailtest"
	"tozalash/store"
	"tozalash/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// site is the real app on a fresh database with the demo catalogue, on a
// free loopback port, sending its email to a real SMTP server of the test.
type site struct {
	base  string
	smtp  *mailtest.Server
	db    *store.DB
	clock *shiftClock // the app's clock: a test moves it past a visit's start
}

// shiftClock is the real time moved by a set amount.
type shiftClock struct {
	mu    sync.Mutex
	shift time.Duration
}

func (c *shiftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.shift)
}

func (c *shiftClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shift += d
}

func startApp(t *testing.T) *site { return startAppWith(t, nil) }

// startAppWith is startApp with tweak's changes to the app's config (base
// is where the app listens, http://127.0.0.1:<port>).
func startAppWith(t *testing.T, tweak func(base string, cfg *handlers.Config)) *site {
	t.Helper()
	db := storetest.Open(t)
	if _, err := demo.SeedCrews(context.Background(), db, demo.EveryDay("08:00", "20:00")); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	smtpServer := mailtest.Start(t)
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	t.Cleanup(func() {
		if t.Failed() { // what the server saw, for whoever reads the failure
			t.Logf("server log (last lines):\n%s", logs.tail(25))
		}
	})
	channels := &mail.Channels{Email: mail.NewSMTP(smtpServer.Host, smtpServer.Port, "", "", "Tozalash <no-reply@localhost>")}
	worker := mail.NewWorker(store.NewOutboxStore(db), channels, log)
	worker.Poll = 100 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	go worker.Run(ctx)
	t.Cleanup(stop)
	clock := &shiftClock{}
	cfg := handlers.Config{
		Now:           clock.Now,
		BaseURL:       base,
		JWTSecret:     []byte("e2e-key-e2e-key-e2e-key-e2e-key-e2e!"),
		AuthRateLimit: 1000,
		EmailQueued:   worker.Wake,
	}
	if tweak != nil {
		tweak(base, &cfg)
	}
	app, h, err := handlers.New(db, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	channels.Telegram = h.TelegramSender() // as main does
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	return &site{base: base, smtp: smtpServer, db: db, clock: clock}
}

// logBuffer keeps the server's log for a failed test.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.lines) > n {
		return strings.Join(b.lines[len(b.lines)-n:], "\n")
	}
	return strings.Join(b.lines, "\n")
}

func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is missing: .ci/run installs it with apt-get install -y chromium")
	}
	t.Skip("Chromium is missing (apt-get install -y chromium); CI fails here instead of skipping")
	return ""
}

// browser is one headless Chromium tab, and the page problems it saw:
// console errors and uncaught exceptions, CSP violations among them.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
	prompt   string // what the person types into a prompt() (hx-prompt)
}

func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("accept-lang", "uz"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	// A person answers confirm() and prompt() (hx-confirm, hx-prompt): yes,
	// with b.prompt as the text.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			text := b.prompt
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true, PromptText: text})
		}
	}()
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// A 4xx answer is a page's business (a form with errors); script
			// errors and CSP refusals are what this watches for.
			// A request htmx abandons because the page is left (the chat
			// badge's poll, as a test navigates on) is no fault a person
			// sees: htmx reports it as htmx:sendAbort and htmx:afterRequest;
			// a failed one is still caught, as htmx:responseError or
			// htmx:sendError.
			if abandoned(m.String()) {
				continue
			}
			if (m.Type == chromedp.ConsoleError && m.Source != "network") || m.IsException() {
				b.mu.Lock()
				b.problems = append(b.problems, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// abandoned reports whether a console message is htmx's word for a
// request left behind by a navigation.
func abandoned(msg string) bool {
	return strings.Contains(msg, "htmx:sendAbort") || strings.Contains(msg, "htmx:afterRequest")
}

// do runs steps with a deadline, so a missing element fails the test instead
// of hanging it.
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	for i, step := range steps {
		if err := chromedp.Do(ctx, step); err != nil {
			b.failed(t, fmt.Sprintf("step %d of %d: %v", i+1, len(steps), err))
		}
	}
}

// failed keeps a picture and the HTML of the page for whoever reads the
// failure, then fails the test.
func (b *browser) failed(t *testing.T, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	name := strings.ReplaceAll(t.Name(), "/", "_")
	if img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.MkdirAll("screenshots", 0o755)
		_ = os.WriteFile("screenshots/FAILED-"+name+".png", img, 0o644)
	}
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + [...document.querySelectorAll("[data-testid^=error], [data-testid=form-error], [role=alert]")].map(e => e.textContent).join(" | ") + "\n" + document.body.innerText.slice(0, 600)`)); err == nil {
		msg += "\npage: " + html
	}
	t.Fatal(msg)
}

func get[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// text is what a person reads in the first element sel matches, once it is
// there. It asks the page in one go (not by node id): htmx swapping another
// part of the page meanwhile cannot spoil it.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	q, _ := json.Marshal(sel)
	return get(t, b, chromedp.Poll[string](`(() => { const e = document.querySelector(`+string(q)+`); return e ? e.innerText.trim() : null })()`))
}

func (b *browser) checkNoProblems(t *testing.T) {
	t.Helper()
	time.Sleep(200 * time.Millisecond) // let the console catch up
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("browser reported: %s", p)
	}
}

// screenshot keeps a picture of the page for people (e2e/screenshots).
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	img := get(t, b, chromedp.FullScreenshot(100))
	if err := os.MkdirAll("screenshots", 0o755); err == nil {
		_ = os.WriteFile("screenshots/"+name+".png", img, 0o644)
	}
}

// htmxReady waits until htmx has processed the page: a person's first
// click comes after that, a test's could come before.
var htmxReady = chromedp.Poll[chromedp.Void](`!!window.htmx && document.readyState === "complete"`)

// htmxSettled waits until htmx has finished a swap and set up what it
// swapped in.
var htmxSettled = chromedp.Poll[chromedp.Void](`!document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")`)

const cardCount = `document.querySelectorAll('[data-testid="service-card"]').length`

func TestHomePageSwitchesToRussian(t *testing.T) {
	base := startApp(t).base
	b := newBrowser(t, 1280, 900)

	b.do(t, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="catalogue"]`)))
	lang := get(t, b, chromedp.AttributeValue(chromedp.CSS("html"), "lang")).Value
	hero := b.text(t, `[data-testid="hero-title"]`)
	cards := get(t, b, chromedp.Evaluate[int](cardCount))
	if lang != "uz" || !strings.Contains(hero, "Uyingiz toza") || cards != len(demo.Catalogue) {
		t.Fatalf("home: lang %q, hero %q, %d cards", lang, hero, cards)
	}
	b.screenshot(t, "home-uz-desktop")

	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="lang-ru"]`)),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="ru"] [data-testid="hero-title"]`)),
	)
	body := b.text(t, "body")
	for _, want := range []string{"Чистый дом", "Наши услуги", "Генеральная уборка квартиры", "Как это работает"} {
		if !strings.Contains(body, want) {
			t.Errorf("Russian page lacks %q", want)
		}
	}
	if strings.Contains(body, "Bizning xizmatlar") {
		t.Error("Russian page still shows Uzbek")
	}

	// The choice is remembered: a new visit is Russian too.
	b.do(t,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="ru"] [data-testid="catalogue"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="service-card"] [data-testid="service-name"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="service-title"]`)),
	)
	title := b.text(t, `[data-testid="service-title"]`)
	price := b.text(t, `[data-testid="service-price"]`)
	if title != "Генеральная уборка квартиры" || !strings.Contains(price, "сум") {
		t.Errorf("service page: %q %q", title, price)
	}
	b.checkNoProblems(t)
}

// htmx (vendored, under the CSP) loads the next page of the catalogue in
// place, on a phone-sized screen.
func TestShowMoreLoadsInPlace(t *testing.T) {
	base := startApp(t).base
	b := newBrowser(t, 390, 844)
	b.do(t,
		chromedp.Navigate(base+"/services?limit=2"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="more-services"]`)),
		htmxReady,
	)
	before := get(t, b, chromedp.Evaluate[int](`window.stayed = "yes"; `+cardCount))
	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="more-services"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-testid="more-services"]`)),
	)
	after := get(t, b, chromedp.Evaluate[int](cardCount))
	marker := get(t, b, chromedp.Evaluate[string](`window.stayed || "reloaded"`))
	if before != 2 || after != len(demo.Catalogue) || marker != "yes" {
		t.Errorf("cards %d → %d, page %s; want 2 → %d without a reload", before, after, marker, len(demo.Catalogue))
	}
	b.screenshot(t, "services-phone")
	b.checkNoProblems(t)
}

// A customer signs up, opens the link from the email, signs in, sees their
// name in the header, and signs out.
func TestSignupVerifyLoginLogout(t *testing.T) {
	s := startApp(t)
	b := newBrowser(t, 1280, 900)
	b.do(t,
		chromedp.Navigate(s.base+"/"),
		chromedp.Click(chromedp.CSS(`[data-testid="nav-signup"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signup-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-username`), "gulnora"),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), "gulnora@example.uz"),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "123456"),
		chromedp.Click(chromedp.CSS(`[data-testid="signup-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-password"]`)),
	)
	if v := get(t, b, chromedp.Evaluate[string](`document.querySelector('#f-email').value`)); v != "gulnora@example.uz" {
		t.Errorf("the form lost the email: %q", v)
	}
	b.do(t,
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "Toza-Uy-2026!"),
		chromedp.Click(chromedp.CSS(`[data-testid="signup-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="check-email"]`)),
	)
	if !strings.Contains(b.text(t, `[data-testid="check-email"]`), "gulnora@example.uz") {
		t.Error("the check-your-email page does not name the address")
	}

	msg := s.smtp.WaitFor("gulnora@example.uz", 15*time.Second)
	var link string
	for _, l := range msg.Links() {
		if strings.Contains(l, "/auth/verify?token=") {
			link = l
		}
	}
	if !strings.HasPrefix(link, s.base+"/auth/verify?token=") {
		t.Fatalf("verification link %q", link)
	}
	// Opened in the browser that signed up, the link signs in (#19 item 10).
	b.do(t, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-menu"]`)))
	b.logout(t)

	b.do(t,
		chromedp.Navigate(s.base+"/auth/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), "gulnora@example.uz"),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "Toza-Uy-2026!"),
		chromedp.Click(chromedp.CSS(`[data-testid="login-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav-username"]`)),
	)
	if name := b.text(t, `[data-testid="nav-username"]`); name != "gulnora" {
		t.Errorf("header shows %q", name)
	}
	if flash := b.text(t, `[data-testid="flash"]`); !strings.Contains(flash, "Xush kelibsiz") {
		t.Errorf("flash %q", flash)
	}
	b.screenshot(t, "signed-in")
	b.do(t, chromedp.Navigate(s.base+"/me"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="profile-form"]`)))
	b.screenshot(t, "profile")

	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="user-menu"] summary`)),
		chromedp.Click(chromedp.CSS(`[data-testid="nav-logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav-login"]`)),
	)
	// Signed out for real: the profile sends to the login page.
	b.do(t, chromedp.Navigate(s.base+"/me"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)))
	b.checkNoProblems(t)
}

// createUser puts an account straight into the store, as create-admin does.
func (s *site) createUser(t *testing.T, username, email, password, role string) *store.User {
	t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{Username: username, Email: email, PasswordHash: hash, Role: role, IsVerified: true, Locale: "uz"}
	if err := store.NewUserStore(s.db).Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func (b *browser) login(t *testing.T, base, email, password string) {
	t.Helper()
	b.do(t,
		chromedp.Navigate(base+"/auth/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), password),
		chromedp.Click(chromedp.CSS(`[data-testid="login-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-menu"]`)), // the name itself hides on a phone
	)
}

// An admin works with htmx forms (the CSRF token travels in hx-headers):
// promotes a user in place, adds a service, and edits it with a mistake
// first.
func TestAdminManagesUsersAndServices(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "boss", "boss@tozalash.uz", "boshliq-parol-2026", store.RoleAdmin)
	worker := s.createUser(t, "ishchi", "ishchi@tozalash.uz", "ishchi-parol-2026", store.RoleUser)
	b := newBrowser(t, 1280, 900)
	b.login(t, s.base, "boss@tozalash.uz", "boshliq-parol-2026")

	b.do(t,
		chromedp.Navigate(s.base+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-row"]`)),
		htmxReady,
		chromedp.SendKeys(chromedp.CSS(`[data-testid="users-search"]`), "ishchi"),
		chromedp.Sleep(600*time.Millisecond),
	)
	if rows := get(t, b, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="user-row"]').length`)); rows != 1 {
		t.Errorf("search shows %d rows", rows)
	}
	b.screenshot(t, "users")
	b.do(t,
		chromedp.Navigate(s.base+"/users/"+worker.ID.Hex()),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-form"]`)),
		htmxReady,
		chromedp.SetValue(chromedp.CSS(`[data-testid="field-role"]`), "ADMIN"),
		chromedp.Click(chromedp.CSS(`[data-testid="user-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="form-notice"]`)),
	)
	u, err := store.NewUserStore(s.db).Get(context.Background(), worker.ID)
	if err != nil || u.Role != store.RoleAdmin {
		t.Errorf("role after the form: %v %v", u, err)
	}

	b.do(t,
		chromedp.Navigate(s.base+"/services"),
		chromedp.Click(chromedp.CSS(`[data-testid="service-new"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="service-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name_uz`), "Oshxona tozalash"),
		chromedp.SendKeys(chromedp.CSS(`#f-description_uz`), "Plita, shkaflar va kafel"),
		chromedp.SendKeys(chromedp.CSS(`#f-pricing_base`), "200000"),
		chromedp.Click(chromedp.CSS(`[data-testid="service-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="service-admin"]`)),
	)
	if title := b.text(t, `[data-testid="service-title"]`); title != "Oshxona tozalash" {
		t.Errorf("new service page shows %q", title)
	}
	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="service-admin"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="service-form"]`)),
		htmxReady,
		chromedp.SetValue(chromedp.CSS(`#f-name_uz`), "O"),
		chromedp.Click(chromedp.CSS(`[data-testid="service-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-name_uz"]`)),
		htmxSettled,
		chromedp.SetValue(chromedp.CSS(`#f-name_uz`), "Oshxonani tozalash"),
		chromedp.Click(chromedp.CSS(`[data-testid="service-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	if title := b.text(t, `[data-testid="service-title"]`); title != "Oshxonani tozalash" {
		t.Errorf("edited service page shows %q", title)
	}
	b.checkNoProblems(t)
}

// totpCode is the test's own RFC 6238 code (HMAC-SHA1, 6 digits, 30 s) of a
// base32 secret, read from the page as a person would type it into an app.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimSpace(secret))
	if err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}

func (b *browser) logout(t *testing.T) {
	t.Helper()
	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="user-menu"] summary`)),
		chromedp.Click(chromedp.CSS(`[data-testid="nav-logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav-login"]`)),
	)
}

func (b *browser) passwordStep(t *testing.T, base, email, password string) {
	t.Helper()
	b.do(t,
		chromedp.Navigate(base+"/auth/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), password),
		chromedp.Click(chromedp.CSS(`[data-testid="login-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-2fa-form"]`)),
	)
}

func (b *browser) codeStep(t *testing.T, code string) {
	t.Helper()
	b.do(t,
		chromedp.SendKeys(chromedp.CSS(`#f-code`), code),
		chromedp.Click(chromedp.CSS(`[data-testid="login-2fa-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav-username"]`)),
	)
}

// A customer turns on 2FA from the QR page (reading the secret and
// computing the code), signs in with a code and with a recovery code, then
// forgets the password and sets a new one from the emailed link: 2FA stays.
func TestTwoFactorAndPasswordReset(t *testing.T) {
	s := startApp(t)
	sevara := s.createUser(t, "sevara", "sevara@example.uz", "toza-uy-2026", store.RoleUser)
	b := newBrowser(t, 1280, 900)
	b.login(t, s.base, "sevara@example.uz", "toza-uy-2026")
	if left := 30 - time.Now().Unix()%30; left < 12 {
		time.Sleep(time.Duration(left)*time.Second + 200*time.Millisecond)
	}
	b.do(t,
		chromedp.Navigate(s.base+"/me"),
		chromedp.Click(chromedp.CSS(`[data-testid="tfa-setup"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="totp-qr"]`)),
	)
	secret := b.text(t, `[data-testid="totp-secret"]`)
	b.screenshot(t, "2fa-setup")
	now := time.Now()
	b.do(t,
		chromedp.SendKeys(chromedp.CSS(`#f-code`), totpCode(t, secret, now)),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "toza-uy-2026"),
		chromedp.Click(chromedp.CSS(`[data-testid="totp-enable"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="recovery-codes"]`)),
	)
	codes := get(t, b, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="recovery-code"]')].map(e => e.textContent)`))
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown", len(codes))
	}
	if href := get(t, b, chromedp.AttributeValue(chromedp.CSS(`[data-testid="recovery-download"]`), "href")).Value; !strings.HasPrefix(href, "data:text/plain") || !strings.Contains(href, codes[0]) {
		t.Errorf("download link %q", href)
	}

	b.logout(t)
	b.passwordStep(t, s.base, "sevara@example.uz", "toza-uy-2026")
	b.codeStep(t, totpCode(t, secret, now.Add(30*time.Second)))
	b.logout(t)
	b.passwordStep(t, s.base, "sevara@example.uz", "toza-uy-2026")
	b.codeStep(t, codes[0])
	b.logout(t)

	b.do(t,
		chromedp.Navigate(s.base+"/auth/login"),
		chromedp.Click(chromedp.CSS(`[data-testid="forgot-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="forgot-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), "sevara@example.uz"),
		chromedp.Click(chromedp.CSS(`[data-testid="forgot-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="forgot-sent"]`)),
	)
	msg := s.smtp.WaitForText("sevara@example.uz", "/auth/password/reset?token=", 15*time.Second)
	var link string
	for _, l := range msg.Links() {
		if strings.Contains(l, "/auth/password/reset?token=") {
			link = l
		}
	}
	b.do(t,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="reset-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "Yangi-Parol-2026"),
		chromedp.Click(chromedp.CSS(`[data-testid="reset-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
	)
	if flash := b.text(t, `[data-testid="flash"]`); !strings.Contains(flash, "Parol o‘zgartirildi") {
		t.Errorf("flash after the reset: %q", flash)
	}
	b.passwordStep(t, s.base, "sevara@example.uz", "Yangi-Parol-2026")
	b.codeStep(t, codes[1])
	b.checkNoProblems(t)

	// She loses the phone and the codes: an admin clears her second factor
	// from her page (after the confirmation), and the password alone lets
	// her in again.
	s.createUser(t, "boss", "boss@tozalash.uz", "boshliq-parol-2026", store.RoleAdmin)
	admin := newBrowser(t, 1280, 900)
	admin.login(t, s.base, "boss@tozalash.uz", "boshliq-parol-2026")
	admin.do(t,
		chromedp.Navigate(s.base+"/users/"+sevara.ID.Hex()),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-2fa-on"]`)),
		htmxReady,
		chromedp.Click(chromedp.CSS(`[data-testid="user-2fa-clear"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-2fa-off"]`)),
	)
	admin.checkNoProblems(t)
	b.login(t, s.base, "sevara@example.uz", "Yangi-Parol-2026")
	s.smtp.WaitForText("sevara@example.uz", "Administrator hisobingizdagi ikki bosqichli kirishni o‘chirdi", 15*time.Second)
}

// A customer books from the service page, sees it PENDING and cancels it;
// an admin steps another order to COMPLETED from the board, and the
// customer sees COMPLETED with the timeline.
func TestBookingCancelAndAdminBoard(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "boss", "boss@tozalash.uz", "boshliq-parol-2026", store.RoleAdmin)
	s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
	tomorrow := time.Now().In(time.FixedZone("UZT", 5*3600)).AddDate(0, 0, 1).Format("2006-01-02")

	customer := newBrowser(t, 390, 844)
	customer.login(t, s.base, "madina@example.uz", "toza-uy-2026")
	book := func(address string, viaButton bool) string {
		if viaButton { // the "Book" button swaps the form into the service page
			customer.do(t,
				chromedp.Navigate(s.base+"/services"),
				chromedp.Click(chromedp.CSS(`[data-testid="service-card"] [data-testid="service-name"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="book"]`)),
				htmxReady,
				chromedp.Click(chromedp.CSS(`[data-testid="book"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="booking-form"]`)),
				htmxSettled,
			)
		} else {
			customer.do(t,
				chromedp.Navigate(s.base+"/services"),
				chromedp.Click(chromedp.CSS(`[data-testid="service-card"] [data-testid="service-name"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="book"]`)),
			)
			href := get(t, customer, chromedp.AttributeValue(chromedp.CSS(`[data-testid="book"]`), "href")).Value
			customer.do(t, chromedp.Navigate(s.base+href), chromedp.WaitVisible(chromedp.CSS(`[data-testid="booking-form"]`)), htmxReady)
		}
		customer.do(t,
			pickSlot(tomorrow, "10:30"),
			chromedp.SendKeys(chromedp.CSS(`#f-address`), address),
			chromedp.SendKeys(chromedp.CSS(`#f-phone`), "90 123 45 67"),
			chromedp.Click(chromedp.CSS(`[data-testid="booking-submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="order-detail"]`)),
		)
		return get(t, customer, chromedp.Evaluate[string](`location.pathname`))
	}
	first := book("Chilonzor 9-kvartal, 12-uy", true)
	if st := customer.text(t, `[data-testid="order-detail"] [data-testid="status"]`); st != "Kutilmoqda" {
		t.Errorf("new order status %q", st)
	}
	customer.do(t,
		htmxReady,
		chromedp.SendKeys(chromedp.CSS(`#f-reason`), "Mehmonlar keladi"),
		chromedp.Click(chromedp.CSS(`[data-testid="cancel-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="timeline-reason"]`)),
	)
	if st := customer.text(t, `[data-testid="order-detail"] [data-testid="status"]`); st != "Bekor qilindi" {
		t.Errorf("after cancelling: %q", st)
	}
	customer.screenshot(t, "order-phone")
	second := book("Yunusobod 4-mavze, 7-uy", false)

	admin := newBrowser(t, 1280, 900)
	admin.login(t, s.base, "boss@tozalash.uz", "boshliq-parol-2026")
	stat := func(name string) string { return admin.text(t, `[data-testid="stats-`+name+`"]`) }
	admin.do(t, chromedp.Navigate(s.base+"/admin"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="dashboard"]`)))
	if o, p, c, x := stat("orders"), stat("status-PENDING"), stat("status-COMPLETED"), stat("status-CANCELLED"); o != "2" || p != "1" || c != "0" || x != "1" {
		t.Errorf("dashboard before: orders %s pending %s completed %s cancelled %s", o, p, c, x)
	}
	s.clock.advance(3 * 24 * time.Hour) // the visit has started: the board offers "Complete"
	admin.do(t,
		chromedp.Navigate(s.base+"/orders?status=PENDING"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="board-row"]`)),
		htmxReady,
	)
	if n := admin.text(t, `[data-testid="count-PENDING"]`); n != "1" {
		t.Errorf("pending tab counts %q", n)
	}
	admin.screenshot(t, "board")
	// The row steps the visit along its path, each step in place.
	for _, step := range []string{"CONFIRMED", "ON_THE_WAY", "IN_PROGRESS", "COMPLETED"} {
		admin.do(t,
			chromedp.Click(chromedp.CSS(`[data-testid="row-step-`+step+`"]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`[data-testid="row-step-`+step+`"]`)),
			htmxSettled,
		)
	}
	if st := admin.text(t, `[data-testid="board-row"] [data-testid="status"]`); st != "Bajarildi" {
		t.Errorf("board row after completing: %q", st)
	}
	admin.do(t, chromedp.Navigate(s.base+"/admin"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="dashboard"]`)), htmxReady)
	if c, p, r := stat("status-COMPLETED"), stat("status-PENDING"), stat("revenue"); c != "1" || p != "0" || !strings.Contains(r, "so‘m") || strings.HasPrefix(r, "0") {
		t.Errorf("dashboard after completing: completed %s pending %s revenue %q", c, p, r)
	}
	if n := get(t, admin, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="stats-day"] title').length`)); n != 30 {
		t.Errorf("the day chart has %d bars with a title", n)
	}
	admin.screenshot(t, "dashboard")
	// The 30-second refresh swaps the dashboard in place, without a reload.
	get(t, admin, chromedp.Evaluate[bool](`window.stillHere = true; document.querySelector('[data-testid="stats-orders"]').textContent = "?"; htmx.ajax('GET', '/admin/statistics', {target: '#dashboard', swap: 'outerHTML'}); true`))
	deadline := time.Now().Add(5 * time.Second)
	for stat("orders") != "2" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if o := stat("orders"); o != "2" || !get(t, admin, chromedp.Evaluate[bool](`window.stillHere === true`)) {
		t.Errorf("after the refresh: orders %q, same page %v", o, get(t, admin, chromedp.Evaluate[bool](`window.stillHere === true`)))
	}

	customer.do(t, chromedp.Navigate(s.base+second), chromedp.WaitVisible(chromedp.CSS(`[data-testid="timeline"]`)))
	if st := customer.text(t, `[data-testid="order-detail"] [data-testid="status"]`); st != "Bajarildi" {
		t.Errorf("the customer sees %q", st)
	}
	if n := get(t, customer, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="timeline-entry"]').length`)); n != 5 {
		t.Errorf("timeline has %d entries", n)
	}
	customer.do(t, chromedp.Navigate(s.base+"/orders"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="my-orders"]`)))
	if n := get(t, customer, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="order-item"]').length`)); n != 2 {
		t.Errorf("my orders shows %d", n)
	}
	_ = first
	s.smtp.WaitForText("madina@example.uz", "Mehmonlar keladi", 10*time.Second)
	customer.checkNoProblems(t)
	admin.checkNoProblems(t)
}

// poll waits until js is true in the page, or fails with what it shows.
func (b *browser) poll(t *testing.T, js string) {
	t.Helper()
	b.do(t, chromedp.Poll[chromedp.Void](js))
}

func TestChatBetweenCustomerAndSupport(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "boss", "boss@tozalash.uz", "boshliq-parol-2026", store.RoleAdmin)
	s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
	badge := `document.querySelector('[data-testid="chat-badge"]')`

	customer := newBrowser(t, 390, 844)
	customer.login(t, s.base, "madina@example.uz", "toza-uy-2026")
	customer.do(t,
		chromedp.Navigate(s.base+"/services"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="chat-open"]`)),
		htmxReady,
		chromedp.Click(chromedp.CSS(`[data-testid="chat-open"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="chat-start-support"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="chat-start-support"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="chat-text"]`)),
		htmxSettled,
		chromedp.SendKeys(chromedp.CSS(`[data-testid="chat-text"]`), "Salom! Gilamni qachon olib ketasiz? <script>alert(1)</script>"),
		chromedp.Click(chromedp.CSS(`[data-testid="chat-send"]`)),
	)
	customer.poll(t, `document.querySelectorAll('#chat-log [data-testid="chat-message"]').length === 1`)
	customer.poll(t, `document.getElementById('chat-text').value === ""`) // emptied once the server acknowledged it

	admin := newBrowser(t, 1280, 900)
	admin.login(t, s.base, "boss@tozalash.uz", "boshliq-parol-2026")
	admin.do(t, chromedp.Navigate(s.base+"/orders"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="chat-open"]`)), htmxReady)
	admin.poll(t, badge+`.textContent === "1" && !`+badge+`.classList.contains("hidden")`)
	admin.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="chat-open"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="chat-conversation"]`)),
	)
	if title := admin.text(t, `[data-testid="chat-conversation"]`); !strings.Contains(title, "madina") || !strings.Contains(title, "Gilamni") {
		t.Errorf("support's list shows %q", title)
	}
	admin.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="chat-conversation"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#chat-log [data-testid="chat-message"]`)),
		htmxSettled,
	)
	if body := admin.text(t, `#chat-log [data-testid="chat-body"]`); body != "Salom! Gilamni qachon olib ketasiz? <script>alert(1)</script>" {
		t.Errorf("support reads %q", body)
	}
	admin.poll(t, badge+`.classList.contains("hidden")`) // read now
	admin.do(t,
		chromedp.SendKeys(chromedp.CSS(`[data-testid="chat-text"]`), "Ertaga soat 10 da."),
		chromedp.Click(chromedp.CSS(`[data-testid="chat-send"]`)),
	)
	// The customer sees the answer at once, in the open conversation.
	customer.poll(t, `document.querySelectorAll('#chat-log [data-testid="chat-message"]').length === 2`)
	if who := customer.text(t, `#chat-log [data-testid="chat-sender"]`); who != "Tozalash" { // support, not the admin's username
		t.Errorf("the answer is from %q", who)
	}
	customer.screenshot(t, "chat-phone")
	// Back to the list: the next answer raises the badge and the count.
	customer.do(t, chromedp.Click(chromedp.CSS(`[data-testid="chat-back"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="chat-inbox"]`)), htmxSettled)
	admin.do(t,
		chromedp.SendKeys(chromedp.CSS(`[data-testid="chat-text"]`), "Manzilni ham yozing."),
		chromedp.Click(chromedp.CSS(`[data-testid="chat-send"]`)),
	)
	customer.poll(t, badge+`.textContent === "1"`)
	customer.poll(t, `(document.querySelector('[data-testid="chat-unread"]') || {}).textContent === "1"`)
	admin.screenshot(t, "chat-support")
	customer.checkNoProblems(t)
	admin.checkNoProblems(t)
}
