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

// profileInput is the body of PATCH /me. Role and verification are not in
// it: a user sending them changes nothing.
type profileInput struct {
	Username        *string `json:"username" form:"username"`
	Email           *string `json:"email" form:"email"`
	Password        *string `json:"password" form:"password"`
	CurrentPassword *string `json:"currentPassword" form:"currentPassword"`
	Locale          *string `json:"locale" form:"locale"`
	Name            *string `json:"name" form:"name"`   // "" forgets it
	Phone           *string `json:"phone" form:"phone"` // an Uzbek number, stored +998XXXXXXXXX; "" forgets it
	// Form names the page's form that sent it: "details" or "password".
	Form string `json:"-" form:"form"`
}

func (in *profileInput) normalize() {
	lower := func(p *string) {
		if p != nil {
			*p = strings.ToLower(strings.TrimSpace(*p))
		}
	}
	lower(in.Username)
	if in.Name != nil {
		*in.Name = strings.Join(strings.Fields(*in.Name), " ")
	}
	if in.Phone != nil {
		*in.Phone = normalizePhone(*in.Phone)
	}
	if in.Email != nil {
		*in.Email = auth.NormalizeEmail(*in.Email)
	}
	if in.Form == "details" {
		in.Password = nil
		if in.CurrentPassword != nil && *in.CurrentPassword == "" {
			in.CurrentPassword = nil
		}
	}
}

// passwordForm tells which form of the profile page sent the change.
func (in profileInput) passwordForm() bool {
	return in.Form == "password" || (in.Form == "" && in.Password != nil)
}

func (in profileInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Username, append(usernameRules(false), validation.NilOrNotEmpty)...),
		validation.Field(&in.Email, append(emailRules(false), validation.NilOrNotEmpty)...),
		validation.Field(&in.Password, append(newPasswordRules(false), validation.NilOrNotEmpty)...),
		validation.Field(&in.CurrentPassword, validation.RuneLength(0, auth.MaxPasswordLen)),
		validation.Field(&in.Locale, validation.In("uz", "ru", "en")),
		validation.Field(&in.Name, validation.RuneLength(0, 100)),
		validation.Field(&in.Phone, validation.Match(uzPhone).ErrorObject(errPhone)),
	)
}

func profileValues(u *store.User) map[string]string {
	return map[string]string{"username": u.Username, "email": u.Email, "locale": localeOf(u), "name": u.Name, "phone": views.PhoneText(u.Phone)}
}

// Me is the user's own profile.
func (h *Handler) Me(c *fiber.Ctx) error {
	u := currentUser(c)
	if err := h.offerAddresses(c, nil); err != nil {
		return err
	}
	if err := h.offerCalendarFeed(c); err != nil {
		return err
	}
	h.offerTelegram(c)
	details := views.FormState{Values: profileValues(u)}
	return h.render(c, fiber.StatusOK, u, page{
		title: h.meta(c).T("profile.title"),
		body:  views.ProfilePage(u, details, views.FormState{}, views.FormState{}, views.FormState{}),
	})
}

// UpdateMe changes the user's own username, email (which must be verified
// again), password (with the current one; every other session ends) or
// language.
func (h *Handler) UpdateMe(c *fiber.Ctx) error {
	u := currentUser(c)
	var in profileInput
	forms := func(f views.FormState) page {
		details, password := views.FormState{Values: profileValues(u)}, views.FormState{}
		if in.passwordForm() {
			password = f
		} else {
			details = f
		}
		return page{title: h.meta(c).T("profile.title"), body: views.ProfilePage(u, details, password, views.FormState{}, views.FormState{}), fragment: views.ProfileForms(u, details, password)}
	}
	if !isFragment(c) {
		if err := h.offerAddresses(c, nil); err != nil { // the whole page shows them
			return err
		}
		if err := h.offerCalendarFeed(c); err != nil {
			return err
		}
		h.offerTelegram(c)
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, in.values(), forms)
	}
	ch := store.UserChange{Username: in.Username, Locale: in.Locale, Name: in.Name, Phone: in.Phone}
	// A new email waits for its link to be opened (Verify): the account
	// keeps the old one, verified, meanwhile, and the answer is the same
	// whether or not the new one is another account's.
	newEmail := ""
	if in.Email != nil && *in.Email != u.Email {
		newEmail = *in.Email
		ch.PendingEmail = &newEmail
	}
	// A new password or a new email (the way to a reset) needs the current
	// password: a borrowed session cannot take the account over.
	if in.Password != nil || newEmail != "" {
		if err := h.checkOwnPassword(c, u, deref(in.CurrentPassword), "currentPassword"); err != nil {
			return h.formError(c, err, in.values(), forms)
		}
	}
	if in.Password != nil {
		words := append(auth.PasswordContext(u.Email, u.Username), auth.PasswordContext(deref(in.Email), deref(in.Username))...)
		hash, err := h.hashNewPassword(c, *in.Password, words)
		if err != nil {
			return h.formError(c, err, in.values(), forms)
		}
		ch.PasswordHash, ch.BumpTokenVersion = &hash, true
	}
	updated, err := h.users.Update(ctx(c), u.ID, ch)
	h.auth.forgetUser(u.ID)
	if errors.Is(err, store.ErrConflict) {
		var taken *conflictError
		if taken, err = h.takenError(c, deref(in.Username), deref(in.Email), u.ID); err == nil {
			err = taken
		}
	}
	if err != nil {
		return h.formError(c, err, in.values(), forms)
	}
	if ch.PasswordHash != nil {
		// Links sent before the change: a reset link, and a verification
		// link of an address no longer the account's.
		if err := h.oneTime.ForgetLinks(ctx(c), u.ID, updated.Email); err != nil {
			return err
		}
		// A login waiting for its code was started with the old password.
		if err := h.oneTime.Delete(ctx(c), store.PurposeTwoFactor, u.ID); err != nil {
			return err
		}
	}
	if newEmail != "" {
		owner := *updated
		h.background(ctx(c), func(ctx context.Context) {
			if err := h.sendEmailChange(ctx, &owner, newEmail); err != nil {
				h.log.Warn("email change", "error", err)
			}
		})
	}
	if ch.BumpTokenVersion {
		// Every session ends; this browser gets a fresh one.
		if err := h.sessions.RevokeAll(ctx(c), u.ID, time.Now().UTC()); err != nil {
			return err
		}
		h.hub.CloseUser(u.ID.Hex())
		if _, _, err := h.startSession(c, updated); err != nil {
			return err
		}
	}
	*u = *updated
	if in.Locale != nil {
		h.meta(c).Locale = h.catalog.Locale(*in.Locale)
		c.Cookie(&fiber.Cookie{Name: "lang", Value: *in.Locale, Path: "/", Expires: time.Now().AddDate(1, 0, 0), HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteLaxMode})
	}
	notice := "profile.saved"
	if newEmail != "" {
		notice = "profile.emailChanged"
	} else if ch.BumpTokenVersion {
		notice = "profile.passwordChanged"
	}
	if ch.BumpTokenVersion && isFragment(c) {
		// A new session binds a new CSRF token, which the page around this
		// fragment does not carry (its htmx headers keep the old one): the
		// page reloads, and says what happened.
		h.setFlash(c, "success", notice)
		c.Set("HX-Refresh", "true")
		return c.SendStatus(fiber.StatusOK)
	}
	f := views.FormState{Values: profileValues(updated), Notice: h.meta(c).T(notice)}
	return h.render(c, fiber.StatusOK, updated, forms(f))
}

// sendEmailChange sends u the link that moves the account to address, or,
// when address is another account's, tells that account's owner instead.
func (h *Handler) sendEmailChange(ctx context.Context, u *store.User, address string) error {
	_, err := h.users.GetByEmail(ctx, address)
	switch {
	case err == nil:
		return h.sendAddressInUse(ctx, address, "change")
	case errors.Is(err, store.ErrNotFound):
		return h.sendVerificationTo(ctx, u, address)
	}
	return err
}

func (in profileInput) values() map[string]string {
	return map[string]string{"username": deref(in.Username), "email": deref(in.Email), "locale": deref(in.Locale), "name": deref(in.Name), "phone": deref(in.Phone)}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

type deleteMeInput struct {
	Password string `json:"password" form:"password"`
}

func (in deleteMeInput) Validate() error {
	return validation.ValidateStruct(&in, validation.Field(&in.Password, validation.Required, validation.RuneLength(0, auth.MaxPasswordLen)))
}

// DeleteMe deletes the user's own account after checking the password.
func (h *Handler) DeleteMe(c *fiber.Ctx) error {
	u := currentUser(c)
	var in deleteMeInput
	form := func(f views.FormState) page {
		return page{title: h.meta(c).T("profile.title"), body: views.DeleteAccountForm(f)}
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, nil, form)
	}
	if err := h.checkOwnPassword(c, u, in.Password, "password"); err != nil {
		return h.formError(c, err, nil, form)
	}
	if err := h.deleteUser(c, u.ID); err != nil {
		return err
	}
	h.clearAuthCookies(c)
	return h.done(c, "/", "flash.accountDeleted")
}

// checkOwnPassword checks a signed-in user's password. Wrong tries count
// against this session (AUTH_RATE_LIMIT in 15 minutes): whoever holds it
// guesses no further, and failed logins elsewhere never stop the owner
// here. A wrong one is a 422 on field.
func (h *Handler) checkOwnPassword(c *fiber.Ctx, u *store.User, password, field string) error {
	msg := h.meta(c).T("err.wrong_password")
	if password == "" {
		return &ValidationError{Fields: map[string]string{field: h.meta(c).T("err.validation_required")}}
	}
	now := h.now()
	key := u.ID.Hex()
	if sid, ok := c.Locals(sessionLocal).(primitiveID); ok {
		key = sid.Hex()
	}
	if err := h.passwordChecks.allow(ctx(c), key, now); err != nil {
		return err
	}
	ok, err := h.hasher.Check(ctx(c), u.PasswordHash, password)
	if err != nil {
		h.passwordChecks.undo(ctx(c), key, now) // not checked: not a try
		return err
	}
	if !ok {
		return &ValidationError{Fields: map[string]string{field: msg}}
	}
	h.passwordChecks.reset(ctx(c), key, now)
	return nil
}

// deleteUser removes an account and ends its sessions.
func (h *Handler) deleteUser(c *fiber.Ctx, id primitiveID) error {
	if err := h.sessions.RevokeAll(ctx(c), id, time.Now().UTC()); err != nil {
		return err
	}
	h.auth.forgetUser(id)
	h.hub.CloseUser(id.Hex())
	if err := h.orders.DeleteForUser(ctx(c), id); err != nil { // the orders stay, for the books
		return err
	}
	if err := h.addresses.DeleteForUser(ctx(c), id); err != nil {
		return err
	}
	if err := h.chat.ForgetUser(ctx(c), id); err != nil { // the conversations stay, for the other side
		return err
	}
	if err := h.telegrams.Disconnect(ctx(c), id); err != nil && !errors.Is(err, store.ErrNotFound) { // the bot forgets the chat
		return err
	}
	if err := h.calendars.Forget(ctx(c), id); err != nil { // the private feed answers nothing
		return err
	}
	return h.users.Delete(ctx(c), id)
}

// done answers a finished action: 204 for JSON, otherwise a flash and a
// redirect (HX-Redirect for htmx).
func (h *Handler) done(c *fiber.Ctx, to, flashID string) error {
	if wantsJSON(c) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	h.setFlash(c, "success", flashID)
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", to)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}
