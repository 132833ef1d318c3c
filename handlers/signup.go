package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/views"
)

// signupCookie names the account that signed up in this browser, and where
// the person was going: "<userId>.<expiry unix>.<base64url next>.<HMAC>",
// signed with a key derived from JWT_SECRET (nothing stored: every instance
// checks it). The verification link opened in this browser, or the code
// typed here, signs in; anywhere else they only verify.
const signupCookie = "signup"

// signupCookieTTL: the sign-in on verification is for the moment of the
// sign-up; later, the link verifies and the person logs in.
const signupCookieTTL = time.Hour

// maxVerifyCodeTries: wrong codes an address may send in a verifyCodeWindow
// (the limit verify-code, counted in the database, for any address alike:
// the answers never tell whether it has an account).
const (
	maxVerifyCodeTries = 5
	verifyCodeWindow   = time.Hour
)

var errVerifyCode = &codedError{status: fiber.StatusUnprocessableEntity, code: "invalid_verify_code"}

func (h *Handler) signupMAC(payload string) string {
	m := hmac.New(sha256.New, h.cfg.JWTSecret)
	m.Write([]byte("signup|" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// setPendingSignup remembers in this browser that it signed up as id, on
// its way to next.
func (h *Handler) setPendingSignup(c *fiber.Ctx, id primitiveID, next string) {
	exp := time.Now().Add(signupCookieTTL)
	payload := id.Hex() + "." + strconv.FormatInt(exp.Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString([]byte(localPath(next)))
	c.Cookie(&fiber.Cookie{Name: signupCookie, Value: payload + "." + h.signupMAC(payload), Path: "/auth", Expires: exp,
		HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteLaxMode})
}

// pendingSignup reads the signup cookie: the account it names and its
// destination, when it is ours and still live.
func (h *Handler) pendingSignup(c *fiber.Ctx) (primitiveID, string, bool) {
	parts := strings.Split(c.Cookies(signupCookie), ".")
	if len(parts) != 4 {
		return primitiveNil, "", false
	}
	payload := strings.Join(parts[:3], ".")
	if !hmac.Equal([]byte(parts[3]), []byte(h.signupMAC(payload))) {
		return primitiveNil, "", false
	}
	id, err := store.ParseID(parts[0])
	exp, err2 := strconv.ParseInt(parts[1], 10, 64)
	next, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || err2 != nil || err3 != nil || time.Now().Unix() >= exp {
		return primitiveNil, "", false
	}
	return id, localPath(string(next)), true
}

func (h *Handler) clearPendingSignup(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: signupCookie, Value: "", Path: "/auth", Expires: time.Unix(0, 0), MaxAge: -1,
		HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteLaxMode})
}

// isAdminPath: the pages only an admin opens.
func isAdminPath(p string) bool {
	for _, prefix := range []string{"/admin", "/users", "/orders.csv", "/services/new"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") || strings.HasPrefix(p, prefix+"?") {
			return true
		}
	}
	return false
}

// landing is where a browser goes after signing in: an ADMIN to /admin
// unless it was going to an admin page, a CLEANER to /my/day unless it
// was going to another of its /my pages, anyone else where they were going
// (a same-origin path) or home.
func landing(u *store.User, next string) string {
	next = localPath(next)
	if u.IsCleaner() && !strings.HasPrefix(next, "/my/") {
		return "/my/day" // a cleaner's day, whatever a customer's page was asked for
	}
	if u.IsAdmin() && !isAdminPath(next) {
		return "/admin"
	}
	return next
}

// newVerifyCode is 6 random digits.
func newVerifyCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// verifyCodeHash is how a code is stored: hashed with its account's id.
func verifyCodeHash(id primitiveID, code string) string {
	sum := sha256.Sum256([]byte("verify-code|" + id.Hex() + "|" + code))
	return hex.EncodeToString(sum[:])
}

// verifyCodeInput is the body of POST /auth/verify.
type verifyCodeInput struct {
	Email string `json:"email" form:"email"`
	Code  string `json:"code" form:"code"`
}

func (in *verifyCodeInput) normalize() {
	in.Email = auth.NormalizeEmail(in.Email)
	in.Code = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1 // "123 456" and "123-456" are the code too
	}, in.Code)
}

func (in verifyCodeInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Email, emailRules(true)...),
		validation.Field(&in.Code, validation.Required, validation.Length(6, 6)))
}

// VerifyCode: POST /auth/verify {email, code}, the code of the
// verification email typed on the page that waits for it. It verifies as
// the link does, and signs in the browser that signed up.
func (h *Handler) VerifyCode(c *fiber.Ctx) error {
	var in verifyCodeInput
	form := func(f views.FormState) page {
		return page{title: h.meta(c).T("checkEmail.title"), body: views.CheckEmailPage(in.Email, f)}
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, map[string]string{"email": in.Email}, form)
	}
	wrong := func(err error) error {
		if wantsJSON(c) {
			return err
		}
		status, code := classify(err)
		var rl *rateLimitedError
		if errors.As(err, &rl) {
			setRetryAfter(c, rl.wait)
		}
		f := views.FormState{Values: map[string]string{"email": in.Email}, Errors: map[string]string{"code": h.meta(c).T("error." + code + ".message")}}
		if status == fiber.StatusTooManyRequests {
			f.Errors["code"] = h.meta(c).T("verifyCode.tooMany")
		}
		return h.render(c, status, nil, form(f))
	}
	// Every try counts, before the code is looked at, for any address.
	now := h.now()
	if ok, wait, err := h.verifyCodes.hit(ctx(c), in.Email, now); err != nil {
		return err
	} else if !ok {
		return wrong(&rateLimitedError{wait: wait, code: "invalid_verify_code"})
	}
	u, err := h.users.GetByEmail(ctx(c), in.Email)
	if errors.Is(err, store.ErrNotFound) {
		return wrong(errVerifyCode)
	} else if err != nil {
		return err
	}
	tok, err := h.oneTime.Pending(ctx(c), store.PurposeVerifyEmail, u.ID, time.Now())
	if errors.Is(err, store.ErrNotFound) || (err == nil && (tok.CodeHash == "" || tok.Email != u.Email ||
		subtle.ConstantTimeCompare([]byte(tok.CodeHash), []byte(verifyCodeHash(u.ID, in.Code))) != 1)) {
		return wrong(errVerifyCode)
	} else if err != nil {
		return err
	}
	tok, err = h.oneTime.Consume(ctx(c), store.PurposeVerifyEmail, u.ID, tok.Hash, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return wrong(errVerifyCode) // used meanwhile (the link, another tab)
	} else if err != nil {
		return err
	}
	h.verifyCodes.reset(ctx(c), in.Email, now)
	return h.verified(c, tok)
}

// verified finishes a verification (link or code) whose token tok is used
// up: the address is the account's and verified; the browser that signed
// up is signed in and goes where it was going.
func (h *Handler) verified(c *fiber.Ctx, tok *store.OneTimeToken) error {
	userID := tok.UserID
	failed := func() error {
		if wantsJSON(c) {
			return errBadToken
		}
		return h.render(c, fiber.StatusBadRequest, nil, page{title: h.meta(c).T("verifyFailed.title"), body: views.VerifiedPage(false)})
	}
	u, err := h.users.Get(ctx(c), userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Email != tok.Email && u.PendingEmail != tok.Email) {
		return failed() // the account is gone, or its email changed since
	}
	if err != nil {
		return err
	}
	verified := true
	ch := store.UserChange{IsVerified: &verified}
	if tok.Email != u.Email { // the address the user asked to move to: now theirs
		none := ""
		ch.Email, ch.PendingEmail = &tok.Email, &none
	}
	u, err = h.users.Update(ctx(c), userID, ch)
	if errors.Is(err, store.ErrConflict) {
		return failed() // another account took the address meanwhile
	}
	if err != nil {
		return err
	}
	if ch.Email != nil {
		// A reset link sent to the old address dies with it (gap 4 of #18).
		if err := h.oneTime.ForgetLinks(ctx(c), userID, u.Email); err != nil {
			return err
		}
	}
	h.auth.forgetUser(userID)
	h.hub.Reconnect(userID.Hex()) // the sockets learn the new address and state
	if id, next, ok := h.pendingSignup(c); ok && id == userID && currentUser(c) == nil && !u.TwoFactor.Enabled {
		// The browser that signed up: signed in, on its way.
		h.clearPendingSignup(c)
		if _, _, err := h.startSession(c, u); err != nil {
			return err
		}
		if wantsJSON(c) {
			return c.JSON(fiber.Map{"verified": true, "user": u, "signedIn": true})
		}
		h.setFlash(c, "success", "flash.verifiedSignedIn")
		return c.Redirect(landing(u, next), fiber.StatusSeeOther)
	}
	return h.render(c, fiber.StatusOK, fiber.Map{"verified": true, "user": u}, page{title: h.meta(c).T("verified.title"), body: views.VerifiedPage(true)})
}

// loginURL is the login page on the way to next.
func loginURL(next string) string {
	if next = localPath(next); next == "/" {
		return "/auth/login"
	}
	return "/auth/login?next=" + url.QueryEscape(next)
}
