package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/store"
)

// The second factor, attacked (#18, gaps 2, 3 and 9): each row failed on
// the code before the fix.
func TestAttacksOnSecondFactor(t *testing.T) {
	runAttacks(t, []attack{
		{gap: "2", name: "the password, then wrong codes over fresh logins until refused; the owner is alerted once",
			cfg: Config{Now: newLimitClock().Now}, run: func(t *testing.T, a *testApp) {
				_, u := a.signupVerified("nigora", "nigora@example.uz", "toza-uy-2026")
				secret, recovery := turnOnTOTP(t, a, u)
				bad := wrongCode(t, secret)
				// Five wrong codes, then a right one: a success neither
				// resets the count nor is counted against it.
				for i := 0; i < 5; i++ {
					if r := secondStep(a, passwordStep(t, a, "nigora@example.uz", "toza-uy-2026"), bad); r.status != 401 {
						t.Fatalf("wrong code %d = %d %s", i+1, r.status, r.body)
					}
				}
				if r := secondStep(a, passwordStep(t, a, "nigora@example.uz", "toza-uy-2026"), recovery[0]); r.status != 200 {
					t.Fatalf("the right code = %d %s", r.status, r.body)
				}
				// Five more wrong codes make ten in the window, each after a
				// correct password that starts a fresh second step.
				for i := 5; i < maxWrongCodes; i++ {
					if r := secondStep(a, passwordStep(t, a, "nigora@example.uz", "toza-uy-2026"), bad); r.status != 401 {
						t.Fatalf("wrong code %d = %d %s", i+1, r.status, r.body)
					}
				}
				pending := passwordStep(t, a, "nigora@example.uz", "toza-uy-2026")
				if r := secondStep(a, pending, bad); r.status != 429 || r.header.Get("Retry-After") == "" {
					t.Errorf("the 11th wrong code = %d (Retry-After %q), want 429", r.status, r.header.Get("Retry-After"))
				}
				if r := secondStep(a, pending, recovery[1]); r.status != 429 {
					t.Errorf("a right code over the limit = %d, want 429 whatever the code", r.status)
				}
				alert := a.h.catalog.Locale("uz").T("email.tfaAlert.subject")
				a.smtp.WaitForText("nigora@example.uz", "/auth/password/forgot", 10*time.Second)
				waitOutboxEmpty(t, a)
				if n := countSubject(a, "nigora@example.uz", alert); n != 1 {
					t.Errorf("%d alert emails, want exactly 1", n)
				}
				// The owner resets the password from the mailbox, as the alert
				// says: the count is forgiven, and the second step opens again.
				a.api("").do("POST", "/auth/password/forgot", `{"email":"nigora@example.uz"}`)
				link := linkOf(a.smtp.WaitForText("nigora@example.uz", "/auth/password/reset?token=", 10*time.Second).Text)
				if r := a.api("").do("POST", "/auth/password/reset", `{"token":"`+link+`","password":"yangi-parol-2026"}`); r.status != 200 {
					t.Fatalf("reset = %d %s", r.status, r.body)
				}
				if r := secondStep(a, passwordStep(t, a, "nigora@example.uz", "yangi-parol-2026"), recovery[2]); r.status != 200 {
					t.Errorf("the right code after the reset = %d %s", r.status, r.body)
				}
			}},
		{gap: "2", name: "a stolen session guesses codes to make new recovery codes",
			cfg: Config{Now: newLimitClock().Now}, run: func(t *testing.T, a *testApp) {
				token, u := a.signupVerified("botir", "botir@example.uz", "toza-uy-2026")
				secret, _ := turnOnTOTP(t, a, u)
				bad := wrongCode(t, secret)
				for i := 0; i < maxWrongCodes; i++ {
					if r := a.api(token).do("POST", "/auth/2fa/recovery-codes", `{"code":"`+bad+`"}`); r.status != 422 {
						t.Fatalf("wrong code %d = %d %s", i+1, r.status, r.body)
					}
				}
				if r := a.api(token).do("POST", "/auth/2fa/recovery-codes", `{"code":"`+codeFor(t, secret, time.Now())+`"}`); r.status != 429 {
					t.Errorf("after %d wrong codes = %d %s, want 429", maxWrongCodes, r.status, r.body)
				}
			}},
		{gap: "3", name: "a borrowed session turns 2FA on without the password", run: func(t *testing.T, a *testApp) {
			token, u := a.signupVerified("guli", "guli@example.uz", "toza-uy-2026")
			secret := setupSecret(t, a, token)
			code := codeFor(t, secret, time.Now())
			for _, body := range []string{`{"code":"` + code + `"}`, `{"code":"` + code + `","password":"wrong-password-1"}`} {
				if r := a.api(token).do("POST", "/auth/2fa/enable", body); r.status != 422 || !strings.Contains(r.body, `"password"`) {
					t.Errorf("enable with %s = %d %s, want 422 on password", body, r.status, r.body)
				}
			}
			if stored, _ := a.h.users.Get(context.Background(), u.ID); stored.TwoFactor.Enabled {
				t.Error("2FA turned on without the password")
			}
			if r := a.api(token).do("POST", "/auth/2fa/enable", `{"code":"`+code+`","password":"toza-uy-2026"}`); r.status != 200 {
				t.Errorf("enable with the password = %d %s", r.status, r.body)
			}
		}},
		{gap: "3", name: "someone who registered another person's address first turns 2FA on", run: func(t *testing.T, a *testApp) {
			if r := a.api("").do("POST", "/auth/signup", `{"username":"squat","email":"owner@example.uz","password":"toza-uy-2026"}`); r.status != 201 {
				t.Fatalf("signup = %d %s", r.status, r.body)
			}
			token, u := a.login("owner@example.uz", "toza-uy-2026")
			setup := a.api(token).do("GET", "/auth/2fa/setup", "")
			if setup.status != 403 || !strings.Contains(setup.body, "not_verified") {
				t.Errorf("setup unverified = %d %s, want 403 not_verified", setup.status, setup.body)
			}
			code := "123456"
			if setup.status == 200 {
				code = codeFor(t, jsonField(t, setup.body, "secret").(string), time.Now())
			}
			if r := a.api(token).do("POST", "/auth/2fa/enable", `{"code":"`+code+`","password":"toza-uy-2026"}`); r.status != 403 || !strings.Contains(r.body, "not_verified") {
				t.Errorf("enable unverified = %d %s, want 403 not_verified", r.status, r.body)
			}
			if stored, _ := a.h.users.Get(context.Background(), u.ID); stored.TwoFactor.Enabled {
				t.Error("2FA on, on an unverified account")
			}
		}},
		{gap: "3", name: "a device signed in before 2FA was turned on keeps its session", run: func(t *testing.T, a *testApp) {
			here, _ := a.signupVerified("sardor", "sardor@example.uz", "toza-uy-2026")
			other, _ := a.login("sardor@example.uz", "toza-uy-2026")
			hereWS, otherWS := a.socket(here), a.socket(other)
			secret := setupSecret(t, a, here)
			r := a.api(here).do("POST", "/auth/2fa/enable", `{"code":"`+codeFor(t, secret, time.Now())+`","password":"toza-uy-2026"}`)
			if r.status != 200 {
				t.Fatalf("enable = %d %s", r.status, r.body)
			}
			if r := a.api(other).do("GET", "/me", ""); r.status != 401 {
				t.Errorf("the other device after enabling = %d, want 401", r.status)
			}
			if r := a.api(here).do("GET", "/me", ""); r.status != 200 {
				t.Errorf("this device after enabling = %d, want 200", r.status)
			}
			if code := otherWS.closeCode(5 * time.Second); code != websocket.ClosePolicyViolation {
				t.Errorf("the other device's chat socket: closed with %d, want %d", code, websocket.ClosePolicyViolation)
			}
			if n := a.h.hub.Sockets(); n != 1 {
				t.Errorf("%d chat sockets open, want this device's alone", n)
			}
			select {
			case code := <-hereWS.closed:
				t.Errorf("this device's chat socket closed (%d)", code)
			default:
			}
			a.smtp.WaitForText("sardor@example.uz", a.h.catalog.Locale("uz").T("email.tfaOn.body"), 10*time.Second)
		}},
		{gap: "3", name: "a device signed in before 2FA was turned off keeps its session", run: func(t *testing.T, a *testApp) {
			here, u := a.signupVerified("malika", "malika@example.uz", "toza-uy-2026")
			_, recovery := turnOnTOTP(t, a, u)
			other, _ := a.login2FA("malika@example.uz", "toza-uy-2026", recovery[0])
			if r := a.api(here).do("POST", "/auth/2fa/disable", `{"password":"toza-uy-2026","code":"`+recovery[1]+`"}`); r.status != 200 {
				t.Fatalf("disable = %d %s", r.status, r.body)
			}
			if r := a.api(other).do("GET", "/me", ""); r.status != 401 {
				t.Errorf("the other device after disabling = %d, want 401", r.status)
			}
			if r := a.api(here).do("GET", "/me", ""); r.status != 200 {
				t.Errorf("this device after disabling = %d, want 200", r.status)
			}
			a.smtp.WaitForText("malika@example.uz", a.h.catalog.Locale("uz").T("email.tfaOff.body"), 10*time.Second)
		}},
		{gap: "3", name: "an owner who lost the phone and the codes has no way back", run: func(t *testing.T, a *testApp) {
			admin, adminU := a.admin()
			mallory, _ := a.signupVerified("mallory", "mallory@example.uz", "toza-uy-2026")
			before, u := a.signupVerified("aziza", "aziza@example.uz", "toza-uy-2026")
			turnOnTOTP(t, a, u)
			path := "/users/" + u.ID.Hex() + "/2fa"
			if r := a.api(mallory).do("DELETE", path, ""); r.status != 403 {
				t.Errorf("a customer clears another's 2FA = %d, want 403", r.status)
			}
			if r := a.api(admin).do("DELETE", path, ""); r.status != 200 || !strings.Contains(r.body, `"twoFactorEnabled":false`) {
				t.Fatalf("the admin clears it = %d %s", r.status, r.body)
			}
			if r := a.api("").do("POST", "/auth/login", `{"email":"aziza@example.uz","password":"toza-uy-2026"}`); r.status != 200 || !strings.Contains(r.body, `"accessToken"`) {
				t.Errorf("login with the password alone = %d %s", r.status, r.body)
			}
			if r := a.api(before).do("GET", "/me", ""); r.status != 401 {
				t.Errorf("a session from before the clearing = %d, want 401", r.status)
			}
			a.smtp.WaitForText("aziza@example.uz", a.h.catalog.Locale("uz").T("email.tfaCleared.body"), 10*time.Second)
			if r := a.api(admin).do("DELETE", path, ""); r.status != 409 || !strings.Contains(r.body, "two_factor_off") {
				t.Errorf("clearing it again = %d %s, want 409 two_factor_off", r.status, r.body)
			}
			if r := a.api(admin).do("DELETE", "/users/"+primitiveNewID()+"/2fa", ""); r.status != 404 {
				t.Errorf("an unknown user = %d, want 404", r.status)
			}
			if r := a.api(admin).do("DELETE", "/users/"+adminU.ID.Hex()+"/2fa", ""); r.status != 409 {
				t.Errorf("the admin's own = %d, want 409", r.status)
			}
		}},
		{gap: "3", name: "an address registered first by someone else stays taken for good", run: func(t *testing.T, a *testApp) {
			ctx := context.Background()
			if r := a.api("").do("POST", "/auth/signup", `{"username":"band","email":"band@example.uz","password":"toza-uy-2026"}`); r.status != 201 {
				t.Fatalf("signup = %d %s", r.status, r.body)
			}
			squatter, _ := a.login("band@example.uz", "toza-uy-2026")
			link := verifyLink(t, a.smtp.WaitFor("band@example.uz", 10*time.Second).Links())
			// Accounts that are not to go: a verified one, and a verified
			// one whose new address is not verified yet.
			a.signupVerified("eski", "eski@example.uz", "toza-uy-2026")
			moved, _ := a.signupVerified("kochgan", "kochgan@example.uz", "toza-uy-2026")
			if r := a.api(moved).do("PATCH", "/me", `{"email":"yangi-manzil@example.uz","currentPassword":"toza-uy-2026"}`); r.status != 200 {
				t.Fatalf("email change = %d %s", r.status, r.body)
			}
			sweep := func(at time.Time) {
				t.Helper()
				if err := expireUnverified(a, at); err != nil {
					t.Fatal(err)
				}
			}
			sweep(time.Now().Add(unverifiedTTL(t) - time.Hour))
			if _, err := a.h.users.GetByEmail(ctx, "band@example.uz"); err != nil {
				t.Fatalf("an unverified account younger than the limit went: %v", err)
			}
			sweep(time.Now().Add(unverifiedTTL(t) + time.Hour))
			if _, err := a.h.users.GetByEmail(ctx, "band@example.uz"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("an unverified account past the limit: %v, want gone", err)
			}
			// (A new email is pending until confirmed: the account keeps
			// its verified address meanwhile.)
			for _, email := range []string{"eski@example.uz", "kochgan@example.uz"} {
				if _, err := a.h.users.GetByEmail(ctx, email); err != nil {
					t.Errorf("%s went with the unverified: %v", email, err)
				}
			}
			if r := a.api(squatter).do("GET", "/me", ""); r.status != 401 {
				t.Errorf("the expired account's session = %d, want 401", r.status)
			}
			if r := a.do(request{path: strings.TrimPrefix(link, "http://localhost:3000"), headers: asJSON}); r.status != 400 {
				t.Errorf("the expired account's verification link = %d, want 400", r.status)
			}
			// The owner registers the address, and the name is free too.
			if r := a.api("").do("POST", "/auth/signup", `{"username":"band","email":"band@example.uz","password":"egasi-parol-2026"}`); r.status != 201 {
				t.Fatalf("the owner's signup = %d %s", r.status, r.body)
			}
			for deadline := time.Now().Add(10 * time.Second); a.smtp.Count("band@example.uz") < 2; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no verification email for the owner")
				}
			}
			msgs := a.smtp.Messages()
			if r := a.do(request{path: strings.TrimPrefix(verifyLink(t, msgs[len(msgs)-1].Links()), "http://localhost:3000"), headers: asJSON}); r.status != 200 {
				t.Errorf("the owner's verification = %d %s", r.status, r.body)
			}
		}},
	})
}

// turnOnTOTP gives u a second factor through the store, as a finished
// setup leaves it: its base32 secret and recovery codes.
func turnOnTOTP(t *testing.T, a *testApp, u *store.User) (string, []string) {
	t.Helper()
	ctx := context.Background()
	enr, err := auth.NewEnrolment(u.Email)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.h.users.SetPendingTOTP(ctx, u.ID, a.h.secrets.Seal(enr.Secret)); err != nil {
		t.Fatal(err)
	}
	codes, hashes := auth.NewRecoveryCodes(10)
	if err := a.h.users.EnableTOTP(ctx, u.ID, 1, hashes); err != nil {
		t.Fatal(err)
	}
	a.h.auth.forgetUser(u.ID)
	return enr.Secret, codes
}

// setupSecret opens the setup through the route and returns the secret.
func setupSecret(t *testing.T, a *testApp, token string) string {
	t.Helper()
	r := a.api(token).do("GET", "/auth/2fa/setup", "")
	secret, _ := jsonField(t, r.body, "secret").(string)
	if r.status != 200 || secret == "" {
		t.Fatalf("setup = %d %s", r.status, r.body)
	}
	return secret
}

// wrongCode is six digits that are no code of secret around now.
func wrongCode(t *testing.T, secret string) string {
	t.Helper()
	near := map[string]bool{}
	for d := -3; d <= 3; d++ {
		near[codeFor(t, secret, time.Now().Add(time.Duration(d)*30*time.Second))] = true
	}
	for n := 0; ; n++ {
		if c := fmt.Sprintf("%06d", n*7919%1_000_000); !near[c] {
			return c
		}
	}
}

// passwordStep signs in with the password and returns the pending token of
// the second step.
func passwordStep(t *testing.T, a *testApp, email, password string) string {
	t.Helper()
	r := a.api("").do("POST", "/auth/login", `{"email":"`+email+`","password":"`+password+`"}`)
	pending, _ := jsonField(t, r.body, "twoFactorToken").(string)
	if r.status != 200 || pending == "" {
		t.Fatalf("password step = %d %s", r.status, r.body)
	}
	return pending
}

func secondStep(a *testApp, pending, code string) response {
	return a.api("").do("POST", "/auth/login/2fa", `{"code":"`+code+`","twoFactorToken":"`+pending+`"}`)
}

// countSubject counts the emails to an address with subject that arrived.
func countSubject(a *testApp, to, subject string) int {
	n := 0
	for _, m := range a.smtp.Messages() {
		for _, rcpt := range m.To {
			if strings.EqualFold(rcpt, to) && m.Subject == subject {
				n++
			}
		}
	}
	return n
}

func primitiveNewID() string { return primitive.NewObjectID().Hex() }

// expireUnverified runs the maintenance's sweep of unverified accounts as
// of at.
func expireUnverified(a *testApp, at time.Time) error {
	_, err := a.db.ExpireUnverified(context.Background(), at)
	return err
}

func unverifiedTTL(*testing.T) time.Duration { return store.UnverifiedTTL }
