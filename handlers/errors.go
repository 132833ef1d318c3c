package handlers

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/x/mongo/driver"
	"go.mongodb.org/mongo-driver/x/mongo/driver/topology"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/views"
)

// apiError is the JSON error shape of DESIGN.md.
type apiError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
	// Alternatives are free times near a taken one (slot_taken): "10:30"
	// on the day asked for, "2026-12-07 09:00" on another; AlternativesAt
	// the same instants in RFC 3339.
	Alternatives   []string    `json:"alternatives,omitempty"`
	AlternativesAt []time.Time `json:"alternativesAt,omitempty"`
}

// ValidationError carries per-field messages, already in the user's language.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string { return "validation failed" }

// classify is the one mapping from an error to a status and an error code.
func classify(err error) (int, string) {
	var fe *fiber.Error
	var ve *ValidationError
	var ce *codedError
	var cf *conflictError
	var busy *auth.BusyError
	var limited *rateLimitedError
	var taken *slotTakenError
	switch {
	case errors.As(err, &taken):
		return fiber.StatusConflict, "slot_taken"
	case errors.As(err, &limited):
		return fiber.StatusTooManyRequests, limited.Error()
	case errors.As(err, &busy):
		return fiber.StatusServiceUnavailable, "busy"
	case errors.As(err, &ce):
		return ce.status, ce.code
	case errors.As(err, &cf):
		return fiber.StatusConflict, "conflict"
	case errors.As(err, &ve):
		return fiber.StatusUnprocessableEntity, "validation"
	case errors.Is(err, store.ErrNotFound):
		return fiber.StatusNotFound, "not_found"
	case errors.Is(err, store.ErrBadTransition):
		return fiber.StatusConflict, "bad_transition"
	case errors.Is(err, store.ErrInvalid):
		return fiber.StatusBadRequest, "bad_request"
	case errors.Is(err, store.ErrConflict):
		return fiber.StatusConflict, "conflict"
	case errors.As(err, &fe):
		return fe.Code, codeOfStatus(fe.Code)
	case databaseDown(err):
		return fiber.StatusServiceUnavailable, "unavailable"
	}
	return fiber.StatusInternalServerError, "internal"
}

// databaseDown reports errors that mean the database did not answer: in
// time (the request's deadline, see RequestTimeout) or at all. Besides
// the driver's timeouts and network errors, that is a connection the
// driver closed under the operation, and the pool it cleared, when its
// monitor found the server gone (no NetworkError label on either: before,
// a database that froze gave the requests in flight a 500).
func databaseDown(err error) bool {
	var netErr net.Error
	var pool driver.RetryablePoolError
	return errors.Is(err, context.DeadlineExceeded) || mongo.IsTimeout(err) || mongo.IsNetworkError(err) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		errors.As(err, &topology.ServerSelectionError{}) ||
		errors.As(err, &topology.ConnectionError{}) ||
		errors.As(err, &pool) ||
		errors.As(err, &netErr)
}

func codeOfStatus(status int) string {
	switch status {
	case fiber.StatusBadRequest:
		return "bad_request"
	case fiber.StatusUnauthorized:
		return "unauthorized"
	case fiber.StatusForbidden:
		return "forbidden"
	case fiber.StatusNotFound:
		return "not_found"
	case fiber.StatusMethodNotAllowed:
		return "method_not_allowed"
	case fiber.StatusConflict:
		return "conflict"
	case fiber.StatusRequestEntityTooLarge:
		return "too_large"
	case fiber.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case fiber.StatusUnprocessableEntity:
		return "validation"
	case fiber.StatusTooManyRequests:
		return "rate_limited"
	case fiber.StatusServiceUnavailable:
		return "unavailable"
	}
	if status >= 500 {
		return "internal"
	}
	return "bad_request"
}

// handleError is the app's one error handler: it logs server faults with the
// request id and answers the JSON error shape, an htmx fragment or an error
// page, in the user's language.
func (h *Handler) handleError(c *fiber.Ctx, err error) error {
	status, code := classify(err)
	// A refusal for load (busy) is no fault: under a login flood it would be
	// thousands of lines. The access log sums them up (loadRefusals).
	if code == "busy" {
		c.Locals(refusedForLoadLocal, true)
	}
	if status >= 500 && code != "busy" {
		h.log.LogAttrs(ctx(c), slog.LevelError, "request failed",
			slog.String("error", err.Error()), slog.String("requestId", requestID(c)),
			slog.String("method", c.Method()), slog.String("path", c.Path()))
	}
	if status == fiber.StatusServiceUnavailable {
		c.Set(fiber.HeaderRetryAfter, retryAfter(err))
	}
	var limited *rateLimitedError
	if errors.As(err, &limited) {
		setRetryAfter(c, limited.wait)
	}
	if (code == "unauthorized" || code == "session_ended") && !wantsJSON(c) {
		return h.toLogin(c)
	}
	m := h.meta(c)
	e := apiError{Code: code, Message: m.T("error." + code + ".message")}
	var ve *ValidationError
	var cf *conflictError
	var taken *slotTakenError
	if errors.As(err, &ve) {
		e.Fields = ve.Fields
	} else if errors.As(err, &cf) {
		e.Fields = cf.Fields
	} else if errors.As(err, &taken) {
		e.Fields = taken.Fields
		e.Alternatives, e.AlternativesAt = taken.Labels, taken.Alternatives
	}
	// A 4xx from Fiber or a handler may carry its own wording; keep the
	// localized text for the page and the precise one for JSON clients.
	var fe *fiber.Error
	if errors.As(err, &fe) && status < 500 && fe.Message != "" && fe.Message != fiberDefaultMessage(status) {
		e.Message = fe.Message
	}
	title := m.T("error." + code + ".title")
	body := views.ErrorPage(status, title, m.T("error."+code+".message"))
	fragment := views.ErrorFragment(title, e.Message)
	if cf != nil && len(cf.Fields) > 0 {
		// What conflicts, in place of "reload and try again": the slot
		// htmx swaps it into has no form to mark.
		fragment = views.ErrorFragment(title, firstOf(cf.Fields))
	}
	if code == "not_verified" {
		body = views.NotVerifiedPage()
		fragment = body
	}
	return h.render(c, status, fiber.Map{"error": e}, page{
		title:    title,
		body:     body,
		fragment: fragment,
	})
}

// retryAfter is the Retry-After of a 503, in whole seconds: when the
// password hashes admitted now should be done, or 5 s for a database that
// does not answer.
func retryAfter(err error) string {
	var busy *auth.BusyError
	if errors.As(err, &busy) {
		return strconv.Itoa(max(1, int(math.Ceil(busy.RetryAfter.Seconds()))))
	}
	return "5"
}

func fiberDefaultMessage(status int) string { return fiber.NewError(status).Message }

// toLogin sends a browser that must sign in to the login page, and back
// afterwards: htmx through HX-Redirect, a page through 303.
func (h *Handler) toLogin(c *fiber.Ctx) error {
	next := "/"
	if c.Get("HX-Request") == "true" {
		next = currentURLPath(c)
	} else if c.Method() == fiber.MethodGet {
		next = c.OriginalURL()
	}
	target := "/auth/login?next=" + url.QueryEscape(localPath(next))
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", target)
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}
