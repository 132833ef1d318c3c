package handlers

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"tozalash/store/storetest"
)

// An attack is one way in found by the review of #18 ("Accounts an attacker
// can neither take over nor lock out"), replayed against a running app: run
// tries it, as the attacker would, and fails the test if it works. Each
// runs on an app of its own. The tables are split by subject (this file:
// lockout and enumeration; attacks_2fa_test.go; attacks_recovery_test.go).
type attack struct {
	gap  string // the number for it, e.g. "1" or "9c"
	name string // what the attacker tries
	run  func(t *testing.T, a *testApp)
	cfg  Config // the app's settings beyond the tests' defaults
}

func runAttacks(t *testing.T, attacks []attack) {
	t.Helper()
	for _, at := range attacks {
		t.Run("gap "+at.gap+": "+at.name, func(t *testing.T) {
			a := newTestAppWith(t, storetest.Open(t), at.cfg)
			at.run(t, a)
		})
	}
}

// Lockout, enumeration and input attacks (gaps 1, 5, 6, 7, 9).
func TestAttacksOnSignIn(t *testing.T) {
	clock := newLimitClock() // the owner's own POSTs spend 127.0.0.1's 3 a minute
	proxied := Config{AuthRateLimit: 3, TrustedProxies: []string{"127.0.0.1"}, Now: clock.Now}
	runAttacks(t, []attack{
		{gap: "1", name: "wrong passwords from many addresses lock the owner out", cfg: proxied, run: func(t *testing.T, a *testApp) {
			a.signupVerified("lola", "lola@example.uz", "toza-uy-2026")
			clock.advance(2 * time.Minute) // past the sliding minute
			owner := a.browser()           // the browser the owner uses every day
			if r := owner.postForm("/auth/login", url.Values{"email": {"lola@example.uz"}, "password": {"toza-uy-2026"}}); r.status != 303 {
				t.Fatalf("the owner's first login = %d", r.status)
			}
			owner.postForm("/auth/logout", url.Values{})
			guess := func(i int, password string) response {
				return a.browser().send("POST", "/auth/login", "json", `{"email":"lola@example.uz","password":"`+password+`"}`,
					map[string]string{"Accept": "application/json", "X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i/2+1)})
			}
			budget := untrustedLoginFactor * 3 // 10 × AUTH_RATE_LIMIT an hour
			for i := 0; i < budget; i++ {
				if r := guess(i, fmt.Sprintf("guess-%d", i)); r.status != 401 {
					t.Fatalf("guess %d = %d", i+1, r.status)
				}
			}
			// Guessing is bounded: the right password from another unknown
			// browser is refused, as every guess now is.
			if r := guess(budget, "toza-uy-2026"); r.status != 429 || !strings.Contains(r.body, `"login_locked"`) {
				t.Fatalf("an unknown browser with the right password after %d guesses = %d %s", budget, r.status, clip(r.body))
			}
			clock.advance(2 * time.Minute) // past the sliding minute
			// The owner, in their own browser, still gets in.
			if r := owner.postForm("/auth/login", url.Values{"email": {"lola@example.uz"}, "password": {"toza-uy-2026"}}); r.status != 303 || r.header.Get("Location") != "/" {
				t.Errorf("the owner's browser after the flood = %d → %q", r.status, r.header.Get("Location"))
			}
			// ... and can still change the password there.
			if r := owner.htmx("PATCH", "/me", url.Values{"form": {"password"}, "currentPassword": {"toza-uy-2026"}, "password": {"yangi-parol-2026"}}); r.status != 200 {
				t.Errorf("a password change after the flood = %d %s", r.status, clip(r.body))
			}
			// On a new phone the owner is refused at first, then opens the
			// emailed link there, and gets in.
			phone := a.browser()
			if r := phone.postForm("/auth/login", url.Values{"email": {"lola@example.uz"}, "password": {"yangi-parol-2026"}}); r.status != 429 {
				t.Fatalf("the owner's new phone = %d", r.status)
			}
			a.h.Wait()
			var link string
			for _, l := range a.smtp.WaitForText("lola@example.uz", "/auth/unlock?token=", 10*time.Second).Links() {
				if strings.Contains(l, "/auth/unlock?token=") {
					link = strings.TrimPrefix(l, "http://localhost:3000")
				}
			}
			if link == "" {
				t.Fatal("no unlock link emailed")
			}
			if r := phone.get(link); r.status != 200 || !strings.Contains(r.body, `data-testid="unlock-form"`) {
				t.Fatalf("the unlock page = %d", r.status)
			}
			clock.advance(2 * time.Minute) // past the sliding minute
			u, _ := url.Parse(link)
			if r := phone.postForm("/auth/unlock", url.Values{"token": {u.Query().Get("token")}}); r.status != 303 {
				t.Fatalf("unlock = %d %s", r.status, clip(r.body))
			}
			if r := phone.postForm("/auth/login", url.Values{"email": {"lola@example.uz"}, "password": {"yangi-parol-2026"}}); r.status != 303 {
				t.Errorf("the new phone after the link = %d", r.status)
			}
			// The link works once; more guesses send no second email.
			if r := a.browser().postForm("/auth/unlock", url.Values{"token": {u.Query().Get("token")}}); r.status != 400 {
				t.Errorf("the link a second time = %d", r.status)
			}
			guess(budget+2, "another-guess")
			a.h.Wait()
			if n := a.smtp.Count("lola@example.uz"); n != 2 { // the verification and one unlock link
				t.Errorf("%d emails to the owner, want the verification and one unlock link", n)
			}
		}},
		{gap: "5", name: "a link to GET /auth/refresh?retry=1 from another site signs the visitor out", run: func(t *testing.T, a *testApp) {
			a.signupVerified("nodir", "nodir@example.uz", "toza-uy-2026")
			b := a.browser()
			b.postForm("/auth/login", url.Values{"email": {"nodir@example.uz"}, "password": {"toza-uy-2026"}})
			// From another site the SameSite=Strict refresh cookie stays
			// home: only the access cookie comes along.
			visit := a.browser()
			visit.setCookie("/", accessCookie, b.cookie("/", accessCookie))
			r := visit.get("/auth/refresh?retry=1&next=/orders")
			if r.status != 303 || strings.Contains(strings.Join(r.header.Values("Set-Cookie"), "\n"), "_token=") {
				t.Errorf("cross-site GET /auth/refresh?retry=1 = %d, Set-Cookie %q", r.status, r.header.Values("Set-Cookie"))
			}
			if r := b.get("/me"); r.status != 200 {
				t.Errorf("signed in after it = %d", r.status)
			}
		}},
		{gap: "6", name: "sign-up tells whether an email is registered", run: func(t *testing.T, a *testApp) {
			a.signupVerified("sevara", "sevara@example.uz", "toza-uy-2026")
			signup := func(username, email string) response {
				return a.api("").do("POST", "/auth/signup", `{"username":"`+username+`","email":"`+email+`","password":"boshqa-parol-2026"}`)
			}
			fresh, taken := signup("yangi_bir", "yangi@example.uz"), signup("yangi_ikki", "Sevara@example.uz")
			if fresh.status != 201 || taken.status != 201 {
				t.Fatalf("sign-up with a free address = %d, with a taken one = %d %s", fresh.status, taken.status, clip(taken.body))
			}
			var f, k map[string]any
			fresh.json(t, &f)
			taken.json(t, &k)
			for _, field := range []string{"id", "username", "email", "role", "isVerified", "twoFactorEnabled", "locale", "createdAt", "updatedAt"} {
				if (f[field] == nil) != (k[field] == nil) {
					t.Errorf("field %s: %v for a free address, %v for a taken one", field, f[field], k[field])
				}
			}
			if len(f) != len(k) || k["isVerified"] != false {
				t.Errorf("answers differ: %v and %v", f, k)
			}
			a.h.Wait()
			a.smtp.WaitForText("sevara@example.uz", "/auth/password/forgot", 10*time.Second)
			if n := a.smtp.Count("sevara@example.uz"); n != 2 {
				t.Errorf("the owner got %d emails, want the verification and the notice", n)
			}
			if u, err := a.h.users.GetByUsername(context.Background(), "yangi_ikki"); err == nil {
				t.Errorf("an account was made: %+v", u)
			}
			// Usernames are public (the chat shows them): a taken one is said.
			if r := signup("sevara", "boshqa@example.uz"); r.status != 409 || !strings.Contains(r.body, `"username"`) || strings.Contains(r.body, `"email"`) {
				t.Errorf("a taken username = %d %s", r.status, clip(r.body))
			}
		}},
		{gap: "6", name: "changing one's email tells whether another address is registered", run: func(t *testing.T, a *testApp) {
			a.signupVerified("sevara", "sevara@example.uz", "toza-uy-2026")
			a.signupVerified("jasur", "jasur@example.uz", "toza-uy-2026")
			b := a.browser()
			b.postForm("/auth/login", url.Values{"email": {"jasur@example.uz"}, "password": {"toza-uy-2026"}})
			change := func(email string) response {
				return b.htmx("PATCH", "/me", url.Values{"form": {"details"}, "username": {"jasur"}, "email": {email}, "locale": {"uz"}, "currentPassword": {"toza-uy-2026"}})
			}
			free, taken := change("jasur.yangi@example.uz"), change("sevara@example.uz")
			strip := func(s, email string) string { return strings.ReplaceAll(s, email, "EMAIL") }
			if free.status != 200 || taken.status != 200 || strip(free.body, "jasur.yangi@example.uz") != strip(taken.body, "sevara@example.uz") {
				t.Errorf("a free address = %d, a taken one = %d; bodies differ:\n%s\n%s", free.status, taken.status, clip(free.body), clip(taken.body))
			}
			a.h.Wait()
			a.smtp.WaitForText("sevara@example.uz", "/auth/password/forgot", 10*time.Second)
			if n := a.smtp.Count("sevara@example.uz"); n != 2 {
				t.Errorf("the address's owner got %d emails, want the verification and the notice", n)
			}
			u, _ := a.h.users.GetByUsername(context.Background(), "jasur")
			if u.Email != "jasur@example.uz" {
				t.Errorf("jasur's email is now %q", u.Email)
			}
		}},
		{gap: "7", name: "a NUL or bad UTF-8 in a search or a body is a server error", run: func(t *testing.T, a *testApp) {
			token, _ := a.admin()
			admin := a.api(token)
			for _, path := range []string{"/users?q=%00", "/orders?q=%00", "/users?q=%ff", "/orders?q=a%c3", "/services?limit=%00"} {
				if r := admin.do("GET", path, ""); r.status != 400 {
					t.Errorf("GET %s = %d, want 400", path, r.status)
				}
			}
			if r := admin.do("POST", "/services", `{"name":"Nul\u0000xizmat","description":"x","price":1000,"durationMinutes":60}`); r.status != 400 {
				t.Errorf("a service named with a NUL = %d, want 400", r.status)
			}
			var list struct{ Items []map[string]any }
			admin.do("GET", "/services", "").json(t, &list)
			for _, s := range list.Items {
				if strings.Contains(fmt.Sprint(s["name"]), "xizmat") && strings.HasPrefix(fmt.Sprint(s["name"]), "Nul") {
					t.Errorf("stored: %v", s)
				}
			}
			b := a.browser()
			if r := b.send("POST", "/auth/login", "form", "email=a%00%40example.uz&password=x&_csrf="+b.csrf(), nil); r.status != 400 {
				t.Errorf("a form with a NUL = %d, want 400", r.status)
			}
		}},
		{gap: "9", name: "the login's answer, carrying a token, may be cached", run: func(t *testing.T, a *testApp) {
			a.signupVerified("kamola", "kamola@example.uz", "toza-uy-2026")
			r := a.api("").do("POST", "/auth/login", `{"email":"kamola@example.uz","password":"toza-uy-2026"}`)
			if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("login = %d, Cache-Control %q", r.status, r.header.Get("Cache-Control"))
			}
		}},
	})
}
