package handlers

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/store/storetest"
)

func TestSignupAndVerification(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	res := a.do(request{method: "POST", path: "/auth/signup", contentType: "application/json",
		body:    `{"username":"  Aziza.K ","email":"Aziza@Example.UZ","password":"toza-uy-2026"}`,
		headers: map[string]string{"Accept": "application/json", "Accept-Language": "ru"}})
	if res.status != 201 {
		t.Fatalf("signup = %d %s", res.status, res.body)
	}
	for _, want := range []string{`"username":"aziza.k"`, `"email":"aziza@example.uz"`, `"role":"USER"`, `"isVerified":false`, `"twoFactorEnabled":false`, `"id":"`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("signup answer lacks %s: %s", want, res.body)
		}
	}
	for _, secret := range []string{"passwordHash", "argon2", "tokenVersion", "twoFactor\":", "_id"} {
		if strings.Contains(res.body, secret) {
			t.Errorf("signup answer shows %s: %s", secret, res.body)
		}
	}

	// The email: in Russian (the language of the signup), HTML and text, a
	// link built from BASE_URL.
	msg := a.smtp.WaitFor("aziza@example.uz", 10*time.Second)
	if msg.Subject != "Подтвердите email" || !strings.Contains(msg.HTML, "<a href=\"http://localhost:3000/auth/verify?token=") ||
		!strings.Contains(msg.Text, "Здравствуйте, aziza.k!") {
		t.Errorf("verification email: subject %q\ntext %s", msg.Subject, msg.Text)
	}
	link := verifyLink(t, msg.Links())
	path := strings.TrimPrefix(link, "http://localhost:3000")

	// Until verified, the account may sign in but is not verified.
	u, _ := a.h.users.GetByEmail(ctx, "aziza@example.uz")
	if u.IsVerified || !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("stored user: verified %v, hash %q", u.IsVerified, u.PasswordHash[:30])
	}
	page := a.do(request{path: path, headers: acceptLang("ru")})
	if page.status != 200 || !strings.Contains(page.body, "Email подтверждён") {
		t.Errorf("verify page = %d", page.status)
	}
	if u, _ = a.h.users.GetByEmail(ctx, "aziza@example.uz"); !u.IsVerified {
		t.Error("the link did not verify the account")
	}
	// A link works once.
	if again := a.do(request{path: path, headers: asJSON}); again.status != 400 || !strings.Contains(again.body, `"code":"invalid_token"`) {
		t.Errorf("second use = %d %s", again.status, again.body)
	}
	for _, bad := range []string{"", "x", primitive.NewObjectID().Hex() + "." + strings.Repeat("a", 43), u.ID.Hex() + "." + strings.Repeat("b", 43)} {
		if r := a.do(request{path: "/auth/verify?token=" + url.QueryEscape(bad), headers: asJSON}); r.status != 400 {
			t.Errorf("token %q = %d", bad, r.status)
		}
	}
}

func TestVerificationLinkRules(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	a.api("").do("POST", "/auth/signup", `{"username":"bobur","email":"bobur@example.uz","password":"toza-uy-2026"}`)
	first := verifyLink(t, a.smtp.WaitFor("bobur@example.uz", 10*time.Second).Links())

	// A resend invalidates the earlier link.
	if r := a.api("").do("POST", "/auth/verify/resend", `{"email":"bobur@example.uz"}`); r.status != 202 {
		t.Fatalf("resend = %d", r.status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.smtp.Count("bobur@example.uz") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	msgs := a.smtp.Messages()
	second := verifyLink(t, msgs[len(msgs)-1].Links())
	if first == second {
		t.Fatal("resend sent the same link")
	}
	if r := a.do(request{path: strings.TrimPrefix(first, "http://localhost:3000"), headers: asJSON}); r.status != 400 {
		t.Errorf("the old link after a resend = %d", r.status)
	}

	// An expired link does not work (24 h).
	u, _ := a.h.users.GetByEmail(ctx, "bobur@example.uz")
	secret, hash := auth.NewCompound(u.ID)
	if err := a.h.oneTime.Issue(ctx, store.OneTimeToken{UserID: u.ID, Purpose: store.PurposeVerifyEmail, Hash: hash, Email: u.Email, ExpiresAt: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if r := a.do(request{path: "/auth/verify?token=" + secret, headers: asJSON}); r.status != 400 {
		t.Errorf("expired link = %d", r.status)
	}
	if u, _ = a.h.users.GetByEmail(ctx, "bobur@example.uz"); u.IsVerified {
		t.Error("an expired link verified the account")
	}

	// Resend answers the same whether or not the email exists.
	known := a.api("").do("POST", "/auth/verify/resend", `{"email":"bobur@example.uz"}`)
	unknown := a.api("").do("POST", "/auth/verify/resend", `{"email":"nobody@example.uz"}`)
	if known.status != unknown.status || known.body != unknown.body {
		t.Errorf("resend differs: %d %s vs %d %s", known.status, known.body, unknown.status, unknown.body)
	}
}

func TestSignupValidation(t *testing.T) {
	a := newTestApp(t)
	a.signupVerified("dilnoza", "dilnoza@example.uz", "toza-uy-2026")
	signup := func(body string, headers map[string]string) request {
		h := map[string]string{"Accept": "application/json"}
		for k, v := range headers {
			h[k] = v
		}
		return request{method: "POST", path: "/auth/signup", body: body, contentType: "application/json", headers: h}
	}
	usersAfter := func(n int) func(t *testing.T, a *testApp) {
		return func(t *testing.T, a *testApp) {
			items, _, _ := a.h.users.List(context.Background(), store.UserFilter{Limit: 100})
			if len(items) != n {
				t.Errorf("%d users, want %d", len(items), n)
			}
		}
	}
	runScenarios(t, a, []scenario{
		{
			name:     "every field wrong, in Uzbek",
			req:      signup(`{"username":"ab","email":"not-an-email","password":"short"}`, nil),
			status:   422,
			contains: []string{`"username":"Uzunligi 3 dan 32 belgigacha`, `"email":"Email manzil noto‘g‘ri."`, `"password":"Uzunligi 8 dan 128 belgigacha`},
			after:    usersAfter(1),
		},
		{
			name:     "username characters, in Russian",
			req:      signup(`{"username":"Имя!","email":"a@b.uz","password":"toza-uy-2026"}`, acceptLang("ru")),
			status:   422,
			contains: []string{`"username":"Допустимы только строчные латинские буквы, цифры, _ и ."`},
		},
		{
			name:     "a common password is refused",
			req:      signup(`{"username":"jasur","email":"jasur@example.uz","password":"Password1"}`, acceptLang("en")),
			status:   422,
			contains: []string{`"password":"This password is too common, or is a common word or name. Add a few unrelated words."`},
			after:    usersAfter(1),
		},
		{
			name:     "a 10 KB password is refused before it is hashed",
			req:      signup(`{"username":"jasur","email":"jasur@example.uz","password":"`+strings.Repeat("p", 10_000)+`"}`, nil),
			status:   422,
			contains: []string{`"password":`},
		},
		{
			name:   "any Unicode password of 8 characters is fine",
			req:    signup(`{"username":"unicode","email":"unicode@example.uz","password":"чистый дом"}`, nil),
			status: 201,
			after:  usersAfter(2),
		},
		{
			name:        "a taken email, in any case, answers as a sign-up and makes nothing (#18)",
			req:         signup(`{"username":"other","email":"DILNOZA@example.uz","password":"toza-uy-2026"}`, nil),
			status:      201,
			contains:    []string{`"username":"other"`, `"isVerified":false`},
			notContains: []string{`"code"`, `"error"`},
			after:       usersAfter(2),
		},
		{
			name:     "a taken username is 409",
			req:      signup(`{"username":"dilnoza","email":"new@example.uz","password":"toza-uy-2026"}`, nil),
			status:   409,
			contains: []string{`"username":"Bu nom band."`},
		},
		{
			name:   "an operator instead of an email is 400, never a query",
			req:    signup(`{"username":"x1x","email":{"$ne":""},"password":"toza-uy-2026"}`, nil),
			status: 400,
			after:  usersAfter(2),
		},
		{
			name:   "malformed JSON is 400",
			req:    signup(`{"username":`, nil),
			status: 400,
		},
		{
			name:        "the form re-renders with the values and the messages",
			req:         request{method: "POST", path: "/auth/signup", body: "username=zz&email=zz%40example.uz&password=x", contentType: "application/x-www-form-urlencoded", headers: a.withCSRF(nil)},
			status:      422,
			contains:    []string{`value="zz@example.uz"`, `data-testid="error-username"`, `data-testid="error-password"`, `data-testid="signup-form"`},
			notContains: []string{`value="x"`},
		},
		{
			name: "the form says why a password is too weak",
			req: request{method: "POST", path: "/auth/signup", body: "username=zafar&email=zafar%40example.uz&password=zafar2026", contentType: "application/x-www-form-urlencoded",
				headers: a.withCSRF(map[string]string{"Accept-Language": "en"})},
			status:   422,
			contains: []string{`data-testid="error-password"`, "This password contains your email, your username", `value="zafar@example.uz"`},
			after:    usersAfter(2),
		},
	})

	// Operators in form keys are ignored fields, so the email is missing.
	res := a.do(request{method: "POST", path: "/auth/login", body: "email[$ne]=x&password[$ne]=x", contentType: "application/x-www-form-urlencoded", headers: a.withCSRF(asJSON)})
	if res.status != 422 && res.status != 400 {
		t.Errorf("form operators = %d %s", res.status, res.body)
	}
}

func TestConcurrentSignupsMakeOneUser(t *testing.T) {
	a := newTestApp(t)
	body := `{"username":"twin","email":"twin@example.uz","password":"toza-uy-2026"}`
	var wg sync.WaitGroup
	statuses := make(chan int, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- a.api("").do("POST", "/auth/signup", body).status
		}()
	}
	wg.Wait()
	close(statuses)
	// On a loaded machine some find the password hashing busy (503, to be
	// retried); every other loser is told the username is taken.
	created, conflicts, busy := 0, 0, 0
	var all []int
	for s := range statuses {
		all = append(all, s)
		switch s {
		case 201:
			created++
		case 409:
			conflicts++
		case 503:
			busy++
		}
	}
	items, _, _ := a.h.users.List(context.Background(), store.UserFilter{Q: "twin", Limit: 100})
	if created != 1 || conflicts+busy != 19 || len(items) != 1 {
		t.Fatalf("20 identical signups: %d created, %d conflicts, %d users (statuses %v)", created, conflicts, len(items), all)
	}
}

func TestLoginGivesNothingAway(t *testing.T) {
	a := newTestApp(t)
	a.signupVerified("malika", "malika@example.uz", "toza-uy-2026")
	unknown := a.api("").do("POST", "/auth/login", `{"email":"ghost@example.uz","password":"toza-uy-2026"}`)
	wrong := a.api("").do("POST", "/auth/login", `{"email":"malika@example.uz","password":"wrong-password"}`)
	if unknown.status != 401 || wrong.status != 401 || unknown.body != wrong.body {
		t.Fatalf("unknown email %d %s; wrong password %d %s", unknown.status, unknown.body, wrong.status, wrong.body)
	}
	ok := a.api("").do("POST", "/auth/login", `{"email":"MALIKA@example.uz","password":"toza-uy-2026"}`)
	if ok.status != 200 || !strings.Contains(ok.body, `"accessToken":"`) || !strings.Contains(ok.body, `"refreshToken":"`) || !strings.Contains(ok.body, `"user":{"id":"`) {
		t.Fatalf("login = %d %s", ok.status, ok.body)
	}
	cookies := strings.Join(ok.header.Values("Set-Cookie"), "\n")
	for _, want := range []string{"access_token=", "refresh_token="} {
		if !strings.Contains(cookies, want) {
			t.Errorf("login sets no %s", want)
		}
	}
	for _, line := range ok.header.Values("Set-Cookie") {
		switch {
		case strings.HasPrefix(line, "access_token="):
			for _, attr := range []string{"HttpOnly", "SameSite=Lax", "path=/;"} {
				if !strings.Contains(line, attr) {
					t.Errorf("access cookie lacks %s: %s", attr, line)
				}
			}
		case strings.HasPrefix(line, "refresh_token="):
			for _, attr := range []string{"HttpOnly", "SameSite=Strict", "path=/auth"} {
				if !strings.Contains(line, attr) {
					t.Errorf("refresh cookie lacks %s: %s", attr, line)
				}
			}
			if strings.Contains(line, "Secure") {
				t.Errorf("Secure cookie over http in development: %s", line)
			}
		}
	}
	// The login page shows the same message for both, in the user's language.
	page := a.do(request{method: "POST", path: "/auth/login", body: "email=ghost%40example.uz&password=x12345678", contentType: "application/x-www-form-urlencoded", headers: a.withCSRF(acceptLang("ru"))})
	if page.status != 401 || !strings.Contains(page.body, "Неверный email или пароль.") || !strings.Contains(page.body, `value="ghost@example.uz"`) {
		t.Errorf("login page after a failure = %d", page.status)
	}
}

func TestSecureCookiesOverHTTPS(t *testing.T) {
	a := newTestAppWith(t, storetest.Open(t), Config{BaseURL: "https://tozalash.uz", SecureCookies: true, HTTPS: true})
	a.signupVerified("secure", "secure@example.uz", "toza-uy-2026")
	res := a.api("").do("POST", "/auth/login", `{"email":"secure@example.uz","password":"toza-uy-2026"}`)
	for _, line := range res.header.Values("Set-Cookie") {
		if !strings.Contains(line, "secure") && !strings.Contains(line, "Secure") {
			t.Errorf("cookie without Secure: %s", line)
		}
	}
	if !strings.Contains(a.do(request{path: "/"}).header.Get("Strict-Transport-Security"), "max-age=") {
		t.Error("no HSTS over https")
	}
}

func TestAccessTokenRules(t *testing.T) {
	a := newTestApp(t)
	token, u := a.signupVerified("olim", "olim@example.uz", "toza-uy-2026")
	login := a.api("").do("POST", "/auth/login", `{"email":"olim@example.uz","password":"toza-uy-2026"}`)
	refresh, _ := jsonField(t, login.body, "refreshToken").(string)
	sid := mustSession(t, token)
	now := time.Now()
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := jwt.MapClaims{"typ": "access", "sid": sid, "tv": 0, "sub": u.ID.Hex(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for name, tok := range map[string]string{
		"a well-made token":             sign(jwt.SigningMethodHS256, testJWTKey, good),
		"alg none":                      none,
		"another key":                   sign(jwt.SigningMethodHS256, []byte("another-key-another-key-another-key!"), good),
		"HS512":                         sign(jwt.SigningMethodHS512, testJWTKey, good),
		"no exp":                        sign(jwt.SigningMethodHS256, testJWTKey, with("exp", nil)),
		"expired":                       sign(jwt.SigningMethodHS256, testJWTKey, with("exp", now.Add(-time.Minute).Unix())),
		"not an access token":           sign(jwt.SigningMethodHS256, testJWTKey, with("typ", "refresh")),
		"an old token version":          sign(jwt.SigningMethodHS256, testJWTKey, with("tv", -1)),
		"a session that does not exist": sign(jwt.SigningMethodHS256, testJWTKey, with("sid", primitive.NewObjectID().Hex())),
		"the refresh token as a bearer": refresh,
		"garbage":                       "garbage",
	} {
		want := 401
		if name == "a well-made token" {
			want = 200
		}
		if r := a.api(tok).do("GET", "/me", ""); r.status != want {
			t.Errorf("%s: GET /me = %d, want %d", name, r.status, want)
		}
	}

	// Logout revokes the session: the same token stops working at once.
	if r := a.api(token).do("POST", "/auth/logout", ""); r.status != 200 {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	if r := a.api(token).do("GET", "/me", ""); r.status != 401 {
		t.Errorf("token after logout = %d", r.status)
	}
}

func mustSession(t *testing.T, token string) string {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatal(err)
	}
	return claims["sid"].(string)
}

func TestRefreshRotationAndReuse(t *testing.T) {
	a := newTestApp(t)
	a.signupVerified("rustam", "rustam@example.uz", "toza-uy-2026")
	login := a.api("").do("POST", "/auth/login", `{"email":"rustam@example.uz","password":"toza-uy-2026"}`)
	r1, _ := jsonField(t, login.body, "refreshToken").(string)

	rot := a.api("").do("POST", "/auth/refresh", `{"refreshToken":"`+r1+`"}`)
	if rot.status != 200 {
		t.Fatalf("refresh = %d %s", rot.status, rot.body)
	}
	r2, _ := jsonField(t, rot.body, "refreshToken").(string)
	access2, _ := jsonField(t, rot.body, "accessToken").(string)
	if r2 == "" || r2 == r1 || access2 == "" {
		t.Fatal("refresh did not rotate")
	}
	if r := a.api(access2).do("GET", "/me", ""); r.status != 200 {
		t.Fatalf("new access token = %d", r.status)
	}

	// The token just rotated out, within seconds: a second tab racing the
	// first. No new tokens, and no alarm.
	if r := a.api("").do("POST", "/auth/refresh", `{"refreshToken":"`+r1+`"}`); r.status != 409 || strings.Contains(r.body, "accessToken") {
		t.Errorf("the just-rotated token = %d %s", r.status, r.body)
	}
	rot = a.api("").do("POST", "/auth/refresh", `{"refreshToken":"`+r2+`"}`)
	r3, _ := jsonField(t, rot.body, "refreshToken").(string)
	access3, _ := jsonField(t, rot.body, "accessToken").(string)
	if rot.status != 200 || r3 == "" {
		t.Fatalf("second rotation = %d", rot.status)
	}

	// An older token again: stolen. The whole family ends, new tokens too.
	if r := a.api("").do("POST", "/auth/refresh", `{"refreshToken":"`+r1+`"}`); r.status != 401 {
		t.Errorf("reused refresh token = %d", r.status)
	}
	if r := a.api("").do("POST", "/auth/refresh", `{"refreshToken":"`+r3+`"}`); r.status != 401 {
		t.Errorf("newest refresh token after a reuse = %d", r.status)
	}
	if r := a.api(access3).do("GET", "/me", ""); r.status != 401 {
		t.Errorf("access token after a reuse = %d", r.status)
	}
	for _, bad := range []string{"", "x.y", primitive.NewObjectID().Hex() + "." + strings.Repeat("a", 43)} {
		if r := a.api("").do("POST", "/auth/refresh", `{"refreshToken":"`+bad+`"}`); r.status != 401 {
			t.Errorf("refresh %q = %d", bad, r.status)
		}
	}
}

// A browser with an expired access token and a live refresh cookie gets
// new cookies and its page, without seeing the login form.
func TestBrowserSessionRefreshesTransparently(t *testing.T) {
	a := newTestApp(t)
	a.signupVerified("nodira", "nodira@example.uz", "toza-uy-2026")
	b := a.browser()
	if r := b.postForm("/auth/login", url.Values{"email": {"nodira@example.uz"}, "password": {"toza-uy-2026"}, "next": {"/me"}}); r.status != 303 || r.header.Get("Location") != "/me" {
		t.Fatalf("login form = %d → %s", r.status, r.header.Get("Location"))
	}
	if r := b.get("/me"); r.status != 200 || !strings.Contains(r.body, `data-testid="nav-username">nodira<`) {
		t.Fatalf("profile after login = %d", r.status)
	}

	// Age the access token: the same session, issued 20 minutes ago.
	u, _ := a.h.users.GetByEmail(context.Background(), "nodira@example.uz")
	sid, _ := primitive.ObjectIDFromHex(mustSession(t, b.cookie("/", accessCookie)))
	old, _ := a.h.tokens.IssueAccess(u.ID, sid, u.TokenVersion, time.Now().Add(-20*time.Minute))
	b.setCookie("/", accessCookie, old)
	if got := b.cookie("/", accessCookie); got != old {
		t.Fatalf("jar holds %q", got)
	}

	r := b.get("/me")
	if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/auth/refresh?next=%2Fme") {
		t.Fatalf("expired page = %d → %s", r.status, r.header.Get("Location"))
	}
	r = b.get(r.header.Get("Location"))
	if r.status != 303 || r.header.Get("Location") != "/me" {
		t.Fatalf("refresh = %d → %s %s", r.status, r.header.Get("Location"), r.body)
	}
	if b.cookie("/", accessCookie) == old {
		t.Fatal("no new access cookie")
	}
	if r = b.get("/me"); r.status != 200 || !strings.Contains(r.body, "nodira") {
		t.Fatalf("page after the refresh = %d", r.status)
	}

	// htmx with an expired token is sent through the refresh by HX-Redirect.
	b.setCookie("/", accessCookie, old)
	r = b.send("GET", "/services", "", "", map[string]string{"HX-Request": "true", "HX-Current-URL": a.base + "/services"})
	if r.status != 401 || !strings.HasPrefix(r.header.Get("HX-Redirect"), "/auth/refresh?next=%2Fservices") {
		t.Errorf("htmx with an expired token = %d, HX-Redirect %q", r.status, r.header.Get("HX-Redirect"))
	}

	// Logout ends it on the server and clears the cookies.
	access := b.cookie("/", accessCookie)
	r = b.postForm("/auth/logout", url.Values{})
	if r.status != 303 || b.cookie("/", accessCookie) != "" || b.cookie("/auth", refreshCookie) != "" {
		t.Fatalf("logout = %d; cookies left: %q %q", r.status, b.cookie("/", accessCookie), b.cookie("/auth", refreshCookie))
	}
	if r := a.api(access).do("GET", "/me", ""); r.status != 401 {
		t.Errorf("the old access token after logout = %d", r.status)
	}

	// Signed out: pages send to login with next, htmx gets HX-Redirect.
	if r := b.get("/me"); r.status != 303 || r.header.Get("Location") != "/auth/login?next=%2Fme" {
		t.Errorf("/me signed out = %d → %s", r.status, r.header.Get("Location"))
	}
	r = b.send("GET", "/me", "", "", map[string]string{"HX-Request": "true", "HX-Current-URL": a.base + "/me"})
	if r.status != 401 || r.header.Get("HX-Redirect") != "/auth/login?next=%2Fme" {
		t.Errorf("htmx signed out = %d, HX-Redirect %q", r.status, r.header.Get("HX-Redirect"))
	}
	if r := b.get("/auth/login?next=https://evil.example/"); !strings.Contains(r.body, `name="next" value="/"`) {
		t.Error("login keeps a foreign next")
	}
}

func TestCSRF(t *testing.T) {
	a := newTestApp(t)
	token, _ := a.signupVerified("karim", "karim@example.uz", "toza-uy-2026")
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"karim@example.uz"}, "password": {"toza-uy-2026"}})
	patch := func(headers map[string]string) int {
		h := map[string]string{"HX-Request": "true"}
		for k, v := range headers {
			h[k] = v
		}
		return b.send("PATCH", "/me", "form", "locale=ru", h).status
	}
	if s := patch(nil); s != 403 {
		t.Errorf("cookie PATCH without a token = %d", s)
	}
	if s := patch(map[string]string{"X-Csrf-Token": "0b5c2e9e-1111-2222-3333-444455556666"}); s != 403 {
		t.Errorf("cookie PATCH with a foreign token = %d", s)
	}
	if s := patch(map[string]string{"X-Csrf-Token": b.csrf()}); s != 200 {
		t.Errorf("cookie PATCH with the token = %d", s)
	}
	if r := a.api(token).do("PATCH", "/me", `{"locale":"en"}`); r.status != 200 {
		t.Errorf("Bearer PATCH without a token = %d", r.status)
	}
	// A login form without the token (login CSRF) is refused too.
	anon := a.browser()
	if r := anon.send("POST", "/auth/login", "form", "email=karim%40example.uz&password=toza-uy-2026", nil); r.status != 403 || !strings.Contains(r.body, "error-page") {
		t.Errorf("login form without a token = %d", r.status)
	}
}

func TestRateLimits(t *testing.T) {
	clock := newLimitClock()
	a := newTestAppWith(t, storetest.Open(t), Config{AuthRateLimit: 3, Now: clock.Now})
	for i := 1; i <= 4; i++ {
		r := a.api("").do("POST", "/auth/login", `{"email":"x@example.uz","password":"toza-uy-2026"}`)
		want := 401
		if i == 4 {
			want = 429
		}
		if r.status != want {
			t.Fatalf("login %d = %d, want %d", i, r.status, want)
		}
		if i == 4 && r.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	// One budget for all the auth routes: the logins spent the resend's.
	resend := request{method: "POST", path: "/auth/verify/resend", body: `{"email":"x@example.uz"}`, contentType: "application/json", headers: map[string]string{"Accept": "application/json"}}
	if r := a.do(resend); r.status != 429 || r.header.Get("Retry-After") != "60" { // the three logins count for a minute
		t.Fatalf("resend after the logins = %d, Retry-After %q; want 429, 60", r.status, r.header.Get("Retry-After"))
	}
	clock.advance(time.Minute)
	// X-Forwarded-For from an untrusted peer changes nothing.
	r := a.do(resend)
	if r.status != 202 {
		t.Fatalf("resend = %d", r.status)
	}
	for i := 0; i < 3; i++ {
		r = a.do(request{method: "POST", path: "/auth/verify/resend", body: `{"email":"x@example.uz"}`, contentType: "application/json",
			headers: map[string]string{"Accept": "application/json", "X-Forwarded-For": "203.0.113." + string(rune('1'+i))}})
	}
	if r.status != 429 {
		t.Errorf("spoofed X-Forwarded-For escaped the limit: %d", r.status)
	}

	// Behind a trusted proxy the client is the right-most address the proxy
	// added; what the client wrote to the left of it changes nothing.
	p := newTestAppWith(t, storetest.Open(t), Config{AuthRateLimit: 3, TrustedProxies: []string{"127.0.0.1"}, Now: clock.Now})
	pb := p.browser() // a real connection from 127.0.0.1, the trusted proxy
	for i := 1; i <= 4; i++ {
		r := pb.send("POST", "/auth/verify/resend", "json", `{"email":"x@example.uz"}`,
			map[string]string{"Accept": "application/json", "X-Forwarded-For": "10.9.9." + string(rune('0'+i)) + ", 203.0.113.7"})
		if want := map[bool]int{true: 429, false: 202}[i == 4]; r.status != want {
			t.Errorf("proxied request %d = %d, want %d", i, r.status, want)
		}
	}

	// Per account and client (behind a trusted proxy): failures from one
	// address stop that address for the account, even with the right
	// password; the owner elsewhere gets in.
	b := newTestAppWith(t, storetest.Open(t), Config{AuthRateLimit: 3, TrustedProxies: []string{"127.0.0.1"}, Now: clock.Now})
	b.signupVerified("lola", "lola@example.uz", "toza-uy-2026")
	login := func(password, ip string) response {
		return b.browser().send("POST", "/auth/login", "json", `{"email":"lola@example.uz","password":"`+password+`"}`,
			map[string]string{"Accept": "application/json", "X-Forwarded-For": ip})
	}
	for i := 0; i < 3; i++ {
		if r := login("wrong-password", "198.51.100.1"); r.status != 401 {
			t.Fatalf("failure %d = %d", i, r.status)
		}
	}
	if r := login("toza-uy-2026", "198.51.100.1"); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Errorf("the guessing address, right password = %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	if r := login("toza-uy-2026", "198.51.100.2"); r.status != 200 {
		t.Errorf("the owner from another address = %d %s", r.status, clip(r.body))
	}
}

func TestLogoutEverywhereAndSessionLifetime(t *testing.T) {
	a := newTestApp(t)
	phone, u := a.signupVerified("feruza", "feruza@example.uz", "toza-uy-2026")
	laptop, _ := a.login("feruza@example.uz", "toza-uy-2026")
	if r := a.api(laptop).do("POST", "/auth/logout", `{"everywhere":true}`); r.status != 200 {
		t.Fatalf("logout everywhere = %d", r.status)
	}
	if r := a.api(phone).do("GET", "/me", ""); r.status != 401 {
		t.Errorf("the other device after logout everywhere = %d", r.status)
	}
	if got, _ := a.h.users.Get(context.Background(), u.ID); got.TokenVersion != u.TokenVersion+1 {
		t.Errorf("token version %d → %d", u.TokenVersion, got.TokenVersion)
	}

	// A family never outlives its 30 days, however often it rotates.
	sid := primitive.NewObjectID()
	secret, hash := auth.NewCompound(sid)
	old := time.Now().Add(-31 * 24 * time.Hour)
	if err := a.h.sessions.Create(context.Background(), &store.Session{ID: sid, UserID: u.ID, RefreshHash: hash, UsedHashes: []string{},
		CreatedAt: old, RotatedAt: time.Now(), ExpiresAt: old.Add(auth.SessionTTL)}); err != nil {
		t.Fatal(err)
	}
	if r := a.api("").do("POST", "/auth/refresh", `{"refreshToken":"`+secret+`"}`); r.status != 401 {
		t.Errorf("refresh of a 31-day-old session = %d", r.status)
	}
}

// Attempts in flight at the same time are counted before the hash runs:
// from 30 addresses at once, the unknown browsers' budget of the account
// (10 × AUTH_RATE_LIMIT an hour) is all that gets tried.
func TestParallelGuessesAreCounted(t *testing.T) {
	a := newTestAppWith(t, storetest.Open(t), Config{AuthRateLimit: 2, TrustedProxies: []string{"127.0.0.1"}})
	a.signupVerified("parallel", "parallel@example.uz", "toza-uy-2026")
	b := a.browser()
	var wg sync.WaitGroup
	statuses := make(chan int, 30)
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := b.send("POST", "/auth/login", "json", `{"email":"parallel@example.uz","password":"wrong-password"}`,
				map[string]string{"Accept": "application/json", "X-Forwarded-For": "198.51.100." + strconv.Itoa(i)})
			statuses <- r.status
		}(i)
	}
	wg.Wait()
	close(statuses)
	tried := 0
	for s := range statuses {
		if s == 401 {
			tried++
		}
	}
	if tried != 2*untrustedLoginFactor {
		t.Errorf("%d of 30 parallel guesses were tried, want %d", tried, 2*untrustedLoginFactor)
	}
}

// Logout proves the session with its secret: an id alone ends nothing, and
// "everywhere" with an expired access token still works through the
// refresh cookie.
func TestLogoutNeedsTheSecret(t *testing.T) {
	a := newTestApp(t)
	victim, _ := a.signupVerified("qurbon", "qurbon@example.uz", "toza-uy-2026")
	attacker := a.browser()
	attacker.setCookie("/auth", refreshCookie, mustSession(t, victim)+"."+strings.Repeat("A", 43))
	attacker.postForm("/auth/logout", url.Values{})
	if r := a.api(victim).do("GET", "/me", ""); r.status != 200 {
		t.Errorf("a forged refresh cookie ended the victim's session: %d", r.status)
	}

	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"qurbon@example.uz"}, "password": {"toza-uy-2026"}})
	u, _ := a.h.users.GetByEmail(context.Background(), "qurbon@example.uz")
	sid, _ := primitive.ObjectIDFromHex(mustSession(t, b.cookie("/", accessCookie)))
	old, _ := a.h.tokens.IssueAccess(u.ID, sid, u.TokenVersion, time.Now().Add(-20*time.Minute))
	b.setCookie("/", accessCookie, old)
	if r := b.postForm("/auth/logout", url.Values{"everywhere": {"true"}}); r.status != 303 {
		t.Fatalf("logout everywhere = %d", r.status)
	}
	if r := a.api(victim).do("GET", "/me", ""); r.status != 401 {
		t.Errorf("another device after logout everywhere with an expired access token = %d", r.status)
	}
	anon := a.browser()
	if r := anon.send("POST", "/auth/logout", "json", `{"everywhere":true}`, map[string]string{"Accept": "application/json"}); r.status != 401 {
		t.Errorf("logout everywhere without a session = %d", r.status)
	}
}

func TestSentEmailsKeepNoLinks(t *testing.T) {
	a := newTestApp(t)
	a.signupVerified("maxfiy", "maxfiy@example.uz", "toza-uy-2026")
	time.Sleep(200 * time.Millisecond)
	due, _ := a.h.outbox.Due(context.Background(), time.Now().Add(time.Hour), 100)
	if len(due) != 0 {
		t.Fatalf("%d emails still due", len(due))
	}
	var n int
	if queue, _ := a.db.RawFind(context.Background(), "outbox"); len(queue) != 0 {
		t.Errorf("%d delivered emails left in the queue", len(queue))
	}
	cur, _ := a.db.RawFind(context.Background(), "outboxSent")
	for _, doc := range cur {
		n++
		if strings.Contains(fmt.Sprint(doc), "token=") {
			t.Errorf("a sent email keeps its link: %v", doc)
		}
	}
	if n == 0 {
		t.Fatal("no record of the sent emails")
	}
}
