package handlers

import (
	"context"
	"errors"
	"strings"
	"time"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/views"
)

const resetTTL = 30 * time.Minute

// errLinkGone: an emailed link that is used, expired or unknown (GET of its page).
var errLinkGone = &codedError{status: fiber.StatusGone, code: "invalid_token"}

// ForgotPasswordPage asks for the email.
func (h *Handler) ForgotPasswordPage(c *fiber.Ctx) error {
	return h.render(c, fiber.StatusOK, nil, page{title: h.meta(c).T("forgot.title"), body: views.ForgotPasswordPage(views.FormState{}, false)})
}

// ForgotPassword answers at once and the same for every address; the link
// is made and queued after the answer, so neither the words nor the time
// tell whether the address has an account.
func (h *Handler) ForgotPassword(c *fiber.Ctx) error {
	var in resendInput
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, map[string]string{"email": in.Email}, func(f views.FormState) page {
			return page{title: h.meta(c).T("forgot.title"), body: views.ForgotPasswordPage(f, false)}
		})
	}
	email := strings.Clone(in.Email)
	h.background(ctx(c), func(ctx context.Context) {
		if err := h.sendReset(ctx, email); err != nil {
			h.log.Warn("password reset", "error", err)
		}
	})
	return h.render(c, fiber.StatusAccepted, fiber.Map{"status": "sent", "message": h.meta(c).T("forgot.sent")},
		page{title: h.meta(c).T("forgot.title"), body: views.ForgotPasswordPage(views.FormState{}, true)})
}

// sendReset issues a reset link for the account of email, if there is one
// and the address is within its limit; a new link invalidates the older
// one.
func (h *Handler) sendReset(ctx context.Context, email string) error {
	u, err := h.users.GetByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ok, _, err := h.resetEmails.hit(ctx, u.Email, h.now()); err != nil || !ok {
		return err
	}
	link, err := h.issueLink(ctx, u, store.PurposeResetPassword, u.Email)
	if err != nil {
		return err
	}
	link = h.cfg.BaseURL + link
	lang := localeOf(u)
	loc := h.catalog.Locale(lang)
	text := loc.Format("email.greeting", map[string]any{"Name": u.Username}) + "\n\n" + loc.T("email.reset.body") + "\n\n" + link +
		"\n\n" + loc.T("email.reset.expiry") + "\n\n-- \n" + loc.T("email.footer") + "\n"
	return h.queueEmail(ctx, u.Email, lang, "email.reset.subject", views.ResetEmail(u.Username, link), text)
}

// ResetPasswordPage shows the new-password form of an emailed link.
func (h *Handler) ResetPasswordPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer") // the token is in the URL
	// A link used, expired, replaced or unknown says so at once, before the
	// person types a new password for nothing (nothing is used up here).
	token := c.Query("token")
	userID, hash, ok := auth.SplitCompound(token)
	if ok {
		tok, err := h.oneTime.Peek(ctx(c), store.PurposeResetPassword, userID, hash, time.Now())
		if err == nil {
			_, err = h.linkAccount(ctx(c), tok)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		ok = err == nil
	}
	if !ok {
		if wantsJSON(c) {
			return errLinkGone
		}
		return h.render(c, fiber.StatusGone, nil, page{title: h.meta(c).T("resetGone.title"), body: views.ResetLinkGonePage()})
	}
	return h.render(c, fiber.StatusOK, nil, page{title: h.meta(c).T("reset.title"), body: views.ResetPasswordPage(token, views.FormState{})})
}

type resetInput struct {
	Token    string `json:"token" form:"token"`
	Password string `json:"password" form:"password"`
}

func (in resetInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Token, validation.Required, validation.RuneLength(0, 200)),
		validation.Field(&in.Password, newPasswordRules(true)...))
}

// ResetPassword sets the new password, uses the link up and ends every
// session: the user signs in again (with 2FA, if it is on).
func (h *Handler) ResetPassword(c *fiber.Ctx) error {
	var in resetInput
	form := func(f views.FormState) page {
		return page{title: h.meta(c).T("reset.title"), body: views.ResetPasswordPage(in.Token, f)}
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, nil, form)
	}
	invalid := func() error {
		if wantsJSON(c) {
			return errBadToken
		}
		return h.render(c, fiber.StatusBadRequest, nil, form(views.FormState{Error: h.meta(c).T("error.invalid_token.message")}))
	}
	userID, hash, ok := auth.SplitCompound(in.Token)
	if !ok {
		return invalid()
	}
	// The link is checked, and the new password estimated and hashed,
	// before the link is used up: a weak password (422) or a hash refused
	// as busy (503) leaves the link to a second try.
	tok, err := h.oneTime.Peek(ctx(c), store.PurposeResetPassword, userID, hash, time.Now())
	var u *store.User
	if err == nil {
		u, err = h.linkAccount(ctx(c), tok)
	}
	if errors.Is(err, store.ErrNotFound) {
		return invalid()
	} else if err != nil {
		return err
	}
	pw, err := h.hashNewPassword(c, in.Password, auth.PasswordContext(u.Email, u.Username))
	if err != nil {
		return h.formError(c, err, nil, form)
	}
	// Used up, and checked again: an email change since the look above
	// deletes the link, or is seen now.
	tok, err = h.oneTime.Consume(ctx(c), store.PurposeResetPassword, userID, hash, time.Now())
	if err == nil {
		u, err = h.linkAccount(ctx(c), tok)
	}
	if errors.Is(err, store.ErrNotFound) {
		return invalid()
	} else if err != nil {
		return err
	}
	if _, err := h.users.Update(ctx(c), userID, store.UserChange{PasswordHash: &pw, BumpTokenVersion: true}); errors.Is(err, store.ErrNotFound) {
		return invalid()
	} else if err != nil {
		return err
	}
	if err := h.oneTime.ForgetLinks(ctx(c), userID, u.Email); err != nil {
		return err
	}
	// A login waiting for its code was started with the old password.
	if err := h.oneTime.Delete(ctx(c), store.PurposeTwoFactor, userID); err != nil {
		return err
	}
	if err := h.sessions.RevokeAll(ctx(c), userID, time.Now().UTC()); err != nil {
		return err
	}
	h.auth.forgetUser(userID)
	h.hub.CloseUser(userID.Hex())
	h.forgiveWrongCodes(ctx(c), userID, h.now()) // the mailbox is proven, the old password gone
	h.clearAuthCookies(c)
	if wantsJSON(c) {
		return c.JSON(fiber.Map{"status": "reset"})
	}
	h.setFlash(c, "success", "flash.passwordReset")
	return c.Redirect("/auth/login", fiber.StatusSeeOther)
}

// linkAccount is the account an emailed link (tok) acts on: the link is
// bound to the address it was sent to, and an account whose email has
// changed since (often because that mailbox was lost) answers ErrNotFound,
// as does an account deleted.
func (h *Handler) linkAccount(ctx context.Context, tok *store.OneTimeToken) (*store.User, error) {
	u, err := h.users.Get(ctx, tok.UserID)
	if err != nil {
		return nil, err
	}
	if u.Email != tok.Email {
		return nil, store.ErrNotFound
	}
	return u, nil
}

// hashNewPassword estimates a password being set against words (what an
// attacker knows of its user: auth.PasswordContext) and hashes it, on the
// hashing workers and within their bound. A weak one is a 422 on the
// password field saying why, in the user's language (ASVS 5.0 6.2.4,
// 6.2.11).
func (h *Handler) hashNewPassword(c *fiber.Ctx, password string, words []string) (string, error) {
	hash, weak, err := h.hasher.HashNew(ctx(c), password, words)
	if err != nil {
		return "", err
	}
	if weak != "" {
		reason := "err.validation_password_" + string(weak) // common, personal, pattern or short
		return "", &ValidationError{Fields: map[string]string{"password": h.meta(c).T(reason)}}
	}
	return hash, nil
}
