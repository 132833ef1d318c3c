package handlers

import (
	"context"
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
