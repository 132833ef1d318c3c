package handlers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"image/png"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/store/storetest"
)

// rfcTOTP is an independent RFC 6238 implementation (HMAC-SHA1, 30 s),
// written from the RFC, to check the app's codes against.
func rfcTOTP(key []byte, at time.Time, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for i := 0; i < digits; i++ {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

func codeFor(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	return rfcTOTP(key, at, 6)
}

func TestTOTPMatchesRFC6238Vectors(t *testing.T) {
	key := []byte("12345678901234567890")
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(key)
	for _, v := range []struct {
		unix int64
		code string
	}{{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"}, {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}} {
		at := time.Unix(v.unix, 0)
		if got := rfcTOTP(key, at, 8); got != v.code {
			t.Fatalf("the test's own TOTP at %d = %s, RFC says %s", v.unix, got, v.code)
		}
		step, ok := auth.MatchTOTP(secret, v.code[2:], at)
		if !ok || step != v.unix/30 {
			t.Errorf("app at %d: step %d ok %v", v.unix, step, ok)
		}
		if _, ok := auth.MatchTOTP(secret, v.code[2:], at.Add(90*time.Second)); ok {
			t.Errorf("code of %d accepted 3 steps later", v.unix)
		}
	}
}

// waitForFreshStep leaves at least 10 s in the current 30 s step, so a test
// that uses the steps around now does not cross into the next one.
func waitForFreshStep() {
	if left := 30 - time.Now().Unix()%30; left < 10 {
		time.Sleep(time.Duration(left)*time.Second + 200*time.Millisecond)
	}
}

func TestTwoFactorFlow(t *testing.T) {
	a := newTestApp(t)
	token, u := a.signupVerified("shahlo", "shahlo@example.uz", "toza-uy-2026")
	me := a.api(token)

	setup := me.do("GET", "/auth/2fa/setup", "")
	var enr struct{ Secret, OtpauthUrl, QrPng string }
	setup.json(t, &enr)
	if setup.status != 200 || len(enr.Secret) != 32 || !strings.HasPrefix(enr.OtpauthUrl, "otpauth://totp/Tozalash:shahlo@example.uz?") || !strings.Contains(enr.OtpauthUrl, "secret="+enr.Secret) {
		t.Fatalf("setup = %d %+v", setup.status, enr)
	}
	raw, _ := base64.StdEncoding.DecodeString(enr.QrPng)
	if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() < 100 {
		t.Errorf("qrPng is not a PNG: %v", err)
	}
	var again struct{ Secret string }
	me.do("GET", "/auth/2fa/setup", "").json(t, &again)
	if again.Secret != enr.Secret {
		t.Error("a reload of the setup made a new secret")
	}
	stored, _ := a.h.users.Get(context.Background(), u.ID)
	if stored.TwoFactor.Secret == "" || strings.Contains(stored.TwoFactor.Secret, enr.Secret) {
		t.Errorf("the secret is not encrypted at rest: %q", stored.TwoFactor.Secret)
	}

	waitForFreshStep()
	now := time.Now()
	if r := me.do("POST", "/auth/2fa/enable", `{"code":"000000","password":"toza-uy-2026"}`); r.status != 422 {
		t.Errorf("enable with a wrong code = %d", r.status)
	}
	enrolCode := codeFor(t, enr.Secret, now.Add(-30*time.Second))
	if r := me.do("POST", "/auth/2fa/enable", `{"code":"`+enrolCode+`"}`); r.status != 422 || !strings.Contains(r.body, `"password"`) {
		t.Errorf("enable without the password = %d %s", r.status, r.body)
	}
	r := me.do("POST", "/auth/2fa/enable", `{"code":"`+enrolCode+`","password":"toza-uy-2026"}`)
	var codes struct{ RecoveryCodes []string }
	r.json(t, &codes)
	if r.status != 200 || len(codes.RecoveryCodes) != 10 {
		t.Fatalf("enable = %d %s", r.status, r.body)
	}
	if r := me.do("GET", "/auth/2fa/setup", ""); r.status != 409 || strings.Contains(r.body, enr.Secret) {
		t.Errorf("setup once enabled = %d %s", r.status, r.body)
	}
	if r := me.do("GET", "/me", ""); !strings.Contains(r.body, `"twoFactorEnabled":true`) || strings.Contains(r.body, enr.Secret) || strings.Contains(r.body, "recovery") {
		t.Errorf("/me = %s", r.body)
	}

	// The password step alone gives nothing but the second step.
	login := a.api("").do("POST", "/auth/login", `{"email":"shahlo@example.uz","password":"toza-uy-2026"}`)
	pending, _ := jsonField(t, login.body, "twoFactorToken").(string)
	if login.status != 200 || jsonField(t, login.body, "twoFactorRequired") != true || pending == "" || strings.Contains(login.body, "accessToken") ||
		strings.Contains(strings.Join(login.header.Values("Set-Cookie"), ";"), "access_token=") {
		t.Fatalf("password step = %d %s", login.status, login.body)
	}
	if r := a.api(pending).do("GET", "/me", ""); r.status != 401 {
		t.Errorf("the pending token as a bearer = %d", r.status)
	}
	second := func(pending, code string) response {
		return a.api("").do("POST", "/auth/login/2fa", `{"code":"`+code+`","twoFactorToken":"`+pending+`"}`)
	}
	// The code used at enrolment never works again.
	if r := second(pending, enrolCode); r.status != 401 || !strings.Contains(r.body, `"code":"invalid_code"`) {
		t.Errorf("the enrolment code at login = %d %s", r.status, r.body)
	}
	loginCode := codeFor(t, enr.Secret, now)
	r = second(pending, loginCode)
	if r.status != 200 || !strings.Contains(r.body, `"accessToken":"`) {
		t.Fatalf("second step = %d %s", r.status, r.body)
	}
	if r := second(pending, loginCode); r.status != 401 {
		t.Errorf("the same pending login twice = %d", r.status)
	}

	// A used code, in a new login, is refused; a recovery code works once.
	login = a.api("").do("POST", "/auth/login", `{"email":"shahlo@example.uz","password":"toza-uy-2026"}`)
	pending, _ = jsonField(t, login.body, "twoFactorToken").(string)
	if r := second(pending, loginCode); r.status != 401 {
		t.Errorf("a used code in a new login = %d", r.status)
	}
	if r := second(pending, strings.ToUpper(codes.RecoveryCodes[0])); r.status != 200 {
		t.Fatalf("recovery code = %d %s", r.status, r.body)
	}
	login = a.api("").do("POST", "/auth/login", `{"email":"shahlo@example.uz","password":"toza-uy-2026"}`)
	pending, _ = jsonField(t, login.body, "twoFactorToken").(string)
	if r := second(pending, codes.RecoveryCodes[0]); r.status != 401 {
		t.Errorf("a used recovery code = %d", r.status)
	}

	// Five wrong codes: back to the password, even with a right code.
	login = a.api("").do("POST", "/auth/login", `{"email":"shahlo@example.uz","password":"toza-uy-2026"}`)
	pending, _ = jsonField(t, login.body, "twoFactorToken").(string)
	for i := 1; i <= 5; i++ {
		r := second(pending, "111111")
		want := `"code":"invalid_code"`
		if i == 5 {
			want = `"code":"two_factor_restart"`
		}
		if r.status != 401 || !strings.Contains(r.body, want) {
			t.Fatalf("wrong code %d = %d %s", i, r.status, r.body)
		}
	}
	if r := second(pending, codes.RecoveryCodes[1]); r.status != 401 || !strings.Contains(r.body, "two_factor_restart") {
		t.Errorf("a right code after five wrong = %d %s", r.status, r.body)
	}

	// New recovery codes replace the old set.
	fresh, _ := a.login2FA("shahlo@example.uz", "toza-uy-2026", codes.RecoveryCodes[2])
	r = a.api(fresh).do("POST", "/auth/2fa/recovery-codes", `{"code":"`+codeFor(t, enr.Secret, now.Add(30*time.Second))+`"}`)
	var newCodes struct{ RecoveryCodes []string }
	r.json(t, &newCodes)
	if r.status != 200 || len(newCodes.RecoveryCodes) != 10 {
		t.Fatalf("regenerate = %d %s", r.status, r.body)
	}
	login = a.api("").do("POST", "/auth/login", `{"email":"shahlo@example.uz","password":"toza-uy-2026"}`)
	pending, _ = jsonField(t, login.body, "twoFactorToken").(string)
	if r := second(pending, codes.RecoveryCodes[3]); r.status != 401 {
		t.Errorf("an old recovery code after regenerating = %d", r.status)
	}

	// Turning it off needs the password and a code.
	if r := a.api(fresh).do("POST", "/auth/2fa/disable", `{"password":"wrong-password","code":"`+newCodes.RecoveryCodes[0]+`"}`); r.status != 422 {
		t.Errorf("disable with a wrong password = %d", r.status)
	}
	if r := a.api(fresh).do("POST", "/auth/2fa/disable", `{"password":"toza-uy-2026","code":"`+newCodes.RecoveryCodes[1]+`"}`); r.status != 200 {
		t.Fatalf("disable = %d %s", r.status, r.body)
	}
	if r := a.api("").do("POST", "/auth/login", `{"email":"shahlo@example.uz","password":"toza-uy-2026"}`); !strings.Contains(r.body, `"accessToken"`) {
		t.Errorf("login after disabling = %s", r.body)
	}
}

// login2FA signs in through both steps with a code.
func (a *testApp) login2FA(email, password, code string) (string, response) {
	a.t.Helper()
	login := a.api("").do("POST", "/auth/login", `{"email":"`+email+`","password":"`+password+`"}`)
	pending, _ := jsonField(a.t, login.body, "twoFactorToken").(string)
	r := a.api("").do("POST", "/auth/login/2fa", `{"code":"`+code+`","twoFactorToken":"`+pending+`"}`)
	if r.status != 200 {
		a.t.Fatalf("2FA login = %d %s", r.status, r.body)
	}
	tok, _ := jsonField(a.t, r.body, "accessToken").(string)
	return tok, r
}

func TestPasswordReset(t *testing.T) {
	a := newTestApp(t)
	old, u := a.signupVerified("jahongir", "jahongir@example.uz", "toza-uy-2026")
	forgot := func(email string, headers map[string]string) response {
		h := map[string]string{"Accept": "application/json"}
		for k, v := range headers {
			h[k] = v
		}
		return a.do(request{method: "POST", path: "/auth/password/forgot", body: `{"email":"` + email + `"}`, contentType: "application/json", headers: h})
	}
	known := forgot("JAHONGIR@example.uz", map[string]string{"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
	unknown := forgot("nobody@example.uz", nil)
	if known.status != 202 || known.status != unknown.status || known.body != unknown.body {
		t.Fatalf("forgot: %d %s vs %d %s", known.status, known.body, unknown.status, unknown.body)
	}
	msg := a.smtp.WaitForText("jahongir@example.uz", "/auth/password/reset?token=", 10*time.Second)
	var link string
	for _, l := range msg.Links() {
		if strings.Contains(l, "/auth/password/reset?token=") {
			link = l
		}
	}
	if !strings.HasPrefix(link, "http://localhost:3000/auth/password/reset?token=") || !strings.Contains(msg.HTML, link) {
		t.Fatalf("reset link %q (built from BASE_URL, never the Host header)", link)
	}
	time.Sleep(200 * time.Millisecond)
	if n := a.smtp.Count("nobody@example.uz"); n != 0 {
		t.Errorf("%d emails to an unknown address", n)
	}
	token := strings.TrimPrefix(link, "http://localhost:3000/auth/password/reset?token=")
	if r := a.do(request{path: "/auth/password/reset?token=" + token}); r.status != 200 || !strings.Contains(r.body, `data-testid="reset-form"`) || r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("reset page = %d, Referrer-Policy %q", r.status, r.header.Get("Referrer-Policy"))
	}
	reset := func(token, password string) response {
		return a.api("").do("POST", "/auth/password/reset", `{"token":"`+token+`","password":"`+password+`"}`)
	}
	if r := reset(token, "password1"); r.status != 422 {
		t.Errorf("a common new password = %d", r.status)
	}
	if r := reset(token, "yangi-parol-2026"); r.status != 200 {
		t.Fatalf("reset = %d %s", r.status, r.body)
	}
	if r := reset(token, "boshqa-parol-2026"); r.status != 400 || !strings.Contains(r.body, "invalid_token") {
		t.Errorf("the link a second time = %d", r.status)
	}
	if r := a.api(old).do("GET", "/me", ""); r.status != 401 {
		t.Errorf("a session from before the reset = %d", r.status)
	}
	if r := a.api("").do("POST", "/auth/login", `{"email":"jahongir@example.uz","password":"yangi-parol-2026"}`); r.status != 200 {
		t.Errorf("login with the new password = %d", r.status)
	}

	// A new request invalidates the older link; an expired link is refused.
	// One after the other: the links are made after the answer, so two at
	// once could be made in either order.
	for want := 3; want <= 4; want++ { // verification, then resets
		forgot("jahongir@example.uz", nil)
		deadline := time.Now().Add(10 * time.Second)
		for a.smtp.Count("jahongir@example.uz") < want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	msgs := a.smtp.Messages()
	first, latest := linkOf(msgs[len(msgs)-2].Text), linkOf(msgs[len(msgs)-1].Text)
	if first == "" || latest == "" || first == latest {
		t.Fatalf("links %q %q", first, latest)
	}
	if r := reset(first, "uchinchi-parol-2026"); r.status != 400 {
		t.Errorf("an older link after a newer one = %d", r.status)
	}
	secret, hash := auth.NewCompound(u.ID)
	_ = a.h.oneTime.Issue(context.Background(), store.OneTimeToken{UserID: u.ID, Purpose: store.PurposeResetPassword, Hash: hash, ExpiresAt: time.Now().Add(-time.Second)})
	if r := reset(secret, "uchinchi-parol-2026"); r.status != 400 {
		t.Errorf("an expired link = %d", r.status)
	}
}

func linkOf(text string) string {
	for _, f := range strings.Fields(text) {
		if strings.Contains(f, "/auth/password/reset?token=") {
			return strings.TrimPrefix(f, "http://localhost:3000/auth/password/reset?token=")
		}
	}
	return ""
}

// A reset never bypasses 2FA.
func TestResetKeepsTwoFactor(t *testing.T) {
	a := newTestApp(t)
	token, _ := a.signupVerified("ikkilik", "ikkilik@example.uz", "toza-uy-2026")
	var enr struct{ Secret string }
	a.api(token).do("GET", "/auth/2fa/setup", "").json(t, &enr)
	waitForFreshStep()
	if r := a.api(token).do("POST", "/auth/2fa/enable", `{"code":"`+codeFor(t, enr.Secret, time.Now())+`","password":"toza-uy-2026"}`); r.status != 200 {
		t.Fatalf("enable = %d %s", r.status, r.body)
	}
	a.api("").do("POST", "/auth/password/forgot", `{"email":"ikkilik@example.uz"}`)
	msg := a.smtp.WaitForText("ikkilik@example.uz", "/auth/password/reset?token=", 10*time.Second)
	if r := a.api("").do("POST", "/auth/password/reset", `{"token":"`+linkOf(msg.Text)+`","password":"yangi-parol-2026"}`); r.status != 200 {
		t.Fatalf("reset = %d %s", r.status, r.body)
	}
	r := a.api("").do("POST", "/auth/login", `{"email":"ikkilik@example.uz","password":"yangi-parol-2026"}`)
	if !strings.Contains(r.body, `"twoFactorRequired":true`) || strings.Contains(r.body, "accessToken") {
		t.Errorf("login after a reset skipped 2FA: %s", r.body)
	}
}

func TestAdminTwoFactorRequired(t *testing.T) {
	a := newTestAppWith(t, storetest.Open(t), Config{RequireAdmin2FA: true})
	token, _ := a.admin()
	if r := a.api(token).do("GET", "/users", ""); r.status != 403 || !strings.Contains(r.body, "two_factor_required") {
		t.Errorf("admin without 2FA = %d %s", r.status, r.body)
	}
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	if r := b.get("/users"); r.status != 303 || r.header.Get("Location") != "/auth/2fa/setup" {
		t.Errorf("admin page without 2FA = %d → %s", r.status, r.header.Get("Location"))
	}
	if r := b.get("/"); !strings.Contains(r.body, `data-testid="admin-2fa-banner"`) {
		t.Error("no banner for an admin without 2FA")
	}
	var enr struct{ Secret string }
	a.api(token).do("GET", "/auth/2fa/setup", "").json(t, &enr)
	waitForFreshStep()
	if r := a.api(token).do("POST", "/auth/2fa/enable", `{"code":"`+codeFor(t, enr.Secret, time.Now())+`","password":"admin-parol-2026"}`); r.status != 200 {
		t.Fatalf("enable = %d %s", r.status, r.body)
	}
	if r := a.api(token).do("GET", "/users", ""); r.status != 200 {
		t.Errorf("admin with 2FA = %d", r.status)
	}
}

// The setup page asks for the current password too, and shows each
// refusal on its field; an unverified account is told to verify first.
func TestTwoFactorSetupPage(t *testing.T) {
	a := newTestApp(t)
	a.signupVerified("zilola", "zilola@example.uz", "toza-uy-2026")
	b := a.browser()
	if r := b.postForm("/auth/login", url.Values{"email": {"zilola@example.uz"}, "password": {"toza-uy-2026"}}); r.status != 303 {
		t.Fatalf("login = %d", r.status)
	}
	page := b.get("/auth/2fa/setup")
	m := regexp.MustCompile(`data-testid="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(page.body)
	if page.status != 200 || m == nil || !strings.Contains(page.body, `data-testid="field-password"`) || !strings.Contains(page.body, `autocomplete="current-password"`) {
		t.Fatalf("setup page = %d, secret %v, password field %v", page.status, m, strings.Contains(page.body, `data-testid="field-password"`))
	}
	code := codeFor(t, m[1], time.Now())
	for _, pw := range []string{"", "boshqa-parol-1"} {
		r := b.postForm("/auth/2fa/enable", url.Values{"code": {code}, "password": {pw}})
		if r.status != 422 || !strings.Contains(r.body, `data-testid="error-password"`) || !strings.Contains(r.body, `data-testid="totp-qr"`) {
			t.Errorf("enable with password %q = %d, error shown %v", pw, r.status, strings.Contains(r.body, `data-testid="error-password"`))
		}
	}
	if r := b.postForm("/auth/2fa/enable", url.Values{"code": {"000000"}, "password": {"toza-uy-2026"}}); r.status != 422 || !strings.Contains(r.body, `data-testid="error-code"`) {
		t.Errorf("enable with a wrong code = %d", r.status)
	}
	if r := b.postForm("/auth/2fa/enable", url.Values{"code": {code}, "password": {"toza-uy-2026"}}); r.status != 200 || !strings.Contains(r.body, `data-testid="recovery-codes"`) || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("enable = %d, Cache-Control %q", r.status, r.header.Get("Cache-Control"))
	}
	if r := b.get("/me"); r.status != 200 || !strings.Contains(r.body, `data-testid="tfa-on"`) {
		t.Errorf("this browser after enabling = %d", r.status)
	}

	// Unverified: the profile says to verify first, the setup refuses.
	u := a.browser()
	if r := u.postForm("/auth/signup", url.Values{"username": {"yangi"}, "email": {"yangi@example.uz"}, "password": {"toza-uy-2026"}}); r.status != 201 {
		t.Fatalf("signup = %d", r.status)
	}
	u.postForm("/auth/login", url.Values{"email": {"yangi@example.uz"}, "password": {"toza-uy-2026"}})
	if r := u.get("/me"); !strings.Contains(r.body, `data-testid="tfa-verify-first"`) || strings.Contains(r.body, `data-testid="tfa-setup"`) {
		t.Errorf("the profile of an unverified account offers 2FA")
	}
	if r := u.get("/auth/2fa/setup"); r.status != 403 {
		t.Errorf("setup unverified = %d", r.status)
	}
}

// The sign-up notice and the verification email state when an unverified
// account goes.
func TestUnverifiedExpiryIsStated(t *testing.T) {
	a := newTestApp(t)
	b := a.browser()
	r := b.postForm("/auth/signup", url.Values{"username": {"vaqt"}, "email": {"vaqt@example.uz"}, "password": {"toza-uy-2026"}})
	if r.status != 201 || !strings.Contains(r.body, `data-testid="unverified-expiry"`) || !strings.Contains(r.body, "7 kun") {
		t.Errorf("sign-up notice = %d, states the expiry: %v", r.status, strings.Contains(r.body, "7 kun"))
	}
	if msg := a.smtp.WaitFor("vaqt@example.uz", 10*time.Second); !strings.Contains(msg.Text, "7 kun") || !strings.Contains(msg.HTML, "7 kun") {
		t.Errorf("the verification email does not state the expiry:\n%s", msg.Text)
	}
	// A changed address awaiting verification does not make the account go.
	token, _ := a.signupVerified("kochuvchi", "kochuvchi@example.uz", "toza-uy-2026")
	if r := a.api(token).do("PATCH", "/me", `{"email":"kochuvchi-yangi@example.uz","currentPassword":"toza-uy-2026"}`); r.status != 200 {
		t.Fatalf("email change = %d %s", r.status, r.body)
	}
	if msg := a.smtp.WaitFor("kochuvchi-yangi@example.uz", 10*time.Second); strings.Contains(msg.Text, "7 kun") {
		t.Errorf("the email change's verification says the account goes:\n%s", msg.Text)
	}
	if store.UnverifiedTTL != 7*24*time.Hour {
		t.Errorf("UnverifiedTTL = %v: the README and this test say 7 days", store.UnverifiedTTL)
	}
}

// The admin's user page shows a user's 2FA and clears it through htmx,
// with the CSRF token like every admin write.
func TestAdminClearsTwoFactorFromThePage(t *testing.T) {
	a := newTestApp(t)
	a.admin()
	_, u := a.signupVerified("ravshan", "ravshan@example.uz", "toza-uy-2026")
	turnOnTOTP(t, a, u)
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	page := b.get("/users/" + u.ID.Hex())
	if page.status != 200 || !strings.Contains(page.body, `data-testid="user-2fa-clear"`) || !strings.Contains(page.body, `hx-confirm=`) {
		t.Fatalf("user page = %d, clear button %v", page.status, strings.Contains(page.body, `data-testid="user-2fa-clear"`))
	}
	path := "/users/" + u.ID.Hex() + "/2fa"
	if r := b.send("DELETE", path, "", "", map[string]string{"HX-Request": "true"}); r.status != 403 {
		t.Errorf("without the CSRF token = %d, want 403", r.status)
	}
	r := b.htmx("DELETE", path, url.Values{})
	if r.status != 200 || !strings.Contains(r.body, `id="user-2fa"`) || !strings.Contains(r.body, `data-testid="user-2fa-off"`) || !strings.Contains(r.body, `data-testid="form-notice"`) || strings.Contains(r.body, "<html") {
		t.Errorf("clear through htmx = %d\n%s", r.status, r.body)
	}
	if stored, _ := a.h.users.Get(context.Background(), u.ID); stored.TwoFactor.Enabled || stored.TwoFactor.Secret != "" || len(stored.RecoveryCodes) != 0 {
		t.Errorf("after clearing: %+v, %d recovery codes", stored.TwoFactor, len(stored.RecoveryCodes))
	}
}
