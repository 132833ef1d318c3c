package handlers

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"tozalash/auth"
	"tozalash/demo"
	"tozalash/mail"
	"tozalash/mail/mailtest"
	"tozalash/store"
	"tozalash/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// testApp is the real app on a fresh database with the demo catalogue, its
// mail worker sending to a real SMTP server of the test.
type testApp struct {
	t    testing.TB
	app  *fiber.App
	h    *Handler
	db   *store.DB
	smtp *mailtest.Server
	base string // set by listen
}

// testJWTKey signs the test apps' tokens.
var testJWTKey = []byte("test-key-test-key-test-key-test-key!")

func newTestApp(t testing.TB) *testApp {
	t.Helper()
	db := storetest.Open(t)
	if _, err := demo.Seed(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return newTestAppOn(t, db)
}

func newTestAppOn(t testing.TB, db *store.DB) *testApp {
	t.Helper()
	return newTestAppWith(t, db, Config{})
}

// newTestAppWith starts the app with cfg (defaults filled in) and a mail
// worker that retries fast, sending to an SMTP server of its own.
func newTestAppWith(t testing.TB, db *store.DB, cfg Config) *testApp {
	t.Helper()
	return newTestAppMailing(t, db, cfg, mailtest.Start(t))
}

// secondInstance starts another instance of a's deployment: its own
// connection to a's database, and a's SMTP server, since the instances
// behind one load balancer share one relay: whichever instance's worker
// sends an email, the test finds it there.
func secondInstance(t testing.TB, a *testApp, cfg Config) *testApp {
	t.Helper()
	return newTestAppMailing(t, storetest.OpenNamed(t, a.db.Name()), cfg, a.smtp)
}

// newTestAppMailing is newTestAppWith sending to smtpServer.
func newTestAppMailing(t testing.TB, db *store.DB, cfg Config, smtpServer *mailtest.Server) *testApp {
	t.Helper()
	// Three crews doing every service, 08:00–20:00 every day, so that a
	// booking of any test day finds one.
	if _, err := demo.SeedCrews(context.Background(), db, demo.EveryDay("08:00", "20:00")); err != nil {
		t.Fatal(err)
	}
	channels := &mail.Channels{Email: mail.NewSMTP(smtpServer.Host, smtpServer.Port, "", "", "Tozalash <no-reply@localhost>")}
	worker := mail.NewWorker(store.NewOutboxStore(db), channels, slog.New(slog.DiscardHandler))
	worker.Poll = 50 * time.Millisecond
	worker.Backoff = func(int) time.Duration { return 100 * time.Millisecond }

	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://localhost:3000"
	}
	if cfg.JWTSecret == nil {
		cfg.JWTSecret = testJWTKey
	}
	if cfg.AuthRateLimit == 0 {
		cfg.AuthRateLimit = 10_000
	}
	cfg.EmailQueued = worker.Wake
	if cfg.Hasher == nil {
		// The tests that flood logins on purpose (and every test, on a slow
		// or raced machine) mean to queue, not to meet the 1 s budget.
		cfg.Hasher = auth.NewHasher(0, auth.WithBudget(time.Minute))
	}
	// cfg.AuthCacheTTL stays zero: the default, as in production; the tests
	// show it never serves a stale session.
	app, h, err := newApp(db, cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		h.Register(worker.Collectors()...)
	}
	if err != nil {
		t.Fatal(err)
	}
	worker.Relink = h.Relink
	channels.Telegram = h.TelegramSender() // as main does
	workerCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); worker.Run(workerCtx) }()
	t.Cleanup(func() { stop(); <-done })
	// As main does: the instance keeps itself registered, and relays.
	relayCtx, stopRelay := context.WithCancel(context.Background())
	relayed := make(chan struct{}, 2)
	go func() { defer func() { relayed <- struct{}{} }(); h.RunRelay(relayCtx) }()
	go func() { defer func() { relayed <- struct{}{} }(); db.Maintain(relayCtx, 2*time.Second) }()
	t.Cleanup(func() { stopRelay(); <-relayed; <-relayed })
	return &testApp{t: t, app: app, h: h, db: db, smtp: smtpServer}
}

// listen serves the app on a free loopback port until the test ends and
// returns its base URL.
func (a *testApp) listen() string {
	a.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.t.Fatal(err)
	}
	go func() { _ = a.app.Listener(ln) }()
	a.t.Cleanup(func() { _ = a.app.ShutdownWithTimeout(5 * time.Second) })
	a.base = "http://" + ln.Addr().String()
	return a.base
}

// request is one HTTP exchange of a scenario.
type request struct {
	method, path string
	body         string
	contentType  string
	headers      map[string]string
}

type response struct {
	status int
	header http.Header
	body   string
}

func (a *testApp) do(r request) response {
	a.t.Helper()
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequest(method, r.path, body)
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	res, err := a.app.Test(req, 30_000)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, r.path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// json decodes the response body into v.
func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.body)
	}
}

// scenario is one row of a route table: what is sent, and what a client
// sees afterwards.
type scenario struct {
	name        string
	req         request
	status      int
	contains    []string
	notContains []string
	header      map[string]string // header → substring expected
	after       func(t *testing.T, a *testApp)
}

func runScenarios(t *testing.T, a *testApp, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			res := a.do(sc.req)
			if res.status != sc.status {
				t.Errorf("status = %d, want %d\n%s", res.status, sc.status, clip(res.body))
			}
			for _, s := range sc.contains {
				if !strings.Contains(res.body, s) {
					t.Errorf("body lacks %q\n%s", s, clip(res.body))
				}
			}
			for _, s := range sc.notContains {
				if strings.Contains(res.body, s) {
					t.Errorf("body has %q\n%s", s, clip(res.body))
				}
			}
			for k, v := range sc.header {
				if got := strings.Join(res.header.Values(k), "\n"); !strings.Contains(got, v) {
					t.Errorf("header %s = %q, want it to contain %q", k, got, v)
				}
			}
			if sc.after != nil {
				sc.after(t, a)
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

var (
	asJSON = map[string]string{"Accept": "application/json"}
	asHTMX = map[string]string{"HX-Request": "true"}
)

func acceptLang(l string) map[string]string { return map[string]string{"Accept-Language": l} }

// csrfToken gets a CSRF cookie and its token the way a browser does: the
// cookie from a page's Set-Cookie, the token from the page.
func (a *testApp) csrfToken() (cookie, token string) {
	a.t.Helper()
	res := a.do(request{path: "/auth/login"})
	for _, c := range res.header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(c, csrfCookie+"="); ok {
			cookie = strings.SplitN(v, ";", 2)[0]
		}
	}
	token = pageCSRFToken(res.body)
	if cookie == "" || token == "" {
		a.t.Fatal("no CSRF cookie or token on a page")
	}
	return cookie, token
}

// withCSRF adds a CSRF token (cookie and header) to headers.
func (a *testApp) withCSRF(headers map[string]string) map[string]string {
	cookie, tok := a.csrfToken()
	out := map[string]string{"X-Csrf-Token": tok, "Cookie": csrfCookie + "=" + cookie}
	for k, v := range headers {
		if k == "Cookie" {
			v = out["Cookie"] + "; " + v
		}
		out[k] = v
	}
	return out
}
