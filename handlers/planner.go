package handlers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

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

// ExtendPlans extends every plan not ended, a page of them at a time;
// one plan's trouble holds up no other (it is logged, and the next run
// tries again).
func (h *Handler) ExtendPlans(ctx context.Context) (planRun, error) {
	var total planRun
	now := h.now()
	last, err := h.planHorizon(ctx, now)
	if err != nil {
		return total, err
	}
	today := store.LocalDate(now)
	err = h.plans.Open(ctx, planBatch, func(ps []store.Plan) error {
		var due []*store.Plan
		for i := range ps {
			if !planSettled(&ps[i], today, last) {
				due = append(due, &ps[i])
			}
		}
		run, errs := h.extendPlans(ctx, due, store.StatusChange{ByName: planBy})
		total.add(run)
		for i, err := range errs {
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				h.log.Warn("plans: extending a plan", "plan", due[i].ID.Hex(), "error", err)
			}
		}
		return nil
	})
	return total, err
}

// The job extends planBatch plans together, and makes their visits
// planVisitsAtOnce at a time, in date order: those are placed on one read
// of the schedule, their crews' time claimed in one insert and their
// orders made in one booking commit, which writes each day's reservations
// once; then the plans are recorded together. A visit costs a few writes
// of small documents, not a round of its own (#23: 10,000 plans' week).
const (
	planBatch        = 1000
	planVisitsAtOnce = 250
)

func (r *planRun) add(o planRun) {
	r.Made += o.Made
	r.Moved += o.Moved
	r.Missed += o.Missed
	r.Cancelled += o.Cancelled
}

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
// its status is today's.
func planSettled(p *store.Plan, today, last string) bool {
	return p.Through >= last && p.SweptV == p.V && p.StatusOn(today) == p.Status
}

// extendPlan is extendPlans of one plan (after its customer's change).
func (h *Handler) extendPlan(ctx context.Context, p *store.Plan, by store.StatusChange) (planRun, error) {
	run, errs := h.extendPlans(ctx, []*store.Plan{p}, by)
	return run, errs[0]
}

// planVisit is one visit of a plan that extendPlans makes.
type planVisit struct {
	plan  int // in the batch
	svc   *store.Service
	oc    store.Occurrence
	usual time.Time          // the plan's time for it
	hold  *store.Reservation // where it goes; nil: placed one by one
	crew  *store.Crew
}

// planOutcome is what became of one plan's visits in extendPlans.
type planOutcome struct {
	made, missed []string // dates
	err          error    // the plan is not recorded: the next run goes on from its Through
}

// extendPlans cancels the visits each plan no longer wants (unless it was
// swept as it is), makes those it wants up to the horizon, and records
// how far each got. by is who the cancellations' timeline entries name:
// the person whose change it follows, or the company's job. Each plan
// ends up as stored (ps are updated), and with its error, if any.
func (h *Handler) extendPlans(ctx context.Context, ps []*store.Plan, by store.StatusChange) (planRun, []error) {
	var run planRun
	out := make([]planOutcome, len(ps))
	errs := func() []error {
		e := make([]error, len(ps))
		for i := range out {
			e[i] = out[i].err
		}
		return e
	}
	now := h.now()
	today := store.LocalDate(now)
	last, err := h.planHorizon(ctx, now)
	if err != nil {
		for i := range out {
			out[i].err = err
		}
		return run, errs()
	}
	var visits []*planVisit
	services := map[primitive.ObjectID]*store.Service{}
	for i, p := range ps {
		if p.SweptV != p.V {
			n, err := h.sweepPlan(ctx, p, now, last, by)
			run.Cancelled += n
			if err != nil {
				out[i].err = err
				continue
			}
		}
		start := max(store.AddDays(p.Through, 1), today)
		if start > last || p.StatusOn(today) == store.PlanEnded {
			continue
		}
		svc := services[p.ServiceID]
		if svc == nil {
			if svc, err = h.services.Get(ctx, p.ServiceID, true); err != nil {
				out[i].err = err
				continue
			}
			services[p.ServiceID] = svc
		}
		for _, oc := range p.Occurrences(start, last) {
			if p.Wanted(oc.Date) {
				visits = append(visits, &planVisit{plan: i, svc: svc, oc: oc})
			}
		}
	}
	if len(visits) == 0 {
		h.recordPlans(ctx, ps, out, &run, now, last, by)
		return run, errs()
	}
	// By date: a group of visits then touches few days' documents. They
	// are placed on one read of the schedule, which holds each visit
	// placed (Schedule.Hold) for those after it; a booking made meanwhile
	// is found by the claim.
	slices.SortStableFunc(visits, func(a, b *planVisit) int { return strings.Compare(a.oc.Date, b.oc.Date) })
	sc, err := h.schedule.Load(ctx, visits[0].oc.Date, store.AddDays(visits[len(visits)-1].oc.Date, 1))
	if err != nil {
		for i := range out {
			if out[i].err == nil {
				out[i].err = err
			}
		}
		return run, errs()
	}
	for start := 0; start < len(visits); start += planVisitsAtOnce {
		if err := h.makePlanVisits(ctx, ps, sc, visits[start:min(start+planVisitsAtOnce, len(visits))], out, &run, now); err != nil {
			for i := range out {
				if out[i].err == nil {
					out[i].err = err
				}
			}
			return run, errs()
		}
	}
	h.recordPlans(ctx, ps, out, &run, now, last, by)
	return run, errs()
}

// makePlanVisits makes visits of ps unless they exist: each at its plan's
// time, else at the nearest free time that day or the next (moved, and
// the customer is told), else not (missed, and the customer is told). They
// are placed on sc and claimed together (see planBatch); one whose time was taken meanwhile, or that exists already,
// is placed again one by one (makePlanVisit). The error is the batch's:
// the database failing, or ctx ending.
func (h *Handler) makePlanVisits(ctx context.Context, ps []*store.Plan, sc *store.Schedule, visits []*planVisit, out []planOutcome, run *planRun, now time.Time) error {
	var err error
	var holds []*store.Reservation
	var placed []*planVisit
	for _, v := range visits {
		if v.usual, err = v.oc.Terms.VisitTime(v.oc.Date); err != nil {
			out[v.plan].err = err
			continue
		}
		minutes := v.oc.Terms.Quote.DurationMinutes
		at := v.usual
		crews, err := sc.CheckMove(v.svc.ID, minutes, at, now, v.oc.Order)
		if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
			if alt, ok := sc.NearestFree(v.svc.ID, minutes, at, now, v.oc.Order); ok {
				at = alt
				crews, err = sc.CheckMove(v.svc.ID, minutes, at, now, v.oc.Order)
			}
		}
		if err != nil {
			continue // placed one by one, on a fresh read (missed there, if so)
		}
		v.crew = crews[0]
		v.hold = store.NewReservation(v.oc.Order, v.crew.ID, at, minutes, sc.Rules)
		sc.Hold(*v.hold)
		holds, placed = append(holds, v.hold), append(placed, v)
	}
	held, err := h.schedule.ReserveAll(ctx, holds)
	if err != nil {
		return err
	}
	var orders []*store.Order
	var making []*planVisit
	for k, v := range placed {
		if held[k] {
			orders = append(orders, planOrder(ps[v.plan], v.svc, v.oc, v.hold, v.crew))
			making = append(making, v)
		} else {
			v.hold = nil
		}
	}
	if len(orders) > 0 {
		made, err := h.orders.CreateMany(ctx, orders)
		if err != nil {
			return err // not answered in time: the visits may still be made, with their holds
		}
		for k, v := range making {
			if made[k] != nil {
				if err := h.givePlanHoldBack(ctx, v.oc.Order, v.hold, made[k]); err != nil {
					out[v.plan].err = err
				} else {
					out[v.plan].made = append(out[v.plan].made, v.oc.Date) // made meanwhile
				}
				continue
			}
			h.planVisitMade(ctx, orders[k], v.usual, out, v.plan, run)
		}
	}
	for _, v := range visits {
		if v.hold != nil || v.usual.IsZero() || out[v.plan].err != nil {
			continue
		}
		h.makePlanVisit(ctx, ps[v.plan], v, out, run, now)
	}
	return ctx.Err()
}

// planVisitMade counts visit o of plan i, made, in its outcome and the
// metrics, and tells the customer if it is not at its usual time.
func (h *Handler) planVisitMade(ctx context.Context, o *store.Order, usual time.Time, out []planOutcome, i int, run *planRun) {
	h.metrics.ordersCreated.Inc()
	out[i].made = append(out[i].made, o.PlanDate)
	run.Made++
	h.metrics.planVisits.WithLabelValues("made").Inc()
	if !o.ScheduledAt.Equal(usual) {
		run.Moved++
		h.metrics.planVisits.WithLabelValues("moved").Inc()
		h.planVisitMoved(ctx, o, usual)
	}
}

// recordPlans records how far each plan of ps got (Through, the dates
// missed) unless it failed or there is nothing new, all in one ChangeAll;
// a plan changed meanwhile is swept against the plan as it is now.
func (h *Handler) recordPlans(ctx context.Context, ps []*store.Plan, out []planOutcome, run *planRun, now time.Time, last string, by store.StatusChange) {
	today := store.LocalDate(now)
	var edits []store.PlanEdit
	var which []int
	for i, p := range ps {
		o := out[i]
		if o.err != nil || p.Through >= last && p.SweptV == p.V && len(o.missed) == 0 && p.StatusOn(today) == p.Status {
			continue // failed, or nothing to record
		}
		edits = append(edits, store.PlanEdit{Plan: p, Edit: func(q *store.Plan) error {
			// Through moves on only from where this run began: a change
			// meanwhile that set it back (new terms to book) keeps it back.
			if q.Through == p.Through && q.Through < last {
				q.Through = last
			}
			for _, d := range o.missed {
				q.Missed = appendDate(q.Missed, d)
			}
			q.Missed = slices.DeleteFunc(q.Missed, func(d string) bool { return slices.Contains(o.made, d) })
			if q.V == p.V {
				q.SweptV = q.V + 1 // swept as it is (this write changes nothing it wants)
			}
			if q.StatusOn(today) == store.PlanEnded {
				q.Status = store.PlanEnded // past its end: the job leaves it alone from now on
			}
			return nil
		}})
		which = append(which, i)
	}
	stored, errs := h.plans.ChangeAll(ctx, edits)
	for k, i := range which {
		if errs[k] != nil {
			out[i].err = errs[k]
			continue
		}
		// Changed meanwhile (a skip, a change on another instance): what
		// was made for the plan as it was is swept against it as it is.
		if stored[k].SweptV != stored[k].V {
			n, err := h.sweepPlan(ctx, stored[k], now, last, by)
			run.Cancelled += n
			if err != nil {
				out[i].err = err
			}
		}
		*ps[i] = *stored[k]
	}
}

func appendDate(dates []string, d string) []string {
	for _, x := range dates {
		if x == d {
			return dates
		}
	}
	return append(dates, d)
}

// makePlanVisit makes visit v of plan p unless it exists, one by one: at
// the plan's time, else at the nearest free time that day or the next,
// else not (missed); its outcome goes into out.
func (h *Handler) makePlanVisit(ctx context.Context, p *store.Plan, v *planVisit, out []planOutcome, run *planRun, now time.Time) {
	if _, err := h.orders.Get(ctx, v.oc.Order); err == nil {
		out[v.plan].made = append(out[v.plan].made, v.oc.Date)
		return
	} else if !errors.Is(err, store.ErrNotFound) {
		out[v.plan].err = err
		return
	}
	hold, crew, err := h.placePlanVisit(ctx, v.svc.ID, v.oc.Order, v.usual, v.oc.Terms.Quote.DurationMinutes, now)
	if errors.Is(err, errNoTime) {
		out[v.plan].missed = append(out[v.plan].missed, v.oc.Date)
		run.Missed++
		h.metrics.planVisits.WithLabelValues("missed").Inc()
		h.planVisitMissed(ctx, p, v.svc, v.oc)
		return
	}
	if err != nil {
		out[v.plan].err = err
		return
	}
	o := planOrder(p, v.svc, v.oc, hold, crew)
	if err := h.orders.CreateWithEmail(ctx, o, nil); err != nil {
		if err := h.givePlanHoldBack(ctx, v.oc.Order, hold, err); err != nil {
			out[v.plan].err = err
		} else {
			out[v.plan].made = append(out[v.plan].made, v.oc.Date) // made meanwhile
		}
		return
	}
	h.planVisitMade(ctx, o, v.usual, out, v.plan, run)
}

// planOrder is the order of plan p's visit oc, held by hold.
func planOrder(p *store.Plan, svc *store.Service, oc store.Occurrence, hold *store.Reservation, crew *store.Crew) *store.Order {
	o := &store.Order{
		ID: oc.Order, UserID: p.UserID, CustomerName: p.CustomerName, ServiceID: svc.ID, ServiceName: svc.Name.Uz, ServiceNames: svc.Name,
		ScheduledAt: hold.From, Address: p.Address, Phone: p.Phone, Notes: p.Notes, Status: store.StatusPending,
		IdempotencyKey: "plan|" + oc.Order.Hex(), CrewID: hold.CrewID, CrewName: crew.Name, EndsAt: hold.EndsAt, ReservedUntil: hold.Until,
		PlanID: p.ID, PlanDate: oc.Date,
	}
	o.SetQuote(&oc.Terms.Quote)
	return o
}

// givePlanHoldBack handles a visit's order that could not be made (err):
// its hold is given back, apart from what the order holds if it was made
// meanwhile (another instance, an earlier run). nil when it was made
// meanwhile (ErrConflict); else err. A booking not answered in time may
// still be made (see CreateOrder): its hold stays with it.
func (h *Handler) givePlanHoldBack(ctx context.Context, order primitive.ObjectID, hold *store.Reservation, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	keep := (*store.Reservation)(nil)
	if first, gerr := h.orders.Get(context.WithoutCancel(ctx), order); gerr == nil {
		keep = first.Reservation()
	}
	if uerr := h.schedule.Unreserve(context.WithoutCancel(ctx), hold, keep); uerr != nil {
		h.log.Warn("plans: a visit's reservation could not be given back", "order", order.Hex(), "error", uerr)
	}
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}

// placePlanVisit reserves a crew for a plan's visit at at, else at the
// nearest free time that day, else the first the next day (errNoTime when
// neither has one). A time the schedule shows free may be taken by a
// booking not yet in it (between its claim and its commit): the claim
// finds that, and the time counts as taken for the next try.
func (h *Handler) placePlanVisit(ctx context.Context, service, order primitive.ObjectID, at time.Time, minutes int, now time.Time) (*store.Reservation, *store.Crew, error) {
	sc, err := h.schedule.LoadAround(ctx, at, 1)
	if err != nil {
		return nil, nil, err
	}
	usual := at
	for range planPlaceTries {
		crews, err := sc.CheckMove(service, minutes, at, now, order)
		if err == nil {
			r, err := h.schedule.Reserve(ctx, crews, order, at, minutes, sc.Rules, "")
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
			for _, cr := range crews { // every one of them is taken then
				sc.Hold(*store.NewReservation(primitive.NewObjectID(), cr.ID, at, minutes, sc.Rules))
			}
		} else if !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrConflict) {
			return nil, nil, err
		}
		alt, ok := sc.NearestFree(service, minutes, usual, now, order)
		if !ok {
			return nil, nil, errNoTime
		}
		at = alt
	}
	return nil, nil, errNoTime
}

// planPlaceTries bounds placePlanVisit's claims: each that fails finds a
// time taken that the schedule's read did not show.
const planPlaceTries = 4

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
		err = h.tell(ctx, customer, "", "planMoved|"+o.ID.Hex(), e)
	}
	if err != nil && !errors.Is(err, store.ErrConflict) {
		h.log.Warn("plans: the email of a moved visit could not be queued", "order", o.ID.Hex(), "error", err)
	}
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
		err = h.tell(ctx, customer, "", "planMissed|"+oc.Order.Hex(), e)
	}
	if err != nil && !errors.Is(err, store.ErrConflict) {
		h.log.Warn("plans: the email of a visit not placed could not be queued", "plan", p.ID.Hex(), "date", oc.Date, "error", err)
	}
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
