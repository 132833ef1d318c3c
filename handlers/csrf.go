package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"mime"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
)

// CSRF protection is a signed double-submit cookie (OWASP CSRF cheat sheet):
// the csrf_ cookie holds a random value of the browser's, and the token the
// pages carry is HMAC-SHA256(key, cookie + "|" + session), base64url. Nothing
// is stored, so any instance with the same JWT_SECRET checks any other's
// tokens, before and after a restart. The session (the id the access cookie
// names, empty when signed out) makes a token die with its login: one taken
// before a login, or planted with a cookie of another browser, is refused.

// csrfHeader is where htmx sends the token (hx-headers on <body>).
const csrfHeader = "X-Csrf-Token"

// csrfCookieBytes of randomness in the cookie: 43 base64url characters.
const csrfCookieBytes = 32

// csrfCookieTTL: the cookie proves nothing alone, and a new one spoils the
// forms open in the browser, so it is kept long.
const csrfCookieTTL = 365 * 24 * time.Hour

// csrfSigner makes and checks the tokens.
type csrfSigner struct{ key []byte }

// newCSRFSigner derives a key of its own from the JWT secret (every
// instance has it), so that nothing signed for one use passes for the other.
func newCSRFSigner(jwtSecret []byte) csrfSigner {
	m := hmac.New(sha256.New, jwtSecret)
	m.Write([]byte("csrf"))
	return csrfSigner{key: m.Sum(nil)}
}

// token is the token of the browser's cookie within session.
func (s csrfSigner) token(cookie, session string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(cookie + "|" + session))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// wellFormedCSRFCookie: one we could have made. Anything else (empty above
// all, whose tokens anyone could collect) is replaced on a GET and fails a
// check.
func wellFormedCSRFCookie(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == csrfCookieBytes
}

// isPublicPath: the pages anyone reads alike (the home page, the
// catalogue, a service).
func isPublicPath(path string) bool {
	if path == "/" || path == "/services" {
		return true
	}
	id, ok := strings.CutPrefix(path, "/services/")
	return ok && len(id) == 24 && !strings.Contains(id, "/")
}

// skipCSRF: requests that need no token. A first visit to a public page
// changes nothing and gets no cookie (a crawler's visits set none); static
// files and health checks neither. Bearer requests, and JSON without our
// cookies, cannot be forged cross-site.
func skipCSRF(c *fiber.Ctx) bool {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		firstPublic := isPublicPath(c.Path()) && c.Cookies(csrfCookie) == "" && c.Cookies(accessCookie) == ""
		return firstPublic || strings.HasPrefix(c.Path(), "/static/") || strings.HasPrefix(c.Path(), "/health")
	}
	if bearerToken(c) != "" {
		return true
	}
	hasCookies := c.Cookies(accessCookie) != "" || c.Cookies(refreshCookie) != ""
	mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	// What a cross-site HTML form can send; JSON needs a preflight.
	isForm := mt == fiber.MIMEApplicationForm || mt == fiber.MIMEMultipartForm || mt == fiber.MIMETextPlain
	return !hasCookies && !isForm
}

// csrfProtection demands the token on every state-changing request that a
// browser could be tricked into sending: cookie-authenticated ones and form
// posts. Other requests get a cookie if they lack one, and the token for
// their page.
func (h *Handler) csrfProtection(c *fiber.Ctx) error {
	if skipCSRF(c) {
		return c.Next()
	}
	session, _ := c.Locals(csrfSessionLocal).(string)
	cookie := c.Cookies(csrfCookie)
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodTrace:
		// Never replace a good cookie: the forms of another tab, or of
		// another instance's page, are signed with it.
		if !wellFormedCSRFCookie(cookie) {
			cookie = auth.RandomSecret(csrfCookieBytes)
			h.setCSRFCookie(c, cookie)
		}
	default:
		// Over https the Referer must be this host too (as Fiber's middleware
		// checked).
		if c.Protocol() == "https" && !refererIsHost(c) {
			return errCSRF
		}
		presented := c.Get(csrfHeader)
		if presented == "" {
			presented = c.FormValue(csrfField)
		}
		if !wellFormedCSRFCookie(cookie) || !hmac.Equal([]byte(unmaskCSRF(presented)), []byte(h.csrf.token(cookie, session))) {
			return errCSRF
		}
	}
	c.Vary(fiber.HeaderCookie) // the page carries a token made of the cookies
	c.Locals(csrfCookieLocal, cookie)
	c.Locals(csrfLocal, h.csrf.token(cookie, session))
	return c.Next()
}

// csrfTokenBytes: the size of a token (an HMAC-SHA256).
const csrfTokenBytes = sha256.Size

// maskCSRF is the token as one response carries it: a random pad and the
// token XOR the pad, base64url (BREACH: a compressed page carrying the
// same secret on every response lets its size reveal it byte by byte; a
// fresh pad each time gives compression nothing to match).
func maskCSRF(token string) string {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != csrfTokenBytes {
		return token
	}
	out := make([]byte, 2*csrfTokenBytes)
	if _, err := rand.Read(out[:csrfTokenBytes]); err != nil {
		panic(err) // crypto/rand never fails on the systems we run on
	}
	for i, b := range raw {
		out[csrfTokenBytes+i] = b ^ out[i]
	}
	return base64.RawURLEncoding.EncodeToString(out)
}

// unmaskCSRF is the token a masked one carries; any other (an unmasked
// token, as the pages carried before masking) is returned as it is.
func unmaskCSRF(presented string) string {
	if len(presented) != base64.RawURLEncoding.EncodedLen(2*csrfTokenBytes) {
		return presented
	}
	// Strict: one token has one spelling (no stray bits in the last letter).
	b, err := base64.RawURLEncoding.Strict().DecodeString(presented)
	if err != nil {
		return presented
	}
	raw := make([]byte, csrfTokenBytes)
	for i := range raw {
		raw[i] = b[i] ^ b[csrfTokenBytes+i]
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

func (h *Handler) setCSRFCookie(c *fiber.Ctx, value string) {
	c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: value, Path: "/", Expires: time.Now().Add(csrfCookieTTL), HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteLaxMode})
}

// refererIsHost: the Referer names this scheme and host.
func refererIsHost(c *fiber.Ctx) bool {
	u, err := url.Parse(strings.ToLower(c.Get(fiber.HeaderReferer)))
	return err == nil && u.Scheme == c.Protocol() && u.Host == c.Hostname()
}

// rotateCSRF binds the token of this response's page to sid, the session
// just started (zero: signed out). The token of the pages before no longer
// passes; the cookie stays.
func (h *Handler) rotateCSRF(c *fiber.Ctx, sid primitive.ObjectID) {
	session := ""
	if !sid.IsZero() {
		session = sid.Hex()
	}
	c.Locals(csrfSessionLocal, session)
	if cookie, ok := c.Locals(csrfCookieLocal).(string); ok {
		c.Locals(csrfLocal, h.csrf.token(cookie, session))
	}
}
