package handlers

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/go-ozzo/ozzo-validation/v4/is"
	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/views"
)

const verifyTTL = 24 * time.Hour

func nowUTC() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// newUserSecret is a one-time secret naming its user: "<userId>.<random>".
func newUserSecret(u *store.User) (secret, hash string) { return auth.NewCompound(u.ID) }

type primitiveID = primitive.ObjectID

var primitiveNil = primitive.NilObjectID

var usernamePattern = regexp.MustCompile(`^[a-z0-9_.]+$`)

var (
	errUsernameChars = validation.NewError("validation_username", "only a-z, 0-9, _ and .")
	errEmailScript   = validation.NewError("validation_email_script", "letters of another script than Latin, or invisible characters")
)

func usernameRules(required bool) []validation.Rule {
	return []validation.Rule{validation.When(required, validation.Required), validation.RuneLength(3, 32), validation.Match(usernamePattern).ErrorObject(errUsernameChars)}
}

// emailRules check an address normalized by auth.NormalizeEmail: its
// length, its form, and Latin letters only (auth.EmailHasLookalikes).
func emailRules(required bool) []validation.Rule {
	return []validation.Rule{validation.When(required, validation.Required), validation.RuneLength(3, 254),
		validation.By(func(v any) error {
			if s, _ := v.(string); auth.EmailHasLookalikes(s) {
				return errEmailScript
			}
			if p, _ := v.(*string); p != nil && auth.EmailHasLookalikes(*p) {
				return errEmailScript
			}
			return nil
		}), is.EmailFormat}
}

// newPasswordRules: 8–128 characters of anything, checked before any work,
// so a 10 KB password is refused at once. Its strength is estimated where
// it is hashed (hashNewPassword).
func newPasswordRules(required bool) []validation.Rule {
	return []validation.Rule{validation.When(required, validation.Required), validation.RuneLength(auth.MinPasswordLen, auth.MaxPasswordLen)}
}

// signupInput is the body of POST /auth/signup.
type signupInput struct {
	Username string `json:"username" form:"username"`
	Email    string `json:"email" form:"email"`
	Password string `json:"password" form:"password"`
	Next     string `json:"next" form:"next"` // where the person was going: a same-origin path
}

func (in *signupInput) normalize() {
	in.Username = strings.ToLower(strings.TrimSpace(in.Username))
	in.Email = auth.NormalizeEmail(in.Email)
}

func (in signupInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Username, usernameRules(true)...),
		validation.Field(&in.Email, emailRules(true)...),
		validation.Field(&in.Password, newPasswordRules(true)...),
	)
}

func (in signupInput) values() map[string]string {
	return map[string]string{"username": in.Username, "email": in.Email, "next": localPath(in.Next)}
}

// SignupPage shows the registration form.
func (h *Handler) SignupPage(c *fiber.Ctx) error {
	next := localPath(c.Query("next"))
	if u := currentUser(c); u != nil {
		return c.Redirect(landing(u, next), fiber.StatusSeeOther)
	}
	return h.render(c, fiber.StatusOK, nil, page{title: h.meta(c).T("signup.title"), body: views.SignupPage(views.FormState{Values: map[string]string{"next": next}})})
}

// SignupSubmit creates an unverified account and emails the link that
// verifies it.
func (h *Handler) SignupSubmit(c *fiber.Ctx) error {
	var in signupInput
	form := func(f views.FormState) page {
		return page{title: h.meta(c).T("signup.title"), body: views.SignupPage(f)}
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, in.values(), form)
	}
	hash, err := h.hashNewPassword(c, in.Password, auth.PasswordContext(in.Email, in.Username))
	if err != nil {
		return h.formError(c, err, in.values(), form)
	}
	u := &store.User{Username: in.Username, Email: in.Email, PasswordHash: hash, Role: store.RoleUser, Locale: h.meta(c).Lang}
	err = h.users.Create(ctx(c), u)
	if errors.Is(err, store.ErrConflict) {
		taken, err := h.takenError(c, in.Username, "", primitiveNil)
		if err != nil {
			return err
		}
		if len(taken.Fields) > 0 {
			// Usernames are public (the chat shows them): a taken one
			// is said so.
			return h.formError(c, taken, in.values(), form)
		}
		// The address is another account's. The answer is a sign-up's, to
		// the letter: what the address's owner learns, by email, nobody
		// else does.
		address := strings.Clone(in.Email)
		h.background(ctx(c), func(ctx context.Context) {
			if err := h.sendAddressInUse(ctx, address, "signup"); err != nil {
				h.log.Warn("address in use notice", "error", err)
			}
		})
		now := nowUTC().Truncate(time.Millisecond)
		u = &store.User{ID: primitive.NewObjectID(), Username: in.Username, Email: in.Email, Role: store.RoleUser, Locale: u.Locale, CreatedAt: now, UpdatedAt: now}
	} else if err != nil {
		return err
	} else if err := h.sendVerification(ctx(c), u); err != nil {
		return err
	}
	// This browser signed up: the verification made here signs it in, on
	// its way to next (the same cookie for an address already taken).
	h.setPendingSignup(c, u.ID, in.Next)
	return h.render(c, fiber.StatusCreated, u, page{title: h.meta(c).T("checkEmail.title"), body: views.CheckEmailPage(u.Email, views.FormState{})})
}

// takenError says which of username and email another account has. A
// look-up that fails is that error: guessing "not taken" would answer a
// taken username as a new account.
func (h *Handler) takenError(c *fiber.Ctx, username, email string, self primitiveID) (*conflictError, error) {
	loc := h.meta(c).Locale
	fields := map[string]string{}
	if email != "" {
		other, err := h.users.GetByEmail(ctx(c), email)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && other.ID != self {
			fields["email"] = loc.T("err.email_taken")
		}
	}
	if username != "" {
		other, err := h.users.GetByUsername(ctx(c), username)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && other.ID != self {
			fields["username"] = loc.T("err.username_taken")
		}
	}
	return &conflictError{Fields: fields}, nil
}

// conflictError is a 409 with per-field messages.
type conflictError struct{ Fields map[string]string }

func (e *conflictError) Error() string { return "conflict" }

// formError answers a failed form: JSON clients get the error as is; a
// browser gets the form again, with its values and the messages, in the
// status of the error.
func (h *Handler) formError(c *fiber.Ctx, err error, values map[string]string, form func(views.FormState) page) error {
	var ve *ValidationError
	var ce *conflictError
	var taken *slotTakenError
	var fields map[string]string
	switch {
	case errors.As(err, &ve):
		fields = ve.Fields
	case errors.As(err, &ce):
		fields = ce.Fields
	case errors.As(err, &taken):
		fields = taken.Fields
	default:
		return err
	}
	if wantsJSON(c) {
		return err
	}
	status, code := classify(err)
	f := views.FormState{Values: values, Errors: fields, Error: h.meta(c).T("error." + code + ".message")}
	return h.render(c, status, nil, form(f))
}

// loginInput is the body of POST /auth/login.
type loginInput struct {
	Email    string `json:"email" form:"email"`
	Password string `json:"password" form:"password"`
	Next     string `json:"-" form:"next"`
}

func (in *loginInput) normalize() { in.Email = auth.NormalizeEmail(in.Email) }

func (in loginInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Email, validation.Required, validation.RuneLength(0, 254)),
		validation.Field(&in.Password, validation.Required, validation.RuneLength(0, auth.MaxPasswordLen)),
	)
}

// LoginPage shows the sign-in form.
func (h *Handler) LoginPage(c *fiber.Ctx) error {
	next := localPath(c.Query("next"))
	if currentUser(c) != nil {
		return c.Redirect(next, fiber.StatusSeeOther)
	}
	return h.render(c, fiber.StatusOK, nil, page{title: h.meta(c).T("login.title"), body: views.LoginPage(views.FormState{}, next)})
}

// loginResult is the JSON answer of a login or a refresh.
type loginResult struct {
	User         *store.User `json:"user"`
	AccessToken  string      `json:"accessToken"`
	RefreshToken string      `json:"refreshToken,omitempty"`
}

// hashPlaceLocal holds the login's place at the password hashing.
const hashPlaceLocal = "hashPlace"

// reserveHash takes the login's place at the password hashing before
// anything else: a login the hashing cannot serve in time is refused (503,
// Retry-After) before it reads or counts anything, so that under a flood
// of logins the refusals are fast and cost the database nothing.
//
// A client this instance already refused for its per-IP limit is refused
// first (429, from memory): a flood from one address must not hold the
// places others wait for.
func (h *Handler) reserveHash(c *fiber.Ctx) error {
	if wait, refused := h.authPerIP.stillRefused(h.clientIP(c), h.now()); refused {
		return &rateLimitedError{wait: wait}
	}
	place, err := h.hasher.Reserve()
	if err != nil {
		return err
	}
	defer place.Release() // unused: the try stopped before its hash
	c.Locals(hashPlaceLocal, place)
	return c.Next()
}

// LoginSubmit checks the password and starts a session. An unknown email and
// a wrong password get the same answer in the same time.
func (h *Handler) LoginSubmit(c *fiber.Ctx) error {
	var in loginInput
	loginForm := func(f views.FormState) page {
		return page{title: h.meta(c).T("login.title"), body: views.LoginPage(f, localPath(in.Next))}
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, map[string]string{"email": in.Email}, loginForm)
	}
	place := c.Locals(hashPlaceLocal).(*auth.Place) // reserveHash's
	u, err := h.users.GetByEmail(ctx(c), in.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err // the database is down: not a failed login
	}
	try, err := h.startLoginTry(c, in.Email, u, h.now())
	if err != nil {
		return err
	}
	ok := false
	if u == nil || u.PasswordHash == "" { // a cleaner invited, who has not set one yet: as if there were no account
		err = place.CheckNoUser(ctx(c), in.Password)
	} else {
		ok, err = place.Check(ctx(c), u.PasswordHash, in.Password)
	}
	if err != nil {
		// The password was not checked (the hashing is busy, or the client
		// left): the try is given back, as the per-IP limit gives back a 5xx.
		try.unchecked(ctx(c))
		return err
	}
	if !ok {
		if wantsJSON(c) {
			return errCredentials
		}
		f := views.FormState{Values: map[string]string{"email": in.Email}, Error: h.meta(c).T("error.invalid_credentials.message")}
		return h.render(c, fiber.StatusUnauthorized, nil, loginForm(f))
	}
	// The try's budgets are given back beside the session's start, and
	// both are done before the answer.
	forgiven := make(chan struct{})
	go func(cx context.Context) { defer close(forgiven); try.succeeded(cx) }(ctx(c))
	defer func() { <-forgiven }()
	if u.TwoFactor.Enabled {
		secret, err := h.startSecondStep(c, u)
		if err != nil {
			return err
		}
		if wantsJSON(c) {
			return c.JSON(fiber.Map{"twoFactorRequired": true, "twoFactorToken": secret})
		}
		return c.Redirect("/auth/login/2fa?next="+url.QueryEscape(localPath(in.Next)), fiber.StatusSeeOther)
	}
	return h.finishLogin(c, u, in.Next)
}

// finishLogin starts the session of a user who proved who they are.
func (h *Handler) finishLogin(c *fiber.Ctx, u *store.User, next string) error {
	h.trustDevice(c, u.ID) // its password now works here whatever unknown browsers try
	access, refresh, err := h.startSession(c, u)
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.JSON(loginResult{User: u, AccessToken: access, RefreshToken: refresh})
	}
	h.setFlash(c, "success", "flash.welcome")
	return c.Redirect(landing(u, next), fiber.StatusSeeOther)
}

// Logout ends the session, on the server, and clears the cookies. With
// ?everywhere=true (or {"everywhere":true}) it ends every session of the
// user and invalidates every access token issued so far.
func (h *Handler) Logout(c *fiber.Ctx) error {
	now := time.Now().UTC()
	everywhere, err := logoutEverywhere(c)
	if err != nil {
		return err
	}
	// Whose session: the access token's, or (when it has expired) the one the
	// refresh cookie proves with its secret. A session id alone proves nothing.
	sid, userID, known := primitiveNil, primitiveNil, false
	if id, ok := c.Locals(sessionLocal).(primitiveID); ok {
		sid, userID, known = id, currentUser(c).ID, true
	} else if sess, err := h.sessionOfRefresh(c, c.Cookies(refreshCookie)); err != nil {
		return err
	} else if sess != nil {
		sid, userID, known = sess.ID, sess.UserID, true
	}
	if everywhere {
		if !known {
			return errUnauthorized // nothing to end everywhere: never say it was done
		}
		if _, err := h.users.Update(ctx(c), userID, store.UserChange{BumpTokenVersion: true}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := h.sessions.RevokeAll(ctx(c), userID, now); err != nil {
			return err
		}
		h.auth.forgetUser(userID)
		h.hub.CloseUser(userID.Hex())
	}
	if known {
		if err := h.sessions.Revoke(ctx(c), sid, now); err != nil {
			return err
		}
		h.auth.forgetSession(sid)
		h.hub.CloseSession(sid.Hex())
	}
	h.clearAuthCookies(c)
	h.rotateCSRF(c, primitiveNil)
	if wantsJSON(c) {
		return c.JSON(fiber.Map{"status": "logged_out"})
	}
	h.setFlash(c, "info", "flash.loggedOut")
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", "/")
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect("/", fiber.StatusSeeOther)
}

// sessionOfRefresh returns the live session whose current (or just rotated)
// refresh secret is presented, or nil.
func (h *Handler) sessionOfRefresh(c *fiber.Ctx, presented string) (*store.Session, error) {
	sid, hash, ok := auth.SplitCompound(presented)
	if !ok {
		return nil, nil
	}
	sess, err := h.sessions.Get(ctx(c), sid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !sess.Active(time.Now()) || (hash != sess.RefreshHash && !contains(sess.UsedHashes, hash)) {
		return nil, nil
	}
	return sess, nil
}

func logoutEverywhere(c *fiber.Ctx) (bool, error) {
	var in struct {
		Everywhere bool `json:"everywhere" form:"everywhere"`
	}
	// No body, or one that says nothing of it, is a plain logout; one that
	// does not parse is refused before anything ends.
	if len(c.Body()) > 0 {
		if err := c.BodyParser(&in); err != nil {
			return false, fiber.NewError(fiber.StatusBadRequest, "malformed body")
		}
	}
	return in.Everywhere || c.Query("everywhere") == "true", nil
}

type refreshInput struct {
	RefreshToken string `json:"refreshToken" form:"refreshToken"`
}

func (in refreshInput) Validate() error { return nil }

// rotate checks a refresh token and replaces it: a token used twice means it
// was stolen, and the whole session ends.
func (h *Handler) rotate(c *fiber.Ctx, presented string) (*loginResult, error) {
	sid, hash, ok := auth.SplitCompound(presented)
	if !ok {
		return nil, errSessionEnded
	}
	now := nowUTC()
	sess, err := h.sessions.Get(ctx(c), sid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	if !sess.Active(now) {
		return nil, errSessionEnded
	}
	newSecret, newHash := auth.NewCompound(sid)
	switch {
	case hash == sess.RefreshHash:
		err = h.sessions.Rotate(ctx(c), sid, hash, newHash, now)
		if errors.Is(err, store.ErrConflict) { // a racer rotated it first
			if sess, err = h.sessions.Get(ctx(c), sid); err != nil {
				return nil, err
			}
			return nil, h.reused(c, sess, hash, now)
		}
		if err != nil {
			return nil, err
		}
	case contains(sess.UsedHashes, hash):
		return nil, h.reused(c, sess, hash, now)
	default:
		return nil, errSessionEnded
	}
	u, err := h.users.Get(ctx(c), sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	access, err := h.tokens.IssueAccess(u.ID, sid, u.TokenVersion, now)
	if err != nil {
		return nil, err
	}
	h.setAuthCookies(c, access, newSecret, sess.ExpiresAt)
	return &loginResult{User: u, AccessToken: access, RefreshToken: newSecret}, nil
}

// Refresh rotates the refresh token (cookie or body) and answers new tokens.
// A token that came in the HttpOnly cookie goes back only in the cookie,
// never in the body, where a script could read it.
func (h *Handler) Refresh(c *fiber.Ctx) error {
	presented := c.Cookies(refreshCookie)
	fromCookie := presented != ""
	if presented == "" && len(c.Body()) > 0 {
		var in refreshInput
		if err := h.bind(c, &in); err != nil {
			return err
		}
		presented = in.RefreshToken
	}
	res, err := h.rotate(c, presented)
	if errors.Is(err, errSessionEnded) {
		h.clearAuthCookies(c)
	}
	if err != nil {
		return err
	}
	if fromCookie {
		res.RefreshToken = ""
	}
	return c.JSON(res)
}

// RefreshPage is the browser's way back from an expired access token: it
// rotates and returns to next, or goes to the login page.
func (h *Handler) RefreshPage(c *fiber.Ctx) error {
	next := localPath(c.Query("next"))
	presented := c.Cookies(refreshCookie)
	if presented == "" {
		if c.Query("retry") == "" {
			// Arriving from another site, a SameSite=Strict cookie stays
			// home; one more navigation from our own page brings it along.
			return h.render(c, fiber.StatusOK, nil, page{title: "…", body: views.RetryRefresh("/auth/refresh?retry=1&next=" + url.QueryEscape(next))})
		}
		// Still none: no session to renew. The cookies stay as they are: a
		// GET that any site can link to changes nothing (the access cookie
		// may well be live, only this request came from elsewhere).
		return c.Redirect("/auth/login?next="+url.QueryEscape(next), fiber.StatusSeeOther)
	}
	if _, err := h.rotate(c, presented); err != nil {
		if errors.Is(err, errRefreshRace) {
			return c.Redirect(next, fiber.StatusSeeOther) // the other tab's answer brought the cookies
		}
		if !errors.Is(err, errSessionEnded) {
			return err
		}
		h.clearAuthCookies(c)
		return c.Redirect("/auth/login?next="+url.QueryEscape(next), fiber.StatusSeeOther)
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// Verify marks an email verified from the emailed link.
func (h *Handler) Verify(c *fiber.Ctx) error {
	failed := func() error {
		if wantsJSON(c) {
			return errBadToken
		}
		return h.render(c, fiber.StatusBadRequest, nil, page{title: h.meta(c).T("verifyFailed.title"), body: views.VerifiedPage(false)})
	}
	userID, hash, ok := auth.SplitCompound(c.Query("token"))
	if !ok {
		return failed()
	}
	tok, err := h.oneTime.Consume(ctx(c), store.PurposeVerifyEmail, userID, hash, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return failed()
	}
	if err != nil {
		return err
	}
	return h.verified(c, tok)
}

type resendInput struct {
	Email string `json:"email" form:"email"`
}

func (in *resendInput) normalize() { in.Email = auth.NormalizeEmail(in.Email) }

func (in resendInput) Validate() error {
	return validation.ValidateStruct(&in, validation.Field(&in.Email, emailRules(true)...))
}

// ResendVerification sends a new link when the email belongs to an
// unverified account, and answers the same either way.
func (h *Handler) ResendVerification(c *fiber.Ctx) error {
	var in resendInput
	if err := h.bind(c, &in); err != nil {
		return err
	}
	u, err := h.users.GetByEmail(ctx(c), in.Email)
	switch {
	case err == nil && !u.IsVerified:
		// Over the address's limit, no link; the answer stays the same.
		ok, _, err := h.verifyEmails.hit(ctx(c), in.Email, h.now())
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if err := h.sendVerification(ctx(c), u); err != nil {
			return err
		}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	return h.render(c, fiber.StatusAccepted, fiber.Map{"status": "sent", "message": h.meta(c).T("checkEmail.generic")},
		page{title: h.meta(c).T("checkEmail.title"), body: views.CheckEmailPage(in.Email, views.FormState{})})
}

// refreshGrace is how long the token just rotated out may still arrive
// without alarm: two tabs of one browser refreshing at the same moment.
const refreshGrace = 10 * time.Second

// errRefreshRace answers the slower of two tabs: no new tokens (the other
// tab's answer set them), and no alarm.
var errRefreshRace = &codedError{status: fiber.StatusConflict, code: "conflict"}

// reused handles a rotated-out refresh token presented again: within the
// grace of its own rotation it is a race; otherwise it was stolen, and the
// whole session ends.
func (h *Handler) reused(c *fiber.Ctx, sess *store.Session, hash string, now time.Time) error {
	if n := len(sess.UsedHashes); n > 0 && sess.UsedHashes[n-1] == hash && now.Sub(sess.RotatedAt) < refreshGrace && sess.RevokedAt == nil {
		return errRefreshRace
	}
	h.log.Warn("refresh token reused: session revoked", "session", sess.ID.Hex(), "requestId", requestID(c))
	if err := h.sessions.Revoke(ctx(c), sess.ID, now); err != nil {
		return err
	}
	h.auth.forgetSession(sess.ID)
	h.hub.CloseSession(sess.ID.Hex())
	return errSessionEnded
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
