package handlers

import (
	"strconv"
	"strings"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"tozalash/store"
	"tozalash/views"
)

// The admin's side of a service's visit checklist (#22): what the crew
// does on every visit, edited with the service (JSON `checklist`, or the
// form's rows, which change on the server as the extras' do) and ticked on
// the cleaner's phone by the item's id.

// The codes with a dot are message ids of their own (see validate): the
// checklist's messages live in the catalogs' [checklist] table.
var (
	errChecklistItem  = validation.NewError("checklist.errUnknownItem", "not an item of this service's checklist")
	errChecklistTwice = validation.NewError("checklist.errTwice", "the same item twice")
	errTooManyItems   = validation.NewError("checklist.errTooMany", "too many checklist items").SetParams(map[string]any{"max": maxChecklistItems})
)

const (
	maxChecklistItems = 30
	maxChecklistText  = 200 // characters, in each language
)

// checklistInput is an item as JSON sends it: without an id it is new (the
// server names it); with one, it is an item the service has, its text
// edited.
type checklistInput struct {
	ID   string      `json:"id"`
	Text store.Texts `json:"text"`
}

// validateChecklist checks the items into errs: at most 30; each with its
// text in Uzbek (the others optional, each at most 200 characters), and an
// id, when given, that the service already has, named once. Ids are never
// taken from the client otherwise: the cleaner's ticks are keyed by them.
func validateChecklist(errs validation.Errors, items *[]checklistInput, existing *store.Service) {
	if items == nil {
		return
	}
	if len(*items) > maxChecklistItems {
		errs["checklist"] = errTooManyItems
		return
	}
	has := map[string]bool{}
	if existing != nil {
		for _, it := range existing.Checklist {
			has[it.ID] = true
		}
	}
	seen := map[string]bool{}
	for i, it := range *items {
		at := "checklist." + strconv.Itoa(i) + "."
		if it.ID != "" {
			if !has[it.ID] {
				errs[at+"id"] = errChecklistItem
			} else if seen[it.ID] {
				errs[at+"id"] = errChecklistTwice
			}
			seen[it.ID] = true
		}
		errs[at+"text.uz"] = validation.Validate(it.Text.Uz, validation.Required, validation.RuneLength(0, maxChecklistText))
		errs[at+"text.ru"] = validation.Validate(it.Text.Ru, validation.RuneLength(0, maxChecklistText))
		errs[at+"text.en"] = validation.Validate(it.Text.En, validation.RuneLength(0, maxChecklistText))
	}
}

// trimChecklist trims each item's texts, as typed into a field.
func trimChecklist(items *[]checklistInput) {
	if items == nil {
		return
	}
	for i := range *items {
		t := &(*items)[i].Text
		t.Uz, t.Ru, t.En = strings.TrimSpace(t.Uz), strings.TrimSpace(t.Ru), strings.TrimSpace(t.En)
	}
}

// newChecklist is the service's new checklist: the items sent, in their
// order, a new one named here. An item left out is gone: a visit that
// ticked it keeps its tick under the id, which no other item gets.
func newChecklist(before []store.ChecklistItem, sent []checklistInput) ([]store.ChecklistItem, error) {
	taken := map[string]bool{}
	for _, it := range before {
		taken[it.ID] = true
	}
	out := make([]store.ChecklistItem, 0, len(sent))
	for _, it := range sent {
		id := it.ID
		if id == "" {
			var err error
			// 8 hex characters: lowercase [a-z0-9], usable as a field name.
			if id, err = newExtraID(taken); err != nil {
				return nil, err
			}
		}
		out = append(out, store.ChecklistItem{ID: id, Text: it.Text})
	}
	return out, nil
}

// readChecklistRows reads the form's checklist: one checklist_id,
// checklist_uz, checklist_ru and checklist_en per row, in the rows' order
// (a new row's id empty). checklist_sent says the form has the section,
// so that no rows is an empty checklist rather than none sent.
func readChecklistRows(args *fasthttp.Args) (rows []views.ChecklistRow, sent bool) {
	if args.Peek("checklist_sent") == nil {
		return nil, false
	}
	ids, uz, ru, en := args.PeekMulti("checklist_id"), args.PeekMulti("checklist_uz"), args.PeekMulti("checklist_ru"), args.PeekMulti("checklist_en")
	n := max(len(ids), len(uz), len(ru), len(en))
	at := func(vs [][]byte, i int) string {
		if i < len(vs) {
			return strings.TrimSpace(string(vs[i]))
		}
		return ""
	}
	rows = make([]views.ChecklistRow, n)
	for i := range rows {
		rows[i] = views.ChecklistRow{ID: at(ids, i), Uz: at(uz, i), Ru: at(ru, i), En: at(en, i)}
	}
	return rows, true
}

// checklistInputs are the form's rows as JSON's items.
func checklistInputs(rows []views.ChecklistRow) []checklistInput {
	out := make([]checklistInput, len(rows))
	for i, r := range rows {
		out[i] = checklistInput{ID: r.ID, Text: store.Texts{Uz: r.Uz, Ru: r.Ru, En: r.En}}
	}
	return out
}

// checklistRowsOf are a service's items as the form's rows.
func checklistRowsOf(svc *store.Service) []views.ChecklistRow {
	if svc == nil {
		return nil
	}
	rows := make([]views.ChecklistRow, len(svc.Checklist))
	for i, it := range svc.Checklist {
		rows[i] = views.ChecklistRow{ID: it.ID, Uz: it.Text.Uz, Ru: it.Text.Ru, En: it.Text.En}
	}
	return rows
}

// checklistRows are the form's rows as sent, or else the service's.
func (f *serviceForm) checklistRows(svc *store.Service) []views.ChecklistRow {
	if f != nil && f.checklistSent {
		return f.checklist
	}
	return checklistRowsOf(svc)
}

// extraRows are the form's extras as sent, each marked saved when the
// service has it.
func (f *serviceForm) extraRows(svc *store.Service) []views.ExtraRow {
	saved := map[string]bool{}
	if svc != nil {
		for _, e := range svc.Extras {
			saved[e.ID] = true
		}
	}
	for i := range f.rows {
		f.rows[i].Saved = saved[f.rows[i].ID]
	}
	return f.rows
}

// ChecklistRows is POST /services/:id/checklist-rows and
// /services/new/checklist-rows (ADMIN): the admin's form as it stands, with
// one change to its checklist (op: add, or remove:<position>), answered as
// the checklist's editor for htmx, or the whole form without JavaScript.
// Nothing is saved: the form's Save does that.
func (h *Handler) ChecklistRows(c *fiber.Ctx) error {
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
	rows := form.checklistRows(svc)
	op, target, _ := strings.Cut(c.FormValue("op"), ":")
	switch op {
	case "add":
		rows = append(rows, views.ChecklistRow{New: true})
	case "remove":
		i, err := strconv.Atoi(target)
		if err != nil || i < 0 || i >= len(rows) {
			return fiber.NewError(fiber.StatusBadRequest, "no such row: "+target)
		}
		rows = append(rows[:i], rows[i+1:]...)
	default:
		return fiber.NewError(fiber.StatusBadRequest, "op must be add, or remove:<position>")
	}
	action, title := "/services/new/checklist-rows", h.meta(c).T("serviceAdmin.new")
	if svc != nil {
		action, title = "/services/"+svc.ID.Hex()+"/checklist-rows", h.meta(c).T("serviceAdmin.edit")
	}
	f := views.FormState{Values: typedValues(c)}
	return h.render(c, fiber.StatusOK, nil, page{
		title:    title,
		body:     views.ServiceFormPage(svc, f, form.extraRows(svc), rows),
		fragment: views.ChecklistEditor(action, rows, f),
	})
}

// typedValues are the form's single fields as typed, for the form shown
// again (the extras' and the checklist's rows are read apart).
func typedValues(c *fiber.Ctx) map[string]string {
	values := map[string]string{}
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		if key := string(k); !strings.HasPrefix(key, "extra") && !strings.HasPrefix(key, "checklist") && key != "op" && key != "_csrf" {
			values[key] = string(v)
		}
	})
	return values
}
