package handlers

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// The crews' admin (#21): the crews with their members, services and
// weekly hours on /admin/crews, the closures (holidays, a crew's day off
// or shorter day) on /admin/closures. Saving never moves a booked visit:
// the visits a change leaves outside their crew's hours are listed on both
// pages (and in the JSON answer of the change) for the admin to move,
// reassign or cancel on the order's page.

var (
	errCrewHours    = validation.NewError("validation_crew_hours", "times are HH:MM, each interval ends after it starts, and a day's intervals do not overlap")
	errUnknownCrew  = validation.NewError("unknown_crew", "no such crew")
	errClosureTimes = validation.NewError("validation_closure_times", "both times or neither, HH:MM, the end after the start")
	errPastDate     = validation.NewError("validation_past_date", "the day is past")
)

const (
	maxCrewMembers   = 20
	maxCrewIntervals = 6 // a day's intervals: more is a typo
)

// crewInput is the body of POST /admin/crews and PATCH /admin/crews/:id:
// JSON as the design names the fields, or the page's form (members one a
// line, hours as hours_<day>_from/_to pairs). PATCH changes the fields
// sent; the form sends them all.
type crewInput struct {
	Name       *string          `json:"name" form:"name"`
	Members    *[]string        `json:"members" form:"-"`
	MemberIDs  *[]string        `json:"memberIds" form:"-"`
	ServiceIDs *[]string        `json:"serviceIds" form:"-"`
	Hours      *store.WeekHours `json:"hours" form:"-"`
	Active     *bool            `json:"active" form:"-"`

	FormMembers    *string  `json:"-" form:"members"`
	FormServiceIDs []string `json:"-" form:"serviceIds"`
	FormMemberIDs  []string `json:"-" form:"memberIds"` // the cleaners' boxes ticked
	FormActive     *string  `json:"-" form:"active"`

	existing *store.Crew // the crew changed; nil for a new one
	hours    store.WeekHours
	fromForm bool
	services map[primitive.ObjectID]bool
	cleaners map[primitive.ObjectID]*store.User // the accounts memberIds may name
	result   store.Crew
	badIDs   map[string]bool // fields with an id that is no id
}

func (in *crewInput) normalize() {
	in.badIDs = map[string]bool{}
	if in.fromForm {
		members := []string{}
		for _, line := range strings.Split(deref(in.FormMembers), "\n") {
			if s := strings.TrimSpace(line); s != "" {
				members = append(members, s)
			}
		}
		ids := append([]string{}, in.FormServiceIDs...)
		memberIDs := append([]string{}, in.FormMemberIDs...)
		active := deref(in.FormActive) == "true"
		in.Members, in.MemberIDs, in.ServiceIDs, in.Active, in.Hours = &members, &memberIDs, &ids, &active, &in.hours
	}
	cr := store.Crew{Active: true}
	if in.existing != nil {
		cr = *in.existing
	}
	if in.Name != nil {
		cr.Name = strings.TrimSpace(*in.Name)
	}
	if in.Members != nil {
		cr.Members = []string{}
		for _, m := range *in.Members {
			cr.Members = append(cr.Members, strings.TrimSpace(m))
		}
	}
	ids := func(field string, raw *[]string) []primitive.ObjectID {
		out := []primitive.ObjectID{}
		for _, s := range *raw {
			id, err := primitive.ObjectIDFromHex(strings.TrimSpace(s))
			if err != nil {
				in.badIDs[field] = true
				continue
			}
			out = append(out, id)
		}
		return out
	}
	if in.MemberIDs != nil {
		before := cr.MemberIDs
		cr.MemberIDs = ids("memberIds", in.MemberIDs)
		cr.Members = in.syncNames(before, cr.MemberIDs, cr.Members)
	}
	if in.ServiceIDs != nil {
		cr.ServiceIDs = ids("serviceIds", in.ServiceIDs)
	}
	if in.Hours != nil {
		cr.Hours = *in.Hours
	}
	if in.Active != nil {
		cr.Active = *in.Active
	}
	in.result = cr
}

// syncNames keeps a crew's names (Members, what its pages show) in step
// with its cleaners' accounts: a cleaner taken out of the crew takes their
// name along, one put in brings it (once).
func (in *crewInput) syncNames(before, after []primitive.ObjectID, names []string) []string {
	in2 := map[primitive.ObjectID]bool{}
	for _, id := range after {
		in2[id] = true
	}
	was := map[primitive.ObjectID]bool{}
	for _, id := range before {
		was[id] = true
	}
	out := append([]string{}, names...)
	for _, id := range before {
		if u := in.cleaners[id]; u != nil && !in2[id] {
			for i, n := range out {
				if n == u.Name {
					out = append(out[:i], out[i+1:]...)
					break
				}
			}
		}
	}
	for _, id := range after {
		if u := in.cleaners[id]; u != nil && !was[id] && !slices.Contains(out, u.Name) {
			out = append(out, u.Name)
		}
	}
	return out
}

// Validate checks the crew as it will be: a name of 1–60 characters, at
// most 20 members of 1–60 each, known services, hours whose intervals are
// HH:MM, end after they start and do not overlap.
func (in crewInput) Validate() error {
	cr := in.result
	errs := validation.Errors{}
	errs["name"] = validation.Validate(cr.Name, validation.Required, validation.RuneLength(1, 60))
	if len(cr.Members) > maxCrewMembers {
		errs["members"] = validation.Validate(cr.Members, validation.Length(0, maxCrewMembers))
	}
	for _, m := range cr.Members {
		if errs["members"] == nil {
			errs["members"] = validation.Validate(m, validation.Required, validation.RuneLength(1, 60))
		}
	}
	for field := range in.badIDs {
		errs[field] = errObjectID
	}
	if in.MemberIDs != nil && errs["memberIds"] == nil {
		for _, id := range cr.MemberIDs {
			if in.cleaners[id] == nil {
				errs["memberIds"] = errNotCleaner // each an existing CLEANER's account
				break
			}
		}
	}
	for _, id := range cr.ServiceIDs {
		if !in.services[id] && errs["serviceIds"] == nil {
			errs["serviceIds"] = errUnknownService
		}
	}
	for day, ivs := range cr.Hours {
		if len(ivs) > maxCrewIntervals || (store.WeekHours{day: ivs}).Check() != nil {
			errs["hours"] = errCrewHours
			if in.fromForm {
				errs["hours."+day] = errCrewHours // under the day's rows
			}
		}
	}
	return errs.Filter()
}

// readHours reads the form's hours: per day the from/to pairs in order.
// A pair left empty is skipped when saved (a day without any is a day
// off), and kept while the rows change (a row just added is empty).
func readHours(c *fiber.Ctx, keepEmpty bool) store.WeekHours {
	args := c.Request().PostArgs()
	h := store.WeekHours{}
	for _, d := range store.Weekdays {
		froms, tos := args.PeekMulti("hours_"+d+"_from"), args.PeekMulti("hours_"+d+"_to")
		ivs := [][2]string{}
		for i := 0; i < max(len(froms), len(tos)); i++ {
			var iv [2]string
			if i < len(froms) {
				iv[0] = strings.TrimSpace(string(froms[i]))
			}
			if i < len(tos) {
				iv[1] = strings.TrimSpace(string(tos[i]))
			}
			if keepEmpty || iv != ([2]string{}) {
				ivs = append(ivs, iv)
			}
		}
		h[d] = ivs
	}
	return h
}

// bindCrew binds a crew's body, knowing the services it may name.
func (h *Handler) bindCrew(c *fiber.Ctx, in *crewInput) error {
	all, err := h.services.All(ctx(c))
	if err != nil {
		return err
	}
	in.services = make(map[primitive.ObjectID]bool, len(all))
	for _, s := range all {
		in.services[s.ID] = true
	}
	if in.cleaners, err = h.cleanerAccounts(c); err != nil {
		return err
	}
	in.fromForm = !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON)
	if in.fromForm {
		in.hours = readHours(c, false)
	}
	return h.bind(c, in)
}

// crewValues are the form's values of a crew (or of a form as sent).
func crewValues(cr *store.Crew) map[string]string {
	v := map[string]string{"name": cr.Name, "members": strings.Join(cr.Members, "\n")}
	if cr.Active {
		v["active"] = "true"
	}
	for _, id := range cr.ServiceIDs {
		v["service_"+id.Hex()] = "true"
	}
	for _, id := range cr.MemberIDs {
		v["member_"+id.Hex()] = "true"
	}
	return v
}

// newCrewHours are the hours a new crew's form starts with: Monday to
// Saturday 08:00–19:00, Sunday off.
func newCrewHours() store.WeekHours {
	h := store.WeekHours{}
	for _, d := range store.Weekdays[:6] {
		h[d] = [][2]string{{"08:00", "19:00"}}
	}
	h["sun"] = [][2]string{}
	return h
}

// strandedVisit is a visit its crew no longer works for, as the admin
// sees it: when, which order, whose, which crew.
type strandedVisit = views.StrandedVisit

// stranded are the visits to come that no crew's hours cover any more,
// with their orders' numbers and customers.
func (h *Handler) stranded(c *fiber.Ctx, crews []store.Crew) ([]strandedVisit, error) {
	rs, err := h.schedule.Stranded(ctx(c), h.now())
	if err != nil {
		return nil, err
	}
	names := map[primitive.ObjectID]string{}
	for _, cr := range crews {
		names[cr.ID] = cr.Name
	}
	out := make([]strandedVisit, 0, len(rs))
	for _, r := range rs {
		o, err := h.orders.Get(ctx(c), r.OrderID)
		if errors.Is(err, store.ErrNotFound) {
			continue // its day's entry outlived it; the journal's repair takes it
		}
		if err != nil {
			return nil, err
		}
		name := names[r.CrewID]
		if name == "" {
			name = o.CrewName
		}
		out = append(out, strandedVisit{OrderID: o.ID.Hex(), Number: o.Seq, Customer: o.CustomerName, CrewID: r.CrewID.Hex(), CrewName: name, ScheduledAt: r.From, EndsAt: r.EndsAt})
	}
	return out, nil
}

// crewsPage is the list of crews, the visits left outside their hours and
// the new crew's form.
func (h *Handler) crewsPage(c *fiber.Ctx, f views.FormState, hours store.WeekHours) (page, []store.Crew, []strandedVisit, error) {
	crews, err := h.schedule.Crews(ctx(c))
	if err != nil {
		return page{}, nil, nil, err
	}
	services, err := h.services.All(ctx(c))
	if err != nil {
		return page{}, nil, nil, err
	}
	stranded, err := h.stranded(c, crews)
	if err != nil {
		return page{}, nil, nil, err
	}
	if f.Values == nil {
		f.Values = map[string]string{"active": "true"}
	}
	if hours == nil {
		hours = newCrewHours()
	}
	title := h.meta(c).T("crews.title")
	return page{title: title, body: views.CrewsPage(crews, services, stranded, f, hours)}, crews, stranded, nil
}

// ListCrews is GET /admin/crews (ADMIN): the crews by name; JSON
// {"items":[…],"next":""}.
func (h *Handler) ListCrews(c *fiber.Ctx) error {
	p, crews, _, err := h.crewsPage(c, views.FormState{}, nil)
	if err != nil {
		return err
	}
	if crews == nil {
		crews = []store.Crew{}
	}
	return h.render(c, fiber.StatusOK, list[store.Crew]{Items: crews}, p)
}

// CreateCrew is POST /admin/crews (ADMIN): 201 with the crew for JSON,
// else back to the list with a flash. A new crew strands nobody.
func (h *Handler) CreateCrew(c *fiber.Ctx) error {
	var in crewInput
	if err := h.bindCrew(c, &in); err != nil {
		return h.formError(c, err, in.formValues(), func(f views.FormState) page {
			p, _, _, err := h.crewsPage(c, f, in.hours)
			if err != nil {
				return page{title: h.meta(c).T("crews.title"), body: views.CrewsPage(nil, nil, nil, f, in.hours)}
			}
			return p
		})
	}
	cr := in.result
	if err := h.schedule.CreateCrew(ctx(c), &cr); err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.Status(fiber.StatusCreated).JSON(&cr)
	}
	h.setFlash(c, "success", "flash.crewSaved")
	return c.Redirect("/admin/crews", fiber.StatusSeeOther)
}

// formValues are the form's values as sent, for the form shown again.
func (in *crewInput) formValues() map[string]string {
	v := map[string]string{"name": deref(in.Name), "members": deref(in.FormMembers), "active": deref(in.FormActive)}
	for _, id := range in.FormServiceIDs {
		v["service_"+id] = "true"
	}
	for _, id := range in.FormMemberIDs {
		v["member_"+id] = "true"
	}
	return v
}

// crewPage is one crew's page: its form, and the visits left outside.
func (h *Handler) crewPage(c *fiber.Ctx, cr *store.Crew, f views.FormState, hours store.WeekHours) (page, error) {
	crews, err := h.schedule.Crews(ctx(c))
	if err != nil {
		return page{}, err
	}
	services, err := h.services.All(ctx(c))
	if err != nil {
		return page{}, err
	}
	stranded, err := h.stranded(c, crews)
	if err != nil {
		return page{}, err
	}
	if f.Values == nil {
		f.Values = crewValues(cr)
	}
	if hours == nil {
		hours = cr.Hours
	}
	cleaners, err := h.users.Cleaners(ctx(c))
	if err != nil {
		return page{}, err
	}
	return page{title: cr.Name, body: views.CrewPage(cr, services, cleaners, stranded, f, hours)}, nil
}

// crewParam is the crew of the route's :id.
func (h *Handler) crewParam(c *fiber.Ctx) (*store.Crew, error) {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return nil, err
	}
	return h.schedule.Crew(ctx(c), id)
}

// GetCrew is GET /admin/crews/:id (ADMIN): the crew, or its page.
func (h *Handler) GetCrew(c *fiber.Ctx) error {
	cr, err := h.crewParam(c)
	if err != nil {
		return err
	}
	p, err := h.crewPage(c, cr, views.FormState{}, nil)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, cr, p)
}

// crewSaved is the answer to a crew's change: the crew and the visits to
// come its crew no longer works for (the change's, and any before it).
type crewSaved struct {
	*store.Crew
	Stranded []strandedVisit `json:"stranded"`
}

// UpdateCrew is PATCH /admin/crews/:id and POST /admin/crews/:id/edit
// (the form) (ADMIN): the crew as saved with the visits left outside its
// hours, or back to the list (which shows them) with a flash.
func (h *Handler) UpdateCrew(c *fiber.Ctx) error {
	existing, err := h.crewParam(c)
	if err != nil {
		return err
	}
	in := crewInput{existing: existing}
	if err := h.bindCrew(c, &in); err != nil {
		return h.formError(c, err, in.formValues(), func(f views.FormState) page {
			p, err := h.crewPage(c, existing, f, in.hours)
			if err != nil {
				return page{title: existing.Name, body: views.CrewPage(existing, nil, nil, nil, f, in.hours)}
			}
			return p
		})
	}
	cr := in.result
	if err := h.schedule.UpdateCrew(ctx(c), &cr); err != nil {
		return err
	}
	crews, err := h.schedule.Crews(ctx(c))
	if err != nil {
		return err
	}
	stranded, err := h.stranded(c, crews)
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.JSON(crewSaved{Crew: &cr, Stranded: stranded})
	}
	if len(stranded) > 0 {
		h.setFlash(c, "info", "flash.crewSavedStranded")
	} else {
		h.setFlash(c, "success", "flash.crewSaved")
	}
	return redirect(c, "/admin/crews")
}

// redirect sends a browser on: htmx through HX-Redirect, a form through 303.
func redirect(c *fiber.Ctx, to string) error {
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", to)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

// DeleteCrew is DELETE /admin/crews/:id and POST /admin/crews/:id/delete
// (ADMIN): 204, or back to the list. A crew with visits to come stays
// (409, saying how many): they must be moved or reassigned first.
func (h *Handler) DeleteCrew(c *fiber.Ctx) error {
	cr, err := h.crewParam(c)
	if err != nil {
		return err
	}
	err = h.schedule.DeleteCrew(ctx(c), cr.ID, h.now())
	if errors.Is(err, store.ErrConflict) {
		visits, verr := h.schedule.CrewVisits(ctx(c), cr.ID, h.now())
		if verr != nil {
			return verr
		}
		msg := h.meta(c).Locale.Format("crews.deleteRefused", map[string]any{"count": len(visits)})
		if wantsJSON(c) || isFragment(c) {
			return fiber.NewError(fiber.StatusConflict, msg)
		}
		p, perr := h.crewPage(c, cr, views.FormState{Error: msg}, nil)
		if perr != nil {
			return perr
		}
		return h.render(c, fiber.StatusConflict, nil, p)
	}
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	h.setFlash(c, "success", "flash.crewDeleted")
	return redirect(c, "/admin/crews")
}

// CrewHourRows is POST /admin/crews/:id/hour-rows (ADMIN; :id "new" for
// the new crew's form): the form as it stands with one change to its
// hours (op add:<day>, or remove:<day>:<n>), answered as the hours' editor
// for htmx, or the whole page without JavaScript. Nothing is saved.
func (h *Handler) CrewHourRows(c *fiber.Ctx) error {
	var cr *store.Crew
	if c.Params("id") != "new" {
		var err error
		if cr, err = h.crewParam(c); err != nil {
			return err
		}
	}
	if ct := c.Get(fiber.HeaderContentType); !strings.HasPrefix(ct, fiber.MIMEApplicationForm) && !strings.HasPrefix(ct, fiber.MIMEMultipartForm) {
		return fiber.ErrUnsupportedMediaType
	}
	hours := readHours(c, true)
	op, rest, _ := strings.Cut(c.FormValue("op"), ":")
	day, nth, _ := strings.Cut(rest, ":")
	ivs, known := hours[day]
	switch {
	case !known:
		return fiber.NewError(fiber.StatusBadRequest, "op must be add:<day> or remove:<day>:<n>")
	case op == "add" && nth == "":
		if len(ivs) < maxCrewIntervals {
			hours[day] = append(ivs, [2]string{"", ""})
		}
	case op == "remove":
		n, err := strconv.Atoi(nth)
		if err != nil || n < 0 || n >= len(ivs) {
			return fiber.NewError(fiber.StatusBadRequest, "no such interval: "+rest)
		}
		hours[day] = append(ivs[:n], ivs[n+1:]...)
	default:
		return fiber.NewError(fiber.StatusBadRequest, "op must be add:<day> or remove:<day>:<n>")
	}
	var in crewInput
	in.Name, in.FormActive = ptr(c.FormValue("name")), ptr(c.FormValue("active"))
	in.FormMembers = ptr(c.FormValue("members"))
	for _, id := range c.Request().PostArgs().PeekMulti("serviceIds") {
		in.FormServiceIDs = append(in.FormServiceIDs, string(id))
	}
	for _, id := range c.Request().PostArgs().PeekMulti("memberIds") {
		in.FormMemberIDs = append(in.FormMemberIDs, string(id))
	}
	f := views.FormState{Values: in.formValues()}
	action := views.CrewRowsAction(cr)
	var p page
	var err error
	if cr == nil {
		p, _, _, err = h.crewsPage(c, f, hours)
	} else {
		p, err = h.crewPage(c, cr, f, hours)
	}
	if err != nil {
		return err
	}
	p.fragment = views.HoursEditor(action, hours, f)
	return h.render(c, fiber.StatusOK, nil, p)
}

func ptr(s string) *string { return &s }

// closureInput is the body of POST /admin/closures: the day (YYYY-MM-DD,
// Tashkent), the crew (none: everyone), the hours (none: all day) and why.
type closureInput struct {
	Date   string `json:"date" form:"date"`
	CrewID string `json:"crewId" form:"crewId"`
	From   string `json:"from" form:"from"`
	To     string `json:"to" form:"to"`
	Reason string `json:"reason" form:"reason"`

	crews map[primitive.ObjectID]bool
	today string
}

func (in *closureInput) normalize() {
	for _, s := range []*string{&in.Date, &in.CrewID, &in.From, &in.To, &in.Reason} {
		*s = strings.TrimSpace(*s)
	}
}

// Validate checks the closure: a date from today on, a known crew, both
// times or neither (the end after the start), a reason of at most 200
// characters.
func (in closureInput) Validate() error {
	errs := validation.Errors{}
	if in.Date == "" {
		errs["date"] = validation.ErrRequired
	} else if _, err := time.ParseInLocation(time.DateOnly, in.Date, store.Tashkent); err != nil {
		errs["date"] = errPromoDate
	} else if in.Date < in.today {
		errs["date"] = errPastDate
	}
	if in.CrewID != "" {
		id, err := primitive.ObjectIDFromHex(in.CrewID)
		if err != nil {
			errs["crewId"] = errObjectID
		} else if !in.crews[id] {
			errs["crewId"] = errUnknownCrew
		}
	}
	if in.From != "" || in.To != "" {
		from, ok1 := store.ParseClock(in.From)
		to, ok2 := store.ParseClock(in.To)
		switch {
		case !ok1:
			errs["from"] = errClosureTimes
		case !ok2 || to <= from:
			errs["to"] = errClosureTimes
		}
	}
	errs["reason"] = validation.Validate(in.Reason, validation.RuneLength(0, 200))
	return errs.Filter()
}

// closuresPage is the closures to come, the visits left outside and the
// new closure's form.
func (h *Handler) closuresPage(c *fiber.Ctx, f views.FormState) (page, []store.Closure, error) {
	all, err := h.schedule.Closures(ctx(c))
	if err != nil {
		return page{}, nil, err
	}
	today := store.LocalDate(h.now())
	upcoming := []store.Closure{}
	for _, cl := range all {
		if cl.Date >= today {
			upcoming = append(upcoming, cl)
		}
	}
	crews, err := h.schedule.Crews(ctx(c))
	if err != nil {
		return page{}, nil, err
	}
	stranded, err := h.stranded(c, crews)
	if err != nil {
		return page{}, nil, err
	}
	return page{title: h.meta(c).T("closures.title"), body: views.ClosuresPage(upcoming, crews, stranded, f)}, upcoming, nil
}

// ListClosures is GET /admin/closures (ADMIN): the closures from today
// on, by date; JSON {"items":[…],"next":""}.
func (h *Handler) ListClosures(c *fiber.Ctx) error {
	p, upcoming, err := h.closuresPage(c, views.FormState{})
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, list[store.Closure]{Items: upcoming}, p)
}

// closureSaved is the answer to a new closure: it, and the visits to come
// no crew's hours cover any more.
type closureSaved struct {
	*store.Closure
	Stranded []strandedVisit `json:"stranded"`
}

// CreateClosure is POST /admin/closures (ADMIN): 201 with the closure and
// the visits it leaves outside, or back to the list (which shows them).
func (h *Handler) CreateClosure(c *fiber.Ctx) error {
	crews, err := h.schedule.Crews(ctx(c))
	if err != nil {
		return err
	}
	in := closureInput{crews: map[primitive.ObjectID]bool{}, today: store.LocalDate(h.now())}
	for _, cr := range crews {
		in.crews[cr.ID] = true
	}
	if err := h.bind(c, &in); err != nil {
		values := map[string]string{"date": in.Date, "crewId": in.CrewID, "from": in.From, "to": in.To, "reason": in.Reason}
		return h.formError(c, err, values, func(f views.FormState) page {
			p, _, err := h.closuresPage(c, f)
			if err != nil {
				return page{title: h.meta(c).T("closures.title"), body: views.ClosuresPage(nil, nil, nil, f)}
			}
			return p
		})
	}
	cl := store.Closure{Date: in.Date, From: in.From, To: in.To, Reason: in.Reason}
	if in.CrewID != "" {
		cl.CrewID, _ = primitive.ObjectIDFromHex(in.CrewID)
	}
	if err := h.schedule.CreateClosure(ctx(c), &cl); err != nil {
		return err
	}
	stranded, err := h.stranded(c, crews)
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.Status(fiber.StatusCreated).JSON(closureSaved{Closure: &cl, Stranded: stranded})
	}
	if len(stranded) > 0 {
		h.setFlash(c, "info", "flash.closureSavedStranded")
	} else {
		h.setFlash(c, "success", "flash.closureSaved")
	}
	return redirect(c, "/admin/closures")
}

// DeleteClosure is DELETE /admin/closures/:id and POST
// /admin/closures/:id/delete (ADMIN): 204, or back to the list.
func (h *Handler) DeleteClosure(c *fiber.Ctx) error {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return err
	}
	if err := h.schedule.DeleteClosure(ctx(c), id); err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	h.setFlash(c, "success", "flash.closureDeleted")
	return redirect(c, "/admin/closures")
}
