package handlers

import (
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

var (
	errTwoFactorOn       = &codedError{status: fiber.StatusConflict, code: "two_factor_on"}
	errTwoFactorOff      = &codedError{status: fiber.StatusConflict, code: "two_factor_off"}
	errInvalidCode       = &codedError{status: fiber.StatusUnauthorized, code: "invalid_code"}
	errTwoFactorRestart  = &codedError{status: fiber.StatusUnauthorized, code: "two_factor_restart"}
	errTwoFactorRequired = &codedError{status: fiber.StatusForbidden, code: "two_factor_required"}
	totpCodePattern      = regexp.MustCompile(`^\d{6}$`)
)

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
		page{title: h.meta(c).T("tfa.setup.title"), body: views.TwoFactorSetupPage(enr.Secret, enr.QRBase64(), f)})
}

// TwoFactorEnable turns 2FA on with a first code and shows the recovery
// codes, once.
func (h *Handler) TwoFactorEnable(c *fiber.Ctx) error {
	u := currentUser(c)
	if u.TwoFactor.Enabled {
		return errTwoFactorOn
	}
	secret, err := h.secrets.Open(u.TwoFactor.Secret)
	if err != nil || u.TwoFactor.Secret == "" {
		return errTwoFactorOff // no setup first
	}
	var in codeInput
	retry := func(err error) error {
		if wantsJSON(c) {
			return err
		}
		enr, eerr := auth.EnrolmentFor(u.Email, secret)
		if eerr != nil {
			return eerr
		}
		return h.setupPage(c, enr, views.FormState{Errors: map[string]string{"code": h.meta(c).T("err.invalid_code")}}, fiber.StatusUnprocessableEntity)
	}
	if err := h.bind(c, &in); err != nil {
		return retry(err)
	}
	step, ok := auth.MatchTOTP(secret, in.Code, time.Now())
	if !ok {
		return retry(&ValidationError{Fields: map[string]string{"code": h.meta(c).T("err.invalid_code")}})
	}
	codes, hashes := auth.NewRecoveryCodes(10)
	err = h.users.EnableTOTP(ctx(c), u.ID, step, hashes)
	h.auth.forgetUser(u.ID)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return retry(&ValidationError{Fields: map[string]string{"code": h.meta(c).T("err.invalid_code")}})
		}
		return err
	}
	return h.recoveryCodes(c, codes)
}

func (h *Handler) recoveryCodes(c *fiber.Ctx, codes []string) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, fiber.StatusOK, fiber.Map{"recoveryCodes": codes}, page{title: h.meta(c).T("tfa.codes.title"), body: views.RecoveryCodesPage(codes)})
}

// checkSecondFactor accepts a TOTP code (each time step once) or an unused
// recovery code (then used up).
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

// TwoFactorDisable turns 2FA off with the password and a current code.
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
	ok, err := h.checkSecondFactor(c, u, strings.TrimSpace(in.Code))
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
	ok, err := h.checkSecondFactor(c, u, in.Code)
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
// wrong codes send the user back to the password.
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
	if ok, err = h.checkSecondFactor(c, u, in.Code); err != nil {
		return err
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
