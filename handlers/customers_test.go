package handlers

import (
	"compress/gzip"
	"context"
	"fmt"
	"html"
	"io"
	"net/url"
	"regexp"
	"strconv"
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
	// The 2FA set-up shows a secret no mask covers: never compressed.
	if r := b.send("GET", "/auth/2fa/setup", "", "", gz); r.status != 200 || r.header.Get("Content-Encoding") != "" {
		t.Errorf("2FA set-up = %d, Content-Encoding %q", r.status, r.header.Get("Content-Encoding"))
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

// A customer's name, phone and saved addresses (#19 item 5): who may do
// what, what each answer says, and what the database then holds.
func TestCustomerDetailsRoutes(t *testing.T) {
	a := newTestApp(t)
	alice, aliceU := a.signupVerified("alisa", "alisa@example.uz", "toza-uy-2026")
	bob, _ := a.signupVerified("bobur", "bobur@example.uz", "toza-uy-2026")
	bg := context.Background()
	as := func(token string, extra ...string) map[string]string {
		h := map[string]string{"Accept": "application/json", "Authorization": "Bearer " + token}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}
	j := "application/json"
	user := func(t *testing.T) *store.User {
		u, err := a.h.users.Get(bg, aliceU.ID)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	book := func(t *testing.T) []store.Address {
		items, err := a.h.addresses.List(bg, aliceU.ID)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	holds := func(name, phone string) func(*testing.T, *testApp) {
		return func(t *testing.T, _ *testApp) {
			if u := user(t); u.Name != name || u.Phone != phone {
				t.Errorf("stored name %q phone %q, want %q %q", u.Name, u.Phone, name, phone)
			}
		}
	}
	count := func(n int) func(*testing.T, *testApp) {
		return func(t *testing.T, _ *testApp) {
			if got := len(book(t)); got != n {
				t.Errorf("%d addresses stored, want %d", got, n)
			}
		}
	}
	firstID := func() string {
		items := book(t)
		if len(items) == 0 {
			t.Fatal("no address")
		}
		return items[0].ID.Hex()
	}
	runScenarios(t, a, []scenario{
		{name: "name and phone as people write it", req: request{method: "PATCH", path: "/me", contentType: j, headers: as(alice),
			body: `{"name":"  Alisa   Karimova ","phone":"+998 90 123 45 67"}`}, status: 200,
			contains: []string{`"name":"Alisa Karimova"`, `"phone":"+998901234567"`}, after: holds("Alisa Karimova", "+998901234567")},
		{name: "a phone in another way of writing", req: request{method: "PATCH", path: "/me", contentType: j, headers: as(alice), body: `{"phone":"(91) 234-56-78"}`},
			status: 200, after: holds("Alisa Karimova", "+998912345678")},
		{name: "not an Uzbek number: 422, nothing written", req: request{method: "PATCH", path: "/me", contentType: j, headers: as(alice), body: `{"name":"Boshqa","phone":"+7 912 345 67 89"}`},
			status: 422, contains: []string{`"code":"validation"`, `"phone":`}, notContains: []string{`"name":"`}, after: holds("Alisa Karimova", "+998912345678")},
		{name: "too few digits: 422 in Uzbek", req: request{method: "PATCH", path: "/me", contentType: j, headers: as(alice, "Accept-Language", "uz"), body: `{"phone":"90 123"}`},
			status: 422, contains: []string{"O‘zbekiston raqamini kiriting"}, after: holds("Alisa Karimova", "+998912345678")},
		{name: "a name too long", req: request{method: "PATCH", path: "/me", contentType: j, headers: as(alice), body: `{"name":"` + strings.Repeat("a", 101) + `"}`},
			status: 422, contains: []string{`"name":`}, after: holds("Alisa Karimova", "+998912345678")},
		{name: "no addresses yet", req: request{path: "/me/addresses", headers: as(alice)}, status: 200, contains: []string{`"items":[]`}},
		{name: "signed out: 401", req: request{path: "/me/addresses", headers: asJSON}, status: 401},
		{name: "save an address", req: request{method: "POST", path: "/me/addresses", contentType: j, headers: as(alice),
			body: `{"label":"Uy","address":"Chilonzor 9-kvartal, 12-uy","entrance":"2","floor":"3","apartment":"45","landmark":"Maktab yonida"}`},
			status: 201, contains: []string{`"label":"Uy"`, `"apartment":"45"`, `"id":"`}, after: count(1)},
		{name: "an address without the address: 422, nothing written", req: request{method: "POST", path: "/me/addresses", contentType: j, headers: as(alice), body: `{"label":"Ish"}`},
			status: 422, contains: []string{`"address":`}, after: count(1)},
		{name: "an operator for a field: 400, nothing written", req: request{method: "POST", path: "/me/addresses", contentType: j, headers: as(alice), body: `{"address":{"$ne":""}}`},
			status: 400, after: count(1)},
		{name: "the other customer sees none of them", req: request{path: "/me/addresses", headers: as(bob)}, status: 200, contains: []string{`"items":[]`}},
	})
	id := firstID()
	runScenarios(t, a, []scenario{
		{name: "another user's address is 404 to a change", req: request{method: "PATCH", path: "/me/addresses/" + id, contentType: j, headers: as(bob), body: `{"label":"Meniki"}`},
			status: 404, after: func(t *testing.T, _ *testApp) {
				if book(t)[0].Label != "Uy" {
					t.Error("bob changed alice's address")
				}
			}},
		{name: "another user's address is 404 to a delete", req: request{method: "DELETE", path: "/me/addresses/" + id, headers: as(bob)}, status: 404, after: count(1)},
		{name: "not an id: 404", req: request{method: "DELETE", path: "/me/addresses/nothing", headers: as(alice)}, status: 404, after: count(1)},
		{name: "the owner changes the label only", req: request{method: "PATCH", path: "/me/addresses/" + id, contentType: j, headers: as(alice), body: `{"label":"Onamniki"}`},
			status: 200, contains: []string{`"label":"Onamniki"`, `"address":"Chilonzor 9-kvartal, 12-uy"`}, after: func(t *testing.T, _ *testApp) {
				if a := book(t)[0]; a.Label != "Onamniki" || a.Floor != "3" {
					t.Errorf("stored %+v", a)
				}
			}},
		{name: "a change that empties the address: 422", req: request{method: "PATCH", path: "/me/addresses/" + id, contentType: j, headers: as(alice), body: `{"address":""}`},
			status: 422, after: func(t *testing.T, _ *testApp) {
				if book(t)[0].Address == "" {
					t.Error("the address was emptied")
				}
			}},
	})
	for i := 2; i <= store.MaxAddresses; i++ {
		if r := a.api(alice).do("POST", "/me/addresses", `{"address":"Yunusobod 4-mavze, `+strconv.Itoa(i)+`-uy"}`); r.status != 201 {
			t.Fatalf("address %d = %d %s", i, r.status, r.body)
		}
	}
	runScenarios(t, a, []scenario{
		{name: "the eleventh: 422 too_many_addresses, nothing written", req: request{method: "POST", path: "/me/addresses", contentType: j, headers: as(alice), body: `{"address":"Sergeli 7, 1-uy"}`},
			status: 422, contains: []string{`"code":"too_many_addresses"`}, after: count(store.MaxAddresses)},
		{name: "delete one", req: request{method: "DELETE", path: "/me/addresses/" + id, headers: as(alice)}, status: 204, after: func(t *testing.T, _ *testApp) {
			items := book(t)
			if len(items) != store.MaxAddresses-1 || items[0].ID.Hex() == id {
				t.Errorf("after the delete: %d, first %s", len(items), items[0].ID.Hex())
			}
		}},
		{name: "deleted: 404", req: request{method: "DELETE", path: "/me/addresses/" + id, headers: as(alice)}, status: 404, after: count(store.MaxAddresses - 1)},
	})
	// The account goes: its addresses with it.
	if r := a.api(alice).do("DELETE", "/me", `{"password":"toza-uy-2026"}`); r.status != 204 {
		t.Fatalf("delete the account = %d %s", r.status, r.body)
	}
	if items := book(t); len(items) != 0 {
		t.Errorf("%d addresses outlived the account", len(items))
	}
}

// The profile page edits the name and phone, and keeps addresses with
// htmx; the booking form offers them, the first and the phone filled in.
func TestProfileAddressesAndBookingForm(t *testing.T) {
	a := newTestApp(t)
	a.listen()
	a.signupVerified("dilnoza", "dilnoza@example.uz", "toza-uy-2026")
	b := a.browser()
	if r := b.postForm("/auth/login", url.Values{"email": {"dilnoza@example.uz"}, "password": {"toza-uy-2026"}}); r.status != 303 {
		t.Fatalf("login = %d", r.status)
	}
	b.setCookie("/", "lang", "uz")
	page := b.get("/me").body
	for _, want := range []string{`data-testid="field-name"`, `data-testid="field-phone"`, `data-testid="address-form"`, "Saqlangan manzillar"} {
		if !strings.Contains(page, want) {
			t.Errorf("the profile lacks %s", want)
		}
	}
	if r := b.htmx("PATCH", "/me", url.Values{"form": {"details"}, "username": {"dilnoza"}, "email": {"dilnoza@example.uz"}, "locale": {"uz"}, "name": {"Dilnoza Karimova"}, "phone": {"90 123 45 67"}}); r.status != 200 || !strings.Contains(r.body, `value="+998 90 123 45 67"`) {
		t.Fatalf("save name and phone = %d\n%s", r.status, clip(r.body))
	}
	if r := b.htmx("PATCH", "/me", url.Values{"form": {"details"}, "username": {"dilnoza"}, "email": {"dilnoza@example.uz"}, "phone": {"123"}}); r.status != 422 || !strings.Contains(r.body, `data-testid="error-phone"`) {
		t.Errorf("a bad phone = %d", r.status)
	}
	r := b.htmx("POST", "/me/addresses", url.Values{"label": {"Uy"}, "address": {"Chilonzor 9-kvartal, 12-uy"}, "floor": {"3"}, "apartment": {"45"}})
	if r.status != 201 || !strings.Contains(r.body, `data-testid="address-item"`) || !strings.Contains(r.body, "Chilonzor 9-kvartal, 12-uy, qavat 3, xonadon 45") {
		t.Fatalf("add an address = %d\n%s", r.status, clip(r.body))
	}
	// Changed in place from its own form.
	id := regexp.MustCompile(`hx-patch="/me/addresses/([0-9a-f]{24})"`).FindStringSubmatch(r.body)
	if id == nil {
		t.Fatal("no edit form on the saved address")
	}
	if r := b.htmx("PATCH", "/me/addresses/"+id[1], url.Values{"label": {"Uyim"}, "address": {"Chilonzor 9-kvartal, 12-uy"}, "floor": {"4"}, "apartment": {"45"}}); r.status != 200 || !strings.Contains(r.body, "Uyim") || !strings.Contains(r.body, "qavat 4") {
		t.Errorf("edit the address = %d\n%s", r.status, clip(r.body))
	}
	if r := b.htmx("POST", "/me/addresses", url.Values{"label": {"Ish"}}); r.status != 422 || !strings.Contains(r.body, `data-testid="error-address"`) {
		t.Errorf("an address without the address = %d\n%s", r.status, clip(r.body))
	}
	svc := demoServices(t, a)[0]
	form := b.get("/orders/new?serviceId=" + svc.ID.Hex()).body
	for _, want := range []string{`data-testid="saved-address"`, `value="Chilonzor 9-kvartal, 12-uy, qavat 4, xonadon 45"`, `value="+998 90 123 45 67"`} {
		if !strings.Contains(form, want) {
			t.Errorf("the booking form lacks %s", want)
		}
	}
}

var verifyCodePattern = regexp.MustCompile(`: (\d{6})\s`)

// mailedVerification waits for the verification email to address and
// returns its link (path and query) and its code.
func mailedVerification(t *testing.T, a *testApp, address string) (link, code string) {
	t.Helper()
	a.h.Wait()
	msg := a.smtp.WaitForText(address, "/auth/verify?token=", 10*time.Second)
	link = strings.TrimPrefix(verifyLink(t, msg.Links()), "http://localhost:3000")
	m := verifyCodePattern.FindStringSubmatch(msg.Text)
	if m == nil || !strings.Contains(msg.HTML, m[1]) {
		t.Fatalf("no code in the email to %s:\n%s", address, msg.Text)
	}
	return link, m[1]
}

// signupIn signs up in browser b from the sign-up page on the way to next.
func signupIn(t *testing.T, b *browser, username, email, next string) {
	t.Helper()
	page := b.get("/auth/signup?next=" + url.QueryEscape(next))
	if want := `name="next" value="` + html.EscapeString(localPath(next)) + `"`; localPath(next) != "/" && !strings.Contains(page.body, want) {
		t.Fatalf("the sign-up page does not carry next: want %s", want)
	}
	r := b.postForm("/auth/signup", url.Values{"username": {username}, "email": {email}, "password": {"toza-uy-2026"}, "next": {next}})
	if r.status != 201 || !strings.Contains(r.body, `data-testid="verify-code-form"`) {
		t.Fatalf("signup %s = %d\n%s", email, r.status, clip(r.body))
	}
}

// Verifying signs in the browser that signed up, and only that one, on its
// way to where the person was going; a code typed on the waiting page
// does it too; wrong codes are counted (#19 items 10 and 11).
func TestVerificationSignsInTheBrowserThatSignedUp(t *testing.T) {
	a := newTestApp(t)
	a.listen()
	svc := demoServices(t, a)[0]
	next := "/orders/new?serviceId=" + svc.ID.Hex()
	signedIn := func(b *browser) bool { return b.cookie("/", accessCookie) != "" }

	t.Run("the link in the same browser signs in and goes on", func(t *testing.T) {
		b := a.browser()
		signupIn(t, b, "aziza", "aziza@example.uz", next)
		link, _ := mailedVerification(t, a, "aziza@example.uz")
		r := b.get(link)
		if r.status != 303 || r.header.Get("Location") != next || !signedIn(b) {
			t.Fatalf("= %d to %q, signed in %v", r.status, r.header.Get("Location"), signedIn(b))
		}
		if form := b.get(next); form.status != 200 || !strings.Contains(form.body, `data-testid="booking-form"`) {
			t.Errorf("the booking form after verifying = %d", form.status)
		}
	})
	t.Run("the link in another browser only verifies", func(t *testing.T) {
		b, other := a.browser(), a.browser()
		signupIn(t, b, "bahodir", "bahodir@example.uz", next)
		link, _ := mailedVerification(t, a, "bahodir@example.uz")
		r := other.get(link)
		if r.status != 200 || !strings.Contains(r.body, `data-testid="verified-login"`) || signedIn(other) || signedIn(b) {
			t.Fatalf("= %d, signed in: other %v, signing-up browser %v\n%s", r.status, signedIn(other), signedIn(b), clip(r.body))
		}
		if u, _ := a.h.users.GetByEmail(context.Background(), "bahodir@example.uz"); u == nil || !u.IsVerified {
			t.Error("not verified")
		}
	})
	t.Run("the code, wrong then right, on the waiting page", func(t *testing.T) {
		b := a.browser()
		signupIn(t, b, "charos", "charos@example.uz", next)
		_, code := mailedVerification(t, a, "charos@example.uz")
		wrong := fmt.Sprintf("%06d", (mustAtoi(t, code)+1)%1_000_000)
		r := b.postForm("/auth/verify", url.Values{"email": {"charos@example.uz"}, "code": {wrong}})
		if r.status != 422 || !strings.Contains(r.body, `data-testid="error-code"`) || signedIn(b) {
			t.Fatalf("a wrong code = %d, signed in %v", r.status, signedIn(b))
		}
		r = b.postForm("/auth/verify", url.Values{"email": {"charos@example.uz"}, "code": {code[:3] + " " + code[3:]}})
		if r.status != 303 || r.header.Get("Location") != next || !signedIn(b) {
			t.Fatalf("the right code = %d to %q, signed in %v", r.status, r.header.Get("Location"), signedIn(b))
		}
		// Used up: the link and the code are one.
		if r := a.api("").do("POST", "/auth/verify", `{"email":"charos@example.uz","code":"`+code+`"}`); r.status != 422 || !strings.Contains(r.body, `"invalid_verify_code"`) {
			t.Errorf("the code again = %d %s", r.status, r.body)
		}
	})
	t.Run("JSON, another browser: verified, not signed in", func(t *testing.T) {
		b := a.browser()
		signupIn(t, b, "dilshod", "dilshod@example.uz", "/")
		_, code := mailedVerification(t, a, "dilshod@example.uz")
		r := a.api("").do("POST", "/auth/verify", `{"email":"DILSHOD@example.uz","code":"`+code+`"}`)
		if r.status != 200 || !strings.Contains(r.body, `"verified":true`) || strings.Contains(r.body, "signedIn") {
			t.Errorf("= %d %s", r.status, r.body)
		}
	})
	t.Run("wrong codes are limited per address, in the database", func(t *testing.T) {
		b := a.browser()
		signupIn(t, b, "eldor", "eldor@example.uz", next)
		link, code := mailedVerification(t, a, "eldor@example.uz")
		wrong := fmt.Sprintf("%06d", (mustAtoi(t, code)+7)%1_000_000)
		for i := 0; i < maxVerifyCodeTries; i++ {
			if r := a.api("").do("POST", "/auth/verify", `{"email":"eldor@example.uz","code":"`+wrong+`"}`); r.status != 422 || !strings.Contains(r.body, `"invalid_verify_code"`) {
				t.Fatalf("wrong code %d = %d %s", i+1, r.status, r.body)
			}
		}
		// Another instance on the same database counts the same tries.
		other := newTestAppWith(t, a.db, Config{})
		r := other.api("").do("POST", "/auth/verify", `{"email":"eldor@example.uz","code":"`+code+`"}`)
		if r.status != 429 || !strings.Contains(r.body, `"invalid_verify_code"`) || r.header.Get("Retry-After") == "" {
			t.Fatalf("the right code after %d wrong = %d %s", maxVerifyCodeTries, r.status, r.body)
		}
		if u, _ := a.h.users.GetByEmail(context.Background(), "eldor@example.uz"); u.IsVerified {
			t.Error("verified past the limit")
		}
		// An unknown address answers alike.
		for i := 0; i < maxVerifyCodeTries; i++ {
			a.api("").do("POST", "/auth/verify", `{"email":"nobody@example.uz","code":"123456"}`)
		}
		if r := a.api("").do("POST", "/auth/verify", `{"email":"nobody@example.uz","code":"123456"}`); r.status != 429 {
			t.Errorf("an unknown address = %d", r.status)
		}
		// The link still works, in the browser that signed up.
		if r := b.get(link); r.status != 303 || !signedIn(b) {
			t.Errorf("the link after the codes = %d", r.status)
		}
	})
	t.Run("bad input: 422, nothing verified", func(t *testing.T) {
		for _, body := range []string{`{"email":"eldor@example.uz","code":"12345"}`, `{"email":"eldor@example.uz","code":"abcdef"}`, `{"email":"","code":"123456"}`} {
			if r := a.api("").do("POST", "/auth/verify", body); r.status != 422 {
				t.Errorf("%s = %d", body, r.status)
			}
		}
		if r := a.api("").do("POST", "/auth/verify", `{"email":{"$ne":""},"code":"123456"}`); r.status != 400 {
			t.Errorf("an operator = %d", r.status)
		}
	})
	t.Run("codes expire with the link", func(t *testing.T) {
		b := a.browser()
		signupIn(t, b, "feruza", "feruza@example.uz", next)
		_, code := mailedVerification(t, a, "feruza@example.uz")
		u, _ := a.h.users.GetByEmail(context.Background(), "feruza@example.uz")
		_, hash := auth.NewCompound(u.ID)
		if err := a.h.oneTime.Issue(context.Background(), store.OneTimeToken{UserID: u.ID, Purpose: store.PurposeVerifyEmail, Hash: hash, Email: u.Email,
			CodeHash: verifyCodeHash(u.ID, code), ExpiresAt: time.Now().Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
		if r := b.postForm("/auth/verify", url.Values{"email": {"feruza@example.uz"}, "code": {code}}); r.status != 422 || signedIn(b) {
			t.Errorf("an expired code = %d", r.status)
		}
	})
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// next is carried safely: only same-origin paths; an HTML login lands an
// admin on /admin unless it was going to an admin page (#19 item 10).
func TestLoginLandsWhereThePersonWasGoing(t *testing.T) {
	a := newTestApp(t)
	a.listen()
	a.admin()
	a.signupVerified("gulya", "gulya@example.uz", "toza-uy-2026")
	rows := []struct {
		who, next, want string
	}{
		{"gulya@example.uz", "/orders", "/orders"},
		{"gulya@example.uz", "", "/"},
		{"gulya@example.uz", "//evil.example/x", "/"},
		{"gulya@example.uz", `/\evil.example`, "/"},
		{"gulya@example.uz", "https://evil.example/", "/"},
		{"gulya@example.uz", "javascript:alert(1)", "/"},
		{"boss@tozalash.uz", "", "/admin"},
		{"boss@tozalash.uz", "/services", "/admin"},
		{"boss@tozalash.uz", "/users?q=x", "/users?q=x"},
		{"boss@tozalash.uz", "/admin/outbox", "/admin/outbox"},
	}
	for _, r := range rows {
		b := a.browser()
		password := "toza-uy-2026"
		if strings.HasPrefix(r.who, "boss") {
			password = "admin-parol-2026"
		}
		res := b.postForm("/auth/login", url.Values{"email": {r.who}, "password": {password}, "next": {r.next}})
		if res.status != 303 || res.header.Get("Location") != r.want {
			t.Errorf("%s next %q: %d to %q, want %q", r.who, r.next, res.status, res.header.Get("Location"), r.want)
		}
	}
	// Sign-up and verification carry it the same way.
	b := a.browser()
	signupIn(t, b, "hilola", "hilola@example.uz", "//evil.example")
	link, _ := mailedVerification(t, a, "hilola@example.uz")
	if r := b.get(link); r.status != 303 || r.header.Get("Location") != "/" {
		t.Errorf("a foreign next through sign-up: %d to %q", r.status, r.header.Get("Location"))
	}
	// The login page's way to sign up keeps next.
	if page := a.browser().get("/auth/login?next=" + url.QueryEscape("/orders/new?serviceId=1")); !strings.Contains(page.body, `href="/auth/signup?next=%2Forders%2Fnew%3FserviceId%3D1"`) {
		t.Error("the login page's sign-up link lost next")
	}
}

// Each card of the catalogue has its Book: to the booking form of that
// service when signed in, through the sign-up carrying it for a visitor
// (#19 item 13).
func TestCatalogueCardsBook(t *testing.T) {
	a := newTestApp(t)
	a.listen()
	svc := demoServices(t, a)
	visitor := a.browser()
	for _, path := range []string{"/", "/services"} {
		body := visitor.get(path).body
		for _, s := range svc {
			if want := `href="/auth/signup?next=%2Forders%2Fnew%3FserviceId%3D` + s.ID.Hex() + `"`; !strings.Contains(body, want) {
				t.Errorf("%s: a visitor's card lacks %s", path, want)
			}
		}
	}
	a.signupVerified("lola", "lola@example.uz", "toza-uy-2026")
	b := a.browser()
	if r := b.postForm("/auth/login", url.Values{"email": {"lola@example.uz"}, "password": {"toza-uy-2026"}}); r.status != 303 {
		t.Fatalf("login = %d", r.status)
	}
	body := b.get("/").body
	for _, s := range svc {
		if want := `href="/orders/new?serviceId=` + s.ID.Hex() + `"`; !strings.Contains(body, want) || !strings.Contains(body, `data-testid="card-book"`) {
			t.Errorf("a customer's card lacks %s", want)
		}
	}
	// The sign-up it leads to keeps the destination.
	if page := visitor.get("/auth/signup?next=%2Forders%2Fnew%3FserviceId%3D" + svc[0].ID.Hex()).body; !strings.Contains(page, `name="next" value="/orders/new?serviceId=`+svc[0].ID.Hex()+`"`) {
		t.Error("the sign-up page lost the destination")
	}
}
