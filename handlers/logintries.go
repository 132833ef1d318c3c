package handlers

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/views"
)

// Password tries at a login are counted before the hash runs, so that tries
// in flight at once are counted too, on every instance (store.LimitStore).
// Each try spends from two budgets:
//
//   - the account from this client IP: AUTH_RATE_LIMIT in 15 minutes
//     (loginFromIP), given back by a success;
//   - then, from a browser where the account signed in before (device.go),
//     that browser's own AUTH_RATE_LIMIT in 15 minutes (loginFromDevice);
//     from any other, the account's budget for unknown browsers: ten times
//     AUTH_RATE_LIMIT an hour (loginUntrusted, 100 by default: ASVS 5.0
//     6.3.1, the checklist's L1), of which a success gives back only its
//     own try.
//
// Once unknown browsers have spent the account's budget, they get 429
// (login_locked) whatever the password, and the account's address gets a
// link that makes the browser that opens it a known one (unlockDevice).
// Nobody can lock the owner out: a known browser, or the link, lets them
// in. An email with no account gets the same answers, and no email.
type loginTry struct {
	h       *Handler
	ipKey   string // account|IP
	device  string // this browser's id when it is one of the account's
	account string
	at      time.Time
}

const untrustedLoginFactor = 10 // the unknown browsers' budget: this × AUTH_RATE_LIMIT an hour

// startLoginTry counts one try of a password for account (the email as
// typed; u its account, nil when there is none) at now, or refuses it.
func (h *Handler) startLoginTry(c *fiber.Ctx, account string, u *store.User, now time.Time) (*loginTry, error) {
	account = store.LimitKey(strings.TrimSpace(account))
	t := &loginTry{h: h, ipKey: account + "|" + h.clientIP(c), account: account, at: now}
	if u != nil {
		t.device, _ = h.knownDevice(c, u.ID)
	}
	if err := h.loginFromIP.allow(ctx(c), t.ipKey, now); err != nil {
		return nil, err
	}
	var err error
	if t.device != "" {
		err = h.loginFromDevice.allow(ctx(c), t.device, now)
	} else {
		err = h.loginUntrusted.allow(ctx(c), account, now)
	}
	if err == nil {
		return t, nil
	}
	h.loginFromIP.undo(ctx(c), t.ipKey, now) // not tried: nothing spent
	var limited *rateLimitedError
	if t.device == "" && errors.As(err, &limited) {
		if u != nil {
			user := *u
			h.background(ctx(c), func(ctx context.Context) {
				if err := h.sendUnlock(ctx, &user); err != nil {
					h.log.Warn("unlock link", "error", err)
				}
			})
		}
		return nil, &rateLimitedError{wait: limited.wait, code: "login_locked"}
	}
	return nil, err
}

// unchecked gives the try back: the password was not checked (the hashing
// was busy, the client left).
func (t *loginTry) unchecked(ctx context.Context) {
	t.h.loginFromIP.undo(ctx, t.ipKey, t.at)
	if t.device != "" {
		t.h.loginFromDevice.undo(ctx, t.device, t.at)
	} else {
		t.h.loginUntrusted.undo(ctx, t.account, t.at)
	}
}

// succeeded forgets this client's and this browser's failures. Of the
// unknown browsers' budget it gives back this try alone: a guesser's
// failures are not forgiven by the owner's success.
// The two budgets are written side by side: a login under load waits for
// the slower of them, not both.
func (t *loginTry) succeeded(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { t.h.loginFromIP.reset(ctx, t.ipKey, t.at) })
	if t.device != "" {
		t.h.loginFromDevice.reset(ctx, t.device, t.at)
	} else {
		t.h.loginUntrusted.undo(ctx, t.account, t.at)
	}
	wg.Wait()
}

// unlockTTL is how long an emailed unlock link works.
const unlockTTL = time.Hour

// sendUnlock emails u a link that makes a browser a known one, at most once
// in 15 minutes (unlockEmails).
func (h *Handler) sendUnlock(ctx context.Context, u *store.User) error {
	if ok, _, err := h.unlockEmails.hit(ctx, u.ID.Hex(), h.now()); err != nil || !ok {
		return err
	}
	secret, hash := auth.NewCompound(u.ID)
	if err := h.oneTime.Issue(ctx, store.OneTimeToken{UserID: u.ID, Purpose: store.PurposeUnlock, Hash: hash, Email: u.Email, ExpiresAt: nowUTC().Add(unlockTTL)}); err != nil {
		return err
	}
	link := h.cfg.BaseURL + "/auth/unlock?token=" + url.QueryEscape(secret)
	lang := localeOf(u)
	loc := h.catalog.Locale(lang)
	text := loc.Format("email.greeting", map[string]any{"Name": u.Username}) + "\n\n" + loc.T("email.unlock.body") + "\n\n" + link +
		"\n\n" + loc.T("email.unlock.expiry") + "\n\n-- \n" + loc.T("email.footer") + "\n"
	return h.queueEmail(ctx, u.Email, lang, "email.unlock.subject", views.UnlockEmail(u.Username, link), text)
}

// UnlockPage shows the emailed link's button. Opening the link changes
// nothing: a GET any site can link to never does; the button posts.
func (h *Handler) UnlockPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer") // the token is in the URL
	return h.render(c, fiber.StatusOK, nil, page{title: h.meta(c).T("unlock.title"), body: views.UnlockPage(c.Query("token"), false)})
}

type unlockInput struct {
	Token string `json:"token" form:"token"`
}

func (unlockInput) Validate() error { return nil }

// Unlock uses an emailed link: this browser becomes a known one of the
// account, whose password then works here whatever unknown browsers did.
func (h *Handler) Unlock(c *fiber.Ctx) error {
	var in unlockInput
	if err := h.bind(c, &in); err != nil {
		return err
	}
	failed := func() error {
		if wantsJSON(c) {
			return errBadToken
		}
		return h.render(c, fiber.StatusBadRequest, nil, page{title: h.meta(c).T("unlock.title"), body: views.UnlockPage("", true)})
	}
	userID, hash, ok := auth.SplitCompound(in.Token)
	if !ok {
		return failed()
	}
	tok, err := h.oneTime.Consume(ctx(c), store.PurposeUnlock, userID, hash, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return failed()
	}
	if err != nil {
		return err
	}
	u, err := h.users.Get(ctx(c), userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Email != tok.Email) {
		return failed() // the account is gone, or its email changed since
	}
	if err != nil {
		return err
	}
	h.trustDevice(c, u.ID)
	if wantsJSON(c) {
		return c.JSON(fiber.Map{"status": "unlocked"})
	}
	h.setFlash(c, "success", "flash.unlocked")
	return c.Redirect("/auth/login", fiber.StatusSeeOther)
}
