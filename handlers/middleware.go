package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"tozalash/views"
)

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals("requestid").(string)
	return id
}

// refusedForLoadLocal marks a request refused for load (503 busy).
const refusedForLoadLocal = "refusedForLoad"

// loadRefusals sums up the requests refused for load (503 busy, by design,
// with Retry-After): a flood of logins is thousands of them a second,
// each answered in microseconds, and a line each cost more than the
// answer. So a line is written at most once a second, as a warning (no
// fault to alert on), at a refusal, with the refusals since the line
// before; /metrics counts every one.
type loadRefusals struct {
	mu      sync.Mutex
	last    time.Time // when a line was last written
	unnoted int       // refusals since
}

func (r *loadRefusals) note(c *fiber.Ctx, log *slog.Logger, now time.Time) {
	r.mu.Lock()
	r.unnoted++
	if now.Sub(r.last) < time.Second {
		r.mu.Unlock()
		return
	}
	n := r.unnoted
	r.last, r.unnoted = now, 0
	r.mu.Unlock()
	log.LogAttrs(c.UserContext(), slog.LevelWarn, "requests refused for load",
		slog.Int("count", n), slog.String("path", c.Path()), slog.String("requestId", requestID(c)))
}

// accessLog writes one line per request (but those refused for load: see
// loadRefusals). It resolves errors itself, through
// the app's error handler, so that the line carries the final status.
func (h *Handler) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	h.metrics.observe(routeOf(c, status), c.Method(), status, time.Since(start))
	if refused, _ := c.Locals(refusedForLoadLocal).(bool); refused {
		h.refusals.note(c, h.log, h.now())
		return nil
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	h.log.LogAttrs(c.UserContext(), level, "request",
		slog.String("method", c.Method()),
		slog.String("path", c.Path()),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.String("requestId", requestID(c)),
	)
	return nil
}

// routeOf is the route pattern that answered, such as "/orders/:id": the
// label of the request metrics, so made-up paths do not make new series.
func routeOf(c *fiber.Ctx, status int) string {
	r := c.Route()
	if r == nil || (status == fiber.StatusNotFound && r.Path == "/" && c.Path() != "/") {
		return "unmatched"
	}
	return r.Path
}

// recoverPanic turns a panic into a 500 for that request alone, logged with
// its stack and request id.
func (h *Handler) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("panic", slog.Any("panic", r), slog.String("requestId", requestID(c)), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.Next()
}

const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries.
func (h *Handler) securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", contentSecurityPolicy)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	if h.cfg.HTTPS {
		c.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	if strings.HasPrefix(c.Path(), "/auth/") {
		// Tokens, pending-login cookies and one-time links: never kept by
		// a browser's or a proxy's cache.
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return c.Next()
}

// withMeta decides the request's language and puts the page meta in the
// request context, where the templates find it.
func (h *Handler) withMeta(c *fiber.Ctx) error {
	h.meta(c)
	return c.Next()
}

// meta returns the request's page meta, building it on first use (the error
// handler may run before withMeta did, for a body that was too large).
func (h *Handler) meta(c *fiber.Ctx) *views.Meta {
	if m, ok := c.Locals(metaLocal).(*views.Meta); ok {
		return m
	}
	lang := h.catalog.Pick(c.Cookies("lang"), c.Get(fiber.HeaderAcceptLanguage))
	m := &views.Meta{
		Locale:    h.catalog.Locale(lang),
		Path:      utils.CopyString(c.OriginalURL()),
		RequestID: requestID(c),
	}
	c.Locals(metaLocal, m)
	c.SetUserContext(views.WithMeta(c.UserContext(), m))
	return m
}

const metaLocal = "meta"

// ctx is the request's context for stores and templates.
func ctx(c *fiber.Ctx) context.Context { return c.UserContext() }
