package handlers

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/store"
)

// The attacks on account recovery and on passwords and addresses (#18,
// gaps 4, 8 and 9): each row fails on the code before the fix.
func TestAttacksOnRecovery(t *testing.T) {
	runAttacks(t, []attack{
		{gap: "4", name: "a reset link sent to the old address is used after the email changed", run: func(t *testing.T, a *testApp) {
			token, u := a.signupVerified("umida", "umida@example.uz", "toza-uy-2026")
			// The old mailbox is lost; whoever has it asks for a link.
			secret := resetSecret(t, a, "umida@example.uz")
			if r := a.api(token).do("PATCH", "/me", `{"email":"umida.yangi@example.uz","currentPassword":"toza-uy-2026"}`); r.status != 200 {
				t.Fatalf("email change = %d %s", r.status, r.body)
			}
			a.confirmEmail("umida.yangi@example.uz")
			refusedReset(t, a, secret, "the old address's link after the change")
			// A link to the old address that outlived the change (a request
			// racing it): bound to its address, it is refused all the same.
			late, hash := auth.NewCompound(u.ID)
			if err := a.h.oneTime.Issue(context.Background(), store.OneTimeToken{UserID: u.ID, Purpose: store.PurposeResetPassword, Hash: hash,
				Email: "umida@example.uz", ExpiresAt: time.Now().Add(resetTTL)}); err != nil {
				t.Fatal(err)
			}
			refusedReset(t, a, late, "a link bound to the old address")
			a.login("umida.yangi@example.uz", "toza-uy-2026") // the owner's own password still
		}},
		{gap: "4", name: "a reset link is used after the password changed", run: func(t *testing.T, a *testApp) {
			token, _ := a.signupVerified("bobur", "bobur@example.uz", "toza-uy-2026")
			secret := resetSecret(t, a, "bobur@example.uz")
			if r := a.api(token).do("PATCH", "/me", `{"password":"yangi-parol-2026","currentPassword":"toza-uy-2026"}`); r.status != 200 {
				t.Fatalf("password change = %d %s", r.status, r.body)
			}
			refusedReset(t, a, secret, "a link from before the password change")
			a.login("bobur@example.uz", "yangi-parol-2026")
		}},
		{gap: "8", name: "weak passwords are refused at signup, saying why in the user's language", run: func(t *testing.T, a *testApp) {
			for _, c := range []struct{ lang, password, want string }{
				{"uz", "password123", msgIn(t, a, "uz", "err.validation_password_common")},
				{"ru", "password123", msgIn(t, a, "ru", "err.validation_password_common")},
				{"uz", "        ", msgIn(t, a, "uz", "err.validation_password_pattern")},
				{"en", "tozalash2026", msgIn(t, a, "en", "err.validation_password_personal")},
				{"uz", "nodira@example.uz", msgIn(t, a, "uz", "err.validation_password_personal")},
			} {
				r := a.do(request{method: "POST", path: "/auth/signup", contentType: "application/json",
					body:    `{"username":"nodira","email":"nodira@example.uz","password":"` + c.password + `"}`,
					headers: map[string]string{"Accept": "application/json", "Accept-Language": c.lang}})
				if r.status != 422 || fieldError(t, r.body, "password") != c.want {
					t.Errorf("%q (%s) = %d %s, want 422 saying %q", c.password, c.lang, r.status, r.body, c.want)
				}
			}
			if _, err := a.h.users.GetByEmail(context.Background(), "nodira@example.uz"); err == nil {
				t.Error("an account was made with a weak password")
			}
		}},
		{gap: "8", name: "a weak password is refused by a reset and by /me, which keep the link and the password", run: func(t *testing.T, a *testApp) {
			token, _ := a.signupVerified("jasur", "jasur@example.uz", "toza-uy-2026")
			// A signed-in user is answered in their account's language.
			r := a.api(token).do("PATCH", "/me", `{"password":"jasur@example.uz","currentPassword":"toza-uy-2026"}`)
			if want := msgIn(t, a, "uz", "err.validation_password_personal"); r.status != 422 || fieldError(t, r.body, "password") != want {
				t.Errorf("/me with the email as the password = %d %s, want 422 saying %q", r.status, r.body, want)
			}
			secret := resetSecret(t, a, "jasur@example.uz")
			r = a.api("").do("POST", "/auth/password/reset", `{"token":"`+secret+`","password":"qwertyuiop"}`)
			if want := msgIn(t, a, "uz", "err.validation_password_common"); r.status != 422 || fieldError(t, r.body, "password") != want {
				t.Errorf("a reset to qwertyuiop = %d %s, want 422 saying %q", r.status, r.body, want)
			}
			if r := a.api("").do("POST", "/auth/password/reset", `{"token":"`+secret+`","password":"kuchli-kalit-2026"}`); r.status != 200 {
				t.Errorf("the same link with a strong password = %d %s", r.status, r.body)
			}
			if r := a.api("").do("POST", "/auth/login", `{"email":"jasur@example.uz","password":"kuchli-kalit-2026"}`); r.status != 200 {
				t.Errorf("login with the reset password = %d", r.status)
			}
		}},
		{gap: "9", name: "a reset link, sent or given up on, stays in neither the outbox nor a backup", run: func(t *testing.T, a *testApp) {
			ctx := context.Background()
			a.signupVerified("sevara", "sevara@example.uz", "toza-uy-2026")
			// SMTP down: the email waits in the outbox with its link, which a
			// backup taken now must not hold.
			a.smtp.Stop()
			if r := a.api("").do("POST", "/auth/password/forgot", `{"email":"sevara@example.uz"}`); r.status != 202 {
				t.Fatalf("forgot = %d", r.status)
			}
			var pending string
			waitUntil(t, "the reset email is queued", func() bool {
				pending = secretIn(fmt.Sprint(rawDocs(t, a, "outbox")))
				return pending != ""
			})
			if strings.Contains(backupText(t, a), pending) {
				t.Error("a backup holds the link of an email waiting to be sent")
			}
			// Given up on: the failed email keeps its recipient, subject and
			// status for the admin's page, not its link.
			waitUntil(t, "the reset email has failed for good", func() bool {
				p, err := a.h.outbox.ListProblems(ctx, 10, primitive.NilObjectID)
				return err == nil && len(p.Failed) == 1
			})
			failed := fmt.Sprint(rawDocs(t, a, "outbox"))
			if strings.Contains(failed, pending) || !strings.Contains(failed, "sevara@example.uz") || !strings.Contains(failed, "failed") {
				t.Errorf("the failed email = %s, want its recipient and status without its link", clip(failed))
			}
			// Sent: no copy anywhere holds the link.
			a.smtp.Restart()
			sent := resetSecret(t, a, "sevara@example.uz")
			waitUntil(t, "the delivery is recorded", func() bool { return len(rawDocs(t, a, "outbox")) == 1 })
			for _, col := range []string{"outbox", "outboxSent"} {
				if docs := fmt.Sprint(rawDocs(t, a, col)); strings.Contains(docs, sent) || strings.Contains(docs, pending) {
					t.Errorf("%s holds a reset link: %s", col, clip(docs))
				}
			}
			if b := backupText(t, a); strings.Contains(b, sent) || strings.Contains(b, pending) {
				t.Error("a backup holds a reset link")
			}
		}},
		{gap: "9", name: "a lookalike email with a Cyrillic а is refused at signup", run: func(t *testing.T, a *testApp) {
			a.signupVerified("admin", "admin@example.uz", "toza-uy-2026")
			for _, email := range []string{"аdmin@example.uz", "admin@ехample.uz", "adm\u200bin@example.uz"} { // Cyrillic а; Cyrillic е and х; a zero-width space
				r := a.do(request{method: "POST", path: "/auth/signup", contentType: "application/json",
					body:    `{"username":"admin2","email":"` + email + `","password":"toza-uy-2026"}`,
					headers: map[string]string{"Accept": "application/json", "Accept-Language": "ru"}})
				if want := msgIn(t, a, "ru", "err.validation_email_script"); r.status != 422 || fieldError(t, r.body, "email") != want {
					t.Errorf("signup as %q = %d %s, want 422 saying %q", email, r.status, r.body, want)
				}
			}
			if items, _, _ := a.h.users.List(context.Background(), store.UserFilter{Limit: 10}); len(items) != 1 {
				t.Errorf("%d accounts, want the one admin", len(items))
			}
		}},
		{gap: "9", name: "a full-width ＡＤＭＩＮ address is another account of the same email", run: func(t *testing.T, a *testApp) {
			_, u := a.signupVerified("admin", "admin@example.uz", "toza-uy-2026")
			a.api("").do("POST", "/auth/signup", `{"username":"admin2","email":"ＡＤＭＩＮ@example.uz","password":"toza-uy-2026"}`)
			if items, _, _ := a.h.users.List(context.Background(), store.UserFilter{Limit: 10}); len(items) != 1 {
				t.Errorf("%d accounts after a full-width signup, want 1", len(items))
			}
			r := a.api("").do("POST", "/auth/login", `{"email":"ＡＤＭＩＮ@example.uz","password":"toza-uy-2026"}`)
			if r.status != 200 || !strings.Contains(r.body, u.ID.Hex()) {
				t.Errorf("login as ＡＤＭＩＮ@example.uz = %d %s, want the account of admin@example.uz", r.status, clip(r.body))
			}
		}},
	})
}

// refusedReset tries a reset link as an attacker would, and fails the test
// unless it is refused as invalid.
func refusedReset(t *testing.T, a *testApp, secret, what string) {
	t.Helper()
	r := a.api("").do("POST", "/auth/password/reset", `{"token":"`+secret+`","password":"begona-kalit-2026"}`)
	if r.status != 400 || !strings.Contains(r.body, `"code":"invalid_token"`) {
		t.Errorf("%s = %d %s, want 400 invalid_token", what, r.status, r.body)
	}
}

// resetSecret asks for a reset link for email and returns its token, from
// the email that arrives.
func resetSecret(t *testing.T, a *testApp, email string) string {
	t.Helper()
	before := len(a.smtp.Messages())
	if r := a.api("").do("POST", "/auth/password/forgot", `{"email":"`+email+`"}`); r.status != 202 {
		t.Fatalf("forgot %s = %d", email, r.status)
	}
	var secret string
	waitUntil(t, "the reset email to "+email, func() bool {
		for _, m := range a.smtp.Messages()[before:] {
			if s := secretIn(m.Text); s != "" && strings.EqualFold(m.To[0], email) {
				secret = s
				return true
			}
		}
		return false
	})
	return secret
}

var resetSecretPattern = regexp.MustCompile(`/auth/password/reset\?token=([A-Za-z0-9._~-]+)`)

func secretIn(s string) string {
	if m := resetSecretPattern.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// waitUntil polls cond (the mail worker is another goroutine) for 15 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 15 s for %s", what)
		}
	}
}

func rawDocs(t *testing.T, a *testApp, col string) []any {
	t.Helper()
	docs, err := a.db.RawFind(context.Background(), col)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]any, len(docs))
	for i, d := range docs {
		out[i] = d
	}
	return out
}

// backupText takes a backup and returns every file of it, unpacked.
func backupText(t *testing.T, a *testApp) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := a.db.Backup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var all strings.Builder
	for {
		if _, err := tr.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		all.Write(b)
	}
	return all.String()
}

// msgIn is a message of the catalogue in lang.
func msgIn(t *testing.T, a *testApp, lang, id string) string {
	t.Helper()
	if !a.h.catalog.Has(id) {
		t.Fatalf("no message %s in the catalogue", id)
	}
	return a.h.catalog.T(lang, id)
}

// fieldError is the message of a field in a JSON error answer.
func fieldError(t *testing.T, body, field string) string {
	t.Helper()
	var out struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		return ""
	}
	return out.Error.Fields[field]
}

// An email given up on and sent again by an admin gets fresh links only
// where they still hold: not to an address the account has left, not to
// verify an account verified since.
func TestRelinkOnlyWhereTheLinkStillHolds(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	token, u := a.signupVerified("kamola", "kamola@example.uz", "toza-uy-2026")
	removed := func(path string) *store.Email {
		body := "http://localhost:3000" + path + "?token=" + u.ID.Hex() + "." + store.RemovedSecret
		return &store.Email{To: "kamola@example.uz", Text: body, HTML: `<a href="` + body + `">` + body + `</a>`}
	}
	reset := removed("/auth/password/reset")
	if err := a.h.Relink(ctx, reset); err != nil {
		t.Fatal(err)
	}
	secret := secretIn(reset.Text)
	if strings.Contains(reset.Text+reset.HTML, store.RemovedSecret) || strings.Count(reset.HTML, secret) != 2 {
		t.Fatalf("relinked reset email: %s\n%s", reset.Text, reset.HTML)
	}
	if r := a.api("").do("POST", "/auth/password/reset", `{"token":"`+secret+`","password":"kuchli-kalit-2026"}`); r.status != 200 {
		t.Errorf("the fresh reset link = %d %s", r.status, r.body)
	}
	verify := removed("/auth/verify") // the account is verified already
	if err := a.h.Relink(ctx, verify); err != nil || !strings.Contains(verify.Text, store.RemovedSecret) {
		t.Errorf("a verification link for a verified account was made again: %s %v", verify.Text, err)
	}
	token, _ = a.login("kamola@example.uz", "kuchli-kalit-2026")
	if r := a.api(token).do("PATCH", "/me", `{"email":"kamola.yangi@example.uz","currentPassword":"kuchli-kalit-2026"}`); r.status != 200 {
		t.Fatalf("email change = %d %s", r.status, r.body)
	}
	a.confirmEmail("kamola.yangi@example.uz")
	old := removed("/auth/password/reset") // to the address the account left
	if err := a.h.Relink(ctx, old); err != nil || !strings.Contains(old.Text, store.RemovedSecret) {
		t.Errorf("a reset link to the old address was made again: %s %v", old.Text, err)
	}
}
