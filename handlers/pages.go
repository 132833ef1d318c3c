package handlers

import (
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tozalash/static"
	"tozalash/store"
	"tozalash/views"
)

// HomePage is the landing page with the first page of the catalogue.
func (h *Handler) HomePage(c *fiber.Ctx) error {
	items, next, err := h.services.List(ctx(c), store.ServiceFilter{Limit: 12})
	if err != nil {
		return err
	}
	cursor := cursorOf(next)
	return h.render(c, fiber.StatusOK, list[store.Service]{Items: items, Next: cursor}, page{
		title:  h.meta(c).T("title.home"),
		body:   views.HomePage(items, cursor),
		public: true,
	})
}

// SwitchLanguage remembers the chosen language in the lang cookie and goes
// back to the page it came from: GET /lang/:code?next=/path.
func (h *Handler) SwitchLanguage(c *fiber.Ctx) error {
	code := c.Params("code")
	if !views.Supported(code) {
		return fiber.ErrNotFound
	}
	c.Cookie(&fiber.Cookie{
		Name:     "lang",
		Value:    code,
		Path:     "/",
		Expires:  time.Now().AddDate(1, 0, 0),
		HTTPOnly: true,
		Secure:   h.cfg.SecureCookies,
		SameSite: fiber.CookieSameSiteLaxMode,
	})
	if u := currentUser(c); u != nil && u.LastLang != code {
		if err := h.rememberLang(c, u, code); err != nil {
			return err
		}
	}
	h.setFlash(c, "success", "flash.languageChanged")
	return c.Redirect(localPath(c.Query("next")), fiber.StatusSeeOther)
}

// localPath returns next when it is a path on this site, else "/": an open
// redirect must never leave through it, and no control character gets into
// a Location header (url.Parse does not look past a "#").
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// Static serves the embedded files; a URL carrying the file's current version
// is cached for a year.
func (h *Handler) Static(c *fiber.Ctx) error {
	a, ok := static.Assets()[c.Params("*")]
	if !ok {
		return fiber.ErrNotFound
	}
	etag := `"` + a.Version + `"`
	if c.Query("v") == a.Version {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	}
	c.Set(fiber.HeaderETag, etag)
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Vary(fiber.HeaderAcceptEncoding)
	if a.Gzip != nil && strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(a.Gzip)
	}
	return c.Send(a.Body)
}

// Favicon answers browsers that ask for /favicon.ico by habit.
func (h *Handler) Favicon(c *fiber.Ctx) error {
	return c.Redirect(static.URL("img/favicon.svg"), fiber.StatusMovedPermanently)
}
