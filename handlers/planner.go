package handlers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
	"golang.org/x/sync/errgroup"

	"tozalash/store"
	"tozalash/views"
)

// The plans' visits (#23). A plan's visits are made as orders PlanWeeks
// ahead by extendPlan, which the plans job runs for every plan (RunPlans)
// and every change of a plan runs for that plan at once. Each visit's order
// is named by its plan, terms and date (store.PlanVisitID), so making it
// twice, on two instances or after a crash, makes it once. sweepPlan
// cancels what a plan no longer wants (a skip, a pause, a change, the
// end): it works from the plan alone, so a change cut off by a crash
// before its sweep is swept by the next run.

// PlanVisitsEvery is how often the plans job looks for visits to make.
const PlanVisitsEvery = 10 * time.Minute

// planBy is who the job's entries in an order's timeline name.
const planBy = "Tozalash"

// errNoTime: a plan's visit has no free time on its day or the next.
var errNoTime = errors.New("no free time that day or the next")

// planRun is what one extension did.
type planRun struct {
	Made, Moved, Missed, Cancelled int
}

// RunPlans makes the plans' visits every interval until ctx ends. Of the
// instances sharing the database, one runs each interval (a claim keyed
// by the interval); running it twice would be harmless all the same.
func (h *Handler) RunPlans(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := h.db.ClaimRun(ctx, "plans", every, h.now()); err == nil {
			run, err := h.ExtendPlans(ctx)
			if err != nil && ctx.Err() == nil {
				h.log.Warn("plans: extending", "error", err)
			}
			h.metrics.planRuns.Inc()
			if run.Missed > 0 {
				h.log.Warn("plans: visits with no free time that day or the next", "missed", run.Missed)
			}
		} else if !errors.Is(err, store.ErrConflict) && ctx.Err() == nil {
			h.log.Warn("plans: claiming the run", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ExtendPlans extends every plan not ended; one plan's trouble holds up no
// other (it is logged, and the next run tries again).
func (h *Handler) ExtendPlans(ctx context.Context) (planRun, error) {
	var total planRun
	now := h.now()
	last, err := h.planHorizon(ctx, now)
	if err != nil {
		return total, err
	}
	today := store.LocalDate(now)
	var mu sync.Mutex
	err = h.plans.Open(ctx, 200, func(ps []store.Plan) error {
		// Plans are independent: several at once, so that their bookings
		// share the booking groups' commits (see store.createQueue).
		var g errgroup.Group
		g.SetLimit(planWorkers)
		for i := range ps {
			p := &ps[i]
			if planSettled(p, today, last) {
				continue
			}
			g.Go(func() error {
				run, err := h.extendPlan(ctx, p, store.StatusChange{ByName: planBy})
				mu.Lock()
				total.Made += run.Made
				total.Moved += run.Moved
				total.Missed += run.Missed
				total.Cancelled += run.Cancelled
				mu.Unlock()
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					h.log.Warn("plans: extending a plan", "plan", p.ID.Hex(), "error", err)
				}
				return nil
			})
		}
		return g.Wait()
	})
	return total, err
}

// planWorkers is how many plans the job extends at once.
const planWorkers = 8

// planHorizon is the last date a plan's visits are made for now.
func (h *Handler) planHorizon(ctx context.Context, now time.Time) (string, error) {
	rules, err := h.schedule.Rules(ctx)
	if err != nil {
		return "", err
	}
	return store.AddDays(store.LocalDate(now), min(store.PlanWeeks*7, rules.HorizonDays)), nil
}

// planSettled reports whether p needs nothing of the job on today: its
// visits are made up to last, it was swept as it is (see sweepPlan), and
// its end, if any, is recorded.
func planSettled(p *store.Plan, today, last string) bool {
	return p.Through >= last && p.SweptV == p.V && p.StatusOn(today) == p.Status
}

// extendPlan cancels the visits p no longer wants (unless it was swept as
// it is) and makes those it wants up to the horizon, then records how far
// it got. by is who the cancellations' timeline entries name: the person
// whose change it follows, or the company's job.
func (h *Handler) extendPlan(ctx context.Context, p *store.Plan, by store.StatusChange) (planRun, error) {
	var run planRun
	now := h.now()
	today := store.LocalDate(now)
	last, err := h.planHorizon(ctx, now)
	if err != nil {
		return run, err
	}
	if p.SweptV != p.V {
		if run.Cancelled, err = h.sweepPlan(ctx, p, now, last, by); err != nil {
			return run, err
		}
	}
	start := max(store.AddDays(p.Through, 1), today)
	var missed, made []string
	if start <= last && p.StatusOn(today) != store.PlanEnded {
		svc, err := h.services.Get(ctx, p.ServiceID, true)
		if err != nil {
			return run, err
		}
		for _, oc := range p.Occurrences(start, last) {
			if !p.Wanted(oc.Date) {
				continue
			}
			isNew, moved, err := h.makePlanVisit(ctx, p, svc, oc, now)
			switch {
			case errors.Is(err, errNoTime):
				missed = append(missed, oc.Date)
				run.Missed++
				h.metrics.planVisits.WithLabelValues("missed").Inc()
				h.planVisitMissed(ctx, p, svc, oc)
				continue
			case err != nil:
				return run, err // the next run goes on from Through
			}
			made = append(made, oc.Date)
			if isNew {
				run.Made++
				h.metrics.planVisits.WithLabelValues("made").Inc()
			}
			if moved {
				run.Moved++
				h.metrics.planVisits.WithLabelValues("moved").Inc()
			}
		}
	}
	if p.Through >= last && p.SweptV == p.V && len(missed) == 0 && p.StatusOn(today) == p.Status {
		return run, nil // nothing to record
	}
	stored, err := h.plans.Change(ctx, p.ID, func(q *store.Plan) error {
		// Through moves on only from where this run began: a change
		// meanwhile that set it back (new terms to book) keeps it back.
		if q.Through == p.Through && q.Through < last {
			q.Through = last
		}
		for _, d := range missed {
			q.Missed = appendDate(q.Missed, d)
		}
		q.Missed = slices.DeleteFunc(q.Missed, func(d string) bool { return slices.Contains(made, d) })
		if q.V == p.V {
			q.SweptV = q.V + 1 // swept as it is (this write changes nothing it wants)
		}
		if q.StatusOn(today) == store.PlanEnded {
			q.Status = store.PlanEnded // past its end: the job leaves it alone from now on
		}
		return nil
	})
	if err != nil {
		return run, err
	}
	// Changed meanwhile (a skip, a change on another instance): what was
	// made for the plan as it was is swept against the plan as it is.
	if stored.SweptV != stored.V {
		n, err := h.sweepPlan(ctx, stored, now, last, by)
		run.Cancelled += n
		if err != nil {
			return run, err
		}
	}
	*p = *stored
	return run, nil
}

func appendDate(dates []string, d string) []string {
	for _, x := range dates {
		if x == d {
			return dates
		}
	}
	return append(dates, d)
}

// makePlanVisit makes the visit of occurrence oc unless it exists: at the
// plan's time, else at the nearest free time that day or the next (moved,
// and the customer is told). made is false when it existed.
func (h *Handler) makePlanVisit(ctx context.Context, p *store.Plan, svc *store.Service, oc store.Occurrence, now time.Time) (made, moved bool, err error) {
	if _, err := h.orders.Get(ctx, oc.Order); err == nil {
		return false, false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, false, err
	}
	at, err := oc.Terms.VisitTime(oc.Date)
	if err != nil {
		return false, false, err
	}
	minutes := oc.Terms.Quote.DurationMinutes
	hold, crew, err := h.placePlanVisit(ctx, svc.ID, oc.Order, at, minutes, now)
	if err != nil {
		return false, false, err
	}
	o := &store.Order{
		ID: oc.Order, UserID: p.UserID, CustomerName: p.CustomerName, ServiceID: svc.ID, ServiceName: svc.Name.Uz, ServiceNames: svc.Name,
		ScheduledAt: hold.From, Address: p.Address, Phone: p.Phone, Notes: p.Notes, Status: store.StatusPending,
		IdempotencyKey: "plan|" + oc.Order.Hex(), CrewID: hold.CrewID, CrewName: crew.Name, EndsAt: hold.EndsAt, ReservedUntil: hold.Until,
		PlanID: p.ID, PlanDate: oc.Date,
	}
	o.SetQuote(&oc.Terms.Quote)
	if err := h.orders.CreateWithEmail(ctx, o, nil); err != nil {
		// A booking not answered in time may still be made (see
		// CreateOrder): its hold stays with it.
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return false, false, err
		}
		keep := (*store.Reservation)(nil)
		if first, gerr := h.orders.Get(context.WithoutCancel(ctx), oc.Order); gerr == nil {
			keep = first.Reservation() // made meanwhile (another instance): its hold stays
		}
		if uerr := h.schedule.Unreserve(context.WithoutCancel(ctx), hold, keep); uerr != nil {
			h.log.Warn("plans: a visit's reservation could not be given back", "order", oc.Order.Hex(), "error", uerr)
		}
		if errors.Is(err, store.ErrConflict) {
			return false, false, nil // made by someone else
		}
		return false, false, err
	}
	h.metrics.ordersCreated.Inc()
	moved = !hold.From.Equal(at)
	if moved {
		h.planVisitMoved(ctx, o, at)
	}
	return true, moved, nil
}

// placePlanVisit reserves a crew for a plan's visit at at, else at the
// nearest free time that day, else the first the next day (errNoTime when
// neither has one).
func (h *Handler) placePlanVisit(ctx context.Context, service, order primitive.ObjectID, at time.Time, minutes int, now time.Time) (*store.Reservation, *store.Crew, error) {
	try := func(at time.Time) (*store.Reservation, *store.Crew, error) {
		sc, err := h.schedule.LoadAround(ctx, at, 1)
		if err != nil {
			return nil, nil, err
		}
		crews, err := sc.CheckMove(service, minutes, at, now, order)
		if err == nil {
			r, err := h.schedule.Reserve(ctx, crews, order, at, minutes, sc.Rules)
			if err == nil {
				for _, cr := range crews {
					if cr.ID == r.CrewID {
						return r, cr, nil
					}
				}
			}
			if !errors.Is(err, store.ErrSlotTaken) {
				return nil, nil, err
			}
		} else if !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrConflict) {
			return nil, nil, err
		}
		alt, ok := sc.NearestFree(service, minutes, at, now, order)
		if !ok {
			return nil, nil, errNoTime
		}
		crews, err = sc.CheckMove(service, minutes, alt, now, order)
		if err != nil {
			return nil, nil, errNoTime
		}
		r, err := h.schedule.Reserve(ctx, crews, order, alt, minutes, sc.Rules)
		if errors.Is(err, store.ErrSlotTaken) {
			return nil, nil, errSlotRace
		}
		if err != nil {
			return nil, nil, err
		}
		for _, cr := range crews {
			if cr.ID == r.CrewID {
				return r, cr, nil
			}
		}
		return r, crews[0], nil
	}
	// The nearest time may be taken between the read and the claim (a
	// booking at once): the schedule is read again, a few times.
	for range 3 {
		r, cr, err := try(at)
		if !errors.Is(err, errSlotRace) {
			return r, cr, err
		}
	}
	return nil, nil, errNoTime
}

var errSlotRace = errors.New("the nearest free time was taken meanwhile")

// sweepPlan cancels p's upcoming visits up to last that p no longer
// wants: those of terms on days later terms took over, and those skipped,
// paused or past the plan's end. It works from the plan alone, every
// terms it ever had, so a change cut off before its sweep is swept by the
// next run. A visit inside the customer's cancellation window
// (customerCutoff) goes ahead.
func (h *Handler) sweepPlan(ctx context.Context, p *store.Plan, now time.Time, last string, by store.StatusChange) (int, error) {
	today := store.LocalDate(now)
	wanted := map[primitive.ObjectID]bool{}
	for _, oc := range p.Occurrences(today, last) {
		if p.Wanted(oc.Date) {
			wanted[oc.Order] = true
		}
	}
	cancelled := 0
	for i := range p.Terms {
		t := &p.Terms[i]
		for _, d := range t.Dates(today, last) {
			id := store.PlanVisitID(p.ID, t, d)
			if wanted[id] {
				continue
			}
			o, err := h.orders.Get(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return cancelled, err
			}
			if o.Status != store.StatusPending && o.Status != store.StatusConfirmed || !now.Before(o.ScheduledAt.Add(-customerCutoff)) {
				continue
			}
			step := by
			step.Reason = planReason(p, d)
			_, err = h.orders.Move(ctx, id, store.Step{To: store.StatusCancelled, By: step})
			if errors.Is(err, store.ErrBadTransition) || errors.Is(err, store.ErrConflict) {
				continue // moved on meanwhile
			}
			if err != nil {
				return cancelled, err
			}
			cancelled++
			h.metrics.planVisits.WithLabelValues("cancelled").Inc()
		}
	}
	return cancelled, nil
}

// planReason is why a plan's visit of date was cancelled, for its
// timeline (stored as written: Uzbek first, as the company's own notes).
func planReason(p *store.Plan, date string) string {
	switch {
	case slices.Contains(p.Skips, date):
		return "plan: skipped"
	case p.EndsFrom != "" && date >= p.EndsFrom:
		return "plan: ended"
	case p.PausedFrom != "" && date >= p.PausedFrom && (p.PausedUntil == "" || date < p.PausedUntil):
		return "plan: paused until " + p.PausedUntil
	}
	return "plan: changed from " + p.TermsOn(date).From
}

// planVisitMoved tells the customer that the visit of o went to another
// time than the plan's usual one (at), which was taken.
func (h *Handler) planVisitMoved(ctx context.Context, o *store.Order, usual time.Time) {
	customer, err := h.users.Get(ctx, o.UserID)
	if err != nil {
		return
	}
	change := store.StatusChange{Type: store.ChangeScheduledAt, From: usual.UTC().Format(time.RFC3339), To: o.ScheduledAt.UTC().Format(time.RFC3339)}
	e, err := h.orderEmailMessage(ctx, o, customer, "planMoved", change)
	if err == nil {
		err = h.outbox.EnqueueOnce(ctx, "planMoved|"+o.ID.Hex(), e)
	}
	if err != nil {
		h.log.Warn("plans: the email of a moved visit could not be queued", "order", o.ID.Hex(), "error", err)
		return
	}
	h.emailQueued()
}

// planVisitMissed tells the customer that the visit of
// oc could not be placed on its day or the next: they pick a time.
func (h *Handler) planVisitMissed(ctx context.Context, p *store.Plan, svc *store.Service, oc store.Occurrence) {
	customer, err := h.users.Get(ctx, p.UserID)
	if err != nil {
		return
	}
	at, _ := oc.Terms.VisitTime(oc.Date)
	o := &store.Order{ID: oc.Order, UserID: p.UserID, ServiceID: svc.ID, ServiceName: svc.Name.Uz, ServiceNames: svc.Name,
		ScheduledAt: at, Address: p.Address, Status: store.StatusCancelled, PlanID: p.ID, PlanDate: oc.Date}
	o.SetQuote(&oc.Terms.Quote)
	e, err := h.orderEmailMessage(ctx, o, customer, "planMissed")
	if err == nil {
		e.Text = strings.ReplaceAll(e.Text, h.cfg.BaseURL+"/orders/"+o.ID.Hex(), h.cfg.BaseURL+"/my/plans/"+p.ID.Hex())
		e.HTML = strings.ReplaceAll(e.HTML, h.cfg.BaseURL+"/orders/"+o.ID.Hex(), h.cfg.BaseURL+"/my/plans/"+p.ID.Hex())
		err = h.outbox.EnqueueOnce(ctx, "planMissed|"+oc.Order.Hex(), e)
	}
	if err != nil {
		h.log.Warn("plans: the email of a visit not placed could not be queued", "plan", p.ID.Hex(), "date", oc.Date, "error", err)
		return
	}
	h.emailQueued()
}

// planVisits are p's visits from today on, as the plan's pages list them.
func (h *Handler) planVisits(ctx context.Context, p *store.Plan) ([]views.PlanVisit, error) {
	now := h.now()
	today := store.LocalDate(now)
	last, err := h.planHorizon(ctx, now)
	if err != nil {
		return nil, err
	}
	var out []views.PlanVisit
	for _, oc := range p.Occurrences(today, last) {
		v := views.PlanVisit{Date: oc.Date, Time: oc.Terms.Time, Price: oc.Terms.Quote.Total}
		switch {
		case slices.Contains(p.Missed, oc.Date):
			v.State = views.PlanVisitMissed
		case slices.Contains(p.Skips, oc.Date):
			v.State = views.PlanVisitSkipped
		case !p.Wanted(oc.Date):
			v.State = views.PlanVisitPaused
			if p.EndsFrom != "" && oc.Date >= p.EndsFrom {
				v.State = views.PlanVisitEnded
			}
		}
		o, err := h.orders.Get(ctx, oc.Order)
		switch {
		case err == nil:
			v.Order = o
			if v.State == "" && o.Status == store.StatusCancelled {
				v.State = views.PlanVisitCancelled
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		if v.State == "" && v.Order == nil {
			if p.Status == store.PlanEnded {
				continue
			}
			v.State = views.PlanVisitComing // made when the job reaches it
		}
		v.MayChange = v.State == "" && v.Order != nil && store.Upcoming(v.Order.Status) && now.Before(v.Order.ScheduledAt.Add(-customerCutoff))
		out = append(out, v)
	}
	return out, nil
}
