package handlers

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/views"
)

const (
	pendingCookie      = "login_2fa"
	pendingTTL         = 5 * time.Minute
	maxSecondStepTries = 5
)

// Wrong second-factor codes are counted per account, whatever the login,
// session or address they come from (#18): a correct password starts a
// fresh second step of maxSecondStepTries, but never a fresh budget here.
// Ten wrong codes in any 24 hours (a sliding window) and the account's
// code checks answer 429 until the window lets one more through: with
// three codes valid at a time (one step of skew), a guesser who holds the
// password gets 10 tries a day at a 3-in-a-million chance each, about one
// success in 90 years, where the per-IP limit alone let 14,400 tries a day
// from each address. The owner, who types a wrong code now and then, is
// far from it. The third wrong code in the window emails the owner, once
// a window (ASVS 5.0 6.3.5: tell the user of suspicious authentication
// attempts).
const (
	maxWrongCodes        = 10
	wrongCodesWindow     = 24 * time.Hour
	alertAfterWrongCodes = 3
)

var (
	errTwoFactorOn       = &codedError{status: fiber.StatusConflict, code: "two_factor_on"}
	errTwoFactorOff      = &codedError{status: fiber.StatusConflict, code: "two_factor_off"}
	errInvalidCode       = &codedError{status: fiber.StatusUnauthorized, code: "invalid_code"}
	errTwoFactorRestart  = &codedError{status: fiber.StatusUnauthorized, code: "two_factor_restart"}
	errTwoFactorRequired = &codedError{status: fiber.StatusForbidden, code: "two_factor_required"}
	totpCodePattern      = regexp.MustCompile(`^\d{6}$`)
)

// enableInput is the body of POST /auth/2fa/enable: the first code and the
// current password.
type enableInput struct {
	Code     string `json:"code" form:"code"`
	Password string `json:"password" form:"password"`
}

func (in *enableInput) normalize() { in.Code = strings.TrimSpace(in.Code) }

func (in enableInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Code, validation.Required, validation.RuneLength(6, 32)),
		validation.Field(&in.Password, validation.Required, validation.RuneLength(0, auth.MaxPasswordLen)))
}

type codeInput struct {
	Code           string `json:"code" form:"code"`
	TwoFactorToken string `json:"twoFactorToken" form:"-"`
	Next           string `json:"-" form:"next"`
}

func (in *codeInput) normalize() { in.Code = strings.TrimSpace(in.Code) }

func (in codeInput) Validate() error {
	return validation.ValidateStruct(&in, validation.Field(&in.Code, validation.Required, validation.RuneLength(6, 32)))
}

// TwoFactorSetup shows a new secret (kept, encrypted, until it is enabled,
// so a reload shows the same one): JSON {secret, otpauthUrl, qrPng}.
func (h *Handler) TwoFactorSetup(c *fiber.Ctx) error {
	u := currentUser(c)
	if u.TwoFactor.Enabled {
		if wantsJSON(c) {
			return errTwoFactorOn
		}
		return c.Redirect("/me", fiber.StatusSeeOther)
	}
	var enr *auth.Enrolment
	if secret, err := h.secrets.Open(u.TwoFactor.Secret); err == nil && u.TwoFactor.Secret != "" {
		enr, err = auth.EnrolmentFor(u.Email, secret)
		if err != nil {
			return err
		}
	} else {
		if enr, err = auth.NewEnrolment(u.Email); err != nil {
			return err
		}
		err := h.users.SetPendingTOTP(ctx(c), u.ID, h.secrets.Seal(enr.Secret))
		h.auth.forgetUser(u.ID)
		if err != nil {
			return err
		}
	}
	return h.setupPage(c, enr, views.FormState{}, fiber.StatusOK)
}

func (h *Handler) setupPage(c *fiber.Ctx, enr *auth.Enrolment, f views.FormState, status int) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, fiber.Map{"secret": enr.Secret, "otpauthUrl": enr.OTPAuthURL, "qrPng": enr.QRBase64()},
		page{title: h.meta(c).T("tfa.setup.title"), body: views.TwoFactorSetupPage(enr.Secret, enr.QRBase64(), enr.OTPAuthURL, f)})
}

// TwoFactorEnable turns 2FA on with a first code and the current password
// (a borrowed session cannot lock the owner out: ASVS 5.0 6.4.x, 7.5.1),
// on a verified account only (the route's guard: whoever registered
// another person's address first cannot), ends the user's other sessions,
// emails the user and shows the recovery codes, once.
func (h *Handler) TwoFactorEnable(c *fiber.Ctx) error {
	u := currentUser(c)
	if u.TwoFactor.Enabled {
		return errTwoFactorOn
	}
	secret, err := h.secrets.Open(u.TwoFactor.Secret)
	if err != nil || u.TwoFactor.Secret == "" {
		return errTwoFactorOff // no setup first
	}
	// A browser gets the setup page again, with the messages.
	var enr *auth.Enrolment
	if !wantsJSON(c) {
		if enr, err = auth.EnrolmentFor(u.Email, secret); err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	form := func(f views.FormState) page {
		return page{title: h.meta(c).T("tfa.setup.title"), body: views.TwoFactorSetupPage(enr.Secret, enr.QRBase64(), enr.OTPAuthURL, f)}
	}
	var in enableInput
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, nil, form)
	}
	if err := h.checkOwnPassword(c, u, in.Password, "password"); err != nil {
		return h.formError(c, err, nil, form)
	}
	wrongCode := &ValidationError{Fields: map[string]string{"code": h.meta(c).T("err.invalid_code")}}
	step, ok := auth.MatchTOTP(secret, in.Code, time.Now())
	if !ok {
		return h.formError(c, wrongCode, nil, form)
	}
	codes, hashes := auth.NewRecoveryCodes(10)
	err = h.users.EnableTOTP(ctx(c), u.ID, step, hashes)
	h.auth.forgetUser(u.ID)
	if errors.Is(err, store.ErrConflict) {
		return h.formError(c, wrongCode, nil, form)
	}
	if err != nil {
		return err
	}
	if err := h.endOtherSessions(c, u.ID); err != nil {
		return err
	}
	h.notifySecurity(ctx(c), u, "tfaOn")
	return h.recoveryCodes(c, codes)
}

func (h *Handler) recoveryCodes(c *fiber.Ctx, codes []string) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, fiber.StatusOK, fiber.Map{"recoveryCodes": codes}, page{title: h.meta(c).T("tfa.codes.title"), body: views.RecoveryCodesPage(codes)})
}

// secondFactor checks a code of u's second factor against the account's
// budget of wrong codes (see maxWrongCodes): counted before the check, so
// that codes tried at once are all counted, on every instance; over the
// budget it is a *rateLimitedError (429) whatever the code. A code that
// was right, or that the server failed to check, is given back. A right
// code does not reset the count, nor does a right password: the count
// measures guessing at this account, and the owner signing in says
// nothing about whether someone else still is (resetting it would give
// such a guesser, who knows the password, a fresh budget each time the
// owner signs in). Only a password reset by email (forgiveWrongCodes)
// does, since it proves the mailbox and ends the guesser's password.
func (h *Handler) secondFactor(c *fiber.Ctx, u *store.User, code string) (bool, error) {
	key, now := u.ID.Hex(), h.now()
	if err := h.wrongCodes.allow(ctx(c), key, now); err != nil {
		return false, err
	}
	ok, err := h.checkSecondFactor(c, u, code)
	if ok || err != nil {
		h.wrongCodes.undo(ctx(c), key, now)
		return ok, err
	}
	h.alertWrongCodes(c, u, now)
	return false, nil
}

// alertWrongCodes counts a wrong code towards the alert's threshold and,
// at it, emails the owner: once a window per account, on every instance
// together (a limit of one, counted in the database).
func (h *Handler) alertWrongCodes(c *fiber.Ctx, u *store.User, now time.Time) {
	key := u.ID.Hex()
	below, _, err := h.codeWarnings.hit(ctx(c), key, now)
	if err != nil || below {
		return
	}
	first, _, err := h.codeAlerts.hit(ctx(c), key, now)
	if err != nil || !first {
		return
	}
	h.log.Warn("wrong second-factor codes: owner alerted", "user", key, "requestId", requestID(c))
	h.notifySecurity(ctx(c), u, "tfaAlert")
}

// forgiveWrongCodes forgets the account's wrong codes and its alert: its
// password was just reset from the mailbox.
func (h *Handler) forgiveWrongCodes(ctx context.Context, userID primitiveID, now time.Time) {
	for _, l := range []*limit{h.wrongCodes, h.codeWarnings, h.codeAlerts} {
		l.reset(ctx, userID.Hex(), now)
	}
}

// checkSecondFactor accepts a TOTP code (each time step once) or an unused
// recovery code (then used up). Callers go through secondFactor.
func (h *Handler) checkSecondFactor(c *fiber.Ctx, u *store.User, code string) (bool, error) {
	if totpCodePattern.MatchString(code) {
		secret, err := h.secrets.Open(u.TwoFactor.Secret)
		if err != nil {
			return false, err
		}
		step, ok := auth.MatchTOTP(secret, code, time.Now())
		if !ok {
			return false, nil
		}
		err = h.users.UseTOTPStep(ctx(c), u.ID, step)
		h.auth.forgetUser(u.ID)
		if errors.Is(err, store.ErrConflict) {
			return false, nil // that code was used already
		}
		return err == nil, err
	}
	err := h.users.UseRecoveryCode(ctx(c), u.ID, auth.HashRecoveryCode(code))
	h.auth.forgetUser(u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

type disableInput struct {
	Password string `json:"password" form:"password"`
	Code     string `json:"code" form:"code"`
}

func (in disableInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Password, validation.Required, validation.RuneLength(0, auth.MaxPasswordLen)),
		validation.Field(&in.Code, validation.Required, validation.RuneLength(6, 32)))
}

// TwoFactorDisable turns 2FA off with the password and a current code,
// ends the user's other sessions and emails the user.
func (h *Handler) TwoFactorDisable(c *fiber.Ctx) error {
	u := currentUser(c)
	if !u.TwoFactor.Enabled {
		return errTwoFactorOff
	}
	var in disableInput
	if err := h.bind(c, &in); err != nil {
		return err
	}
	if err := h.checkOwnPassword(c, u, in.Password, "password"); err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		return h.profileError(c, u, "err.password_or_code")
	}
	ok, err := h.secondFactor(c, u, strings.TrimSpace(in.Code))
	if err != nil {
		return err
	}
	if !ok {
		return h.profileError(c, u, "err.password_or_code")
	}
	err = h.users.DisableTOTP(ctx(c), u.ID)
	h.auth.forgetUser(u.ID)
	if err != nil {
		return err
	}
	if err := h.endOtherSessions(c, u.ID); err != nil {
		return err
	}
	h.notifySecurity(ctx(c), u, "tfaOff")
	if wantsJSON(c) {
		return c.JSON(fiber.Map{"twoFactorEnabled": false})
	}
	h.setFlash(c, "success", "flash.tfaOff")
	return c.Redirect("/me", fiber.StatusSeeOther)
}

// TwoFactorRecoveryCodes replaces the recovery codes (a current code needed).
func (h *Handler) TwoFactorRecoveryCodes(c *fiber.Ctx) error {
	u := currentUser(c)
	if !u.TwoFactor.Enabled {
		return errTwoFactorOff
	}
	var in codeInput
	if err := h.bind(c, &in); err != nil {
		return err
	}
	if !totpCodePattern.MatchString(in.Code) {
		return h.profileError(c, u, "err.invalid_code")
	}
	ok, err := h.secondFactor(c, u, in.Code)
	if err != nil {
		return err
	}
	if !ok {
		return h.profileError(c, u, "err.invalid_code")
	}
	codes, hashes := auth.NewRecoveryCodes(10)
	err = h.users.SetRecoveryCodes(ctx(c), u.ID, hashes)
	h.auth.forgetUser(u.ID)
	if err != nil {
		return err
	}
	return h.recoveryCodes(c, codes)
}

// profileError answers a refused 2FA change: 422 for JSON, the profile with
// the message for a browser.
func (h *Handler) profileError(c *fiber.Ctx, u *store.User, msgID string) error {
	ve := &ValidationError{Fields: map[string]string{"code": h.meta(c).T(msgID)}}
	if wantsJSON(c) {
		return ve
	}
	details := views.FormState{Values: profileValues(u)}
	return h.render(c, fiber.StatusUnprocessableEntity, nil, page{
		title: h.meta(c).T("profile.title"),
		body:  views.ProfilePage(u, details, views.FormState{}, views.FormState{}, views.FormState{Error: h.meta(c).T(msgID)}),
	})
}

// startSecondStep remembers that the password was right, for 5 minutes and
// 5 tries, in a token whose secret goes to a cookie (and to JSON clients).
func (h *Handler) startSecondStep(c *fiber.Ctx, u *store.User) (string, error) {
	secret, hash := auth.NewCompound(u.ID)
	if err := h.oneTime.Issue(ctx(c), store.OneTimeToken{UserID: u.ID, Purpose: store.PurposeTwoFactor, Hash: hash, ExpiresAt: nowUTC().Add(pendingTTL)}); err != nil {
		return "", err
	}
	c.Cookie(&fiber.Cookie{Name: pendingCookie, Value: secret, Path: "/auth/login", Expires: time.Now().Add(pendingTTL), HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteStrictMode})
	return secret, nil
}

func (h *Handler) clearSecondStep(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: pendingCookie, Path: "/auth/login", Expires: time.Unix(0, 0), MaxAge: -1, HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteStrictMode})
}

// LoginTwoFactorPage asks for the code after the password.
func (h *Handler) LoginTwoFactorPage(c *fiber.Ctx) error {
	if c.Cookies(pendingCookie) == "" {
		return c.Redirect("/auth/login", fiber.StatusSeeOther)
	}
	return h.render(c, fiber.StatusOK, nil, page{title: h.meta(c).T("tfa.login.title"), body: views.LoginTwoFactorPage(views.FormState{}, localPath(c.Query("next")))})
}

// LoginTwoFactorSubmit finishes a login with a TOTP or recovery code. Five
// wrong codes send the user back to the password; ten in a day, over any
// number of logins, stop the account's second step (secondFactor). Only a
// live pending login spends the account's budget: a forged token cannot.
func (h *Handler) LoginTwoFactorSubmit(c *fiber.Ctx) error {
	var in codeInput
	form := func(f views.FormState) page {
		return page{title: h.meta(c).T("tfa.login.title"), body: views.LoginTwoFactorPage(f, localPath(in.Next))}
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, nil, form)
	}
	pending := c.Cookies(pendingCookie)
	if pending == "" {
		pending = in.TwoFactorToken
	}
	restart := func() error {
		h.clearSecondStep(c)
		if wantsJSON(c) {
			return errTwoFactorRestart
		}
		h.setFlash(c, "error", "flash.tfaRestart")
		return c.Redirect("/auth/login?next="+url.QueryEscape(localPath(in.Next)), fiber.StatusSeeOther)
	}
	userID, hash, ok := auth.SplitCompound(pending)
	if !ok {
		return restart()
	}
	if _, err := h.oneTime.Peek(ctx(c), store.PurposeTwoFactor, userID, hash, time.Now()); errors.Is(err, store.ErrNotFound) {
		return restart()
	} else if err != nil {
		return err
	}
	u, err := h.users.Get(ctx(c), userID)
	if errors.Is(err, store.ErrNotFound) {
		return restart()
	}
	if err != nil {
		return err
	}
	if ok, err = h.secondFactor(c, u, in.Code); err != nil {
		return err // a 429 over the account's wrong codes, whatever this one was
	}
	if !ok {
		n, err := h.oneTime.Fail(ctx(c), store.PurposeTwoFactor, userID, hash, maxSecondStepTries)
		if errors.Is(err, store.ErrNotFound) || n >= maxSecondStepTries {
			return restart()
		}
		if err != nil {
			return err
		}
		if wantsJSON(c) {
			return errInvalidCode
		}
		return h.render(c, fiber.StatusUnauthorized, nil, form(views.FormState{Errors: map[string]string{"code": h.meta(c).T("err.invalid_code")}}))
	}
	if err := h.oneTime.Delete(ctx(c), store.PurposeTwoFactor, userID); err != nil {
		return err
	}
	h.clearSecondStep(c)
	return h.finishLogin(c, u, in.Next)
}

// endOtherSessions ends every session of the user but this request's, and
// closes their chat sockets on every instance (this browser's stay open):
// after a change of how the account is protected, a device signed in
// before it, perhaps by whoever made the change needed, must sign in again
// (ASVS 5.0 7.4.3).
func (h *Handler) endOtherSessions(c *fiber.Ctx, userID primitiveID) error {
	keep, _ := c.Locals(sessionLocal).(primitiveID)
	ended, err := h.sessions.RevokeOthers(ctx(c), userID, keep, time.Now().UTC())
	if err != nil {
		return err
	}
	for _, sid := range ended {
		h.auth.forgetSession(sid)
		h.hub.CloseSession(sid.Hex())
	}
	return nil
}

// notifySecurity emails u, in their language and through the outbox, that
// how their account is protected changed, or that someone tries to get
// past it (ASVS 5.0 6.3.7): kind names the email's strings
// (email.<kind>.subject and .body), and every such email says what to do
// if it was not them, with the link to the password reset. The change it
// tells of is made already, so a failure to queue it is logged, not
// answered: the user still gets the recovery codes of a 2FA just enabled.
func (h *Handler) notifySecurity(ctx context.Context, u *store.User, kind string) {
	lang := localeOf(u)
	loc := h.catalog.Locale(lang)
	link := h.cfg.BaseURL + "/auth/password/forgot"
	subject, body := "email."+kind+".subject", "email."+kind+".body"
	text := loc.Format("email.greeting", map[string]any{"Name": u.Username}) + "\n\n" + loc.T(body) + "\n\n" +
		loc.T("email.security.notYou") + "\n\n" + link + "\n\n-- \n" + loc.T("email.footer") + "\n"
	if err := h.queueEmail(ctx, u.Email, lang, subject, views.SecurityEmail(u.Username, subject, body, link), text); err != nil {
		h.log.Warn("security notice not queued", "kind", kind, "user", u.ID.Hex(), "error", err)
	}
}
