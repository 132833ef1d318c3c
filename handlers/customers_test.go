package handlers

import (
	"compress/gzip"
	"context"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"tozalash/auth"
	"tozalash/store"
)

// A reset link that can no longer work says so when it is opened (410, in
// the reader's language, with the way to a new link), before anyone types a
// new password; a live one shows the form (#19 item 8).
func TestResetPageRefusesDeadLinksAtOnce(t *testing.T) {
	a := newTestApp(t)
	_, u := a.signupVerified("nodira", "nodira@example.uz", "toza-uy-2026")
	used := resetSecret(t, a, "nodira@example.uz")
	if r := a.api("").do("POST", "/auth/password/reset", `{"token":"`+used+`","password":"kuchli-kalit-2026"}`); r.status != 200 {
		t.Fatalf("reset = %d %s", r.status, r.body)
	}
	replaced := resetSecret(t, a, "nodira@example.uz")
	live := resetSecret(t, a, "nodira@example.uz") // a newer link cancels the older
	expired, hash := auth.NewCompound(u.ID)
	type row struct {
		name, token, lang string
		status            int
		says              string
	}
	rows := []row{
		{"used", used, "uz", 410, "Havola endi ishlamaydi"},
		{"replaced by a newer one", replaced, "ru", 410, "Ссылка больше не работает"},
		{"unknown", u.ID.Hex() + ".nothing", "en", 410, "The link no longer works"},
		{"malformed", "garbage", "en", 410, "Send a new link"},
		{"none", "", "en", 410, "Send a new link"},
		{"live", live, "en", 200, `data-testid="reset-form"`},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			res := a.do(request{path: "/auth/password/reset?token=" + r.token, headers: acceptLang(r.lang)})
			if res.status != r.status || !strings.Contains(res.body, r.says) {
				t.Fatalf("= %d, want %d saying %q\n%s", res.status, r.status, r.says, clip(res.body))
			}
			if r.status == 410 && (strings.Contains(res.body, `data-testid="reset-form"`) || !strings.Contains(res.body, `href="/auth/password/forgot"`)) {
				t.Errorf("a dead link's page shows the form, or no way to a new link")
			}
		})
	}
	// Expired: the link is the account's latest, its 30 minutes over.
	if err := a.h.oneTime.Issue(context.Background(), store.OneTimeToken{UserID: u.ID, Purpose: store.PurposeResetPassword, Hash: hash, Email: u.Email, ExpiresAt: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if res := a.do(request{path: "/auth/password/reset?token=" + expired, headers: acceptLang("uz")}); res.status != 410 || strings.Contains(res.body, `data-testid="reset-form"`) {
		t.Errorf("expired link = %d\n%s", res.status, clip(res.body))
	}
	if res := a.do(request{path: "/auth/password/reset?token=" + expired, headers: asJSON}); res.status != 410 || !strings.Contains(res.body, `"invalid_token"`) {
		t.Errorf("expired link as JSON = %d %s", res.status, res.body)
	}
}

// gunzip is a gzipped body, or "" when it is not one.
func gunzip(body string) string {
	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		return ""
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return ""
	}
	return string(b)
}

// Signed-in pages and JSON answers come gzipped when the client takes it,
// and smaller; their CSRF token is masked afresh each time (BREACH), and
// every masked token works, as the unmasked ones did (#19 item 14).
func TestSignedInAnswersGzippedWithMaskedTokens(t *testing.T) {
	a := newTestApp(t)
	a.listen()
	a.signupVerified("zarina", "zarina@example.uz", "toza-uy-2026")
	b := a.browser()
	if r := b.postForm("/auth/login", url.Values{"email": {"zarina@example.uz"}, "password": {"toza-uy-2026"}}); r.status != 303 {
		t.Fatalf("login = %d", r.status)
	}
	gz := map[string]string{"Accept-Encoding": "gzip"}
	var tokens []string
	for _, path := range []string{"/me", "/orders", "/me"} {
		plain := b.send("GET", path, "", "", nil)
		zipped := b.send("GET", path, "", "", gz)
		page := gunzip(zipped.body)
		if zipped.status != 200 || zipped.header.Get("Content-Encoding") != "gzip" || page == "" || len(zipped.body)*2 > len(plain.body) {
			t.Fatalf("%s: %d, Content-Encoding %q, %d bytes gzipped of %d", path, zipped.status, zipped.header.Get("Content-Encoding"), len(zipped.body), len(plain.body))
		}
		if !strings.Contains(zipped.header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: Vary %q", path, zipped.header.Get("Vary"))
		}
		tokens = append(tokens, pageCSRFToken(page), pageCSRFToken(plain.body))
	}
	seen := map[string]bool{}
	for _, tok := range tokens {
		if tok == "" || seen[tok] {
			t.Fatalf("a token repeats or is missing: %q", tokens)
		}
		seen[tok] = true
	}
	// Each one is accepted.
	for i, tok := range tokens {
		r := b.send("PATCH", "/me", "form", url.Values{"locale": {[]string{"uz", "ru"}[i%2]}}.Encode(), map[string]string{"HX-Request": "true", "X-Csrf-Token": tok})
		if r.status != 200 {
			t.Errorf("token %d refused: %d", i, r.status)
		}
	}
	// A forged mask is not.
	if r := b.send("PATCH", "/me", "form", "locale=en", map[string]string{"HX-Request": "true", "X-Csrf-Token": tamper(tokens[0])}); r.status != 403 {
		t.Errorf("a tampered masked token = %d", r.status)
	}
	// JSON: bigger than a few hundred bytes, gzipped and smaller.
	token, _ := a.login("zarina@example.uz", "toza-uy-2026")
	plain := a.do(request{path: "/services?limit=50", headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + token}})
	zipped := a.do(request{path: "/services?limit=50", headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + token, "Accept-Encoding": "gzip"}})
	if zipped.header.Get("Content-Encoding") != "gzip" || gunzip(zipped.body) != plain.body || len(zipped.body) >= len(plain.body) {
		t.Errorf("signed-in JSON: Content-Encoding %q, %d bytes of %d", zipped.header.Get("Content-Encoding"), len(zipped.body), len(plain.body))
	}
	me := a.do(request{path: "/me", headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + token, "Accept-Encoding": "gzip"}})
	if me.status != 200 || !strings.Contains(gunzip(me.body)+me.body, `"zarina"`) {
		t.Errorf("GET /me JSON = %d %q", me.status, me.body)
	}
}
