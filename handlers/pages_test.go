package handlers

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"tozalash/demo"

	"tozalash/static"
	"tozalash/store"
)

func TestPages(t *testing.T) {
	a := newTestApp(t)
	css := static.Assets()["css/app.css"]
	runScenarios(t, a, []scenario{
		{
			name:   "home page in Uzbek without a cookie or Accept-Language",
			req:    request{path: "/"},
			status: 200,
			contains: []string{`<html lang="uz"`, "Uyingiz toza — vaqtingiz o‘zingizga", "Bizning xizmatlar",
				"Kvartirani umumiy tozalash", "Gilam yuvish", "Deraza yuvish", "Ofisni tozalash", "Ta’mirdan keyingi tozalash",
				`href="/lang/ru?next=%2F"`, `href="/lang/en?next=%2F"`, static.URL("css/app.css")},
		},
		{
			name:        "home page in Russian from Accept-Language",
			req:         request{path: "/", headers: acceptLang("ru")},
			status:      200,
			contains:    []string{`<html lang="ru"`, "Чистый дом — свободное время для вас", "Наши услуги", "Стирка ковров", "Мойка окон"},
			notContains: []string{"Bizning xizmatlar", "Our services"},
		},
		{
			name:     "home page in English from Accept-Language",
			req:      request{path: "/", headers: acceptLang("en-GB,en;q=0.8")},
			status:   200,
			contains: []string{`<html lang="en"`, "Our services", "Carpet washing"},
		},
		{
			name:     "the lang cookie wins over Accept-Language",
			req:      request{path: "/", headers: map[string]string{"Cookie": "lang=ru", "Accept-Language": "en"}},
			status:   200,
			contains: []string{`<html lang="ru"`},
		},
		{
			name:     "an unknown lang cookie falls back to Accept-Language, then Uzbek",
			req:      request{path: "/", headers: map[string]string{"Cookie": "lang=de", "Accept-Language": "de, fr"}},
			status:   200,
			contains: []string{`<html lang="uz"`},
		},
		{
			name:   "security headers on a page",
			req:    request{path: "/"},
			status: 200,
			header: map[string]string{
				"Content-Security-Policy": "script-src 'self';",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "strict-origin-when-cross-origin",
				"X-Request-Id":            "-",
			},
			after: func(t *testing.T, a *testApp) {
				res := a.do(request{path: "/"})
				csp := res.header.Get("Content-Security-Policy")
				for _, want := range []string{"frame-ancestors 'none'", "default-src 'self'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("CSP %q lacks %q", csp, want)
					}
				}
				if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
					t.Errorf("CSP allows inline code: %q", csp)
				}
				if strings.Contains(res.body, "<script>") || strings.Contains(res.body, " style=") {
					t.Error("the page has inline script or style, which the CSP blocks")
				}
			},
		},
		{
			name:   "switching language sets the cookie and returns to the page",
			req:    request{path: "/lang/ru?next=%2Fservices%3Flimit%3D2"},
			status: 303,
			header: map[string]string{"Location": "/services?limit=2", "Set-Cookie": "lang=ru"},
		},
		{
			name:   "the switch never redirects off the site",
			req:    request{path: "/lang/en?next=%2F%2Fevil.example%2F"},
			status: 303,
			header: map[string]string{"Location": "/", "Set-Cookie": "lang=en"},
			after: func(t *testing.T, a *testApp) {
				for _, next := range []string{"https://evil.example/", "/\\evil.example", "javascript:alert(1)", "evil"} {
					res := a.do(request{path: "/lang/en?next=" + urlEscape(next)})
					if loc := res.header.Get("Location"); loc != "/" {
						t.Errorf("next=%q redirected to %q", next, loc)
					}
				}
			},
		},
		{
			name:   "an unknown language is 404",
			req:    request{path: "/lang/de"},
			status: 404,
		},
		{
			name:     "an unknown route is a 404 page in the user's language",
			req:      request{path: "/no/such/page", headers: acceptLang("en")},
			status:   404,
			contains: []string{"Page not found", `data-testid="error-page"`, `<html lang="en"`},
		},
		{
			name:     "an unknown route as JSON",
			req:      request{path: "/no/such/page", headers: asJSON},
			status:   404,
			contains: []string{`{"error":{"code":"not_found"`},
		},
		{
			name:        "an htmx request gets the error as a fragment",
			req:         request{path: "/services/zzz", headers: asHTMX},
			status:      400,
			contains:    []string{`data-testid="error-fragment"`},
			notContains: []string{"<html"},
		},
		{
			name:   "a versioned static file is cached for a year",
			req:    request{path: static.URL("css/app.css")},
			status: 200,
			header: map[string]string{"Content-Type": "text/css", "Cache-Control": "immutable", "ETag": css.Version},
			after: func(t *testing.T, a *testApp) {
				if res := a.do(request{path: "/static/css/app.css"}); res.header.Get("Cache-Control") != "public, max-age=300" {
					t.Errorf("unversioned URL cached as %q", res.header.Get("Cache-Control"))
				}
				res := a.do(request{path: static.URL("js/htmx.min.js"), headers: map[string]string{"Accept-Encoding": "gzip"}})
				if res.header.Get("Content-Encoding") != "gzip" || len(res.body) >= len(static.Assets()["js/htmx.min.js"].Body) {
					t.Errorf("htmx not served gzipped: %q, %d bytes", res.header.Get("Content-Encoding"), len(res.body))
				}
				if res := a.do(request{path: "/static/css/app.css", headers: map[string]string{"If-None-Match": `"` + css.Version + `"`}}); res.status != 304 {
					t.Errorf("If-None-Match = %d, want 304", res.status)
				}
			},
		},
		{
			name:   "a missing static file is 404",
			req:    request{path: "/static/css/nope.css"},
			status: 404,
		},
		{
			name:   "no path escapes the static files",
			req:    request{path: "/static/../main.go"},
			status: 404,
		},
	})
}

func TestHealth(t *testing.T) {
	a := newTestApp(t)
	runScenarios(t, a, []scenario{
		{
			name:     "health with the database up",
			req:      request{path: "/health"},
			status:   200,
			contains: []string{`{"status":"ok","checks":{"database":"ok"}}`},
			header:   map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		},
		{
			name:     "liveness",
			req:      request{path: "/health/live"},
			status:   200,
			contains: []string{`"status":"ok"`},
		},
	})
}

// With its database gone, the app says so: /health 503 within the second,
// data routes 503 with Retry-After in a few seconds at most (never a 500),
// liveness still 200, and a login tried meanwhile is not held against the
// account. When the database is back, the same app serves again.
func TestDatabaseDown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	emb, err := store.StartEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(emb.URI)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), store.Options{URI: emb.URI, Database: "down", Timeout: 700 * time.Millisecond})
	if err != nil {
		emb.Stop()
		t.Fatal(err)
	}
	defer func() { db.Close(context.Background()); emb.Stop() }()
	if _, err := demo.Seed(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	a := newTestAppWith(t, db, Config{AuthRateLimit: 3})
	alice, _ := a.signupVerified("alice", "alice@example.uz", "toza-uy-2026")
	svc := demoServices(t, a)[0]
	booking := func(key string) string {
		return `{"serviceId":"` + svc.ID.Hex() + `","scheduledAt":"` + slot(2, 11, 0) + `","address":"Chilonzor 9-kvartal, 12-uy","phone":"+998901234567","idempotencyKey":"` + key + `"}`
	}
	if res := a.do(request{path: "/health"}); res.status != 200 {
		t.Fatalf("health before the outage = %d", res.status)
	}
	emb.Stop()

	start := time.Now()
	res := a.do(request{path: "/health"})
	if res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, `"status":"unavailable"`) || !strings.Contains(res.body, `"database":"unavailable"`) {
		t.Errorf("health = %d %s", res.status, res.body)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("health took %v with the database down", d)
	}
	runScenarios(t, a, []scenario{
		{
			name:     "JSON route answers 503 with Retry-After",
			req:      request{path: "/services", headers: asJSON},
			status:   503,
			contains: []string{`"code":"unavailable"`},
			header:   map[string]string{"Retry-After": "5"},
		},
		{
			name:     "a page answers a friendly 503 in the user's language",
			req:      request{path: "/", headers: acceptLang("ru")},
			status:   503,
			contains: []string{"Сервис временно недоступен"},
		},
		{
			name:   "liveness does not touch the database",
			req:    request{path: "/health/live"},
			status: 200,
		},
	})
	// Writes and logins, as JSON and as pages: 503 within 5 s, never 500.
	for _, r := range []request{
		{method: "POST", path: "/orders", body: booking("down-1"), contentType: "application/json", headers: map[string]string{"Authorization": "Bearer " + alice, "Accept": "application/json"}},
		{method: "POST", path: "/auth/login", body: `{"email":"alice@example.uz","password":"wrong-password-1"}`, contentType: "application/json", headers: asJSON},
		{method: "POST", path: "/auth/signup", body: `{"username":"bobur","email":"bobur@example.uz","password":"toza-uy-2026"}`, contentType: "application/json", headers: asJSON},
		{path: "/me", headers: map[string]string{"Authorization": "Bearer " + alice, "Accept": "application/json"}},
	} {
		began := time.Now()
		res := a.do(r)
		if res.status != 503 || res.header.Get("Retry-After") == "" {
			t.Errorf("%s %s during the outage: %d (Retry-After %q) %s", r.method, r.path, res.status, res.header.Get("Retry-After"), clip(res.body))
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("%s %s took %v", r.method, r.path, d)
		}
	}
	// More wrong logins than the limit allows, all during the outage.
	for i := 0; i < 5; i++ {
		a.do(request{method: "POST", path: "/auth/login", body: `{"email":"alice@example.uz","password":"wrong-password-2"}`, contentType: "application/json", headers: asJSON})
	}

	// The database comes back where it was; the same app serves again.
	back, err := store.StartEmbeddedAt(dir, u.Host, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Stop()
	deadline := time.Now().Add(15 * time.Second)
	for a.do(request{path: "/health"}).status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the app did not find the database again")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := a.do(request{method: "POST", path: "/auth/login", body: `{"email":"alice@example.uz","password":"toza-uy-2026"}`, contentType: "application/json", headers: asJSON}); r.status != 200 {
		t.Errorf("login after the outage (the failed tries during it must not count): %d %s", r.status, clip(r.body))
	}
	if r := a.api(alice).do("POST", "/orders", booking("back-1")); r.status != 201 {
		t.Errorf("booking after the outage: %d %s", r.status, clip(r.body))
	}
	if r := a.do(request{path: "/services", headers: asJSON}); r.status != 200 {
		t.Errorf("the catalogue after the outage: %d", r.status)
	}
}

// A body over the limit is refused over a real connection, before any
// handler runs and before the body is even read.
func TestBodyTooLarge(t *testing.T) {
	a := newTestApp(t)
	base := a.listen()
	for _, accept := range []string{"application/json", "text/html"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /services HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: %s\r\nContent-Length: %d\r\n\r\n{", accept, BodyLimit+1)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		conn.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: status = %d, want 413", accept, res.StatusCode)
		}
		want := `"code":"too_large"`
		if accept == "text/html" {
			want = "So‘rov juda katta"
		}
		if !strings.Contains(string(body), want) {
			t.Errorf("%s: body lacks %q: %s", accept, want, clip(string(body)))
		}
	}
	if res := a.do(request{path: "/health/live"}); res.status != 200 {
		t.Errorf("server after a large body: %d", res.status)
	}
}

func urlEscape(s string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F", ":", "%3A", "\\", "%5C", "?", "%3F", "&", "%26").Replace(s)
}

// The public pages are kept rendered: every visitor still gets their own
// CSRF token in them, and a change to the catalogue shows at once.
func TestKeptPagesCarryEachVisitorsToken(t *testing.T) {
	a := newTestApp(t)
	a.listen()
	one, two := a.browser(), a.browser()
	// A first visit makes no token (nothing kept for a cookieless crawler);
	// a visitor who has one (from the login page) finds it in the page.
	first := one.get("/")
	if one.cookie("/", csrfCookie) != "" || strings.Contains(first.body, csrfMark) {
		t.Errorf("a first visit to the home page made a CSRF token")
	}
	for _, b := range []*browser{one, two} {
		b.get("/auth/login")
		page := b.get("/")
		tok := b.csrf()
		if unmaskCSRF(pageCSRFToken(page.body)) != unmaskCSRF(tok) || strings.Contains(page.body, csrfMark) {
			t.Fatalf("the home page lacks the visitor's token %q", tok)
		}
	}
	if one.cookie("/", csrfCookie) == two.cookie("/", csrfCookie) || unmaskCSRF(one.csrf()) == unmaskCSRF(two.csrf()) {
		t.Fatal("two visitors, one token")
	}
	svc := demoServices(t, a)[0]
	name := "Yangi nom bilan tozalash"
	if _, err := a.h.services.Update(context.Background(), svc.ID, store.ServiceChange{Name: &store.Texts{Uz: name}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/services", "/services/" + svc.ID.Hex()} {
		if r := one.get(path); !strings.Contains(r.body, name) {
			t.Errorf("%s still shows the old name", path)
		}
	}
	// Kept by language: one page a language.
	two.setCookie("/", "lang", "ru")
	if r := two.get("/"); !strings.Contains(r.body, `lang="ru"`) {
		t.Errorf("the Russian visitor got another language")
	}
	if r := one.get("/"); !strings.Contains(r.body, `lang="uz"`) {
		t.Errorf("the Uzbek visitor got another language")
	}
}

// A first visit to a public page gets it gzipped when it asks so: the same
// page in a quarter of the bytes. A page with the visitor's token in it is
// gzipped too, its token masked afresh (#19 item 14).
func TestKeptPagesGoGzipped(t *testing.T) {
	a := newTestApp(t)
	for _, path := range []string{"/", "/services"} {
		plain := a.do(request{path: path})
		zipped := a.do(request{path: path, headers: map[string]string{"Accept-Encoding": "gzip, deflate, br"}})
		if zipped.header.Get("Content-Encoding") != "gzip" || !strings.Contains(zipped.header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("%s: Content-Encoding %q, Vary %q", path, zipped.header.Get("Content-Encoding"), zipped.header.Get("Vary"))
		}
		zr, err := gzip.NewReader(strings.NewReader(zipped.body))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(zr)
		if err != nil || string(body) != plain.body {
			t.Errorf("%s: the gzipped page differs from the plain one (%v)", path, err)
		}
		if 3*len(zipped.body) > len(plain.body) {
			t.Errorf("%s: gzipped %d bytes of %d", path, len(zipped.body), len(plain.body))
		}
	}
	jsonZ := a.do(request{path: "/services", headers: map[string]string{"Accept": "application/json", "Accept-Encoding": "gzip"}})
	if jsonZ.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("GET /services JSON is not gzipped")
	}
	b := a.browser()
	b.get("/auth/login") // now with a CSRF token
	tok := b.csrf()
	r := a.do(request{path: "/", headers: map[string]string{"Accept-Encoding": "gzip", "Cookie": csrfCookie + "=" + b.cookie("/", csrfCookie)}})
	var page []byte
	if zr, err := gzip.NewReader(strings.NewReader(r.body)); err == nil {
		page, _ = io.ReadAll(zr)
	}
	if r.header.Get("Content-Encoding") != "gzip" || unmaskCSRF(pageCSRFToken(string(page))) != unmaskCSRF(tok) {
		t.Errorf("a page with the visitor's token: Content-Encoding %q, token in it: %q", r.header.Get("Content-Encoding"), pageCSRFToken(string(page)))
	}
}
