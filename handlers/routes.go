package handlers

import (
	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/requestid"
)

// routes is the whole route table of the app, in one place. Every route
// names who may use it: anyone, a signed-in user (user), or an ADMIN (admin).
func (h *Handler) routes(app *fiber.App) {
	app.Use(requestid.New())
	app.Use(compressAnswers) // around the log, which turns errors into answers
	app.Use(h.accessLog)
	app.Use(h.deadline)
	app.Use(h.recoverPanic)
	app.Use(h.securityHeaders)
	app.Use(h.withMeta)
	app.Use(checkQuery)
	app.Use(h.authenticate)
	app.Use(h.csrfProtection)

	user, verified, admin, cleaner := h.requireUser, h.requireVerified, h.requireAdmin, h.requireCleaner

	// anyone
	app.Get("/health", h.Health)
	app.Get("/health/live", h.Live)
	app.Get("/metrics", h.Metrics) // loopback or METRICS_TOKEN
	app.Get("/static/*", h.Static)
	app.Get("/favicon.ico", h.Favicon)
	app.Get("/", h.HomePage)
	app.Get("/lang/:code", h.SwitchLanguage)
	app.Get("/calendar/:secret.ics", h.CalendarFeed) // #24: no login, the secret is the key

	authLimit := h.rateLimit() // one budget per IP for all of these
	app.Get("/auth/signup", h.SignupPage)
	app.Post("/auth/signup", authLimit, h.SignupSubmit)
	app.Get("/auth/login", h.LoginPage)
	app.Post("/auth/login", h.reserveHash, authLimit, h.LoginSubmit)
	app.Post("/auth/logout", h.Logout)
	app.Get("/auth/refresh", h.RefreshPage)
	app.Post("/auth/refresh", h.Refresh)
	app.Get("/auth/verify", h.Verify)
	app.Post("/auth/verify", authLimit, h.VerifyCode) // {email, code}
	app.Post("/auth/verify/resend", authLimit, h.ResendVerification)
	app.Get("/auth/login/2fa", h.LoginTwoFactorPage)
	app.Post("/auth/login/2fa", authLimit, h.LoginTwoFactorSubmit)
	app.Get("/auth/password/forgot", h.ForgotPasswordPage)
	app.Post("/auth/password/forgot", authLimit, h.ForgotPassword)
	app.Get("/auth/unlock", h.UnlockPage)
	app.Post("/auth/unlock", authLimit, h.Unlock)
	app.Get("/auth/password/reset", h.ResetPasswordPage)
	app.Post("/auth/password/reset", authLimit, h.ResetPassword)
	app.Get("/auth/invite", h.InvitePage) // #22, a cleaner's invitation
	app.Post("/auth/invite", authLimit, h.AcceptInvite)

	// the catalogue: reading is public, writing is for admins
	app.Get("/services", h.ListServices)
	app.Get("/services/new", admin, h.NewServicePage)
	app.Post("/services", admin, h.CreateService)
	app.Get("/services/:id", h.GetService)
	app.Get("/services/:id/edit", admin, h.EditServicePage)
	app.Patch("/services/:id", admin, h.UpdateService)
	app.Delete("/services/:id", admin, h.DeleteService)

	// signed-in users
	app.Get("/auth/2fa/setup", verified, h.TwoFactorSetup) // 2FA on a verified email only
	app.Post("/auth/2fa/enable", verified, h.TwoFactorEnable)
	app.Post("/auth/2fa/disable", user, h.TwoFactorDisable)
	app.Post("/auth/2fa/recovery-codes", user, h.TwoFactorRecoveryCodes)
	app.Get("/me", user, h.Me)
	app.Patch("/me", user, h.UpdateMe)
	app.Delete("/me", user, h.DeleteMe)
	app.Get("/me/calendar", user, h.MyCalendar) // #24: the private feed's URL
	app.Post("/me/calendar/rotate", user, h.RotateCalendar)
	app.Post("/me/telegram", user, h.ConnectTelegram) // #24: the bot's one-time link
	app.Delete("/me/telegram", user, h.DisconnectTelegram)
	app.Post("/me/telegram/disconnect", user, h.DisconnectTelegram) // the profile's form
	app.Get("/me/notifications", user, h.Notifications)
	app.Put("/me/notifications", user, h.UpdateNotifications)
	app.Post("/me/notifications", user, h.UpdateNotifications) // the page's form
	app.Post("/telegram/webhook", h.TelegramWebhook)           // Telegram's updates, by the secret header
	app.Get("/me/addresses", user, h.ListAddresses)
	app.Post("/me/addresses", verified, h.AddAddress)
	app.Patch("/me/addresses/:id", verified, h.UpdateAddress)
	app.Delete("/me/addresses/:id", verified, h.DeleteAddress)

	// orders: the owner or an admin (decided per order in the handler)
	app.Get("/orders", user, h.ListOrders)
	app.Get("/orders/new", verified, h.NewOrderPage)
	app.Post("/orders", verified, h.CreateOrder)
	app.Get("/orders/:id", user, h.GetOrder)
	app.Get("/orders/:id/calendar.ics", user, h.OrderCalendar) // #24

	app.Patch("/orders/:id", user, h.UpdateOrder)
	app.Post("/orders/:id", user, h.UpdateOrder) // the order page's forms without JavaScript
	app.Delete("/orders/:id", admin, h.DeleteOrder)

	// chat: conversations are checked per request in the handler
	app.Get("/chat", user, h.ChatPage)
	app.Get("/chat/conversations", user, h.ListConversations)
	app.Get("/chat/unread", user, h.ChatUnread)
	app.Post("/chat/conversations", verified, h.StartConversation)
	app.Get("/chat/conversations/:id/messages", user, h.ConversationMessages)
	app.Post("/chat/conversations/:id/messages", verified, h.PostMessage)
	app.Get("/chat/ws", h.chatUpgrade, websocket.New(h.chatSocket, websocket.Config{ReadBufferSize: 2048, WriteBufferSize: 2048}))

	// admins
	app.Get("/admin", admin, h.Statistics)
	app.Get("/admin/statistics", admin, h.Statistics)
	app.Get("/admin/settings", admin, h.SettingsPage)
	app.Put("/admin/settings", admin, h.PutSettings)
	app.Post("/admin/settings", admin, h.PutSettings) // the form without htmx
	app.Get("/orders.csv", admin, h.OrdersCSV)
	app.Get("/users", admin, h.ListUsers)
	app.Get("/users/:id", admin, h.GetUser)
	app.Patch("/users/:id", admin, h.UpdateUser)
	app.Delete("/users/:id", admin, h.DeleteUser)
	app.Delete("/users/:id/2fa", admin, h.ClearTwoFactor)
	app.Get("/admin/outbox", admin, h.OutboxPage)
	app.Post("/admin/outbox/:id/retry", admin, h.RetryEmail)

	// #21, the admin's schedule: a day's crews and visits, or a week's
	// load (a visit is reassigned with PATCH /orders/:id {crewId})
	app.Get("/admin/schedule", admin, h.AdminSchedule)

	// #20, the admin's side of the price calculator: a service's pricing
	// and extras (their rows change on the server; the form without htmx
	// posts to /edit), and the promo codes
	app.Post("/services/:id/edit", admin, h.UpdateService)
	app.Post("/services/new/extra-rows", admin, h.ExtraRows)
	app.Post("/services/:id/extra-rows", admin, h.ExtraRows)
	// #22, a service's visit checklist: its rows change on the server too
	app.Post("/services/new/checklist-rows", admin, h.ChecklistRows)
	app.Post("/services/:id/checklist-rows", admin, h.ChecklistRows)
	app.Get("/admin/promo-codes", admin, h.ListPromoCodes)
	app.Post("/admin/promo-codes", admin, h.CreatePromoCode)
	app.Patch("/admin/promo-codes/:id", admin, h.UpdatePromoCode)

	// #21, the crews and their closures; a form without htmx posts to
	// /edit and /delete, and the hours' rows change on the server
	app.Get("/admin/crews", admin, h.ListCrews)
	app.Post("/admin/crews", admin, h.CreateCrew)
	app.Get("/admin/crews/:id", admin, h.GetCrew)
	app.Patch("/admin/crews/:id", admin, h.UpdateCrew)
	app.Delete("/admin/crews/:id", admin, h.DeleteCrew)
	app.Post("/admin/crews/:id/edit", admin, h.UpdateCrew)
	app.Post("/admin/crews/:id/delete", admin, h.DeleteCrew)
	app.Post("/admin/crews/:id/hour-rows", admin, h.CrewHourRows) // :id "new" for the new crew's form
	app.Get("/admin/closures", admin, h.ListClosures)
	app.Post("/admin/closures", admin, h.CreateClosure)
	app.Delete("/admin/closures/:id", admin, h.DeleteClosure)
	app.Post("/admin/closures/:id/delete", admin, h.DeleteClosure)

	// #22, the cleaners' accounts: invited into a crew by email
	app.Get("/admin/cleaners", admin, h.ListCleaners)
	app.Post("/admin/cleaners", admin, h.CreateCleaner)
	app.Post("/admin/cleaners/:id/invite", admin, h.ResendInvite)

	// #22, a cleaner's own day and visits (a step is PATCH /orders/:id);
	// the checklist's form without JavaScript posts
	app.Get("/my/day", cleaner, h.MyDay)
	app.Get("/my/visits/:id", cleaner, h.MyVisit)
	app.Put("/my/visits/:id/checklist/:itemId", cleaner, h.TickChecklist)
	app.Post("/my/visits/:id/checklist/:itemId", cleaner, h.TickChecklist)

	// #23, regular cleanings: a plan is made by a booking whose frequency
	// is not "once"; its owner (or an admin) sees and changes it here. A
	// form without JavaScript posts the change to /plans/:id.
	app.Get("/plans", user, h.ListPlans)
	app.Get("/my/plans", user, h.ListPlans)
	app.Get("/plans/:id", user, h.GetPlan)
	app.Get("/my/plans/:id", user, h.GetPlan)
	app.Patch("/plans/:id", verified, h.UpdatePlan)
	app.Post("/plans/:id", verified, h.UpdatePlan)
	app.Post("/plans/:id/skip", verified, h.SkipPlanVisit)
	app.Post("/plans/:id/pause", verified, h.PausePlan)
	app.Post("/plans/:id/resume", verified, h.ResumePlan)
	app.Post("/plans/:id/end", verified, h.EndPlan)

	// #24, reviews: the customer of a completed visit rates it once and
	// may change it for 7 days (the form without JavaScript posts the
	// change to /review/change); a service's reviews are public; an admin
	// hides one with a reason (the form posts)
	app.Post("/orders/:id/review", user, h.CreateReview)
	app.Patch("/orders/:id/review", user, h.ChangeReview)
	app.Post("/orders/:id/review/change", user, h.ChangeReview)
	app.Get("/services/:id/reviews", h.ServiceReviews)
	app.Patch("/admin/reviews/:id", admin, h.HideReview)
	app.Post("/admin/reviews/:id", admin, h.HideReview)

	// the price calculator (#20): anyone prices a visit without booking
	app.Post("/quote", h.Quote)
	app.Get("/availability", h.Availability)
}
