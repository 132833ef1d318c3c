package handlers

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tozalash/views"
)

const flashCookie = "flash"

// setFlash leaves a message for the next page the user sees: kind is
// success, info or error; id names a catalog message, so the text follows the
// language of the page that shows it.
func (h *Handler) setFlash(c *fiber.Ctx, kind, id string) {
	c.Cookie(&fiber.Cookie{
		Name:     flashCookie,
		Value:    kind + "." + id,
		Path:     "/",
		Expires:  time.Now().Add(time.Minute),
		HTTPOnly: true,
		Secure:   h.cfg.SecureCookies,
		SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// takeFlash reads and clears the message left for this page. Only known
// kinds and catalog ids are shown: the cookie is the client's to change.
func (h *Handler) takeFlash(c *fiber.Ctx) *views.Flash {
	v := c.Cookies(flashCookie)
	if v == "" {
		return nil
	}
	c.Cookie(&fiber.Cookie{Name: flashCookie, Path: "/", Expires: time.Unix(0, 0), MaxAge: -1, HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteLaxMode})
	kind, id, ok := strings.Cut(v, ".")
	if !ok || (kind != "success" && kind != "info" && kind != "error") || !h.catalog.Has(id) {
		return nil
	}
	return &views.Flash{Kind: kind, Text: h.meta(c).T(id)}
}
