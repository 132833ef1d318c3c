package handlers

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/requestid"
)

// routes is the whole route table of the app, in one place.
func (h *Handler) routes(app *fiber.App) {
	app.Use(requestid.New())
	app.Use(h.accessLog)
	app.Use(h.recoverPanic)
	app.Use(h.securityHeaders)
	app.Use(h.withMeta)

	app.Get("/health", h.Health)
	app.Get("/health/live", h.Live)
	app.Get("/static/*", h.Static)
	app.Get("/favicon.ico", h.Favicon)

	app.Get("/", h.HomePage)
	app.Get("/lang/:code", h.SwitchLanguage)

	app.Get("/services", h.ListServices)
	app.Get("/services/:id", h.GetService)
}
