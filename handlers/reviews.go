package handlers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// Reviews (#24): the customer of a completed visit rates it once, and may
// change it for store.ReviewChangeWindow; the service page shows the
// average and the newest comments; an admin hides a review with a reason.
var (
	errNotCompleted = &codedError{status: fiber.StatusConflict, code: "not_completed"}
	errReviewLocked = &codedError{status: fiber.StatusConflict, code: "review_locked"}
	errReviewed     = &codedError{status: fiber.StatusConflict, code: "reviewed"}
)

// reviewCommentMax bounds a comment, in characters.
const reviewCommentMax = 1000

// reviewInput is POST and PATCH /orders/:id/review. Rating is a pointer
// so that a missing rating is told apart from 0 (both refused).
type reviewInput struct {
	Rating  *int   `json:"rating" form:"rating"`
	Comment string `json:"comment" form:"comment"`
}

func (in *reviewInput) normalize() { in.Comment = strings.TrimSpace(in.Comment) }

func (in reviewInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Rating, validation.NotNil, validation.Min(1), validation.Max(5)),
		validation.Field(&in.Comment, validation.RuneLength(0, reviewCommentMax)))
}

// hideInput is PATCH /admin/reviews/:id: a reason is required to hide.
type hideInput struct {
	Hidden *bool  `json:"hidden" form:"hidden"`
	Reason string `json:"reason" form:"reason"`
}

func (in *hideInput) normalize() { in.Reason = strings.TrimSpace(in.Reason) }

func (in hideInput) Validate() error {
	hiding := in.Hidden != nil && *in.Hidden
	return validation.ValidateStruct(&in,
		validation.Field(&in.Hidden, validation.NotNil),
		validation.Field(&in.Reason, validation.When(hiding, validation.Required), validation.RuneLength(0, 300)))
}

// reviewJSON is a review as its author and the admin read it.
type reviewJSON struct {
	*store.Review
	ChangeableUntil time.Time `json:"changeableUntil"`
}

func reviewOut(r *store.Review) reviewJSON {
	return reviewJSON{Review: r, ChangeableUntil: r.CreatedAt.Add(store.ReviewChangeWindow)}
}

// reviewableOrder is the caller's own completed order of the request: any
// other order is "not found" (an admin reviews no customer's visit), one
// not completed a 409.
func (h *Handler) reviewableOrder(c *fiber.Ctx) (*store.Order, error) {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return nil, err
	}
	o, err := h.orders.ForCustomerOrder(ctx(c), currentUser(c).ID, id)
	if err != nil {
		return nil, err
	}
	if o.Status != store.StatusCompleted {
		return nil, errNotCompleted
	}
	return o, nil
}

// CreateReview is POST /orders/:id/review: the order's owner rates the
// completed visit, once.
func (h *Handler) CreateReview(c *fiber.Ctx) error {
	o, err := h.reviewableOrder(c)
	if err != nil {
		return err
	}
	var in reviewInput
	if err := h.bind(c, &in); err != nil {
		return err
	}
	me := currentUser(c)
	now := h.now().UTC()
	r := &store.Review{ID: o.ID, ServiceID: o.ServiceID, CrewID: o.CrewID, UserID: me.ID, FirstName: store.FirstName(me),
		Rating: *in.Rating, Comment: in.Comment, CreatedAt: now, UpdatedAt: now}
	if err := h.reviews.Create(ctx(c), r, o.CrewName); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errReviewed
		}
		return err
	}
	return h.reviewDone(c, fiber.StatusCreated, r)
}

// ChangeReview is PATCH /orders/:id/review (and the form's POST to
// /orders/:id/review/change): the author changes their rating within
// store.ReviewChangeWindow of the first.
func (h *Handler) ChangeReview(c *fiber.Ctx) error {
	o, err := h.reviewableOrder(c)
	if err != nil {
		return err
	}
	var in reviewInput
	if err := h.bind(c, &in); err != nil {
		return err
	}
	r, err := h.reviews.Change(ctx(c), o.ID, *in.Rating, in.Comment, h.now(), o.CrewName)
	if errors.Is(err, store.ErrReviewLocked) {
		return errReviewLocked
	}
	if err != nil {
		return err
	}
	return h.reviewDone(c, fiber.StatusOK, r)
}

// reviewDone answers a review written: the review as JSON, else back to
// the order's page with a notice.
func (h *Handler) reviewDone(c *fiber.Ctx, status int, r *store.Review) error {
	if wantsJSON(c) {
		return c.Status(status).JSON(reviewOut(r))
	}
	return h.done(c, "/orders/"+r.ID.Hex(), "flash.reviewSaved")
}

// HideReview is PATCH /admin/reviews/:id (ADMIN): hide a review with a
// reason, or show it again.
func (h *Handler) HideReview(c *fiber.Ctx) error {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return err
	}
	var in hideInput
	if err := h.bind(c, &in); err != nil {
		return err
	}
	crewName := ""
	if o, err := h.orders.Get(ctx(c), id); err == nil {
		crewName = o.CrewName
	}
	r, err := h.reviews.Hide(ctx(c), id, *in.Hidden, in.Reason, currentUser(c).Username, h.now(), crewName)
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.JSON(reviewOut(r))
	}
	return h.done(c, "/services/"+r.ServiceID.Hex()+"/reviews", "flash.reviewHidden")
}

// reviewsPage is how many reviews a page of GET /services/:id/reviews holds.
const reviewsPage = 20

// ServiceReviews is GET /services/:id/reviews: a service's reviews, newest
// first, a page at a time (?after=<offset>); public, first names only.
// An admin sees the hidden ones too, with the reason. One _id look-up of
// the service's tally, never a scan of the reviews.
func (h *Handler) ServiceReviews(c *fiber.Ctx) error {
	svc, tally, err := h.serviceWithReviews(c)
	if err != nil {
		return err
	}
	admin := currentUser(c).IsAdmin()
	rows := tally.Newest(admin)
	from := 0
	if s := c.Query("after"); s != "" {
		if from, err = strconv.Atoi(s); err != nil || from < 0 {
			return fmt.Errorf("%w: after %q", store.ErrInvalid, s)
		}
	}
	from = min(from, len(rows))
	to := min(from+reviewsPage, len(rows))
	next := ""
	if to < len(rows) {
		next = strconv.Itoa(to)
	}
	out := struct {
		list[store.ReviewRow]
		Rating store.Rating `json:"rating"`
	}{list[store.ReviewRow]{Items: rows[from:to], Next: next}, tally.Rating()}
	if !admin {
		for i := range out.Items {
			out.Items[i].Hidden, out.Items[i].Reason = false, ""
		}
	}
	v := views.ReviewsView{Service: svc, Rating: tally.Rating(), Rows: out.Items, Next: next, Admin: admin}
	return h.render(c, fiber.StatusOK, out, page{title: svc.Text(h.meta(c).Lang).Name, body: views.ServiceReviewsPage(v)})
}

// reviewRequest queues, once per order, the email asking the customer to
// rate their completed visit, in their language, with a link to the order
// page where the form is.
func (h *Handler) reviewRequest(ctx context.Context, o *store.Order, customer *store.User) error {
	lang := localeOf(customer)
	loc := h.catalog.Locale(lang)
	link := h.cfg.BaseURL + "/orders/" + o.ID.Hex() + "#review"
	greeting := loc.Format("email.greeting", map[string]any{"Name": customer.Username})
	intro := loc.T("email.review.intro")
	text := greeting + "\n\n" + intro + "\n\n" + link + "\n\n-- \n" + loc.T("email.footer") + "\n"
	e, err := h.renderEmail(ctx, customer.Email, lang, "email.review.subject",
		views.ReviewRequestEmail(loc.T("email.review.subject"), greeting, intro, link), text)
	if err != nil {
		return err
	}
	if err := h.tell(ctx, customer, "completed", "review|"+o.ID.Hex(), e); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// reviewStats is the dashboard's part of the reviews: the averages per
// service and per crew, and the lowest ratings of the last 30 days.
func (h *Handler) reviewStats(c *fiber.Ctx, names map[string]string) (views.ReviewStats, error) {
	var st views.ReviewStats
	services, err := h.services.All(ctx(c))
	if err != nil {
		return st, err
	}
	crews, err := h.schedule.Crews(ctx(c))
	if err != nil {
		return st, err
	}
	serviceIDs, crewIDs := make([]primitive.ObjectID, len(services)), make([]primitive.ObjectID, len(crews))
	for i := range services {
		serviceIDs[i] = services[i].ID
	}
	for i := range crews {
		crewIDs[i] = crews[i].ID
	}
	ofServices, ofCrews, err := h.reviews.Tallies(ctx(c), serviceIDs, crewIDs)
	if err != nil {
		return st, err
	}
	since := h.now().Add(-30 * 24 * time.Hour)
	for i, s := range services {
		t := ofServices[i]
		if r := t.Rating(); r.Count > 0 {
			st.PerService = append(st.PerService, views.RatingOf{Name: names[s.ID.Hex()], Rating: r, Link: "/services/" + s.ID.Hex() + "/reviews"})
		}
		for _, row := range t.Newest(false) {
			if row.At.After(since) {
				st.Lowest = append(st.Lowest, views.LowRating{Row: row, Service: names[row.ServiceID]})
			}
		}
	}
	for i, cr := range crews {
		if r := ofCrews[i].Rating(); r.Count > 0 {
			st.PerCrew = append(st.PerCrew, views.RatingOf{Name: cr.Name, Rating: r})
		}
	}
	// Lowest first; among equal ratings the newest (each service's rows
	// came newest first, and the sort keeps that order).
	sort.SliceStable(st.Lowest, func(i, j int) bool { return st.Lowest[i].Row.Rating < st.Lowest[j].Row.Rating })
	st.Lowest = st.Lowest[:min(len(st.Lowest), 10)]
	return st, nil
}
