// Package e2e drives the real app in headless Chromium: real clicks, real
// htmx, real CSP.
package e2e

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tozalash/demo"
	"tozalash/handlers"
	"tozalash/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// startApp serves the real app, on a fresh database with the demo
// catalogue, on a free loopback port.
func startApp(t *testing.T) string {
	t.Helper()
	db := storetest.Open(t)
	if _, err := demo.Seed(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	app, err := handlers.New(db, handlers.Config{BaseURL: "http://127.0.0.1"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	return "http://" + ln.Addr().String()
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
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.problems = append(b.problems, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs steps with a deadline, so a missing element fails the test instead
// of hanging it.
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
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

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	return get(t, b, chromedp.Text(chromedp.CSS(sel)))
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
	img := get(t, b, chromedp.FullScreenshot(80))
	if err := os.MkdirAll("screenshots", 0o755); err == nil {
		_ = os.WriteFile("screenshots/"+name+".jpg", img, 0o644)
	}
}

const cardCount = `document.querySelectorAll('[data-testid="service-card"]').length`

func TestHomePageSwitchesToRussian(t *testing.T) {
	base := startApp(t)
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
	base := startApp(t)
	b := newBrowser(t, 390, 844)
	b.do(t,
		chromedp.Navigate(base+"/services?limit=2"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="more-services"]`)),
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
