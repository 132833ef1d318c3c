package handlers

import (
	"strings"
	"testing"

	"tozalash/store/storetest"
)

// Every HTML answer carries the security headers, whoever asks and however
// it ends; whatever a signed-in user gets is never cached; HSTS is sent
// when the site is served over https.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o := f.book(t, f.alice, "h-1")
	html := func(token string) map[string]string {
		h := map[string]string{"Accept": "text/html"}
		if token != "" {
			h["Authorization"] = "Bearer " + token
		}
		return h
	}
	htmx := html(f.alice)
	htmx["HX-Request"] = "true"
	cases := []struct {
		name     string
		req      request
		status   int
		html     bool
		signedIn bool
	}{
		{"home, anonymous", request{path: "/", headers: html("")}, 200, true, false},
		{"login page", request{path: "/auth/login", headers: html("")}, 200, true, false},
		{"a page that does not exist", request{path: "/no-such-page", headers: html("")}, 404, true, false},
		{"My orders", request{path: "/orders", headers: html(f.alice)}, 200, true, true},
		{"order page", request{path: "/orders/" + o.ID.Hex(), headers: html(f.alice)}, 200, true, true},
		{"another's order", request{path: "/orders/" + o.ID.Hex(), headers: html(f.bob)}, 404, true, true},
		{"an htmx fragment", request{path: "/orders", headers: htmx}, 200, true, true},
		{"statistics page", request{path: "/admin/statistics", headers: html(f.admin)}, 200, true, true},
		{"profile as JSON", request{path: "/me", headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.alice}}, 200, false, true},
		{"an admin page for a customer", request{path: "/admin/statistics", headers: html(f.alice)}, 403, true, true},
	}
	for _, c := range cases {
		r := a.do(c.req)
		if r.status != c.status {
			t.Errorf("%s: %d, want %d", c.name, r.status, c.status)
		}
		if c.html && !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: Content-Type %q", c.name, r.header.Get("Content-Type"))
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", c.name, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", c.name, csp)
		}
		for header, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "strict-origin-when-cross-origin",
			"Permissions-Policy":     "camera=()",
			"X-Frame-Options":        "DENY",
		} {
			if !strings.Contains(r.header.Get(header), want) {
				t.Errorf("%s: %s = %q, want %q in it", c.name, header, r.header.Get(header), want)
			}
		}
		if c.signedIn && r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q for a signed-in answer", c.name, r.header.Get("Cache-Control"))
		}
		if hsts := r.header.Get("Strict-Transport-Security"); hsts != "" {
			t.Errorf("%s: HSTS %q on a site served over http", c.name, hsts)
		}
	}

	secure := newTestAppWith(t, storetest.Open(t), Config{BaseURL: "https://tozalash.uz", HTTPS: true})
	for _, path := range []string{"/", "/auth/login", "/no-such-page"} {
		if hsts := secure.do(request{path: path}).header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=63072000") {
			t.Errorf("https, %s: HSTS %q", path, hsts)
		}
	}
}
