package handlers

import (
	"errors"
	"strconv"
	"strings"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// ListServices is the catalogue: GET /services?before=&limit=.
func (h *Handler) ListServices(c *fiber.Ctx) error {
	f, err := pageQuery(c)
	if err != nil {
		return err
	}
	admin := currentUser(c).IsAdmin()
	items, next, err := h.services.List(ctx(c), store.ServiceFilter{Before: f.before, Limit: f.limit, IncludeArchived: admin})
	if err != nil {
		return err
	}
	cursor := cursorOf(next)
	return h.render(c, fiber.StatusOK, list[serviceJSON]{Items: servicesJSON(items, h.meta(c).Lang), Next: cursor}, page{
		title:    h.meta(c).T("title.services"),
		body:     views.ServicesPage(items, cursor),
		fragment: views.ServiceGrid(items, cursor),
		public:   !admin,
	})
}

// GetService is one service: GET /services/:id.
func (h *Handler) GetService(c *fiber.Ctx) error {
	// The reviews are one _id look-up (cached for a second), and their
	// version keys the kept page: a new review shows at once.
	svc, tally, err := h.serviceWithReviews(c)
	if err != nil {
		return err
	}
	latest := tally.Newest(false)
	reviews := views.ServiceReviews{Rating: tally.Rating(), Latest: latest[:min(len(latest), 5)]}
	svc.Rating = reviews.Rating // the tally as read now (the catalogue's follows within a second)
	out := serviceJSONOf(svc, h.meta(c).Lang)
	return h.render(c, fiber.StatusOK, out, page{
		title:  svc.Text(h.meta(c).Lang).Name,
		body:   views.ServicePage(svc, reviews),
		public: currentUser(c) == nil,
		keptAs: "reviews " + strconv.FormatInt(tally.V, 10),
	})
}

// serviceWithReviews is the service of the route's :id (an archived one
// for an admin only) and its reviews' tally.
func (h *Handler) serviceWithReviews(c *fiber.Ctx) (*store.Service, *store.Tally, error) {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return nil, nil, err
	}
	svc, err := h.services.Get(ctx(c), id, currentUser(c).IsAdmin())
	if err != nil {
		return nil, nil, err
	}
	tally, err := h.reviews.ServiceTally(ctx(c), id)
	return svc, tally, err
}

// serviceJSON is a service as JSON: its name and description in every
// language, and title and summary in the reader's.
type serviceJSON struct {
	*store.Service
	Title   string `json:"title"`
	Summary string `json:"summary"`
}

func serviceJSONOf(s *store.Service, lang string) serviceJSON {
	if s.Extras == nil || s.Checklist == nil { // a service of before #20 or #22: none is a list
		cp := *s
		if cp.Extras == nil {
			cp.Extras = []store.Extra{}
		}
		if cp.Checklist == nil {
			cp.Checklist = []store.ChecklistItem{}
		}
		s = &cp
	}
	t := s.Text(lang)
	return serviceJSON{Service: s, Title: t.Name, Summary: t.Description}
}

func servicesJSON(items []store.Service, lang string) []serviceJSON {
	out := make([]serviceJSON, len(items))
	for i := range items {
		out[i] = serviceJSONOf(&items[i], lang)
	}
	return out
}

func (in *ServiceInput) normalize() {
	if in.form != nil {
		in.form.apply(in)
	}
	// The form's fields (name_uz, …) make the same texts as JSON's objects.
	if in.FormNameUz != nil || in.FormNameRu != nil || in.FormNameEn != nil {
		in.Name = &store.Texts{Uz: deref(in.FormNameUz), Ru: deref(in.FormNameRu), En: deref(in.FormNameEn)}
	}
	if in.FormDescUz != nil || in.FormDescRu != nil || in.FormDescEn != nil {
		in.Description = &store.Texts{Uz: deref(in.FormDescUz), Ru: deref(in.FormDescRu), En: deref(in.FormDescEn)}
	}
	for _, t := range []*store.Texts{in.Name, in.Description} {
		if t != nil {
			t.Uz, t.Ru, t.En = strings.TrimSpace(t.Uz), strings.TrimSpace(t.Ru), strings.TrimSpace(t.En)
		}
	}
	trimChecklist(in.Checklist)
}

// values are the form's values, by the form's field names.
func (in ServiceInput) values() map[string]string {
	v := map[string]string{}
	for field, t := range map[string]*store.Texts{"name": in.Name, "description": in.Description} {
		if t != nil {
			v[field+"_uz"], v[field+"_ru"], v[field+"_en"] = t.Uz, t.Ru, t.En
		}
	}
	if in.Price != nil {
		v["price"] = strconv.FormatInt(*in.Price, 10)
	}
	if in.DurationMinutes != nil {
		v["durationMinutes"] = strconv.Itoa(*in.DurationMinutes)
	}
	if in.form != nil {
		for name, typed := range in.form.pricing {
			v["pricing_"+name] = typed
		}
	}
	return v
}

// rows are the form's extras as sent, or the service's.
func (in ServiceInput) rows() []views.ExtraRow {
	if in.form != nil && in.form.pricing != nil {
		saved := map[string]bool{}
		if in.existing != nil {
			for _, e := range in.existing.Extras {
				saved[e.ID] = true
			}
		}
		for i := range in.form.rows {
			in.form.rows[i].Saved = saved[in.form.rows[i].ID]
		}
		return in.form.rows
	}
	return extraRowsOf(in.existing)
}

// bindService binds a service's body: for a form, its pricing and extras
// are read first (see readServiceForm).
func (h *Handler) bindService(c *fiber.Ctx, in *ServiceInput) error {
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationForm) || strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		in.form = readServiceForm(c)
	}
	return h.bind(c, in)
}

// formFields renames errors of name.uz (JSON's) to name_uz (the form's).
func formFields(f views.FormState) views.FormState {
	errs := make(map[string]string, len(f.Errors))
	for k, v := range f.Errors {
		errs[strings.ReplaceAll(k, ".", "_")] = v
	}
	f.Errors = errs
	return f
}

// NewServicePage is the admin's form for a new service.
func (h *Handler) NewServicePage(c *fiber.Ctx) error {
	return h.render(c, fiber.StatusOK, nil, page{
		title: h.meta(c).T("serviceAdmin.new"),
		body:  views.ServiceFormPage(nil, views.FormState{Values: serviceFormValues(nil)}, nil, nil),
	})
}

// EditServicePage is the admin's form for an existing service.
func (h *Handler) EditServicePage(c *fiber.Ctx) error {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return err
	}
	svc, err := h.services.Get(ctx(c), id, true)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, svc, page{
		title: h.meta(c).T("serviceAdmin.edit"),
		body:  views.ServiceFormPage(svc, views.FormState{Values: serviceFormValues(svc)}, extraRowsOf(svc), checklistRowsOf(svc)),
	})
}

// CreateService adds a service to the catalogue.
func (h *Handler) CreateService(c *fiber.Ctx) error {
	var in ServiceInput
	form := func(f views.FormState) page {
		return page{title: h.meta(c).T("serviceAdmin.new"), body: views.ServiceFormPage(nil, formFields(f), in.rows(), in.form.checklistRows(nil))}
	}
	if err := h.bindService(c, &in); err != nil {
		return h.formError(c, err, in.values(), form)
	}
	svc := &store.Service{Name: *in.Name}
	if in.Pricing != nil {
		svc.Pricing = *in.Pricing // the price and duration follow it (store)
	} else {
		svc.Price, svc.DurationMinutes = *in.Price, *in.DurationMinutes
	}
	if in.Extras != nil {
		extras, err := mergeExtras(nil, *in.Extras)
		if err != nil {
			return err
		}
		svc.Extras = extras
	}
	if in.Description != nil {
		svc.Description = *in.Description
	}
	if in.Checklist != nil {
		items, err := newChecklist(nil, *in.Checklist)
		if err != nil {
			return err
		}
		svc.Checklist = items
	}
	if err := h.services.Create(ctx(c), svc); err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.Status(fiber.StatusCreated).JSON(svc)
	}
	h.setFlash(c, "success", "flash.serviceSaved")
	return c.Redirect(serviceURL(svc), fiber.StatusSeeOther)
}

// UpdateService changes a service.
func (h *Handler) UpdateService(c *fiber.Ctx) error {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return err
	}
	existing, err := h.services.Get(ctx(c), id, true)
	if err != nil {
		return err
	}
	in := ServiceInput{partial: true, existing: existing}
	form := func(f views.FormState) page {
		f = formFields(f)
		checklist := in.form.checklistRows(existing)
		return page{title: h.meta(c).T("serviceAdmin.edit"), body: views.ServiceFormPage(existing, f, in.rows(), checklist), fragment: views.ServiceForm(existing, f, in.rows(), checklist)}
	}
	if err := h.bindService(c, &in); err != nil {
		return h.formError(c, err, in.values(), form)
	}
	change := store.ServiceChange{Name: in.Name, Description: in.Description, Price: in.Price, DurationMinutes: in.DurationMinutes, Pricing: in.Pricing}
	if in.Extras != nil {
		extras, err := mergeExtras(existing.Extras, *in.Extras)
		if err != nil {
			return err
		}
		change.Extras = &extras
	}
	if in.Checklist != nil {
		items, err := newChecklist(existing.Checklist, *in.Checklist)
		if err != nil {
			return err
		}
		change.Checklist = &items
	}
	svc, err := h.services.Update(ctx(c), id, change)
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.JSON(svc)
	}
	return h.done(c, serviceURL(svc), "flash.serviceSaved")
}

// DeleteService removes a service, or archives it when orders refer to it.
func (h *Handler) DeleteService(c *fiber.Ctx) error {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return err
	}
	archived, err := h.services.Delete(ctx(c), id)
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.JSON(fiber.Map{"deleted": !archived, "archived": archived})
	}
	msg := "flash.serviceDeleted"
	if archived {
		msg = "flash.serviceArchived"
	}
	return h.done(c, "/services", msg)
}

func serviceURL(s *store.Service) string { return "/services/" + s.ID.Hex() }

// ServiceInput is the body of POST /services and PATCH /services/:id: JSON
// {"name":{"uz","ru","en"},"description":{…},"price","durationMinutes",
// "pricing","extras","checklist"}, or the admin's form (name_uz, name_ru, …). Pointers tell "absent" from
// "zero" for PATCH; a name or description sent is replaced whole.
type ServiceInput struct {
	Name            *store.Texts `json:"name" form:"-"`
	Description     *store.Texts `json:"description" form:"-"`
	Price           *int64       `json:"price" form:"price"`
	DurationMinutes *int         `json:"durationMinutes" form:"durationMinutes"`
	FormNameUz      *string      `json:"-" form:"name_uz"`
	FormNameRu      *string      `json:"-" form:"name_ru"`
	FormNameEn      *string      `json:"-" form:"name_en"`
	FormDescUz      *string      `json:"-" form:"description_uz"`
	FormDescRu      *string      `json:"-" form:"description_ru"`
	FormDescEn      *string      `json:"-" form:"description_en"`
	// Pricing and Extras (#20): how a visit is priced (DESIGN.md,
	// Pricing); the form's fields are read by readServiceForm.
	Pricing *store.Pricing `json:"pricing" form:"-"`
	Extras  *[]extraInput  `json:"extras" form:"-"`
	// Checklist (#22) is the visit checklist, replaced whole when sent
	// (see validateChecklist); the form's rows are read by readServiceForm.
	Checklist *[]checklistInput `json:"checklist" form:"-"`
	form      *serviceForm
	existing  *store.Service // the service changed; nil for a new one
	partial   bool
}

// Validate checks the catalogue rules: a name in Uzbek (name.uz, required)
// of 2–100 characters, the same for Russian and English when given (else
// they fall back to Uzbek); descriptions at most 2000; for a flat service
// price 0–100,000,000 so'm and duration 15–1440 minutes; for a priced one
// the pricing and extras of validatePricing, and no price or duration but
// the pricing's own; and the checklist of validateChecklist.
func (in ServiceInput) Validate() error {
	// A priced service's price and duration follow its pricing (see
	// store.FromFigures): sent, they must be its figures.
	priced := in.Pricing != nil || (in.existing != nil && in.existing.Pricing != (store.Pricing{}))
	required := validation.When(!in.partial && !priced, validation.NotNil)
	errs := validation.Errors{}
	if in.form != nil {
		for k, v := range in.form.problems {
			errs[k] = v
		}
	}
	validatePricing(errs, in.Pricing, in.Extras)
	validateChecklist(errs, in.Checklist, in.existing)
	if priced && errs.Filter() == nil && (in.Price != nil || in.DurationMinutes != nil) {
		price, minutes := int64(0), 0
		if in.Pricing != nil {
			price, minutes, _ = store.FromFigures(*in.Pricing)
		} else {
			price, minutes = in.existing.Price, in.existing.DurationMinutes
		}
		if in.Price != nil && *in.Price != price {
			errs["price"] = errPriceFollows
		}
		if in.DurationMinutes != nil && *in.DurationMinutes != minutes {
			errs["durationMinutes"] = errPriceFollows
		}
	}
	if err := validation.ValidateStruct(&in,
		validation.Field(&in.Price, required, validation.Skip.When(priced), validation.Min(int64(0)), validation.Max(int64(100_000_000))),
		validation.Field(&in.DurationMinutes, required, validation.Skip.When(priced), validation.Min(15), validation.Max(1440)),
	); err != nil {
		var fe validation.Errors
		if !errors.As(err, &fe) {
			return err
		}
		for k, v := range fe {
			if errs[k] == nil {
				errs[k] = v
			}
		}
	}
	name := in.Name
	if name == nil && !in.partial {
		name = &store.Texts{}
	}
	if name != nil {
		errs["name.uz"] = validation.Validate(name.Uz, validation.Required, validation.RuneLength(2, 100))
		errs["name.ru"] = validation.Validate(name.Ru, validation.RuneLength(2, 100))
		errs["name.en"] = validation.Validate(name.En, validation.RuneLength(2, 100))
	}
	if d := in.Description; d != nil {
		for lang, text := range map[string]string{"uz": d.Uz, "ru": d.Ru, "en": d.En} {
			errs["description."+lang] = validation.Validate(text, validation.RuneLength(0, 2000))
		}
	}
	return errs.Filter()
}

// pagination is the ?before=&limit= of every list.
type pagination struct {
	before primitive.ObjectID
	limit  int
}

func pageQuery(c *fiber.Ctx) (pagination, error) {
	p := pagination{limit: 20}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return p, fiber.NewError(fiber.StatusBadRequest, "limit must be a whole number from 1 to 100")
		}
		p.limit = n
	}
	if s := c.Query("before"); s != "" {
		id, err := store.ParseID(s)
		if err != nil {
			return p, err
		}
		p.before = id
	}
	return p, nil
}

func cursorOf(id primitive.ObjectID) string {
	if id.IsZero() {
		return ""
	}
	return id.Hex()
}
