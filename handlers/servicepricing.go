package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"

	"tozalash/store"
	"tozalash/views"
)

// The admin's side of the price calculator (#20): a service's pricing and
// extras in JSON and on its admin form, whose extras are rows that htmx
// adds, removes (archives) and moves on the server, nothing saved until
// the form is.

var (
	errWholeNumber   = validation.NewError("validation_whole_number", "not a whole number")
	errPricesNothing = validation.NewError("validation_prices_nothing", "the pricing prices nothing")
	errShortVisit    = validation.NewError("validation_short_visit", "the smallest home takes less than 15 minutes")
	errExtraID       = validation.NewError("validation_extra_id", "an extra's id is 1–16 of a-z, 0-9 and -")
	errExtraIDTwice  = validation.NewError("validation_extra_id_twice", "the same extra twice")
	errPriceFollows  = validation.NewError("validation_price_follows_pricing", "a priced service's price follows its pricing")
	errTooManyExtras = validation.NewError("validation_too_many_extras", "too many extras").SetParams(map[string]any{"max": maxExtras})
	extraIDPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,15}$`)
	// pricingFields are the pricing's JSON names (the form's after
	// "pricing_"): so'm first, then minutes.
	pricingFields = []string{"base", "perRoom", "perBathroom", "perSquareMetre", "minimum", "baseMinutes", "minutesPerRoom", "minutesPerBathroom", "minutesPer10SquareMetres"}
	extraRowOps   = map[string]bool{"add": true, "remove": true, "restore": true, "up": true, "down": true}
)

const (
	pricingMoneyFields = 5  // the first five of pricingFields are so'm
	minVisitMinutes    = 15 // as a flat service's duration
	maxExtras          = 40
	extraIDBytes       = 4 // 8 hex characters
)

// extraInput is an extra as JSON sends it: without an id it is new (the
// server names it), without active it is offered.
type extraInput struct {
	ID        string      `json:"id"`
	Name      store.Texts `json:"name"`
	Price     int64       `json:"price"`
	Minutes   int         `json:"minutes"`
	Countable bool        `json:"countable"`
	Active    *bool       `json:"active"`
}

// pricingValues are the pricing's figures by their JSON names.
func pricingValues(p *store.Pricing) []*int64 {
	return []*int64{&p.Base, &p.PerRoom, &p.PerBathroom, &p.PerSquareMetre, &p.Minimum}
}

func pricingMinutes(p *store.Pricing) []*int {
	return []*int{&p.BaseMinutes, &p.MinutesPerRoom, &p.MinutesPerBathroom, &p.MinutesPer10SquareMetres}
}

// serviceForm is what the admin's form sends of the pricing and the extras,
// as typed: read from the body before binding (its field names carry the
// extras' ids, which no struct tag can name).
type serviceForm struct {
	pricing  map[string]string // by JSON name; nil when the form has no pricing
	rows     []views.ExtraRow
	problems map[string]error // numbers that are not numbers, by JSON field
	// checklist is the visit checklist's rows (see readChecklistRows);
	// checklistSent, whether the form has that section.
	checklist     []views.ChecklistRow
	checklistSent bool
}

// readServiceForm reads the pricing and extras of a form body.
func readServiceForm(c *fiber.Ctx) *serviceForm {
	args := c.Request().PostArgs()
	f := &serviceForm{problems: map[string]error{}}
	for _, name := range pricingFields {
		if v := args.Peek("pricing_" + name); v != nil {
			if f.pricing == nil {
				f.pricing = map[string]string{}
			}
			f.pricing[name] = string(v)
		}
	}
	seen := map[string]bool{}
	for _, raw := range args.PeekMulti("extra") {
		id := strings.TrimSpace(string(raw))
		if seen[id] {
			continue // a form names each row once; a second is the same row
		}
		seen[id] = true
		v := func(field string) string { return strings.TrimSpace(string(args.Peek("extra_" + id + "_" + field))) }
		f.rows = append(f.rows, views.ExtraRow{
			ID: id, NameUz: v("name_uz"), NameRu: v("name_ru"), NameEn: v("name_en"),
			Price: v("price"), Minutes: v("minutes"),
			Countable: v("countable") == "true", Active: v("active") != "false",
		})
	}
	f.checklist, f.checklistSent = readChecklistRows(args)
	return f
}

// wholeNumber reads a number as an admin types it: "150 000", "150000",
// or nothing (0: unused).
func wholeNumber(s string) (int64, bool) {
	s = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "", ",", "").Replace(strings.TrimSpace(s))
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// apply turns the form's fields into the input's pricing and extras. A
// number far out of bounds is refused here, before int() could wrap it
// into one in bounds; the bounds themselves are Validate's.
func (f *serviceForm) apply(in *ServiceInput) {
	if f.pricing != nil {
		p := &store.Pricing{}
		money, minutes := pricingValues(p), pricingMinutes(p)
		for i, name := range pricingFields {
			n, ok := wholeNumber(f.pricing[name])
			if !ok || n < -store.MaxPrice-1 || n > store.MaxPrice+1 {
				f.problems["pricing."+name] = errWholeNumber
				continue
			}
			if i < pricingMoneyFields {
				*money[i] = n
			} else {
				*minutes[i-pricingMoneyFields] = int(n)
			}
		}
		in.Pricing = p
	}
	if f.rows != nil || f.pricing != nil { // a form with a pricing section sends its extras too, none being none
		extras := make([]extraInput, len(f.rows))
		for i, r := range f.rows {
			active := r.Active
			extras[i] = extraInput{ID: r.ID, Name: store.Texts{Uz: r.NameUz, Ru: r.NameRu, En: r.NameEn}, Countable: r.Countable, Active: &active}
			if n, ok := wholeNumber(r.Price); ok && n >= -store.MaxPrice-1 && n <= store.MaxPrice+1 {
				extras[i].Price = n
			} else {
				f.problems["extras."+strconv.Itoa(i)+".price"] = errWholeNumber
			}
			if n, ok := wholeNumber(r.Minutes); ok && n >= -store.MaxMinutes-1 && n <= store.MaxMinutes+1 {
				extras[i].Minutes = int(n)
			} else {
				f.problems["extras."+strconv.Itoa(i)+".minutes"] = errWholeNumber
			}
		}
		in.Extras = &extras
	}
	if f.checklistSent {
		items := checklistInputs(f.checklist)
		in.Checklist = &items
	}
}

// validatePricing checks a pricing and its extras into errs: every price
// 0–MaxPrice so'm, every duration 0–MaxMinutes, a pricing that prices
// something (a base or a per-unit price) and whose smallest home takes at
// least 15 minutes; each extra with a name in Uzbek (2–100 characters; the
// others optional), a well-formed id named once.
func validatePricing(errs validation.Errors, p *store.Pricing, extras *[]extraInput) {
	set := func(field string, err error) { // a field's first problem is its message
		if errs[field] == nil {
			errs[field] = err
		}
	}
	if p != nil && *p != (store.Pricing{}) {
		before := problems(errs)
		for i, v := range pricingValues(p) {
			set("pricing."+pricingFields[i], validation.Validate(*v, validation.Min(int64(0)), validation.Max(int64(store.MaxPrice))))
		}
		for i, v := range pricingMinutes(p) {
			set("pricing."+pricingFields[pricingMoneyFields+i], validation.Validate(*v, validation.Min(0), validation.Max(store.MaxMinutes)))
		}
		if problems(errs) == before { // each figure in bounds
			if p.Base == 0 && p.PerRoom == 0 && p.PerBathroom == 0 && p.PerSquareMetre == 0 {
				set("pricing.base", errPricesNothing)
			} else if _, minutes, err := store.FromFigures(*p); err == nil && minutes < minVisitMinutes {
				set("pricing.baseMinutes", errShortVisit)
			}
		}
	} else if p != nil {
		set("pricing.base", errPricesNothing)
	}
	if extras == nil {
		return
	}
	if len(*extras) > maxExtras {
		set("extras", errTooManyExtras)
		return
	}
	seen := map[string]bool{}
	for i, e := range *extras {
		at := "extras." + strconv.Itoa(i) + "."
		if e.ID != "" {
			if !extraIDPattern.MatchString(e.ID) {
				set(at+"id", errExtraID)
			} else if seen[e.ID] {
				set(at+"id", errExtraIDTwice)
			}
			seen[e.ID] = true
		}
		set(at+"name.uz", validation.Validate(strings.TrimSpace(e.Name.Uz), validation.Required, validation.RuneLength(2, 100)))
		set(at+"name.ru", validation.Validate(strings.TrimSpace(e.Name.Ru), validation.RuneLength(2, 100)))
		set(at+"name.en", validation.Validate(strings.TrimSpace(e.Name.En), validation.RuneLength(2, 100)))
		set(at+"price", validation.Validate(e.Price, validation.Min(int64(0)), validation.Max(int64(store.MaxPrice))))
		set(at+"minutes", validation.Validate(e.Minutes, validation.Min(0), validation.Max(store.MaxMinutes)))
	}
}

// problems counts the fields of errs that have one.
func problems(errs validation.Errors) int {
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	return n
}

// mergeExtras is the service's new list of extras: those sent, in their
// order (a new one named here), then those of before that were left out,
// archived, so that an id is never given to another extra and an old
// order's line keeps its name.
func mergeExtras(before []store.Extra, sent []extraInput) ([]store.Extra, error) {
	taken := map[string]bool{}
	for _, e := range before {
		taken[e.ID] = true
	}
	for _, e := range sent {
		taken[e.ID] = true
	}
	out := make([]store.Extra, 0, len(sent)+len(before))
	kept := map[string]bool{}
	for _, e := range sent {
		id := e.ID
		if id == "" {
			var err error
			if id, err = newExtraID(taken); err != nil {
				return nil, err
			}
		}
		active := e.Active == nil || *e.Active
		name := store.Texts{Uz: strings.TrimSpace(e.Name.Uz), Ru: strings.TrimSpace(e.Name.Ru), En: strings.TrimSpace(e.Name.En)}
		out = append(out, store.Extra{ID: id, Name: name, Price: e.Price, Minutes: e.Minutes, Countable: e.Countable, Active: active})
		kept[id] = true
	}
	for _, e := range before {
		if !kept[e.ID] {
			e.Active = false
			out = append(out, e)
		}
	}
	return out, nil
}

// newExtraID is a short random id none of taken has (8 hex characters),
// and takes it.
func newExtraID(taken map[string]bool) (string, error) {
	for range 20 { // 4 billion ids against tens: a clash is once in a lifetime

		b := make([]byte, extraIDBytes)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		if id := hex.EncodeToString(b); !taken[id] {
			taken[id] = true
			return id, nil
		}
	}
	return "", fiber.NewError(fiber.StatusInternalServerError, "no free extra id")
}

// extraRowsOf are a service's extras as the form's rows.
func extraRowsOf(svc *store.Service) []views.ExtraRow {
	if svc == nil {
		return nil
	}
	rows := make([]views.ExtraRow, len(svc.Extras))
	for i, e := range svc.Extras {
		rows[i] = views.ExtraRow{
			ID: e.ID, NameUz: e.Name.Uz, NameRu: e.Name.Ru, NameEn: e.Name.En,
			Price: strconv.FormatInt(e.Price, 10), Minutes: strconv.Itoa(e.Minutes),
			Countable: e.Countable, Active: e.Active, Saved: true,
		}
	}
	return rows
}

// pricingFormValues are the form's values of a pricing (a legacy
// service's flat price as its base).
func pricingFormValues(v map[string]string, p store.Pricing) {
	for i, n := range pricingValues(&p) {
		v["pricing_"+pricingFields[i]] = formNumber(*n)
	}
	for i, n := range pricingMinutes(&p) {
		v["pricing_"+pricingFields[pricingMoneyFields+i]] = formNumber(int64(*n))
	}
}

// formNumber shows 0 (unused) as an empty field.
func formNumber(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// ExtraRows is POST /services/:id/extra-rows and /services/new/extra-rows
// (ADMIN): the admin's form as it stands, with one change to its extras
// (op: add, or remove/restore/up/down:<id>), answered as the extras'
// editor for htmx, or the whole form without JavaScript. Nothing is saved:
// the form's Save does that. Removing a saved extra archives it (it stays,
// to be restored, and old orders keep its line); a row not saved yet just
// goes.
func (h *Handler) ExtraRows(c *fiber.Ctx) error {
	var svc *store.Service
	if id := c.Params("id"); id != "" {
		sid, err := store.ParseID(id)
		if err != nil {
			return err
		}
		if svc, err = h.services.Get(ctx(c), sid, true); err != nil {
			return err
		}
	}
	if ct := c.Get(fiber.HeaderContentType); !strings.HasPrefix(ct, fiber.MIMEApplicationForm) && !strings.HasPrefix(ct, fiber.MIMEMultipartForm) {
		return fiber.ErrUnsupportedMediaType
	}
	form := readServiceForm(c)
	rows := form.extraRows(svc)
	saved := map[string]bool{} // the service's ids, which a new row must not take
	if svc != nil {
		for _, e := range svc.Extras {
			saved[e.ID] = true
		}
	}
	op, target, _ := strings.Cut(c.FormValue("op"), ":")
	if !extraRowOps[op] || (op != "add") == (target == "") {
		return fiber.NewError(fiber.StatusBadRequest, "op must be add, or remove, restore, up or down:<id>")
	}
	at := -1
	for i, r := range rows {
		if r.ID == target {
			at = i
		}
	}
	if op != "add" && at < 0 {
		return fiber.NewError(fiber.StatusBadRequest, "no such row: "+target)
	}
	switch op {
	case "add":
		taken := map[string]bool{}
		for id := range saved {
			taken[id] = true
		}
		for _, r := range rows {
			taken[r.ID] = true
		}
		id, err := newExtraID(taken)
		if err != nil {
			return err
		}
		rows = append(rows, views.ExtraRow{ID: id, Active: true, New: true})
	case "remove":
		if rows[at].Saved {
			rows[at].Active = false
		} else {
			rows = append(rows[:at], rows[at+1:]...)
		}
	case "restore":
		rows[at].Active = true
	case "up", "down":
		// Past the archived rows between them: the order that counts is
		// the offered extras'.
		step := map[string]int{"up": -1, "down": 1}[op]
		for j := at + step; j >= 0 && j < len(rows); j += step {
			if rows[j].Active {
				rows[at], rows[j] = rows[j], rows[at]
				break
			}
		}
	}
	action := "/services/new/extra-rows"
	if svc != nil {
		action = "/services/" + svc.ID.Hex() + "/extra-rows"
	}
	f := views.FormState{Values: typedValues(c)}
	title := h.meta(c).T("serviceAdmin.new")
	if svc != nil {
		title = h.meta(c).T("serviceAdmin.edit")
	}
	return h.render(c, fiber.StatusOK, nil, page{
		title:    title,
		body:     views.ServiceFormPage(svc, f, rows, form.checklistRows(svc)),
		fragment: views.ExtrasEditor(action, rows, f),
	})
}

// serviceFormValues fill the admin's form with a service, or the defaults
// of a new one. A service priced before the calculator shows its flat
// price as the base: saved, it is the same price.
func serviceFormValues(s *store.Service) map[string]string {
	v := map[string]string{}
	if s == nil {
		pricingFormValues(v, store.Pricing{BaseMinutes: 120})
		return v
	}
	v["name_uz"], v["name_ru"], v["name_en"] = s.Name.Uz, s.Name.Ru, s.Name.En
	v["description_uz"], v["description_ru"], v["description_en"] = s.Description.Uz, s.Description.Ru, s.Description.En
	pricingFormValues(v, s.PriceModel())
	return v
}
