package handlers

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"tozalash/views"
)

// wantsJSON reports whether the client prefers JSON over HTML.
func wantsJSON(c *fiber.Ctx) bool {
	return c.Accepts(fiber.MIMETextHTML, fiber.MIMEApplicationJSON) == fiber.MIMEApplicationJSON
}

// isFragment reports whether htmx asked for a piece of a page (a boosted
// request wants the whole page).
func isFragment(c *fiber.Ctx) bool {
	return c.Get("HX-Request") == "true" && c.Get("HX-Boosted") != "true"
}

// page is one answer in its two HTML shapes: the full page's body, laid out,
// and the fragment htmx swaps in (the body itself when nil).
type page struct {
	title    string
	body     templ.Component
	fragment templ.Component
	// public: the same for every anonymous visitor, given the language, the
	// URL and the catalogue; such a page is rendered once and kept.
	public bool
	// keptAs, on a public page, is what besides the language, the URL and
	// the catalogue it depends on (a service's reviews' version, #24): a
	// change of it makes another page, never a stale one.
	keptAs string
}

// render is the one place that decides the representation: JSON for clients
// that prefer it, the fragment for htmx, else the full page.
func (h *Handler) render(c *fiber.Ctx, status int, data any, p page) error {
	c.Vary(fiber.HeaderAccept, "HX-Request", fiber.HeaderAcceptLanguage) // the language too: the same URL answers in each
	if wantsJSON(c) {
		if p.public && currentUser(c) == nil && status == fiber.StatusOK {
			return h.jsonKept(c, data, p.keptAs)
		}
		return c.Status(status).JSON(data)
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	m := h.meta(c)
	m.CSRF, _ = c.Locals(csrfLocal).(string)
	m.CSRF = maskCSRF(m.CSRF) // a fresh pad on every response (BREACH)
	if m.User != nil {
		c.Set(fiber.HeaderCacheControl, "no-store") // a signed-in page is nobody else's
	}
	w := c.Response().BodyWriter()
	if isFragment(c) {
		if p.fragment != nil {
			return p.fragment.Render(renderCtx(c), w)
		}
		return p.body.Render(renderCtx(c), w)
	}
	m.Flash = h.takeFlash(c)
	if p.public && m.User == nil && m.Flash == nil {
		return h.renderKept(c, m, p, w)
	}
	return layoutFor(c, m)(p.title).Render(templ.WithChildren(renderCtx(c), p.body), w)
}

// layoutFor is the one place that picks a page's frame: an admin on a page
// of one of the admin's sections (views.AdminSections) works in the admin
// layout with its navigation; everyone else, and an admin elsewhere (their
// profile, the home page), in the site's.
func layoutFor(c *fiber.Ctx, m *views.Meta) func(title string) templ.Component {
	if m.User.IsAdmin() {
		if _, ok := views.AdminSectionOf(c.Path()); ok {
			return views.AdminLayout
		}
	}
	return views.Layout
}

// jsonKept serves a public answer's JSON from the page cache, encoding it
// when the cache lacks it; kept by language, as the pages are.
func (h *Handler) jsonKept(c *fiber.Ctx, data any, keptAs string) error {
	version, err := h.services.Version(ctx(c))
	if err != nil {
		return err
	}
	key := "json " + h.meta(c).Lang + " " + c.OriginalURL() + " " + keptAs // titles are in the reader's language
	kept, ok := h.pages.get(key, version)
	if !ok {
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		kept = h.pages.put(key, version, b)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON) // as c.JSON says it
	if sendGzipped(c, kept) {
		return nil
	}
	return c.Send(kept.parts[0]) // JSON carries no token: one part
}

// sendGzipped sends the kept page gzipped, when the client takes that.
func sendGzipped(c *fiber.Ctx, kept *keptPage) bool {
	c.Vary(fiber.HeaderAcceptEncoding)
	if kept.gz == nil || !c.Request().Header.HasAcceptEncoding("gzip") {
		return false
	}
	c.Set(fiber.HeaderContentEncoding, "gzip")
	c.Response().SetBodyRaw(kept.gz)
	return true
}

// renderKept serves a public page from the page cache, rendering it (with
// csrfMark for the token) when the cache lacks it.
func (h *Handler) renderKept(c *fiber.Ctx, m *views.Meta, p page, w io.Writer) error {
	version, err := h.services.Version(ctx(c))
	if err != nil {
		return err
	}
	key := m.Lang + " " + c.OriginalURL() + " " + p.keptAs
	kept, ok := h.pages.get(key, version)
	if !ok {
		var buf bytes.Buffer
		token := m.CSRF
		m.CSRF = csrfMark
		err := views.Layout(p.title).Render(templ.WithChildren(renderCtx(c), p.body), &buf)
		m.CSRF = token
		if err != nil {
			return err
		}
		kept = h.pages.put(key, version, buf.Bytes())
	}
	if m.CSRF == "" && sendGzipped(c, kept) {
		return nil
	}
	for i, part := range kept.parts {
		if i > 0 {
			io.WriteString(w, m.CSRF)
		}
		w.Write(part)
	}
	return nil
}

// list is the JSON shape of every paginated answer.
type list[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}
