package handlers

import (
	"context"
	"strings"

	"github.com/a-h/templ"

	"tozalash/store"
	"tozalash/views"
)

// queueEmail renders an email in lang and writes it to the outbox; the mail
// worker sends it. The request never waits on SMTP.
func (h *Handler) queueEmail(ctx context.Context, to, lang, subjectID string, html templ.Component, text string) error {
	e, err := h.renderEmail(ctx, to, lang, subjectID, html, text)
	if err != nil {
		return err
	}
	return h.enqueue(ctx, e)
}

// enqueue puts a rendered email into the outbox.
func (h *Handler) enqueue(ctx context.Context, e *store.Email) error {
	if err := h.outbox.Enqueue(ctx, e); err != nil {
		return err
	}
	h.emailQueued()
	return nil
}

// renderEmail renders an email in lang, to queue.
func (h *Handler) renderEmail(ctx context.Context, to, lang, subjectID string, html templ.Component, text string) (*store.Email, error) {
	m := &views.Meta{Locale: h.catalog.Locale(lang)}
	var b strings.Builder
	if err := html.Render(views.WithMeta(ctx, m), &b); err != nil {
		return nil, err
	}
	return &store.Email{To: to, Subject: m.T(subjectID), HTML: b.String(), Text: text}, nil
}

// emailQueued counts a queued email and wakes the mail worker.
func (h *Handler) emailQueued() {
	h.metrics.emailsQueued.Inc()
	h.cfg.EmailQueued()
}

// sendVerification issues a new verification link for u (the old one stops
// working) and queues the email.
func (h *Handler) sendVerification(ctx context.Context, u *store.User) error {
	secret, hash := newUserSecret(u)
	if err := h.oneTime.Issue(ctx, store.OneTimeToken{
		UserID: u.ID, Purpose: store.PurposeVerifyEmail, Hash: hash, Email: u.Email,
		ExpiresAt: nowUTC().Add(verifyTTL),
	}); err != nil {
		return err
	}
	link := h.cfg.BaseURL + "/auth/verify?token=" + secret
	lang := localeOf(u)
	loc := h.catalog.Locale(lang)
	expiry := loc.T("email.verify.expiry")
	if u.ExpiresAt != nil { // a new account, which goes unless verified
		expiry += "\n" + loc.Format("email.verify.unverifiedExpiry", map[string]any{"Days": views.UnverifiedDays()})
	}
	text := loc.Format("email.greeting", map[string]any{"Name": u.Username}) + "\n\n" +
		loc.T("email.verify.body") + "\n\n" + link + "\n\n" + expiry + "\n\n-- \n" + loc.T("email.footer") + "\n"
	return h.queueEmail(ctx, u.Email, lang, "email.verify.subject", views.VerifyEmail(u.Username, link, u.ExpiresAt != nil), text)
}

func localeOf(u *store.User) string {
	if views.Supported(u.Locale) {
		return u.Locale
	}
	return views.Languages[0]
}
