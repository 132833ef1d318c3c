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

	"tozalash/demo"
	"tozalash/store"
	"tozalash/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// testApp is the real app on a fresh database with the demo catalogue.
type testApp struct {
	t   *testing.T
	app *fiber.App
	h   *Handler
	db  *store.DB
}

func newTestApp(t *testing.T) *testApp {
	t.Helper()
	db := storetest.Open(t)
	if _, err := demo.Seed(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return newTestAppOn(t, db)
}

func newTestAppOn(t *testing.T, db *store.DB) *testApp {
	t.Helper()
	app, h, err := newApp(db, Config{BaseURL: "http://localhost:3000"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return &testApp{t: t, app: app, h: h, db: db}
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
	return "http://" + ln.Addr().String()
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
func (r response) json(t *testing.T, v any) {
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
				if got := res.header.Get(k); !strings.Contains(got, v) {
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
