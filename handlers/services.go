package handlers

import (
	"strconv"

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
	items, next, err := h.services.List(ctx(c), store.ServiceFilter{Before: f.before, Limit: f.limit})
	if err != nil {
		return err
	}
	cursor := cursorOf(next)
	return h.render(c, fiber.StatusOK, list[store.Service]{Items: items, Next: cursor}, page{
		title:    h.meta(c).T("title.services"),
		body:     views.ServicesPage(items, cursor),
		fragment: views.ServiceGrid(items, cursor),
	})
}

// GetService is one service: GET /services/:id.
func (h *Handler) GetService(c *fiber.Ctx) error {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return err
	}
	svc, err := h.services.Get(ctx(c), id, false)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, svc, page{
		title: svc.Text(h.meta(c).Lang).Name,
		body:  views.ServicePage(svc),
	})
}

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
