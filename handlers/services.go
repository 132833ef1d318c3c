package handlers

import (
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
	return h.render(c, fiber.StatusOK, list[store.Service]{Items: items, Next: cursor}, page{
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
	return h.render(c, fiber.StatusOK, svc, page{
		title:  svc.Text(h.meta(c).Lang).Name,
		body:   views.ServicePage(svc),
		public: currentUser(c) == nil,
	})
}

func (in *ServiceInput) normalize() {
	for _, p := range []*string{in.Name, in.Description} {
		if p != nil {
			*p = strings.TrimSpace(*p)
		}
	}
}

func (in ServiceInput) values() map[string]string {
	v := map[string]string{"name": deref(in.Name), "description": deref(in.Description)}
	if in.Price != nil {
		v["price"] = strconv.FormatInt(*in.Price, 10)
	}
	if in.DurationMinutes != nil {
		v["durationMinutes"] = strconv.Itoa(*in.DurationMinutes)
	}
	return v
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
		return page{title: h.meta(c).T("serviceAdmin.new"), body: views.ServiceFormPage(nil, f)}
	}
	if err := h.bind(c, &in); err != nil {
		return h.formError(c, err, in.values(), form)
	}
	svc := &store.Service{Name: *in.Name, Description: deref(in.Description), Price: *in.Price, DurationMinutes: *in.DurationMinutes}
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

// ServiceInput is the body of POST /services and PATCH /services/:id.
// Pointers tell "absent" from "zero" for PATCH.
type ServiceInput struct {
	Name            *string `json:"name" form:"name"`
	Description     *string `json:"description" form:"description"`
	Price           *int64  `json:"price" form:"price"`
	DurationMinutes *int    `json:"durationMinutes" form:"durationMinutes"`
	partial         bool
}

// Validate checks the catalogue rules: name 2–100 characters, description at
// most 2000, price 0–100,000,000 so'm, duration 15–1440 minutes.
func (in ServiceInput) Validate() error {
	required := validation.When(!in.partial, validation.NotNil)
	return validation.ValidateStruct(&in,
		validation.Field(&in.Name, required, validation.NilOrNotEmpty, validation.RuneLength(2, 100)),
		validation.Field(&in.Description, validation.RuneLength(0, 2000)),
		validation.Field(&in.Price, required, validation.Min(int64(0)), validation.Max(int64(100_000_000))),
		validation.Field(&in.DurationMinutes, required, validation.Min(15), validation.Max(1440)),
	)
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
