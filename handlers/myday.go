package handlers

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// A cleaner's own pages (#22): their crews' day on a phone, one visit with
// its steps and checklist, and the checklist's ticks. Which visits are
// theirs is read at every request (crewVisit): one taken off a crew loses
// its visits at once. The steps themselves go through PATCH /orders/:id,
// the one route for every step (UpdateOrder).

// detailsKept is how long after a visit its cleaner still sees the
// customer's address, phone and notes.
const detailsKept = 24 * time.Hour

// errChecklistClosed: a checklist is ticked from arrival on.
var errChecklistClosed = &codedError{status: fiber.StatusConflict, code: "checklist_closed"}

// cleanerVisitOut is a visit in a cleaner's JSON: what they see of it.
type cleanerVisitOut struct {
	ID                primitive.ObjectID `json:"id"`
	Number            int64              `json:"number"`
	Status            string             `json:"status"`
	ScheduledAt       time.Time          `json:"scheduledAt"`
	EndsAt            time.Time          `json:"endsAt,omitzero"`
	Service           string             `json:"service"`
	Items             []string           `json:"items"`
	CrewID            primitive.ObjectID `json:"crewId"`
	CrewName          string             `json:"crewName"`
	CustomerFirstName string             `json:"customerFirstName"`
	Address           string             `json:"address,omitempty"`
	MapURL            string             `json:"mapUrl,omitempty"`
	Phone             string             `json:"phone,omitempty"`
	Notes             string             `json:"notes,omitempty"`
	DetailsHidden     bool               `json:"detailsHidden"`
	Total             int64              `json:"total"`
	Payment           *store.Payment     `json:"payment,omitempty"`
	Steps             []string           `json:"steps"`
	Checklist         []views.VisitTick  `json:"checklist"`
}

func visitOut(v views.CleanerVisit) cleanerVisitOut {
	o := v.Order
	out := cleanerVisitOut{ID: o.ID, Number: o.Seq, Status: o.Status, ScheduledAt: o.ScheduledAt.UTC(), EndsAt: o.EndsAt.UTC(),
		Service: v.ServiceName, Items: []string{}, CrewID: o.CrewID, CrewName: o.CrewName, CustomerFirstName: v.FirstName,
		Address: v.Address, Phone: v.Phone, Notes: v.Notes, DetailsHidden: v.Hidden, Total: o.Price, Payment: o.Payment,
		Steps: append([]string{}, v.Steps...), Checklist: append([]views.VisitTick{}, v.Checklist...)}
	if !v.Hidden {
		out.MapURL = views.MapURL(o.Address)
	}
	for _, it := range v.Items {
		label := it.Label
		if it.Detail != "" {
			label += " · " + it.Detail
		}
		out.Items = append(out.Items, label)
	}
	return out
}

// cleanerDayOut is GET /my/day's JSON.
type cleanerDayOut struct {
	Date   string            `json:"date"`
	Visits []cleanerVisitOut `json:"visits"`
}

// MyDay is GET /my/day?date= (CLEANER): the visits of the cleaner's crews
// on date (today by default) by time, and on today's page the next day's.
func (h *Handler) MyDay(c *fiber.Ctx) error {
	loc := h.meta(c).Locale
	today := store.LocalDate(h.now())
	date := c.Query("date", today)
	day, err := time.ParseInLocation(time.DateOnly, date, store.Tashkent)
	if err != nil {
		return &ValidationError{Fields: map[string]string{"date": loc.T("err.schedule.date")}}
	}
	crews, err := h.schedule.CrewsOf(ctx(c), currentUser(c).ID)
	if err != nil {
		return err
	}
	v := views.CleanerDay{Date: day, Today: date == today, NextDate: day.AddDate(0, 0, 1)}
	for _, cr := range crews {
		v.Crews = append(v.Crews, cr.Name)
	}
	if v.Visits, err = h.crewDay(c, crews, date); err != nil {
		return err
	}
	out := cleanerDayOut{Date: date, Visits: []cleanerVisitOut{}}
	for _, vis := range v.Visits {
		out.Visits = append(out.Visits, visitOut(vis))
	}
	if v.Today && !wantsJSON(c) {
		if v.Next, err = h.crewDay(c, crews, v.NextDate.Format(time.DateOnly)); err != nil {
			return err
		}
	}
	return h.render(c, fiber.StatusOK, out, page{title: loc.T("myday.title"), body: views.MyDayPage(v)})
}

// crewDay is the visits of crews on local date, by start: the day's
// reservations (a cancelled visit has none) with their orders.
func (h *Handler) crewDay(c *fiber.Ctx, crews []store.Crew, date string) ([]views.CleanerVisit, error) {
	if len(crews) == 0 {
		return nil, nil
	}
	day, err := h.schedule.Day(ctx(c), date)
	if err != nil {
		return nil, err
	}
	names, err := h.serviceNames(c)
	if err != nil {
		return nil, err
	}
	var out []views.CleanerVisit
	for _, r := range day {
		if !slices.ContainsFunc(crews, func(cr store.Crew) bool { return cr.ID == r.CrewID }) {
			continue
		}
		o, err := h.orders.Get(ctx(c), r.OrderID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile; the day's document follows
		} else if err != nil {
			return nil, err
		}
		if o.CrewID != r.CrewID {
			continue // moved to another crew meanwhile
		}
		out = append(out, h.cleanerVisit(c, o, names[o.ServiceID.Hex()]))
	}
	return out, nil
}

// cleanerVisit is order o as its cleaner sees it (current the service's
// name in the reader's language now, if it still exists).
func (h *Handler) cleanerVisit(c *fiber.Ctx, o *store.Order, current string) views.CleanerVisit {
	m := h.meta(c)
	now := h.now()
	v := views.CleanerVisit{Order: o, ServiceName: store.ServiceTitle(o.ServiceNames, o.ServiceName, m.Lang, current)}
	if f := strings.Fields(o.CustomerName); len(f) > 0 {
		v.FirstName = f[0]
	}
	end := o.EndsAt
	if end.IsZero() {
		end = o.ScheduledAt
	}
	v.Hidden = now.After(end.Add(detailsKept))
	if !v.Hidden {
		v.Address, v.Phone, v.Notes = o.Address, o.Phone, o.Notes
	}
	for _, l := range views.PriceOf(m.Locale, o).Lines {
		switch l.Kind {
		case store.LineRooms, store.LineBathrooms, store.LineArea, store.LineExtra:
			v.Items = append(v.Items, l)
		}
	}
	for _, to := range store.Statuses {
		if store.MayStep(store.RoleCleaner, o.Status, to) {
			v.Steps = append(v.Steps, to)
		}
	}
	v.NotToday = store.LocalDate(now) < store.LocalDate(o.ScheduledAt)
	v.NotStarted = now.Before(o.ScheduledAt)
	v.Form.Values = map[string]string{"payment.amount": strconv.FormatInt(o.Price, 10)}
	return v
}

// myVisit is the visit of the request's :id for the cleaner signed in
// (a visit of another crew is not found), as they see it.
func (h *Handler) myVisit(c *fiber.Ctx) (views.CleanerVisit, error) {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return views.CleanerVisit{}, err
	}
	o, err := h.crewVisit(c, currentUser(c), id)
	if err != nil {
		return views.CleanerVisit{}, err
	}
	return h.visitView(c, o)
}

// visitView is o as its cleaner's page shows it, with the service's
// checklist as ticked on o (none when the service is gone).
func (h *Handler) visitView(c *fiber.Ctx, o *store.Order) (views.CleanerVisit, error) {
	svc, err := h.services.Get(ctx(c), o.ServiceID, true)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return views.CleanerVisit{}, err
	}
	lang := h.meta(c).Lang
	v := h.cleanerVisit(c, o, currentName(svc, lang))
	if svc != nil {
		for _, it := range svc.Checklist {
			v.Checklist = append(v.Checklist, views.VisitTick{ID: it.ID, Text: it.Text.In(lang), Done: o.Checklist[it.ID].Done})
		}
	}
	v.CanTick = slices.Contains(store.TickStatuses, o.Status)
	return v, nil
}

// MyVisit is GET /my/visits/:id (CLEANER of the visit's crew).
func (h *Handler) MyVisit(c *fiber.Ctx) error {
	v, err := h.myVisit(c)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, visitOut(v), page{title: v.ServiceName, body: views.MyVisitPage(v), fragment: views.MyVisitDetail(v)})
}

// visitAnswer is a cleaner's answer to a step of PATCH /orders/:id: the
// visit as they see it (JSON, the page's part for htmx, else back to the
// visit's page with the notice).
func (h *Handler) visitAnswer(c *fiber.Ctx, o *store.Order, f views.FormState, status int) error {
	v, err := h.visitView(c, o)
	if err != nil {
		return err
	}
	if status >= 400 {
		// A refused completion: the form as it was sent, with its errors.
		v.Form.Errors, v.Form.Error = f.Errors, f.Error
		for _, k := range []string{"payment.amount", "payment.method"} {
			if x := c.FormValue(k); x != "" {
				v.Form.Values[k] = x
			}
		}
	}
	if !wantsJSON(c) && !isFragment(c) {
		if status >= 400 {
			return h.render(c, status, nil, page{title: v.ServiceName, body: views.MyVisitPage(v)})
		}
		if f.Notice != "" {
			h.setFlash(c, "success", f.Notice)
		}
		return c.Redirect("/my/visits/"+o.ID.Hex(), fiber.StatusSeeOther)
	}
	var banner *views.Flash
	if f.Notice != "" {
		banner = &views.Flash{Kind: "success", Text: h.meta(c).T(f.Notice)}
	}
	return h.render(c, status, visitOut(v), page{title: v.ServiceName, body: views.MyVisitPage(v),
		fragment: templ.Join(views.MyVisitDetail(v), views.FlashSlot(banner, true))})
}

// tickInput is a checklist item ticked (done) or not.
type tickInput struct {
	Done *bool `json:"done" form:"done"`
}

func (in tickInput) Validate() error {
	return validation.ValidateStruct(&in, validation.Field(&in.Done, validation.NotNil))
}

// TickChecklist is PUT /my/visits/:id/checklist/:itemId {done} (CLEANER of
// the visit's crew; POST from the form without JavaScript): each tick is
// saved as it is made, so a connection lost later loses none of them.
// Ticking the same way twice is no change.
func (h *Handler) TickChecklist(c *fiber.Ctx) error {
	v, err := h.myVisit(c)
	if err != nil {
		return err
	}
	item := c.Params("itemId")
	if !slices.ContainsFunc(v.Checklist, func(r views.VisitTick) bool { return r.ID == item }) {
		return fmt.Errorf("%w: checklist item", store.ErrNotFound)
	}
	var in tickInput
	if err := h.bind(c, &in); err != nil {
		return err
	}
	o, err := h.orders.Tick(ctx(c), v.Order.ID, item, *in.Done, currentUser(c).ID)
	if errors.Is(err, store.ErrConflict) {
		return errChecklistClosed // not arrived yet, or no longer open
	} else if err != nil {
		return err
	}
	if v, err = h.visitView(c, o); err != nil {
		return err
	}
	if !wantsJSON(c) && !isFragment(c) {
		return c.Redirect("/my/visits/"+o.ID.Hex(), fiber.StatusSeeOther)
	}
	return h.render(c, fiber.StatusOK, visitOut(v), page{title: v.ServiceName, body: views.MyVisitPage(v), fragment: views.MyVisitDetail(v)})
}
