package handlers

import (
	"context"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// RequestTimeout bounds each request's work, its database work above all:
// a database that stops answering (a frozen server, a network that drops
// packets without a reset) costs a request a 503 with Retry-After within
// the design's 10 s, never a hang. The driver's own timeouts only cover
// finding a server (Options.Timeout), not a server that takes the query
// and never answers.
const RequestTimeout = 8 * time.Second

// deadline puts RequestTimeout on the request's context, which every
// store call gets (ctx). The chat socket is left out: its upgrade returns
// at once, and the connection lives on h.life.
func (h *Handler) deadline(c *fiber.Ctx) error {
	if websocket.IsWebSocketUpgrade(c) {
		return c.Next()
	}
	cx, cancel := context.WithTimeout(c.UserContext(), RequestTimeout)
	defer cancel()
	c.SetUserContext(cx)
	return c.Next()
}

// renderCtx is the request's context for rendering: its values (the page
// meta) without its deadline, so that the error page of a request that
// ran out of time still renders (templ refuses a context that is done).
func renderCtx(c *fiber.Ctx) context.Context { return context.WithoutCancel(ctx(c)) }
