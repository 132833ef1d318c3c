package handlers

import (
	"context"
	"errors"
	"regexp"
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
	// The link, and a 6-digit code to type on the page that waits for it.
	secret, hash := newUserSecret(u)
	code := newVerifyCode()
	if err := h.oneTime.Issue(ctx, store.OneTimeToken{UserID: u.ID, Purpose: store.PurposeVerifyEmail, Hash: hash, Email: address,
		CodeHash: verifyCodeHash(u.ID, code), ExpiresAt: nowUTC().Add(verifyTTL)}); err != nil {
		return err
	}
	link := h.cfg.BaseURL + linkPaths[store.PurposeVerifyEmail] + "?token=" + secret
	lang := localeOf(u)
	loc := h.catalog.Locale(lang)
	expiry := loc.T("email.verify.expiry")
	if u.ExpiresAt != nil { // a new account, which goes unless verified
		expiry += "\n" + loc.Format("email.verify.unverifiedExpiry", map[string]any{"Days": views.UnverifiedDays()})
	}
	text := loc.Format("email.greeting", map[string]any{"Name": u.Username}) + "\n\n" +
		loc.T("email.verify.body") + "\n\n" + link + "\n\n" + loc.Format("email.verify.code", map[string]any{"Code": code}) + "\n\n" + expiry + "\n\n-- \n" + loc.T("email.footer") + "\n"
	return h.queueEmail(ctx, address, lang, "email.verify.subject", views.VerifyEmail(u.Username, link, code, u.ExpiresAt != nil), text)
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

// localeOf is the language of emails to u: the one they last used the site
// in, else their profile's, else Uzbek.
func localeOf(u *store.User) string {
	if views.Supported(u.LastLang) {
		return u.LastLang
	}
	if views.Supported(u.Locale) {
		return u.Locale
	}
	return views.Languages[0]
}

// linkPaths are the pages of the emailed one-time links, by purpose.
var linkPaths = map[string]string{store.PurposeVerifyEmail: "/auth/verify", store.PurposeResetPassword: "/auth/password/reset", store.PurposeInvite: "/auth/invite"}

// issueLink makes a one-time link of purpose (verification or reset) for
// u, bound to u's address, and returns its path and query; it replaces the
// link issued before.
func (h *Handler) issueLink(ctx context.Context, u *store.User, purpose, address string) (string, error) {
	secret, hash := newUserSecret(u)
	ttl := verifyTTL
	switch purpose {
	case store.PurposeResetPassword:
		ttl = resetTTL
	case store.PurposeInvite:
		ttl = inviteTTL
	}
	if err := h.oneTime.Issue(ctx, store.OneTimeToken{UserID: u.ID, Purpose: purpose, Hash: hash, Email: address, ExpiresAt: nowUTC().Add(ttl)}); err != nil {
		return "", err
	}
	return linkPaths[purpose] + "?token=" + secret, nil
}

// removedLink is a one-time link whose secret the outbox removed
// (store.RedactLinks): its page tells its purpose, its token the account.
var removedLink = regexp.MustCompile(`(/auth/verify|/auth/password/reset|/auth/invite)\?token=([0-9a-f]{24})\.` + store.RemovedSecret)

// Relink is the mail worker's Relink: an email given up on, its links
// removed, and sent again by an admin gets fresh links in the copy being
// sent. A link is made again only while it still makes sense: for the
// account it was made for, still at the address the email goes to, and
// (a verification link or a cleaner's invitation) still unverified; any
// other stays dead.
func (h *Handler) Relink(ctx context.Context, e *store.Email) error {
	fresh := map[string]string{}
	for _, m := range removedLink.FindAllStringSubmatch(e.Text+"\n"+e.HTML, -1) {
		if _, done := fresh[m[0]]; done {
			continue
		}
		fresh[m[0]] = m[0]
		purpose := store.PurposeVerifyEmail
		switch m[1] {
		case linkPaths[store.PurposeResetPassword]:
			purpose = store.PurposeResetPassword
		case linkPaths[store.PurposeInvite]:
			purpose = store.PurposeInvite
		}
		id, _ := store.ParseID(m[2])
		u, err := h.users.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		// Still the account's address, or (a verification link) the one
		// it asked to move to.
		current := u.Email == e.To && !(purpose == store.PurposeVerifyEmail && u.IsVerified) &&
			!(purpose == store.PurposeInvite && (u.IsVerified || !u.IsCleaner())) // an invitation until accepted
		pending := purpose == store.PurposeVerifyEmail && u.PendingEmail != "" && u.PendingEmail == e.To
		if !current && !pending {
			continue
		}
		if fresh[m[0]], err = h.issueLink(ctx, u, purpose, e.To); err != nil {
			return err
		}
	}
	pairs := make([]string, 0, 2*len(fresh))
	for old, link := range fresh {
		pairs = append(pairs, old, link)
	}
	r := strings.NewReplacer(pairs...)
	e.Text, e.HTML = r.Replace(e.Text), r.Replace(e.HTML)
	return nil
}
