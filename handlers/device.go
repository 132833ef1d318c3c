package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device
// Cookies"): a browser where a user signed in gets a signed cookie naming
// that user. Wrong passwords from such a browser are counted per browser;
// wrong passwords from everywhere else share one budget per account. When a
// guesser spends that budget, unknown browsers are refused for the account,
// but the owner still gets in from a browser they used before, or from a new
// one after opening the link emailed to the account ("unlock"): a correct
// password keeps working for its owner while guessing stays bounded.
//
// The cookie is "<user hex>.<random id>.<HMAC>", base64url, signed with a key
// derived from JWT_SECRET, so every instance checks it and nothing is stored.
// The random id keys the browser's own budget.

const (
	deviceCookie    = "device"
	deviceCookieTTL = 365 * 24 * time.Hour
	deviceIDBytes   = 16
)

// deviceSigner makes and checks device cookies.
type deviceSigner struct{ key []byte }

// newDeviceSigner derives a key of its own from the JWT secret (see
// newCSRFSigner).
func newDeviceSigner(jwtSecret []byte) deviceSigner {
	m := hmac.New(sha256.New, jwtSecret)
	m.Write([]byte("device"))
	return deviceSigner{key: m.Sum(nil)}
}

func (s deviceSigner) mac(user, id string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(user + "|" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue makes a cookie value for user on a new browser.
func (s deviceSigner) issue(user primitive.ObjectID) string {
	b := make([]byte, deviceIDBytes)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	return user.Hex() + "." + id + "." + s.mac(user.Hex(), id)
}

// check returns the browser's id when value is a cookie this app made for
// user.
func (s deviceSigner) check(value string, user primitive.ObjectID) (string, bool) {
	parts := strings.Split(value, ".")
	if len(parts) != 3 || parts[0] != user.Hex() {
		return "", false
	}
	if !hmac.Equal([]byte(parts[2]), []byte(s.mac(parts[0], parts[1]))) {
		return "", false
	}
	return parts[1], true
}

// knownDevice returns the id of this browser when it is one where user
// signed in before.
func (h *Handler) knownDevice(c *fiber.Ctx, user primitive.ObjectID) (string, bool) {
	return h.devices.check(c.Cookies(deviceCookie), user)
}

// trustDevice marks this browser as one where user signs in: a new cookie,
// unless it already carries one of user's.
func (h *Handler) trustDevice(c *fiber.Ctx, user primitive.ObjectID) {
	if _, ok := h.knownDevice(c, user); ok {
		return
	}
	c.Cookie(&fiber.Cookie{Name: deviceCookie, Value: h.devices.issue(user), Path: "/auth",
		Expires: time.Now().Add(deviceCookieTTL), HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteLaxMode})
}
