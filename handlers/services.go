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
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return err
	}
	svc, err := h.services.Get(ctx(c), id, currentUser(c).IsAdmin())
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, serviceJSONOf(svc, h.meta(c).Lang), page{
		title:  svc.Text(h.meta(c).Lang).Name,
		body:   views.ServicePage(svc),
		public: currentUser(c) == nil,
	})
}

// serviceJSON is a service as JSON: its name and description in every
// language, and title and summary in the reader's.
type serviceJSON struct {
	*store.Service
	Title   string `json:"title"`
	Summary string `json:"summary"`
}

func serviceJSONOf(s *store.Service, lang string) serviceJSON {
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
	return v
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
		body:  views.ServiceFormPage(nil, views.FormState{Values: views.ServiceFormValues(nil)}),
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
		body:  views.ServiceFormPage(svc, views.FormState{Values: views.ServiceFormValues(svc)}),
	})
}

// CreateService adds a service to the catalogue.
func (h *Handler) CreateService(c *fiber.Ctx) error {
	var in ServiceInput
	form := func(f views.FormState) page {
		return page{title: h.meta(c).T("serviceAdmin.new"), body: views.ServiceFormPage(nil, formFields(f))}
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, in.values(), form)
	}
	svc := &store.Service{Name: *in.Name, Price: *in.Price, DurationMinutes: *in.DurationMinutes}
	if in.Description != nil {
		svc.Description = *in.Description
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
	in := ServiceInput{partial: true}
	form := func(f views.FormState) page {
		f = formFields(f)
		return page{title: h.meta(c).T("serviceAdmin.edit"), body: views.ServiceFormPage(existing, f), fragment: views.ServiceForm(existing, f)}
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, in.values(), form)
	}
	svc, err := h.services.Update(ctx(c), id, store.ServiceChange{Name: in.Name, Description: in.Description, Price: in.Price, DurationMinutes: in.DurationMinutes})
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
// {"name":{"uz","ru","en"},"description":{…},"price","durationMinutes"}, or
// the admin's form (name_uz, name_ru, …). Pointers tell "absent" from
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
	partial         bool
}

// Validate checks the catalogue rules: a name in Uzbek (name.uz, required)
// of 2–100 characters, the same for Russian and English when given (else
// they fall back to Uzbek); descriptions at most 2000; price 0–100,000,000
// so'm; duration 15–1440 minutes.
func (in ServiceInput) Validate() error {
	required := validation.When(!in.partial, validation.NotNil)
	errs := validation.Errors{}
	if err := validation.ValidateStruct(&in,
		validation.Field(&in.Price, required, validation.Min(int64(0)), validation.Max(int64(100_000_000))),
		validation.Field(&in.DurationMinutes, required, validation.Min(15), validation.Max(1440)),
	); err != nil {
		var fe validation.Errors
		if !errors.As(err, &fe) {
			return err
		}
		for k, v := range fe {
			errs[k] = v
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
