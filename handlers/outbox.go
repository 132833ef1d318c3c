package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"tozalash/store"
	"tozalash/views"
)

// outboxLimit is how many emails of each kind the outbox page shows
// (?limit= from 1 to 100 changes it); the header counts them all.
const outboxLimit = 100

// OutboxPage is GET /admin/outbox: the emails the worker gave up on (each
// with a "retry" button) and the ones it is still retrying, newest first;
// JSON clients get {"items":[…],"next":""}, the failed ones first.
func (h *Handler) OutboxPage(c *fiber.Ctx) error {
	p, err := pageQuery(c)
	if err != nil {
		return err
	}
	if c.Query("limit") == "" {
		p.limit = outboxLimit
	}
	problems, err := h.outbox.ListProblems(ctx(c), p.limit, p.before)
	if err != nil {
		return err
	}
	counts, err := h.outbox.Counts(ctx(c))
	if err != nil {
		return err
	}
	// Recipients' addresses and errors: nobody else's, in any shape.
	c.Set(fiber.HeaderCacheControl, "no-store")
	items := append(append(make([]store.Email, 0, len(problems.Failed)+len(problems.Retrying)), problems.Failed...), problems.Retrying...)
	v := views.OutboxView{Failed: problems.Failed, Retrying: problems.Retrying, Counts: counts, Next: cursorOf(problems.FailedNext), Limit: p.limit}
	return h.render(c, fiber.StatusOK, list[store.Email]{Items: items, Next: cursorOf(problems.FailedNext)}, page{
		title: h.meta(c).T("outbox.title"),
		body:  views.OutboxPage(v),
	})
}

// outboxRetryJSON is the JSON answer of a retry.
type outboxRetryJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// RetryEmail is POST /admin/outbox/:id/retry: a failed email goes back to
// the queue with its tries reset, and the mail worker is woken. A form post
// comes back to the page (303), htmx gets the updated row, JSON clients
// {"id","status":"pending"}. 400 for a malformed id, 404 for an unknown
// one, 409 for an email that is not failed (queued already, or sent): to
// htmx with the row as it is now.
func (h *Handler) RetryEmail(c *fiber.Ctx) error {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return err
	}
	e, err := h.outbox.Retry(ctx(c), id)
	if errors.Is(err, store.ErrConflict) && isFragment(c) && !wantsJSON(c) {
		// Retried already (another admin, a double click) or sent: htmx
		// swaps a 409 in, so the row shows what the email is now rather
		// than an error in place of a table row.
		if cur, gerr := h.outbox.Get(ctx(c), id); gerr == nil {
			c.Set(fiber.HeaderCacheControl, "no-store")
			return h.render(c, fiber.StatusConflict, nil, page{body: views.OutboxRow(cur)})
		}
	}
	if err != nil {
		return err
	}
	h.cfg.EmailQueued()
	c.Set(fiber.HeaderCacheControl, "no-store")
	switch {
	case wantsJSON(c):
		return c.JSON(outboxRetryJSON{ID: e.ID.Hex(), Status: e.Status})
	case isFragment(c):
		return h.render(c, fiber.StatusOK, nil, page{body: views.OutboxRow(e)})
	}
	h.setFlash(c, "success", "outbox.retried")
	return c.Redirect("/admin/outbox", fiber.StatusSeeOther)
}
