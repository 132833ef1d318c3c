package handlers

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// The booking form's day and time picker (#21): the days from the form's
// "from" (today at first), each with its free start times for the visit
// as priced, and the chosen day's times. The forms render it with the
// page; GET /availability answers it to htmx (see Availability).

// pickerDays is how many days the picker's strip shows at once.
const pickerDays = 14

// slotPicker is the picker of svc for a visit of minutes, from the form's
// values: from (the strip's first day; daysFrom pages it), date, time.
// admin: the admin's form, which may book at short notice. move: the
// order whose visit is moved (zero for a booking): its own reservation
// counts as free.
func (h *Handler) slotPicker(c *fiber.Ctx, svc *store.Service, minutes int, values map[string]string, admin bool, move primitive.ObjectID) (views.SlotPicker, error) {
	p := views.SlotPicker{Minutes: minutes, Admin: admin}
	if !move.IsZero() {
		p.OrderID = move.Hex()
	}
	if svc == nil {
		return p, nil
	}
	rules, err := h.schedule.Rules(ctx(c))
	if err != nil {
		return p, err
	}
	now := h.now()
	today, _ := time.ParseInLocation(time.DateOnly, store.LocalDate(now), store.Tashkent)
	last := today.AddDate(0, 0, rules.HorizonDays)
	day := func(s string) (time.Time, bool) {
		d, err := time.ParseInLocation(time.DateOnly, s, store.Tashkent)
		return d, err == nil
	}
	from, ok := day(values["daysFrom"])
	if !ok {
		from, ok = day(values["from"])
	}
	if !ok {
		// A new form, or a time picked among the alternatives: the strip
		// from today, or from the chosen day when it lies beyond.
		from = today
		if d, ok := day(values["date"]); ok && !d.Before(today.AddDate(0, 0, pickerDays)) {
			from = d
		}
	}
	if from.Before(today) {
		from = today
	}
	if from.After(last) {
		from = last
	}
	to := from.AddDate(0, 0, pickerDays-1)
	first, end := from.Format(time.DateOnly), to.Format(time.DateOnly)
	sc, err := h.schedule.Load(ctx(c), first, end)
	if err != nil {
		return p, err
	}
	if admin {
		now = now.Add(-time.Duration(sc.Rules.LeadMinutes) * time.Minute)
	}
	days := sc.FreeTimesMove(svc.ID, minutes, first, end, now, move)
	p.From = first
	if from.After(today) {
		prev := from.AddDate(0, 0, -pickerDays)
		if prev.Before(today) {
			prev = today
		}
		p.Prev = prev.Format(time.DateOnly)
	}
	if next := from.AddDate(0, 0, pickerDays); !next.After(last) {
		p.Next = next.Format(time.DateOnly)
	}
	chosen := -1
	for i, d := range days {
		p.Days = append(p.Days, views.SlotDay{Date: d.Date, Free: len(d.Times)})
		if d.Date == values["date"] {
			chosen = i
		}
	}
	if chosen < 0 { // the first day with a free time
		chosen = slices.IndexFunc(days, func(d store.DayTimes) bool { return len(d.Times) > 0 })
	}
	if chosen >= 0 {
		p.Date, p.Times = days[chosen].Date, days[chosen].Times
		if slices.Contains(p.Times, values["time"]) {
			p.Time = values["time"]
		}
	}
	return p, nil
}

// soonest chooses a new form's time: the first free one of its day (the
// first day with one), which the customer may change. values gets it.
func soonest(p *views.SlotPicker, values map[string]string) {
	if p.Time == "" && len(p.Times) > 0 {
		p.Time = p.Times[0]
		values["date"], values["time"] = p.Date, p.Time
	}
}

// bookingSlots is the picker of a booking form showing price: the times
// for the quoted duration (the service's own while the form does not
// price), and after a 409 the free times near the one taken.
func (h *Handler) bookingSlots(c *fiber.Ctx, svc *store.Service, price views.BookingPrice, values map[string]string, admin bool, taken *slotTakenError) (views.SlotPicker, error) {
	if svc == nil {
		return views.SlotPicker{}, nil
	}
	minutes := svc.DurationMinutes
	if price.Quote != nil {
		minutes = price.Quote.DurationMinutes
	}
	p, err := h.slotPicker(c, svc, minutes, values, admin, primitive.NilObjectID)
	if err != nil || taken == nil {
		return p, err
	}
	withAlternatives(&p, taken)
	return p, nil
}

// withAlternatives offers a 409's free times on the picker.
func withAlternatives(p *views.SlotPicker, taken *slotTakenError) {
	if taken == nil {
		return
	}
	for i, at := range taken.Alternatives {
		p.Alternatives = append(p.Alternatives, views.SlotChoice{Value: at.In(store.Tashkent).Format("2006-01-02 15:04"), Label: taken.Labels[i]})
	}
}

// availabilityPicker is GET /availability for a page: the picker of the
// form whose values come in the query (serviceId, the pricing inputs,
// from or daysFrom, date, time, slotsAdmin), or orderId for the order
// page's picker of a visit moved (see Availability). Input that does not price
// yet (a size half typed) shows the times of the service's own duration:
// the price panel names the problem.
func (h *Handler) availabilityPicker(c *fiber.Ctx) error {
	loc := h.meta(c).Locale
	values := map[string]string{}
	for _, k := range []string{"daysFrom", "from", "date", "time"} {
		values[k] = strings.TrimSpace(c.Query(k))
	}
	admin := c.Query("slotsAdmin") != "" && currentUser(c).IsAdmin()
	if c.Query("orderId") != "" {
		// The order page's picker: the times to move that visit to.
		o, err := h.visibleOrder(c, c.Query("orderId"))
		if err != nil {
			return err
		}
		p, err := h.slotPicker(c, &store.Service{ID: o.ServiceID}, o.VisitMinutes(), values, admin, o.ID)
		if err != nil {
			return err
		}
		picker := views.SlotPickerView(p, views.FormState{})
		return h.render(c, fiber.StatusOK, nil, page{title: loc.T("booking.slots.time"), body: picker, fragment: picker})
	}
	svc, err := h.bookableService(c)
	if err != nil {
		return err
	}
	minutes := svc.DurationMinutes
	if in, err := h.queryPricing(c); err == nil {
		in.PromoCode = "" // a code changes the price, never the time
		q, _, err := h.priceVisit(c, svc, in, primitive.NilObjectID)
		var ve *ValidationError
		switch {
		case err == nil:
			minutes = q.DurationMinutes
		case !errors.As(err, &ve):
			return err
		}
	}
	p, err := h.slotPicker(c, svc, minutes, values, admin, primitive.NilObjectID)
	if err != nil {
		return err
	}
	picker := views.SlotPickerView(p, views.FormState{})
	return h.render(c, fiber.StatusOK, nil, page{title: loc.T("booking.slots.time"), body: picker, fragment: picker})
}
