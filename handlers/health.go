package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

type health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// Health answers ops: 200 when the database answers within a second, else
// 503. Always JSON, the language of monitoring.
func (h *Handler) Health(c *fiber.Ctx) error {
	cx, cancel := context.WithTimeout(ctx(c), time.Second)
	defer cancel()
	c.Set(fiber.HeaderCacheControl, "no-store")
	if err := h.db.Ping(cx); err != nil {
		c.Set(fiber.HeaderRetryAfter, "5")
		return c.Status(fiber.StatusServiceUnavailable).JSON(health{"unavailable", map[string]string{"database": "unavailable"}})
	}
	return c.JSON(health{"ok", map[string]string{"database": "ok"}})
}

// Live answers while the process serves; it touches no dependency.
func (h *Handler) Live(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": "ok"})
}
