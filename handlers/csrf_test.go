package handlers

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"tozalash/auth"
)

// on is the browser, with its cookies, talking to another instance (both
// listen on 127.0.0.1, and cookies do not tell ports apart): a load balancer
// without sticky sessions.
func (b *browser) on(a *testApp) *browser {
	if a.base == "" {
		a.listen()
	}
	other := *b
	other.base = a.base
	return &other
}

// csrfForm is a signup form as a page of app rendered it: its cookie and
// token.
func csrfForm(t *testing.T, app *testApp) (cookie, token string) {
	t.Helper()
	b := app.browser()
	page := b.get("/auth/signup")
	cookie, token = b.cookie("/", csrfCookie), pageCSRFToken(page.body)
	if cookie == "" || token == "" {
		t.Fatalf("the signup page has no CSRF cookie or token: %d", page.status)
	}
	return cookie, token
}

// A form rendered by one instance is posted to another, or to the same
// database after a restart; what is refused writes nothing.
func TestCSRFAcrossInstances(t *testing.T) {
	a := newTestApp(t)
	other := newTestAppOn(t, a.db)
	foreign := newTestAppWith(t, a.db, Config{JWTSecret: []byte("another-key-another-key-another-key!")})
	_, foreignToken := csrfForm(t, a)
	cases := []struct {
		name   string
		post   func(t *testing.T) *testApp // the instance the form goes to, made after the page
		forge  func(cookie, token string) (string, string)
		status int
	}{
		{name: "the instance that rendered it", post: func(*testing.T) *testApp { return a }, status: 201},
		{name: "another instance, same JWT secret", post: func(*testing.T) *testApp { return other }, status: 201},
		{name: "a restart: a new app on the same database and secret", post: func(t *testing.T) *testApp { return newTestAppOn(t, a.db) }, status: 201},
		{name: "an instance with another JWT secret", post: func(*testing.T) *testApp { return foreign }, status: 403},
		{name: "a tampered token", post: func(*testing.T) *testApp { return other },
			forge: func(c, tok string) (string, string) { return c, tamper(tok) }, status: 403},
		{name: "another browser's token", post: func(*testing.T) *testApp { return other },
			forge: func(c, _ string) (string, string) { return c, foreignToken }, status: 403},
		{name: "the token without its cookie", post: func(*testing.T) *testApp { return other },
			forge: func(_, tok string) (string, string) { return "", tok }, status: 403},
		{name: "an empty cookie with its true token", post: func(*testing.T) *testApp { return other },
			forge: func(string, string) (string, string) { return "", a.h.csrf.token("", "") }, status: 403},
		{name: "a made-up cookie with its true token", post: func(*testing.T) *testApp { return other },
			forge: func(string, string) (string, string) { return "x", a.h.csrf.token("x", "") }, status: 403},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cookie, token := csrfForm(t, a)
			if tc.forge != nil {
				cookie, token = tc.forge(cookie, token)
			}
			email := "csrf" + string(rune('a'+i)) + "@example.uz"
			form := url.Values{"username": {"csrf_" + string(rune('a'+i))}, "email": {email}, "password": {"toza-uy-2026"}, csrfField: {token}}
			res := tc.post(t).do(request{method: "POST", path: "/auth/signup", contentType: "application/x-www-form-urlencoded",
				body: form.Encode(), headers: map[string]string{"Cookie": csrfCookie + "=" + cookie}})
			if res.status != tc.status {
				t.Fatalf("signup = %d, want %d\n%s", res.status, tc.status, clip(res.body))
			}
			_, err := a.h.users.GetByEmail(context.Background(), email)
			if written := err == nil; written != (tc.status == 201) {
				t.Errorf("account written: %v (%v)", written, err)
			}
		})
	}
}

func tamper(token string) string {
	last := "A"
	if strings.HasSuffix(token, "A") {
		last = "B"
	}
	return token[:len(token)-1] + last
}

// A GET on another instance keeps the cookie the first one set, so the
// tabs of both work; only a missing or malformed cookie is replaced.
func TestCSRFCookieKeptAcrossInstances(t *testing.T) {
	a := newTestApp(t)
	b := a.browser()
	onA := b.get("/auth/login")
	cookie, token := b.cookie("/", csrfCookie), pageCSRFToken(onA.body)
	onB := b.on(newTestAppOn(t, a.db)).get("/auth/login")
	if set := strings.Join(onB.header.Values("Set-Cookie"), "\n"); strings.Contains(set, csrfCookie+"=") {
		t.Errorf("a GET on the other instance set the CSRF cookie again: %s", set)
	}
	if b.cookie("/", csrfCookie) != cookie || unmaskCSRF(pageCSRFToken(onB.body)) != unmaskCSRF(token) {
		t.Errorf("the other instance's page: cookie %q, token %q; want %q, %q", b.cookie("/", csrfCookie), pageCSRFToken(onB.body), cookie, token)
	}

	b.setCookie("/", csrfCookie, "not-one-of-ours")
	res := b.get("/auth/login")
	if c := b.cookie("/", csrfCookie); c == "not-one-of-ours" || !wellFormedCSRFCookie(c) || pageCSRFToken(res.body) == "" {
		t.Errorf("a malformed cookie was kept: %q", c)
	}
	for _, line := range res.header.Values("Set-Cookie") {
		if strings.HasPrefix(line, csrfCookie+"=") {
			for _, attr := range []string{"HttpOnly", "SameSite=Lax", "path=/"} {
				if !strings.Contains(line, attr) {
					t.Errorf("CSRF cookie lacks %s: %s", attr, line)
				}
			}
		}
	}
}

// The token is bound to the session: the one from before a login is refused
// after it, and the page after carries one that works; so do a password
// change (a new session, its page in the same answer) and a logout.
func TestCSRFTokenFollowsTheSession(t *testing.T) {
	a := newTestApp(t)
	_, u := a.signupVerified("lola", "lola@example.uz", "toza-uy-2026")
	b := a.browser()
	signedOut := pageCSRFToken(b.get("/auth/login").body)
	if r := b.send("POST", "/auth/login", "form", url.Values{"email": {"lola@example.uz"}, "password": {"toza-uy-2026"}, csrfField: {signedOut}}.Encode(), nil); r.status != 303 {
		t.Fatalf("login = %d", r.status)
	}
	patch := func(token, locale string) response {
		return b.send("PATCH", "/me", "form", "form=details&username=lola&email=lola%40example.uz&locale="+locale,
			map[string]string{"HX-Request": "true", "X-Csrf-Token": token})
	}
	locale := func() string {
		got, err := a.h.users.Get(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Locale
	}
	if r := patch(signedOut, "ru"); r.status != 403 || locale() == "ru" {
		t.Errorf("the token from before the login = %d, locale %q", r.status, locale())
	}
	signedIn := pageCSRFToken(b.get("/").body)
	if signedIn == "" || unmaskCSRF(signedIn) == unmaskCSRF(signedOut) {
		t.Fatalf("the page after the login has token %q (before: %q)", signedIn, signedOut)
	}
	if r := patch(signedIn, "ru"); r.status != 200 || locale() != "ru" {
		t.Fatalf("the page's token after the login = %d, locale %q", r.status, locale())
	}

	// A new password starts a new session; the page of its answer (a whole
	// page: htmx swaps forms that carry none) has the new session's token.
	r := b.send("PATCH", "/me", "form", "form=password&currentPassword=toza-uy-2026&password=yangi-parol-2026",
		map[string]string{"X-Csrf-Token": signedIn})
	renewed := pageCSRFToken(r.body)
	if r.status != 200 || renewed == "" || unmaskCSRF(renewed) == unmaskCSRF(signedIn) {
		t.Fatalf("password change = %d, its page's token %q", r.status, renewed)
	}
	if r := patch(signedIn, "en"); r.status != 403 {
		t.Errorf("the old session's token = %d", r.status)
	}
	if r := patch(renewed, "en"); r.status != 200 || locale() != "en" {
		t.Errorf("the new session's token = %d, locale %q", r.status, locale())
	}
	// Changed through htmx, the page is reloaded (its htmx headers hold
	// the old token) and says the password changed; its token works.
	r = b.send("PATCH", "/me", "form", "form=password&currentPassword=yangi-parol-2026&password=toza-uy-2026",
		map[string]string{"X-Csrf-Token": renewed, "HX-Request": "true"})
	if r.status != 200 || r.header.Get("HX-Refresh") != "true" {
		t.Fatalf("password change through htmx = %d, HX-Refresh %q", r.status, r.header.Get("HX-Refresh"))
	}
	reloaded := b.get("/me")
	if !strings.Contains(reloaded.body, a.h.catalog.Locale("en").T("profile.passwordChanged")) {
		t.Errorf("the reloaded page does not say the password changed")
	}
	renewed = pageCSRFToken(reloaded.body)
	if r := patch(renewed, "en"); r.status != 200 {
		t.Errorf("the reloaded page's token = %d", r.status)
	}

	// A logout after a long pause (the access token expired, the page's
	// token was made within the session) still passes; afterwards that
	// token is refused, and the signed-out pages have their own.
	uid, sid, version, err := a.h.tokens.ParseAccess(b.cookie("/", accessCookie))
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := a.h.tokens.IssueAccess(uid, sid, version, time.Now().Add(-auth.AccessTTL-time.Minute))
	b.setCookie("/", accessCookie, expired)
	if r := b.send("POST", "/auth/logout", "form", url.Values{csrfField: {renewed}}.Encode(), nil); r.status != 303 {
		t.Fatalf("logout with the page's token and an expired access token = %d\n%s", r.status, clip(r.body))
	}
	if s, err := a.h.sessions.Get(context.Background(), sid); err == nil && s.Active(time.Now()) {
		t.Error("the session outlived the logout")
	}
	if r := b.send("POST", "/auth/login", "form", url.Values{"email": {"lola@example.uz"}, "password": {"toza-uy-2026"}, csrfField: {renewed}}.Encode(), nil); r.status != 403 {
		t.Errorf("the signed-in token after the logout = %d", r.status)
	}
	if b.cookie("/", csrfCookie) == "" {
		t.Fatal("the logout took the CSRF cookie")
	}
	if r := b.postForm("/auth/login", url.Values{"email": {"lola@example.uz"}, "password": {"toza-uy-2026"}}); r.status != 303 {
		t.Errorf("login with a signed-out page's token = %d", r.status)
	}
}
