package handlers

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tozalash/store"
)

// browser is an HTTP client with a cookie jar against the app on a real
// port: it keeps the cookies a browser keeps and sends the CSRF token the
// way the pages do.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
	// token is the CSRF token last read from a page, for the cookies in
	// tokenOf.
	token, tokenOf string
}

func (a *testApp) browser() *browser {
	a.t.Helper()
	if a.base == "" {
		a.listen()
	}
	jar, _ := cookiejar.New(nil)
	return &browser{t: a.t, base: a.base, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

// cookie returns the value of a cookie the browser holds for path.
func (b *browser) cookie(path, name string) string {
	u, _ := url.Parse(b.base + path)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) setCookie(path, name, value string) {
	u, _ := url.Parse(b.base + path)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: path}})
}

// send makes a request; contentType "form" posts a form with the CSRF
// token, "json" posts JSON, and htmx adds the htmx and CSRF headers.
func (b *browser) send(method, path, contentType, body string, headers map[string]string) response {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	switch contentType {
	case "form":
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "json":
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(raw)}
}

func (b *browser) get(path string) response { return b.send("GET", path, "", "", nil) }

// csrf returns the CSRF token of the browser's pages, opening one when the
// cookies it is made of changed since the last.
func (b *browser) csrf() string {
	b.t.Helper()
	if b.token != "" && b.csrfCookies() == b.tokenOf {
		return b.token
	}
	// The login page, or, signed in (it redirects then), the catalogue.
	tok := pageCSRFToken(b.get("/auth/login").body)
	if tok == "" {
		tok = pageCSRFToken(b.get("/services").body)
	}
	if tok == "" {
		b.t.Fatal("no CSRF token in a page")
	}
	b.token, b.tokenOf = tok, b.csrfCookies()
	return tok
}

// csrfCookies: what the token is made of, as the browser holds it.
func (b *browser) csrfCookies() string {
	return b.cookie("/", csrfCookie) + " " + b.cookie("/", accessCookie)
}

// csrfInPage finds the token in a page: a form's hidden field, or the
// hx-headers of <body>.
var csrfInPage = regexp.MustCompile(`(?:name="_csrf" value="|X-CSRF-Token&#34;:&#34;)([A-Za-z0-9_-]+)`)

func pageCSRFToken(body string) string {
	if m := csrfInPage.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// postForm posts a form the way a page does, with the CSRF field.
func (b *browser) postForm(path string, v url.Values) response {
	b.t.Helper()
	v.Set(csrfField, b.csrf())
	return b.send("POST", path, "form", v.Encode(), nil)
}

// htmx sends what an htmx form sends: form body, HX headers, CSRF header.
func (b *browser) htmx(method, path string, v url.Values) response {
	b.t.Helper()
	return b.send(method, path, "form", v.Encode(), map[string]string{"HX-Request": "true", "HX-Current-URL": b.base + "/me", "X-Csrf-Token": b.csrf()})
}

// api is a JSON client that signs in with Bearer tokens.
type api struct {
	t     testing.TB
	a     *testApp
	token string
}

func (a *testApp) api(token string) *api { return &api{t: a.t, a: a, token: token} }

func (c *api) do(method, path, body string) response {
	c.t.Helper()
	h := map[string]string{"Accept": "application/json"}
	if c.token != "" {
		h["Authorization"] = "Bearer " + c.token
	}
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return c.a.do(request{method: method, path: path, body: body, contentType: ct, headers: h})
}

// signupVerified creates a verified account through the real routes (and
// the real email) and returns its access token.
func (a *testApp) signupVerified(username, email, password string) (string, *store.User) {
	a.t.Helper()
	res := a.api("").do("POST", "/auth/signup", `{"username":"`+username+`","email":"`+email+`","password":"`+password+`"}`)
	if res.status != 201 {
		a.t.Fatalf("signup %s: %d %s", email, res.status, res.body)
	}
	link := verifyLink(a.t, a.smtp.WaitFor(email, 10*time.Second).Links())
	if res := a.do(request{path: strings.TrimPrefix(link, "http://localhost:3000"), headers: asJSON}); res.status != 200 {
		a.t.Fatalf("verify %s: %d %s", email, res.status, res.body)
	}
	return a.login(email, password)
}

func (a *testApp) login(email, password string) (string, *store.User) {
	a.t.Helper()
	res := a.api("").do("POST", "/auth/login", `{"email":"`+email+`","password":"`+password+`"}`)
	if res.status != 200 {
		a.t.Fatalf("login %s: %d %s", email, res.status, res.body)
	}
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	res.json(a.t, &out)
	u, err := a.h.users.GetByEmail(context.Background(), email)
	if err != nil {
		a.t.Fatal(err)
	}
	return out.AccessToken, u
}

// admin makes an ADMIN account directly in the store (as create-admin does)
// and signs it in.
func (a *testApp) admin() (string, *store.User) {
	a.t.Helper()
	token, u := a.signupVerified("boss", "boss@tozalash.uz", "admin-parol-2026")
	role := store.RoleAdmin
	if _, err := a.h.users.Update(context.Background(), u.ID, store.UserChange{Role: &role}); err != nil {
		a.t.Fatal(err)
	}
	u.Role = role
	return token, u
}

func verifyLink(t testing.TB, links []string) string {
	t.Helper()
	for _, l := range links {
		if strings.Contains(l, "/auth/verify?token=") {
			return l
		}
	}
	t.Fatalf("no verification link in %v", links)
	return ""
}

func jsonField(t testing.TB, body, field string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	return m[field]
}

// confirmEmail opens the verification link sent to address: the pending
// email of a change on /me becomes the account's.
func (a *testApp) confirmEmail(address string) {
	a.t.Helper()
	a.h.Wait() // the link is sent after the answer
	link := verifyLink(a.t, a.smtp.WaitForText(address, "/auth/verify?token=", 10*time.Second).Links())
	if res := a.do(request{path: strings.TrimPrefix(link, "http://localhost:3000"), headers: asJSON}); res.status != 200 {
		a.t.Fatalf("confirm %s: %d %s", address, res.status, res.body)
	}
}
