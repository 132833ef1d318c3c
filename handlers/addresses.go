package handlers

import (
	"errors"
	"strings"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"

	"tozalash/store"
	"tozalash/views"
)

// errTooManyAddresses: an address beyond store.MaxAddresses.
var errTooManyAddresses = &codedError{status: fiber.StatusUnprocessableEntity, code: "too_many_addresses"}

// addressInput is the body of POST /me/addresses and PATCH
// /me/addresses/:id (where a field left out stays as it is).
type addressInput struct {
	Label     *string `json:"label" form:"label"`
	Address   *string `json:"address" form:"address"`
	Entrance  *string `json:"entrance" form:"entrance"`
	Floor     *string `json:"floor" form:"floor"`
	Apartment *string `json:"apartment" form:"apartment"`
	Landmark  *string `json:"landmark" form:"landmark"`
	creating  bool
}

func (in *addressInput) normalize() {
	for _, p := range []*string{in.Label, in.Address, in.Entrance, in.Floor, in.Apartment, in.Landmark} {
		if p != nil {
			*p = strings.Join(strings.Fields(*p), " ")
		}
	}
}

func (in addressInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Label, validation.RuneLength(0, 40)),
		validation.Field(&in.Address, validation.When(in.creating, validation.Required), validation.NilOrNotEmpty, validation.RuneLength(5, 300)),
		validation.Field(&in.Entrance, validation.RuneLength(0, 10)),
		validation.Field(&in.Floor, validation.RuneLength(0, 10)),
		validation.Field(&in.Apartment, validation.RuneLength(0, 10)),
		validation.Field(&in.Landmark, validation.RuneLength(0, 200)),
	)
}

// apply puts the fields sent onto a.
func (in addressInput) apply(a store.Address) store.Address {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&a.Label, in.Label)
	set(&a.Address, in.Address)
	set(&a.Entrance, in.Entrance)
	set(&a.Floor, in.Floor)
	set(&a.Apartment, in.Apartment)
	set(&a.Landmark, in.Landmark)
	return a
}

func (in addressInput) values() map[string]string {
	return map[string]string{"label": deref(in.Label), "address": deref(in.Address), "entrance": deref(in.Entrance),
		"floor": deref(in.Floor), "apartment": deref(in.Apartment), "landmark": deref(in.Landmark)}
}

// addressesAnswer answers with the user's addresses: JSON {items}, or the
// profile's address card (htmx swaps it whole), with f for its form.
func (h *Handler) addressesAnswer(c *fiber.Ctx, status int, data any, f views.FormState) error {
	u := currentUser(c)
	items, err := h.addresses.List(ctx(c), u.ID)
	if err != nil {
		return err
	}
	if data == nil {
		data = list[store.Address]{Items: items}
	}
	if !wantsJSON(c) && !isFragment(c) {
		// A plain form post (no script): back to the profile.
		return c.Redirect("/me#addresses", fiber.StatusSeeOther)
	}
	return h.render(c, status, data, page{title: h.meta(c).T("profile.title"), body: views.AddressCard(items, f)})
}

// ListAddresses: GET /me/addresses, the user's saved addresses.
func (h *Handler) ListAddresses(c *fiber.Ctx) error {
	return h.addressesAnswer(c, fiber.StatusOK, nil, views.FormState{})
}

// AddAddress: POST /me/addresses. At most store.MaxAddresses (422
// too_many_addresses beyond).
func (h *Handler) AddAddress(c *fiber.Ctx) error {
	u := currentUser(c)
	in := addressInput{creating: true}
	fail := func(err error) error {
		if wantsJSON(c) || !isFragment(c) {
			return err
		}
		status, code := classify(err)
		f := views.FormState{Values: in.values(), Error: h.meta(c).T("error." + code + ".message")}
		var ve *ValidationError
		if errors.As(err, &ve) {
			f.Errors = ve.Fields
		}
		return h.addressesAnswer(c, status, nil, f)
	}
	if err := h.bind(c, &in); err != nil {
		return fail(err)
	}
	a, err := h.addresses.Add(ctx(c), u.ID, in.apply(store.Address{}))
	if errors.Is(err, store.ErrTooMany) {
		return fail(errTooManyAddresses)
	}
	if err != nil {
		return err
	}
	return h.addressesAnswer(c, fiber.StatusCreated, a, views.FormState{Notice: h.meta(c).T("addresses.saved")})
}

// UpdateAddress: PATCH /me/addresses/:id; another user's address is 404.
func (h *Handler) UpdateAddress(c *fiber.Ctx) error {
	u := currentUser(c)
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return store.ErrNotFound
	}
	var in addressInput
	if err := h.bind(c, &in); err != nil {
		return err
	}
	items, err := h.addresses.List(ctx(c), u.ID)
	if err != nil {
		return err
	}
	for _, a := range items {
		if a.ID == id {
			updated, err := h.addresses.Update(ctx(c), u.ID, id, in.apply(a))
			if err != nil {
				return err
			}
			return h.addressesAnswer(c, fiber.StatusOK, updated, views.FormState{Notice: h.meta(c).T("addresses.saved")})
		}
	}
	return store.ErrNotFound
}

// DeleteAddress: DELETE /me/addresses/:id; another user's address is 404.
func (h *Handler) DeleteAddress(c *fiber.Ctx) error {
	u := currentUser(c)
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return store.ErrNotFound
	}
	if err := h.addresses.Delete(ctx(c), u.ID, id); err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return h.addressesAnswer(c, fiber.StatusOK, nil, views.FormState{})
}

// offerAddresses puts the user's saved addresses where the booking form
// finds them, and fills an empty form with the first address and the
// profile's phone.
func (h *Handler) offerAddresses(c *fiber.Ctx, f *views.FormState) error {
	u := currentUser(c)
	if u == nil || wantsJSON(c) {
		return nil
	}
	items, err := h.addresses.List(ctx(c), u.ID)
	if err != nil {
		return err
	}
	c.SetUserContext(views.WithSavedAddresses(ctx(c), items))
	if f != nil {
		if f.Values == nil {
			f.Values = map[string]string{}
		}
		if f.Values["address"] == "" && len(items) > 0 {
			f.Values["address"] = views.AddressLine(h.meta(c), items[0])
		}
		if f.Values["phone"] == "" && u.Phone != "" {
			f.Values["phone"] = views.PhoneText(u.Phone)
		}
	}
	return nil
}
