package handlers

import (
	"context"
	"errors"
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

// sendVerification issues a new verification link for u's address (the
// old link stops working) and queues the email.
func (h *Handler) sendVerification(ctx context.Context, u *store.User) error {
	return h.sendVerificationTo(ctx, u, u.Email)
}

// sendVerificationTo sends u a link that confirms address: u's own, or the
// one u asked to change to (PendingEmail), which becomes u's when the link
// is opened.
func (h *Handler) sendVerificationTo(ctx context.Context, u *store.User, address string) error {
	secret, hash := newUserSecret(u)
	if err := h.oneTime.Issue(ctx, store.OneTimeToken{
		UserID: u.ID, Purpose: store.PurposeVerifyEmail, Hash: hash, Email: address,
		ExpiresAt: nowUTC().Add(verifyTTL),
	}); err != nil {
		return err
	}
	link := h.cfg.BaseURL + "/auth/verify?token=" + secret
	lang := localeOf(u)
	loc := h.catalog.Locale(lang)
	text := loc.Format("email.greeting", map[string]any{"Name": u.Username}) + "\n\n" +
		loc.T("email.verify.body") + "\n\n" + link + "\n\n" + loc.T("email.verify.expiry") + "\n\n-- \n" + loc.T("email.footer") + "\n"
	return h.queueEmail(ctx, address, lang, "email.verify.subject", views.VerifyEmail(u.Username, link), text)
}

// sendAddressInUse tells the owner of address that someone tried to sign up
// with it, or to move another account to it (kind: "signup" or "change"):
// the one who tried is answered as if the address were free, so that no
// one learns which addresses have accounts (#18). At most as often as
// verification links to the address (verifyEmails).
func (h *Handler) sendAddressInUse(ctx context.Context, address, kind string) error {
	owner, err := h.users.GetByEmail(ctx, address)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ok, _, err := h.verifyEmails.hit(ctx, address, h.now()); err != nil || !ok {
		return err
	}
	lang := localeOf(owner)
	loc := h.catalog.Locale(lang)
	body := loc.T("email.addressInUse." + kind)
	link := h.cfg.BaseURL + "/auth/password/forgot"
	text := loc.Format("email.greeting", map[string]any{"Name": owner.Username}) + "\n\n" + body + "\n\n" + link +
		"\n\n-- \n" + loc.T("email.footer") + "\n"
	return h.queueEmail(ctx, owner.Email, lang, "email.addressInUse.subject", views.AddressInUseEmail(owner.Username, body, link), text)
}

func localeOf(u *store.User) string {
	if views.Supported(u.Locale) {
		return u.Locale
	}
	return views.Languages[0]
}
