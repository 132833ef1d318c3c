package handlers

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/views"
)

// Cookie names of the route contract.
const (
	accessCookie  = "access_token"
	refreshCookie = "refresh_token"
	csrfCookie    = "csrf_"
	csrfField     = "_csrf"
)

const (
	userLocal    = "user"
	sessionLocal = "session"
	expiredLocal = "authExpired"
	csrfLocal    = "csrf" // the token for this response's page
	// csrfSessionLocal: the session the CSRF token is bound to (hex, or
	// empty); csrfCookieLocal: the browser's csrf_ cookie it is made of.
	csrfSessionLocal = "csrfSession"
	csrfCookieLocal  = "csrfCookie"
)

// currentUser is the authenticated user of the request, or nil.
func currentUser(c *fiber.Ctx) *store.User {
	u, _ := c.Locals(userLocal).(*store.User)
	return u
}

func bearerToken(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authenticate decides once who is asking: a Bearer token, else the access
// cookie. The token must name a live session and the user's current token
// version, so logout and password changes take effect at once. It never
// refuses a request itself: the guards of each route do.
func (h *Handler) authenticate(c *fiber.Ctx) error {
	token := bearerToken(c)
	fromCookie := token == ""
	if fromCookie {
		token = c.Cookies(accessCookie)
	}
	if token == "" {
		return c.Next()
	}
	userID, sid, version, err := h.tokens.ParseAccess(token)
	if fromCookie && !sid.IsZero() {
		// The CSRF token is bound to the session the cookie names, even once
		// the access token expired or the session ended: a page and its post
		// (a logout after a long pause) agree on it.
		c.Locals(csrfSessionLocal, sid.Hex())
	}
	if errors.Is(err, auth.ErrExpired) && fromCookie {
		// The browser still has a session: get new tokens and come back.
		if h.wantsRefreshDetour(c) {
			return h.refreshDetour(c)
		}
		c.Locals(expiredLocal, true)
		return c.Next()
	}
	if err != nil {
		return c.Next()
	}
	now := time.Now()
	user, sess, err := h.auth.lookup(ctx(c), sid, now, h.readSession(sid))
	if errors.Is(err, store.ErrNotFound) {
		return c.Next()
	}
	if err != nil {
		return err
	}
	if !sess.Active(now) || sess.UserID != userID || user.TokenVersion != version {
		return c.Next()
	}
	c.Locals(userLocal, user)
	// Whatever a signed-in request gets is theirs alone: no cache keeps it
	// (a static file sets its own, longer, rule).
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Locals(sessionLocal, sess.ID)
	m := h.meta(c)
	m.User = user
	if c.Cookies("lang") == "" && user.Locale != "" && user.Locale != m.Lang {
		m.Locale = h.catalog.Locale(user.Locale)
	}
	if lang := c.Cookies("lang"); views.Supported(lang) && lang != user.LastLang {
		// Signed in with a language chosen: their emails follow it.
		if err := h.rememberLang(c, user, lang); err != nil {
			return err
		}
	}
	return c.Next()
}

// rememberLang records lang as the language u last used (store.SetLastLang)
// and drops the cached account, which has the old one.
func (h *Handler) rememberLang(c *fiber.Ctx, u *store.User, lang string) error {
	if err := h.users.SetLastLang(ctx(c), u.ID, lang); err != nil {
		return err
	}
	h.auth.forgetUser(u.ID)
	return nil
}

// wantsRefreshDetour: a browser page or htmx request, outside /auth (where
// the refresh cookie travels and the routes deal with it themselves). JSON
// clients go on anonymous and refresh on their own.
func (h *Handler) wantsRefreshDetour(c *fiber.Ctx) bool {
	return !wantsJSON(c) && !strings.HasPrefix(c.Path(), "/auth/") && !strings.HasPrefix(c.Path(), "/static/") &&
		c.Path() != "/chat/ws" // a socket cannot follow a redirect: 401, and the page refreshes
}

// refreshDetour sends a browser whose access token expired to
// /auth/refresh, which rotates the refresh token (its cookie is scoped to
// /auth) and comes back.
func (h *Handler) refreshDetour(c *fiber.Ctx) error {
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", "/auth/refresh?next="+url.QueryEscape(localPath(currentURLPath(c))))
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	next := "/"
	if c.Method() == fiber.MethodGet {
		next = c.OriginalURL()
	}
	return c.Redirect("/auth/refresh?next="+url.QueryEscape(localPath(next)), fiber.StatusSeeOther)
}

// currentURLPath is the page an htmx request came from.
func currentURLPath(c *fiber.Ctx) string {
	u, err := url.Parse(c.Get("HX-Current-URL"))
	if err != nil || u.Path == "" {
		return "/"
	}
	if u.RawQuery != "" {
		return u.Path + "?" + u.RawQuery
	}
	return u.Path
}

// Errors of the guards.
var (
	errUnauthorized = fiber.NewError(fiber.StatusUnauthorized)
	errForbidden    = fiber.NewError(fiber.StatusForbidden)
	errNotVerified  = &codedError{status: fiber.StatusForbidden, code: "not_verified"}
	errCSRF         = &codedError{status: fiber.StatusForbidden, code: "csrf"}
	errCredentials  = &codedError{status: fiber.StatusUnauthorized, code: "invalid_credentials"}
	errBadToken     = &codedError{status: fiber.StatusBadRequest, code: "invalid_token"}
	errSessionEnded = &codedError{status: fiber.StatusUnauthorized, code: "session_ended"}
)

// codedError is an HTTP error with its own error code (and so its own
// localized title and message).
type codedError struct {
	status int
	code   string
}

func (e *codedError) Error() string { return e.code }

// requireUser lets authenticated users through.
func (h *Handler) requireUser(c *fiber.Ctx) error {
	if currentUser(c) == nil {
		return errUnauthorized
	}
	return c.Next()
}

// requireVerified lets users with a verified email through.
func (h *Handler) requireVerified(c *fiber.Ctx) error {
	u := currentUser(c)
	if u == nil {
		return errUnauthorized
	}
	if !u.IsVerified {
		return errNotVerified
	}
	return c.Next()
}

// requireAdmin lets ADMINs through.
func (h *Handler) requireAdmin(c *fiber.Ctx) error {
	u := currentUser(c)
	if u == nil {
		return errUnauthorized
	}
	if !u.IsAdmin() {
		return errForbidden
	}
	if h.cfg.RequireAdmin2FA && !u.TwoFactor.Enabled {
		if wantsJSON(c) {
			return errTwoFactorRequired
		}
		h.setFlash(c, "error", "flash.tfaRequired")
		return c.Redirect("/auth/2fa/setup", fiber.StatusSeeOther)
	}
	return c.Next()
}

// requireCleaner lets a CLEANER through; which visits they may see is
// decided per visit, by their crews (see cleanerVisit).
func (h *Handler) requireCleaner(c *fiber.Ctx) error {
	u := currentUser(c)
	if u == nil {
		return errUnauthorized
	}
	if !u.IsCleaner() {
		return errForbidden
	}
	return c.Next()
}

// rateLimit allows AUTH_RATE_LIMIT POSTs a minute per client IP
// (X-Forwarded-For only from TRUSTED_PROXIES), across all the auth routes
// and all the instances, then answers 429 with Retry-After. A try the
// server failed (a 5xx: the database down) is given back: the client spent
// nothing.
func (h *Handler) rateLimit() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodPost {
			return c.Next()
		}
		ip, now := h.clientIP(c), h.now()
		if err := h.authPerIP.allow(ctx(c), ip, now); err != nil {
			return err
		}
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			status, _ = classify(err)
		}
		if status >= fiber.StatusInternalServerError {
			h.authPerIP.undo(ctx(c), ip, now)
		}
		return err
	}
}

// startSession creates a login for user and sets its cookies; it returns
// the access and refresh tokens for JSON clients.
func (h *Handler) startSession(c *fiber.Ctx, user *store.User) (access, refresh string, err error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	sid := primitive.NewObjectID()
	refresh, hash := auth.NewCompound(sid)
	sess := &store.Session{
		ID: sid, UserID: user.ID, RefreshHash: hash, UsedHashes: []string{},
		CreatedAt: now, RotatedAt: now, ExpiresAt: now.Add(auth.SessionTTL),
		UserAgent: truncateString(c.Get(fiber.HeaderUserAgent), 200), IP: h.clientIP(c),
	}
	if err := h.sessions.Create(ctx(c), sess); err != nil {
		return "", "", err
	}
	access, err = h.tokens.IssueAccess(user.ID, sid, user.TokenVersion, now)
	if err != nil {
		return "", "", err
	}
	h.setAuthCookies(c, access, refresh, sess.ExpiresAt)
	h.rotateCSRF(c, sid)
	return access, refresh, nil
}

// setAuthCookies: both last as long as the session, so a browser restart
// keeps the login; the access token inside expires in 15 minutes anyway.
// The refresh token only ever travels to /auth.
func (h *Handler) setAuthCookies(c *fiber.Ctx, access, refresh string, until time.Time) {
	c.Cookie(&fiber.Cookie{Name: accessCookie, Value: access, Path: "/", Expires: until, HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteLaxMode})
	c.Cookie(&fiber.Cookie{Name: refreshCookie, Value: refresh, Path: "/auth", Expires: until, HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteStrictMode})
}

func (h *Handler) clearAuthCookies(c *fiber.Ctx) {
	past := time.Unix(0, 0)
	c.Cookie(&fiber.Cookie{Name: accessCookie, Path: "/", Expires: past, MaxAge: -1, HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteLaxMode})
	c.Cookie(&fiber.Cookie{Name: refreshCookie, Path: "/auth", Expires: past, MaxAge: -1, HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteStrictMode})
}

func truncateString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// readSession reads session sid and its user, for the auth cache.
func (h *Handler) readSession(sid primitive.ObjectID) func(context.Context) (*store.User, *store.Session, error) {
	return func(ctx context.Context) (*store.User, *store.Session, error) {
		sess, err := h.sessions.Get(ctx, sid)
		if err != nil {
			return nil, nil, err
		}
		user, err := h.users.Get(ctx, sess.UserID)
		if err != nil {
			return nil, nil, err
		}
		return user, sess, nil
	}
}
