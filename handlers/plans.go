package handlers

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// Regular cleanings (#23): the routes of a plan. A plan is made by a
// booking whose frequency is not "once" (CreateOrder, newPlan); its owner
// and the admins see and change it here. Each change is one compare-and-
// set of the plan, then its visits follow (extendPlan: the sweep cancels
// what the plan no longer wants, then the visits it wants are made).
//
// A change applies from a date after the customer's cancellation window
// (customerCutoff): a visit inside it goes ahead as booked.

// planOut is a plan in JSON, as the contract has it.
type planOut struct {
	ID             primitive.ObjectID  `json:"id"`
	UserID         primitive.ObjectID  `json:"userId"`
	CustomerName   string              `json:"customerName"`
	ServiceID      primitive.ObjectID  `json:"serviceId"`
	ServiceName    string              `json:"serviceName"`
	Frequency      string              `json:"frequency"`
	Weekday        string              `json:"weekday,omitempty"`
	MonthDay       int                 `json:"monthDay,omitempty"`
	Time           string              `json:"time"`
	Rooms          int                 `json:"rooms"`
	Bathrooms      int                 `json:"bathrooms"`
	Area           int                 `json:"area"`
	Extras         []store.ExtraChoice `json:"extras"`
	Price          int64               `json:"price"` // a visit's, at the current terms
	MonthlyRevenue int64               `json:"monthlyRevenue"`
	Address        string              `json:"address"`
	Status         string              `json:"status"`
	PausedUntil    string              `json:"pausedUntil,omitempty"`
	EndsFrom       string              `json:"endsFrom,omitempty"`
	Skips          []string            `json:"skips"`
	Missed         []string            `json:"missed"`
	NextVisits     []planVisitOut      `json:"nextVisits"`
	CreatedAt      time.Time           `json:"createdAt"`
}

type planVisitOut struct {
	Date        string              `json:"date"`
	Time        string              `json:"time"`
	State       string              `json:"state"` // "booked", or why not: skipped, paused, ended, cancelled, missed, coming
	OrderID     *primitive.ObjectID `json:"orderId,omitempty"`
	Number      int64               `json:"number,omitempty"`
	Status      string              `json:"status,omitempty"`
	ScheduledAt *time.Time          `json:"scheduledAt,omitempty"`
	Moved       bool                `json:"moved"`
	Price       int64               `json:"price"`
}

var weekdayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func (h *Handler) planOut(v views.PlanView) planOut {
	p, t := v.Plan, v.Plan.Current()
	out := planOut{ID: p.ID, UserID: p.UserID, CustomerName: p.CustomerName, ServiceID: p.ServiceID, ServiceName: v.ServiceName,
		Frequency: t.Frequency, Time: t.Time, Rooms: t.Rooms, Bathrooms: t.Bathrooms, Area: t.Area,
		Extras: append([]store.ExtraChoice{}, t.Extras...), Price: t.Quote.Total, MonthlyRevenue: t.MonthlyRevenue(),
		Address: p.Address, Status: v.Status, EndsFrom: p.EndsFrom,
		Skips: append([]string{}, p.Skips...), Missed: append([]string{}, p.Missed...), NextVisits: []planVisitOut{}, CreatedAt: p.CreatedAt}
	if v.Status == store.PlanPaused {
		out.PausedUntil = p.PausedUntil
	}
	if t.Frequency == store.FrequencyMonthly {
		out.MonthDay = t.MonthDay
	} else if a, err := time.Parse(time.DateOnly, t.Anchor); err == nil {
		out.Weekday = weekdayNames[a.Weekday()]
	}
	for _, vis := range v.Visits {
		vo := planVisitOut{Date: vis.Date, Time: vis.Time, State: vis.State, Moved: vis.Moved(), Price: vis.Price}
		if vo.State == "" {
			vo.State = "booked"
		}
		if o := vis.Order; o != nil {
			id, at := o.ID, o.ScheduledAt.UTC()
			vo.OrderID, vo.Number, vo.Status, vo.ScheduledAt, vo.Price = &id, o.Seq, o.Status, &at, o.Price
		}
		out.NextVisits = append(out.NextVisits, vo)
	}
	return out
}

// planView reads what a plan's page shows.
func (h *Handler) planView(c *fiber.Ctx, p *store.Plan) (views.PlanView, error) {
	visits, err := h.planVisits(ctx(c), p)
	if err != nil {
		return views.PlanView{}, err
	}
	v := views.PlanView{Plan: p, Status: p.StatusOn(store.LocalDate(h.now())), Visits: visits, Admin: currentUser(c).IsAdmin()}
	svc, err := h.services.Get(ctx(c), p.ServiceID, true)
	switch {
	case err == nil:
		v.Service = svc
		v.ServiceName = store.ServiceTitle(p.ServiceNames, svc.Name.Uz, h.meta(c).Lang, currentName(svc, h.meta(c).Lang))
	case errors.Is(err, store.ErrNotFound):
		v.ServiceName = store.ServiceTitle(p.ServiceNames, p.ServiceNames.Uz, h.meta(c).Lang, "")
	default:
		return v, err
	}
	return v, nil
}

// visiblePlan is plan :id for its owner or an admin; anyone else's is not
// found (its existence is nobody else's business).
func (h *Handler) visiblePlan(c *fiber.Ctx) (*store.Plan, error) {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return nil, err
	}
	p, err := h.plans.Get(ctx(c), id)
	if err != nil {
		return nil, err
	}
	if me := currentUser(c); !me.IsAdmin() && p.UserID != me.ID {
		return nil, store.ErrNotFound
	}
	return p, nil
}

// ListPlans is GET /plans and GET /my/plans: the user's own plans (an
// admin's GET /plans: everyone's, newest first, paged by before).
func (h *Handler) ListPlans(c *fiber.Ctx) error {
	me := currentUser(c)
	var plans []store.Plan
	var next primitive.ObjectID
	var err error
	if me.IsAdmin() && c.Path() == "/plans" {
		var before primitive.ObjectID
		if b := c.Query("before"); b != "" {
			if before, err = store.ParseID(b); err != nil {
				return err
			}
		}
		plans, next, err = h.plans.List(ctx(c), before, 50)
	} else {
		plans, err = h.plans.ForCustomer(ctx(c), me.ID)
	}
	if err != nil {
		return err
	}
	list := make([]views.PlanView, 0, len(plans))
	out := make([]planOut, 0, len(plans))
	for i := range plans {
		v, err := h.planView(c, &plans[i])
		if err != nil {
			return err
		}
		list = append(list, v)
		out = append(out, h.planOut(v))
	}
	nextHex := ""
	if !next.IsZero() {
		nextHex = next.Hex()
	}
	title := h.meta(c).T("plans.title")
	return h.render(c, fiber.StatusOK, fiber.Map{"items": out, "next": nextHex}, page{title: title, body: views.PlansPage(list, nextHex)})
}

// GetPlan is GET /plans/:id (and /my/plans/:id).
func (h *Handler) GetPlan(c *fiber.Ctx) error {
	p, err := h.visiblePlan(c)
	if err != nil {
		return err
	}
	return h.planAnswer(c, p, views.FormState{}, fiber.StatusOK)
}

// planAnswer is a plan's page (with form state f), or its JSON.
func (h *Handler) planAnswer(c *fiber.Ctx, p *store.Plan, f views.FormState, status int) error {
	v, err := h.planView(c, p)
	if err != nil {
		return err
	}
	return h.render(c, status, h.planOut(v), page{title: h.meta(c).T("plans.one"), body: views.PlanPage(v, f)})
}

// planChanged answers a change made: the plan for JSON, else its page with
// a notice.
func (h *Handler) planChanged(c *fiber.Ctx, p *store.Plan, notice string) error {
	if wantsJSON(c) {
		return h.planAnswer(c, p, views.FormState{}, fiber.StatusOK)
	}
	return h.done(c, views.PlanPath(currentUser(c).IsAdmin(), p.ID.Hex()), notice)
}

// planFail answers a refused change: JSON's error, else the plan's page
// with the form's values and field errors.
func (h *Handler) planFail(c *fiber.Ctx, p *store.Plan, err error, values map[string]string) error {
	return h.formError(c, err, values, func(f views.FormState) page {
		v, verr := h.planView(c, p)
		if verr != nil {
			return page{title: h.meta(c).T("plans.one"), body: views.ErrorPage(fiber.StatusUnprocessableEntity, h.meta(c).T("error.validation.title"), firstOf(f.Errors))}
		}
		return page{title: h.meta(c).T("plans.one"), body: views.PlanPage(v, f)}
	})
}

// firstChangeableDate is the first date a change may apply from: the day
// after the one the cancellation window reaches into.
func (h *Handler) firstChangeableDate() string {
	return store.AddDays(store.LocalDate(h.now().Add(customerCutoff)), 1)
}

// bindOptional binds a body when there is one (resume and end need none).
func (h *Handler) bindOptional(c *fiber.Ctx, dst input) error {
	if len(c.Body()) == 0 {
		return dst.Validate()
	}
	return h.bind(c, dst)
}

func dateRule(v any) error {
	s, _ := v.(string)
	if s == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return errors.New("must be a date, YYYY-MM-DD")
	}
	return nil
}

type planDateInput struct {
	Date  string `json:"date" form:"date"`
	Until string `json:"until" form:"until"`
}

func (in *planDateInput) normalize() {
	in.Date, in.Until = strings.TrimSpace(in.Date), strings.TrimSpace(in.Until)
}

func (in planDateInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Date, validation.By(dateRule)),
		validation.Field(&in.Until, validation.By(dateRule)),
	)
}

// changePlan applies edit to plan p (refusals are the plan's to give,
// checked against the plan as stored), then brings its visits in line.
func (h *Handler) changePlan(c *fiber.Ctx, p *store.Plan, edit func(q *store.Plan) error) (*store.Plan, error) {
	today := store.LocalDate(h.now())
	if p.StatusOn(today) == store.PlanEnded {
		return nil, errPlanEnded
	}
	q, err := h.plans.Change(ctx(c), p.ID, func(q *store.Plan) error {
		if q.StatusOn(today) == store.PlanEnded {
			return errPlanEnded
		}
		return edit(q)
	})
	if err != nil {
		return nil, err
	}
	// Past the request's cancel: a change stored has its visits follow
	// (the job would, at its next run), in the timeline as its maker's.
	me := currentUser(c)
	run, err := h.extendPlan(context.WithoutCancel(ctx(c)), q, store.StatusChange{ByUserID: me.ID, ByName: me.Username})
	if err != nil {
		h.log.Warn("plans: the visits of a changed plan", "plan", q.ID.Hex(), "error", err, "made", run.Made, "cancelled", run.Cancelled)
	}
	return q, nil
}

var errPlanEnded = &codedError{status: fiber.StatusConflict, code: "plan_ended"}

// SkipPlanVisit is POST /plans/:id/skip {date}: that visit is cancelled
// and not made again; the plan goes on.
func (h *Handler) SkipPlanVisit(c *fiber.Ctx) error {
	p, err := h.visiblePlan(c)
	if err != nil {
		return err
	}
	var in planDateInput
	if err := h.bind(c, &in); err != nil {
		return h.planFail(c, p, err, map[string]string{"date": in.Date})
	}
	loc := h.meta(c).Locale
	field := func(msg string) error {
		return h.planFail(c, p, &ValidationError{Fields: map[string]string{"date": loc.T(msg)}}, map[string]string{"date": in.Date})
	}
	if in.Date == "" {
		return field("err.plan.date_required")
	}
	if in.Date < store.LocalDate(h.now()) {
		return field("err.plan.date_past")
	}
	if in.Date > store.AddDays(h.firstChangeableDate(), planFarthest) {
		return field("err.plan.too_far")
	}
	var visit *store.Occurrence
	for _, oc := range p.Occurrences(in.Date, in.Date) {
		visit = &oc
	}
	if visit == nil || !p.Wanted(in.Date) {
		return field("err.plan.not_a_visit")
	}
	// Inside the cancellation window the visit goes ahead, for an admin
	// too (who cancels that order itself, on the board, if need be).
	if o, err := h.orders.Get(ctx(c), visit.Order); err == nil && !h.now().Before(o.ScheduledAt.Add(-customerCutoff)) {
		return errTooLate
	}
	q, err := h.changePlan(c, p, func(q *store.Plan) error {
		q.Skips = appendDate(q.Skips, in.Date)
		return nil
	})
	if err != nil {
		return h.planFail(c, p, err, map[string]string{"date": in.Date})
	}
	return h.planChanged(c, q, "flash.planSkipped")
}

// PausePlan is POST /plans/:id/pause {until}: no visits from the first
// changeable date until the day before until.
func (h *Handler) PausePlan(c *fiber.Ctx) error {
	p, err := h.visiblePlan(c)
	if err != nil {
		return err
	}
	var in planDateInput
	if err := h.bind(c, &in); err != nil {
		return h.planFail(c, p, err, map[string]string{"until": in.Until})
	}
	loc := h.meta(c).Locale
	from := h.firstChangeableDate()
	switch {
	case in.Until == "":
		return h.planFail(c, p, &ValidationError{Fields: map[string]string{"until": loc.T("err.plan.date_required")}}, nil)
	case in.Until <= from:
		return h.planFail(c, p, &ValidationError{Fields: map[string]string{"until": loc.Format("err.plan.until_after", map[string]any{"date": from})}}, map[string]string{"until": in.Until})
	case in.Until > store.AddDays(from, 366):
		return h.planFail(c, p, &ValidationError{Fields: map[string]string{"until": loc.T("err.plan.until_far")}}, map[string]string{"until": in.Until})
	}
	q, err := h.changePlan(c, p, func(q *store.Plan) error {
		if q.EndsFrom != "" && q.EndsFrom <= in.Until {
			return &ValidationError{Fields: map[string]string{"until": loc.Format("err.plan.until_after_end", map[string]any{"date": q.EndsFrom})}}
		}
		q.Status, q.PausedFrom, q.PausedUntil = store.PlanPaused, from, in.Until
		return nil
	})
	if err != nil {
		return h.planFail(c, p, err, map[string]string{"until": in.Until})
	}
	return h.planChanged(c, q, "flash.planPaused")
}

// ResumePlan is POST /plans/:id/resume: the pause ends now. The visits it
// cancelled from the first changeable date on are booked again: those
// dates take new terms, the same as before (new orders, not the cancelled
// ones), and from the pause's end the terms in force before go on, their
// visits as they were.
func (h *Handler) ResumePlan(c *fiber.Ctx) error {
	p, err := h.visiblePlan(c)
	if err != nil {
		return err
	}
	from := h.firstChangeableDate()
	q, err := h.changePlan(c, p, func(q *store.Plan) error {
		if q.StatusOn(store.LocalDate(h.now())) != store.PlanPaused {
			return errPlanNotPaused
		}
		if from < q.PausedUntil {
			q.Terms = append(q.Terms, q.Renewed(from, q.PausedUntil, q.NextGen(), h.now())...)
			if q.Through >= from {
				q.Through = store.AddDays(from, -1)
			}
		}
		q.Status, q.PausedFrom, q.PausedUntil = store.PlanActive, "", ""
		return nil
	})
	if err != nil {
		return h.planFail(c, p, err, nil)
	}
	return h.planChanged(c, q, "flash.planResumed")
}

var errPlanNotPaused = &codedError{status: fiber.StatusConflict, code: "plan_not_paused"}

// EndPlan is POST /plans/:id/end {date?}: no visits from date on (the
// first changeable date when none is given, or the first visit's when that
// is later); those booked are cancelled. A date after today leaves the plan
// active until then.
func (h *Handler) EndPlan(c *fiber.Ctx) error {
	p, err := h.visiblePlan(c)
	if err != nil {
		return err
	}
	var in planDateInput
	if err := h.bindOptional(c, &in); err != nil {
		return h.planFail(c, p, err, map[string]string{"date": in.Date})
	}
	loc := h.meta(c).Locale
	from, start := h.firstChangeableDate(), p.Terms[0].Anchor
	if in.Date == "" {
		in.Date = max(from, start)
	}
	switch {
	case in.Date < start:
		return h.planFail(c, p, &ValidationError{Fields: map[string]string{"date": loc.Format("err.plan.end_before_start", map[string]any{"date": start})}}, map[string]string{"date": in.Date})
	case in.Date < from:
		return h.planFail(c, p, &ValidationError{Fields: map[string]string{"date": loc.Format("err.plan.from_after", map[string]any{"date": from})}}, map[string]string{"date": in.Date})
	case in.Date > store.AddDays(from, planFarthest):
		return h.planFail(c, p, &ValidationError{Fields: map[string]string{"date": loc.T("err.plan.too_far")}}, map[string]string{"date": in.Date})
	}
	q, err := h.changePlan(c, p, func(q *store.Plan) error {
		q.EndsFrom = in.Date
		// No visit left before the end (it is the first changeable date,
		// or the first visit's): ended now.
		if in.Date <= max(from, start) {
			q.Status = store.PlanEnded
		}
		return nil
	})
	if err != nil {
		return h.planFail(c, p, err, map[string]string{"date": in.Date})
	}
	return h.planChanged(c, q, "flash.planEnded")
}

// planFarthest is how many days after the first changeable date a plan's
// change, end or skip may be dated.
const planFarthest = 366

// planChange is PATCH /plans/:id: new terms from a date on.
type planChange struct {
	From string `json:"from" form:"from"`
	Time string `json:"time" form:"time"`
	pricingInput
}

func (in *planChange) normalize() {
	in.From, in.Time = strings.TrimSpace(in.From), strings.TrimSpace(in.Time)
	in.pricingInput.normalize()
}

func (in planChange) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.From, validation.Required, validation.By(dateRule)),
		validation.Field(&in.Time, validation.Match(clockRe).Error("must be a time, HH:MM")),
		validation.Field(&in.Frequency, validation.In(anys(store.PlanFrequencies)...)),
		validation.Field(&in.Extras, extraChoicesLength),
	)
}

func (in planChange) values() map[string]string {
	v := map[string]string{"from": in.From, "time": in.Time}
	in.pricingInput.values(v)
	return v
}

// UpdatePlan is PATCH /plans/:id (and the form's POST): from the date
// from on, the visits are at the new time, size, extras and frequency,
// re-priced and re-reserved; those before stay as they are. What is not
// sent stays as it was.
func (h *Handler) UpdatePlan(c *fiber.Ctx) error {
	p, err := h.visiblePlan(c)
	if err != nil {
		return err
	}
	var in planChange
	if err := h.bindPricing(c, &in, &in.pricingInput); err != nil {
		return h.planFail(c, p, err, in.values())
	}
	loc := h.meta(c).Locale
	from := h.firstChangeableDate()
	switch {
	case in.From < from:
		return h.planFail(c, p, &ValidationError{Fields: map[string]string{"from": loc.Format("err.plan.from_after", map[string]any{"date": from})}}, in.values())
	case in.From > store.AddDays(from, planFarthest):
		return h.planFail(c, p, &ValidationError{Fields: map[string]string{"from": loc.T("err.plan.too_far")}}, in.values())
	}
	// What is not sent stays as the terms in force on that date have it.
	cur := p.TermsOn(in.From)
	if in.Frequency == "" {
		in.Frequency = cur.Frequency
	}
	if in.Time == "" {
		in.Time = cur.Time
	}
	if in.Rooms == nil {
		in.Rooms = &cur.Rooms
	}
	if in.Bathrooms == nil {
		in.Bathrooms = &cur.Bathrooms
	}
	if in.Area == nil {
		in.Area = &cur.Area
	}
	if in.Extras == nil && !formSentExtras(c) {
		in.Extras = cur.Extras
	}
	rules, err := h.schedule.Rules(ctx(c))
	if err != nil {
		return err
	}
	if m, ok := store.ParseClock(in.Time); !ok || m%rules.SlotMinutes != 0 {
		return h.planFail(c, p, &ValidationError{Fields: map[string]string{"time": loc.Format("err.schedule.grid", map[string]any{"minutes": rules.SlotMinutes})}}, in.values())
	}
	svc, err := h.services.Get(ctx(c), p.ServiceID, true)
	if err != nil {
		return err
	}
	in.PromoCode = "" // a code is for one booking, not a plan's visits
	q, _, err := h.priceVisit(c, svc, in.pricingInput, primitive.NilObjectID)
	if err != nil {
		return h.planFail(c, p, err, in.values())
	}
	// A time no crew works at, for the visit as now priced, is refused now
	// (a time merely taken on a date moves that visit, as always).
	probe := cur.NextTerms(in.From, in.Frequency, in.Time, 0, h.now())
	if at, err := probe.VisitTime(probe.Anchor); err == nil {
		sc, err := h.schedule.LoadAround(ctx(c), at, 0)
		if err != nil {
			return err
		}
		if _, err := sc.CheckMove(svc.ID, q.DurationMinutes, at, h.now(), primitive.NilObjectID); errors.Is(err, store.ErrOutsideHours) || errors.Is(err, store.ErrNoCrew) {
			return h.planFail(c, p, &ValidationError{Fields: map[string]string{"time": loc.T("err.schedule.outside_hours")}}, in.values())
		}
	}
	stored, err := h.changePlan(c, p, func(pl *store.Plan) error {
		// Later terms added before this change give way from its date:
		// they stay (their visits are named by them, and swept).
		next := pl.TermsOn(in.From).NextTerms(in.From, in.Frequency, in.Time, pl.NextGen(), h.now())
		next.Rooms, next.Bathrooms, next.Area = *in.Rooms, *in.Bathrooms, *in.Area
		next.Extras, next.Quote = in.Extras, *q
		pl.Terms = append(pl.Terms, next)
		if pl.Through >= in.From {
			pl.Through = store.AddDays(in.From, -1)
		}
		return nil
	})
	if err != nil {
		return h.planFail(c, p, err, in.values())
	}
	return h.planChanged(c, stored, "flash.planChanged")
}

// formSentExtras reports whether a form named its extras (extra_<id>): a
// form that sends none means none.
func formSentExtras(c *fiber.Ctx) bool {
	if wantsJSON(c) || !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationForm) {
		return false
	}
	return c.FormValue("extrasSent") != ""
}

// ensurePlan makes the plan of o, a booking's first visit, unless it
// exists: a booking whose frequency is not once made the order named as
// the plan's first visit (store.PlanVisitID) and the plan follows it; a
// retry of that booking (cut off between the two, or answered with the
// first order) makes it then. when is the time the booking asked for
// (the visit may have moved since); in the booking's pricing input,
// without its promo code. A plan made by a racing retry meanwhile is
// found, not made again.
func (h *Handler) ensurePlan(c *fiber.Ctx, o *store.Order, svc *store.Service, in pricingInput, when time.Time) error {
	if o.PlanID.IsZero() {
		return nil
	}
	if _, err := h.plans.Get(ctx(c), o.PlanID); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	in.PromoCode = ""
	q, _, err := h.priceVisit(c, svc, in, primitive.NilObjectID)
	if err != nil {
		return err
	}
	at := when.In(store.Tashkent)
	date := at.Format(time.DateOnly)
	t := store.PlanTerms{From: date, Frequency: q.Frequency, Anchor: date, Time: at.Format("15:04"),
		Rooms: sizeOr(in.Rooms, store.SmallestHome.Rooms), Bathrooms: sizeOr(in.Bathrooms, store.SmallestHome.Bathrooms),
		Area: sizeOr(in.Area, store.SmallestHome.Area), Extras: in.Extras, Quote: *q}
	if t.Frequency == store.FrequencyMonthly {
		t.MonthDay = at.Day()
	}
	p := &store.Plan{ID: o.PlanID, UserID: o.UserID, CustomerName: o.CustomerName, ServiceID: svc.ID, ServiceNames: svc.Name,
		Address: o.Address, Phone: o.Phone, Notes: o.Notes, Terms: []store.PlanTerms{t}, Through: date}
	if err := h.plans.Create(ctx(c), p); errors.Is(err, store.ErrConflict) {
		return nil // a racing retry made it
	} else if err != nil {
		return err
	}
	// The next PlanWeeks of visits, now, so that the plan's page shows
	// them; past the request's cancel (the job would make them anyway).
	me := currentUser(c)
	if _, err := h.extendPlan(context.WithoutCancel(ctx(c)), p, store.StatusChange{ByUserID: me.ID, ByName: me.Username}); err != nil {
		h.log.Warn("plans: the first visits of a new plan", "plan", p.ID.Hex(), "error", err)
	}
	return nil
}

// clockRe is a time of day, HH:MM.
var clockRe = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d$`)
