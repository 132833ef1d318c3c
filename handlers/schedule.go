package handlers

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// A booking, a reschedule and a reassignment each place a visit: they
// check the time against the schedule and reserve a crew for it (see
// store/reservations.go). What the customer reads when a time cannot be
// had is decided here, once.

// slotTakenError is a 409: every crew that works then is taken. It
// carries free times near the one asked for.
type slotTakenError struct {
	Fields       map[string]string
	Alternatives []time.Time
	Labels       []string // Alternatives as alternativeLabels writes them
}

func (e *slotTakenError) Error() string { return "slot_taken" }

// alternativesDays is how many days after the one asked for the
// alternatives may come from.
const (
	alternativesDays = 7
	alternativesMax  = 6
)

// visit is a visit to place.
type visit struct {
	order, service primitive.ObjectID
	minutes        int
	at             time.Time
	crew           primitive.ObjectID // only this crew (an admin's choice); zero: any free one
	prefer         primitive.ObjectID // this crew first, when free (a reschedule keeps its crew)
	byAdmin        bool               // an admin books at short notice too
	tag            string             // the booking's store.BookingTag, if it has one
}

// placeVisit checks v and reserves a crew for it. Its refusals are a 422
// naming the field (a time off the grid, past, too soon, too far, outside
// every crew's hours; a service no crew does; a crew that does not do it
// or does not work then) or a slotTakenError.
func (h *Handler) placeVisit(c *fiber.Ctx, v visit) (*store.Reservation, *store.Crew, error) {
	// A time far out of range (the year 1, 9999) is refused before any
	// day of it is read.
	rules, err := h.schedule.Rules(ctx(c))
	if err != nil {
		return nil, nil, err
	}
	if early, late := !v.at.After(h.now()), v.at.After(h.now().AddDate(0, 0, rules.HorizonDays+1)); early || late {
		cause := store.ErrTooFar
		if early {
			cause = store.ErrTooSoon
		}
		return nil, nil, h.placeError(c, &store.Schedule{Rules: rules}, v, cause)
	}
	sc, err := h.schedule.LoadAround(ctx(c), v.at, 0)
	if err != nil {
		return nil, nil, err
	}
	now := h.scheduleNow(v, sc.Rules)
	var crews []*store.Crew
	if !v.crew.IsZero() {
		if err := sc.CrewFree(v.crew, v.service, v.minutes, v.at, v.order); err != nil {
			return nil, nil, h.placeError(c, sc, v, err)
		}
		crew, err := h.schedule.Crew(ctx(c), v.crew)
		if err != nil {
			return nil, nil, err
		}
		crews = []*store.Crew{crew}
	} else {
		crews, err = sc.CheckMove(v.service, v.minutes, v.at, now, v.order)
		if err != nil {
			return nil, nil, h.placeError(c, sc, v, err)
		}
		for i, cr := range crews {
			if cr.ID == v.prefer && i > 0 {
				crews[0], crews[i] = crews[i], crews[0]
			}
		}
	}
	r, err := h.schedule.Reserve(ctx(c), crews, v.order, v.at, v.minutes, sc.Rules, v.tag)
	if err != nil {
		return nil, nil, h.placeError(c, sc, v, err)
	}
	for _, cr := range crews {
		if cr.ID == r.CrewID {
			return r, cr, nil
		}
	}
	return r, crews[0], nil
}

// placeError is the answer to a visit that cannot be placed, in the
// user's language.
func (h *Handler) placeError(c *fiber.Ctx, sc *store.Schedule, v visit, err error) error {
	loc := h.meta(c).Locale
	field := func(name, msg string, data map[string]any) error {
		return &ValidationError{Fields: map[string]string{name: loc.Format(msg, data)}}
	}
	switch {
	case errors.Is(err, store.ErrOffGrid):
		return field("scheduledAt", "err.schedule.grid", map[string]any{"minutes": sc.Rules.SlotMinutes})
	case errors.Is(err, store.ErrTooSoon):
		if !v.at.After(h.now()) {
			return field("scheduledAt", "err.schedule_past", nil)
		}
		return field("scheduledAt", "err.schedule.too_soon", map[string]any{"hours": hoursText(sc.Rules.LeadMinutes)})
	case errors.Is(err, store.ErrTooFar):
		return field("scheduledAt", "err.schedule.too_far", map[string]any{"days": sc.Rules.HorizonDays})
	case errors.Is(err, store.ErrNoCrew):
		return field("serviceId", "err.schedule.no_crew", nil)
	case errors.Is(err, store.ErrOutsideHours):
		return field("scheduledAt", "err.schedule.outside_hours", nil)
	case errors.Is(err, store.ErrCrewNotForJob):
		return field("crewId", "err.schedule.crew_not_for_job", nil)
	case errors.Is(err, store.ErrCrewOffDuty):
		return field("crewId", "err.schedule.crew_off_duty", nil)
	case errors.Is(err, store.ErrCrewBusy):
		return &conflictError{Fields: map[string]string{"crewId": loc.T("err.schedule.crew_busy")}}
	case errors.As(err, new(*store.OwnTriesError)):
		// Left to its booking (CreateOrder), which waits for its other
		// tries before it is told, or tells, that the time is taken.
		return err
	case errors.Is(err, store.ErrSlotTaken):
		return h.slotTaken(c, v)
	}
	return err
}

// slotTaken is the 409 of a time every crew is busy at, with the free
// times near it, read again now (the schedule has just changed).
func (h *Handler) slotTaken(c *fiber.Ctx, v visit) error {
	sc, err := h.schedule.LoadAround(ctx(c), v.at, alternativesDays)
	if err != nil {
		return err
	}
	alts := sc.AlternativesMove(v.service, v.minutes, v.at, h.scheduleNow(v, sc.Rules), alternativesDays, alternativesMax, v.order) // a move's own hold is free
	loc := h.meta(c).Locale
	labels := alternativeLabels(v.at, alts)
	msg := loc.T("err.schedule.taken_none")
	if len(alts) > 0 {
		msg = loc.Format("err.schedule.taken", map[string]any{"times": strings.Join(labels, ", ")})
	}
	return &slotTakenError{Fields: map[string]string{"scheduledAt": msg}, Alternatives: alts, Labels: labels}
}

// alternativeLabels writes free times as the contract has them: "10:30"
// on the day asked for, "2026-12-07 09:00" on another.
func alternativeLabels(asked time.Time, alts []time.Time) []string {
	out := make([]string, len(alts))
	day := store.LocalDate(asked)
	for i, t := range alts {
		local := t.In(store.Tashkent)
		if store.LocalDate(t) == day {
			out[i] = local.Format("15:04")
		} else {
			out[i] = local.Format("2006-01-02 15:04")
		}
	}
	return out
}

// availabilityDays bounds one GET /availability.
const availabilityDays = 62

// Availability answers the free start times of a service's visit, priced
// from the quote input: GET /availability?serviceId=&from=&to= plus
// rooms, bathrooms, area, extras, frequency (as POST /quote). from and to
// are local dates; absent, from today for a week. With orderId instead
// (its customer's or an admin's; anyone else's is not found), the free
// times to move that visit to: its service and duration, its own
// reservation free.
//
// htmx gets the booking form's day and time picker instead
// (availabilityPicker); every other client the days as JSON, as before.
func (h *Handler) Availability(c *fiber.Ctx) error {
	if isFragment(c) && !wantsJSON(c) {
		return h.availabilityPicker(c)
	}
	loc := h.meta(c).Locale
	var service, move primitive.ObjectID
	var minutes int
	if c.Query("orderId") != "" {
		// A visit moved: its own service and duration, its own hold free.
		o, err := h.visibleOrder(c, c.Query("orderId"))
		if err != nil {
			return err
		}
		service, minutes, move = o.ServiceID, o.VisitMinutes(), o.ID
	} else {
		in, err := h.queryPricing(c)
		if err != nil {
			return err
		}
		svc, err := h.bookableService(c)
		if err != nil {
			return err
		}
		q, _, err := h.priceVisit(c, svc, in, primitive.NilObjectID)
		if err != nil {
			return err
		}
		service, minutes = svc.ID, q.DurationMinutes
	}
	today := store.LocalDate(h.now())
	from, to := c.Query("from", today), c.Query("to")
	fromDay, err1 := time.ParseInLocation(time.DateOnly, from, store.Tashkent)
	if err1 != nil {
		return &ValidationError{Fields: map[string]string{"from": loc.T("err.schedule.date")}}
	}
	if to == "" {
		to = fromDay.AddDate(0, 0, 6).Format(time.DateOnly)
	}
	toDay, err2 := time.ParseInLocation(time.DateOnly, to, store.Tashkent)
	if err2 != nil || toDay.Before(fromDay) || toDay.Sub(fromDay) >= availabilityDays*24*time.Hour {
		return &ValidationError{Fields: map[string]string{"to": loc.Format("err.schedule.range", map[string]any{"days": availabilityDays})}}
	}
	// Only the bookable days are read: today to the horizon.
	rules, err := h.schedule.Rules(ctx(c))
	if err != nil {
		return err
	}
	if last := store.LocalDate(h.now().AddDate(0, 0, rules.HorizonDays)); to > last {
		to = last
	}
	if from < today {
		from = today
	}
	days := []store.DayTimes{}
	if from <= to {
		sc, err := h.schedule.Load(ctx(c), from, to)
		if err != nil {
			return err
		}
		days = sc.FreeTimesMove(service, minutes, from, to, h.now(), move)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(availabilityJSON(minutes, days))
}

// availabilityJSON is GET /availability's answer, {"days":[{"date",
// "times"}], "durationMinutes"}, byte for byte as encoding/json writes
// it: a month of times by reflection was a fifth of the route's time.
func availabilityJSON(minutes int, days []store.DayTimes) []byte {
	n := 40
	for _, d := range days {
		n += 32 + 8*len(d.Times)
	}
	b := make([]byte, 0, n)
	if days == nil {
		b = append(b, `{"days":null`...)
	} else {
		b = append(b, `{"days":[`...)
	}
	for i, d := range days {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"date":`...)
		b = appendJSONString(b, d.Date)
		b = append(b, `,"times":`...)
		if d.Times == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for k, t := range d.Times {
				if k > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, t)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	if days != nil {
		b = append(b, ']')
	}
	b = append(b, `,"durationMinutes":`...)
	b = strconv.AppendInt(b, int64(minutes), 10)
	return append(b, '}')
}

// appendJSONString appends s as encoding/json writes a string. Dates and
// times are plain ASCII; any other text goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch < 0x20 || ch >= 0x80 || ch == '"' || ch == '\\' || ch == '<' || ch == '>' || ch == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// queryPricing reads the quote input from a GET's query, as POST /quote
// reads it from a form: rooms, bathrooms, area, extra_<id>, frequency,
// promoCode.
func (h *Handler) queryPricing(c *fiber.Ctx) (pricingInput, error) {
	var in pricingInput
	loc := h.meta(c).Locale
	fields := map[string]string{}
	for name, dst := range map[string]**int{"rooms": &in.Rooms, "bathrooms": &in.Bathrooms, "area": &in.Area} {
		v := strings.TrimSpace(c.Query(name))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			fields[name] = loc.T("err.pricing." + name)
			continue
		}
		*dst = &n
	}
	in.Frequency, in.PromoCode = c.Query("frequency"), c.Query("promoCode")
	in.normalize()
	extras, err := h.formExtras(c)
	var ve *ValidationError
	if errors.As(err, &ve) {
		for k, v := range ve.Fields {
			fields[k] = v
		}
	} else if err != nil {
		return in, err
	}
	in.Extras = extras
	if len(fields) > 0 {
		return in, &ValidationError{Fields: fields}
	}
	return in, nil
}

// hoursText writes minutes as hours: "3", "1.5".
func hoursText(minutes int) string {
	if minutes%60 == 0 {
		return strconv.Itoa(minutes / 60)
	}
	return strconv.FormatFloat(float64(minutes)/60, 'f', 1, 64)
}

// bookedAt finds, among the visits at when, user's order made with key
// (a booking's retry, whose first order holds the time); nil when none is.
func (h *Handler) bookedAt(c *fiber.Ctx, user primitive.ObjectID, key string, when time.Time) *store.Order {
	day, err := h.schedule.Day(ctx(c), store.LocalDate(when))
	if err != nil {
		return nil
	}
	for _, r := range day {
		if r.From.After(when) || !when.Before(r.Until) {
			continue
		}
		if o, err := h.orders.Get(ctx(c), r.OrderID); err == nil && o.UserID == user && o.IdempotencyKey == key {
			return o
		}
	}
	return nil
}

// firstTryWait bounds a retry's wait for its first try's order. A
// booking group's commit took 140–160 ms under `make bench` (finding 31),
// a whole booking's p99 1.1–1.9 s under `make loadtest`; a first try that
// cut off with its crew held leaves the retry to be told what any booking
// would be.
const firstTryWait = 3 * time.Second

// awaitOtherTries waits, up to h.firstTryWait, on a booking's other
// tries (store.OwnTriesError), whose commit may be under way when a retry
// finds its crew's time held by them. It returns the order one of them
// made, or gaveUp when every one has given its crew back (its booking
// refused after it claimed the crew), which leaves the time to the retry.
// On MongoDB no write lock holds the retry back until that commit is
// done, so this wait is what lets the retry answer the first order rather
// than a 409. It leaves a second of the request's deadline for what
// follows.
func (h *Handler) awaitOtherTries(c *fiber.Ctx, tries []store.OwnTry) (made *store.Order, gaveUp bool) {
	wait := h.firstTryWait
	if deadline, ok := ctx(c).Deadline(); ok {
		wait = min(wait, time.Until(deadline)-time.Second)
	}
	giveUp := time.NewTimer(max(wait, 0))
	defer giveUp.Stop()
	again := time.NewTicker(20 * time.Millisecond)
	defer again.Stop()
	for {
		trying := 0
		for _, t := range tries {
			// The order first, then the cell: an order made keeps its cell,
			// so a try seen holding none after its order was not found
			// gave up.
			o, err := h.orders.Get(ctx(c), t.Order)
			if err == nil {
				return o, false
			}
			if !errors.Is(err, store.ErrNotFound) {
				return nil, false
			}
			still, err := h.schedule.StillTrying(ctx(c), t)
			if err != nil {
				return nil, false
			}
			if still {
				trying++
			}
		}
		if trying == 0 {
			return nil, true
		}
		select {
		case <-again.C:
		case <-giveUp.C:
			return nil, false
		case <-ctx(c).Done():
			return nil, false
		}
	}
}

// bookableService is the active service of the query's serviceId; any
// other is a 422 on serviceId.
func (h *Handler) bookableService(c *fiber.Ctx) (*store.Service, error) {
	unknown := &ValidationError{Fields: map[string]string{"serviceId": h.meta(c).T("err.unknown_service")}}
	id, err := primitive.ObjectIDFromHex(c.Query("serviceId"))
	if err != nil {
		return nil, unknown
	}
	svc, err := h.services.Get(ctx(c), id, false)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !svc.Active) {
		return nil, unknown
	}
	return svc, err
}

// scheduleNow is the "now" v's times are checked against: an admin may
// book at short notice (a customer on the phone), never in the past, so
// for them the lead time is taken off.
func (h *Handler) scheduleNow(v visit, rules store.ScheduleRules) time.Time {
	if v.byAdmin {
		return h.now().Add(-time.Duration(rules.LeadMinutes) * time.Minute)
	}
	return h.now()
}
