package handlers

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"time"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// Promo codes (#20): the admin lists, creates, changes and disables them
// on /admin/promo-codes. A code is matched whatever its case, so it is
// kept in upper case (store.NormalizeCode) and a code taken in another
// case is taken: 409 naming the field, as a taken username is.

var (
	errPromoCodeFormat  = validation.NewError("validation_promo_code", "3–32 letters, digits or dashes")
	errPromoOneDiscount = validation.NewError("validation_promo_one_discount", "a percent or an amount, exactly one")
	errPromoValidTo     = validation.NewError("validation_promo_valid_to", "validTo must be after validFrom")
	errPromoDate        = validation.NewError("validation_date", "not a date (YYYY-MM-DD)")
	errUnknownService   = validation.NewError("unknown_service", "no such service")
	promoCodePattern    = regexp.MustCompile(`^[A-Z0-9-]{3,32}$`)
)

const (
	maxPromoUses            = 1_000_000
	maxPromoUsesPerCustomer = 1000
)

// optionalTime is a JSON time that tells "absent" (keep it) from null
// (clear it).
type optionalTime struct {
	set bool
	at  *time.Time
}

func (o *optionalTime) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.at = nil
		return nil
	}
	var t time.Time
	if err := json.Unmarshal(b, &t); err != nil {
		return err
	}
	o.at = &t
	return nil
}

// utcMillis is a time as the database keeps it: UTC, to the millisecond.
func utcMillis(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Millisecond)
	return &u
}

// promoCodeInput is the body of POST /admin/promo-codes and PATCH
// /admin/promo-codes/:id: JSON as DESIGN.md names the fields (times RFC
// 3339), or the page's form (dates in Tashkent; validTo is the last day
// the code works). PATCH changes the fields sent; setting one of
// percentOff and amountOff clears the other.
type promoCodeInput struct {
	Code               *string      `json:"code" form:"code"`
	PercentOff         *int         `json:"percentOff" form:"-"`
	AmountOff          *int64       `json:"amountOff" form:"-"`
	ValidFrom          optionalTime `json:"validFrom" form:"-"`
	ValidTo            optionalTime `json:"validTo" form:"-"`
	MaxUses            *int         `json:"maxUses" form:"-"`
	MaxUsesPerCustomer *int         `json:"maxUsesPerCustomer" form:"-"`
	ServiceIDs         *[]string    `json:"serviceIds" form:"-"`
	FirstOrderOnly     *bool        `json:"firstOrderOnly" form:"-"`
	Active             *bool        `json:"active" form:"-"`

	// The form's fields, as typed.
	FormPercentOff         *string  `json:"-" form:"percentOff"`
	FormAmountOff          *string  `json:"-" form:"amountOff"`
	FormValidFrom          *string  `json:"-" form:"validFrom"`
	FormValidTo            *string  `json:"-" form:"validTo"`
	FormMaxUses            *string  `json:"-" form:"maxUses"`
	FormMaxUsesPerCustomer *string  `json:"-" form:"maxUsesPerCustomer"`
	FormServiceIDs         []string `json:"-" form:"serviceIds"`
	FormFirstOrderOnly     *string  `json:"-" form:"firstOrderOnly"`
	FormActive             *string  `json:"-" form:"active"`

	existing     *store.PromoCode // the code changed; nil for a new one
	fromForm     bool
	services     map[primitive.ObjectID]bool // every service, archived too
	formProblems validation.Errors
	result       store.PromoCode // the code as it will be saved, made by normalize
	badServiceID bool
}

func (in *promoCodeInput) normalize() {
	in.formProblems = validation.Errors{}
	if in.fromForm {
		in.readForm()
	}
	p := store.PromoCode{Active: true}
	if in.existing != nil {
		p = *in.existing
	}
	if in.Code != nil {
		p.Code = store.NormalizeCode(*in.Code)
	}
	switch {
	case in.PercentOff != nil && in.AmountOff != nil:
		p.PercentOff, p.AmountOff = *in.PercentOff, *in.AmountOff
	case in.PercentOff != nil:
		p.PercentOff, p.AmountOff = *in.PercentOff, 0
	case in.AmountOff != nil:
		p.PercentOff, p.AmountOff = 0, *in.AmountOff
	}
	if in.ValidFrom.set {
		p.ValidFrom = utcMillis(in.ValidFrom.at)
	}
	if in.ValidTo.set {
		p.ValidTo = utcMillis(in.ValidTo.at)
	}
	if in.MaxUses != nil {
		p.MaxUses = *in.MaxUses
	}
	if in.MaxUsesPerCustomer != nil {
		p.MaxUsesPerCustomer = *in.MaxUsesPerCustomer
	}
	if in.ServiceIDs != nil {
		p.ServiceIDs = []primitive.ObjectID{}
		for _, s := range *in.ServiceIDs {
			id, err := primitive.ObjectIDFromHex(strings.TrimSpace(s))
			if err != nil {
				in.badServiceID = true
				continue
			}
			p.ServiceIDs = append(p.ServiceIDs, id)
		}
	}
	if in.FirstOrderOnly != nil {
		p.FirstOrderOnly = *in.FirstOrderOnly
	}
	if in.Active != nil {
		p.Active = *in.Active
	}
	in.result = p
}

// readForm turns the form's typed fields into the JSON ones. A new code's
// form sends every field (an unticked box sends nothing: false); a row's
// button sends only what it changes.
func (in *promoCodeInput) readForm() {
	number := func(field string, typed *string) *int64 {
		if typed == nil {
			return nil
		}
		n, ok := wholeNumber(*typed)
		if !ok || n < -1 || n > store.MaxPrice+1 {
			in.formProblems[field] = errWholeNumber
			return nil
		}
		return &n
	}
	if n := number("percentOff", in.FormPercentOff); n != nil {
		v := int(*n)
		in.PercentOff = &v
	}
	if n := number("amountOff", in.FormAmountOff); n != nil {
		in.AmountOff = n
	}
	if n := number("maxUses", in.FormMaxUses); n != nil {
		v := int(*n)
		in.MaxUses = &v
	}
	if n := number("maxUsesPerCustomer", in.FormMaxUsesPerCustomer); n != nil {
		v := int(*n)
		in.MaxUsesPerCustomer = &v
	}
	date := func(field string, typed *string, dayAfter bool) optionalTime {
		if typed == nil {
			return optionalTime{}
		}
		s := strings.TrimSpace(*typed)
		if s == "" {
			return optionalTime{set: true}
		}
		d, err := time.ParseInLocation("2006-01-02", s, views.Tashkent)
		if err != nil {
			in.formProblems[field] = errPromoDate
			return optionalTime{}
		}
		if dayAfter { // the code works through the day shown
			d = d.AddDate(0, 0, 1)
		}
		d = d.UTC()
		return optionalTime{set: true, at: &d}
	}
	in.ValidFrom = date("validFrom", in.FormValidFrom, false)
	in.ValidTo = date("validTo", in.FormValidTo, true)
	if in.existing == nil { // the whole form
		ids := append([]string{}, in.FormServiceIDs...)
		in.ServiceIDs = &ids
		first, active := deref(in.FormFirstOrderOnly) == "true", deref(in.FormActive) == "true"
		in.FirstOrderOnly, in.Active = &first, &active
		return
	}
	if in.FormActive != nil {
		active := *in.FormActive == "true"
		in.Active = &active
	}
}

// Validate checks the code as it will be: 3–32 letters, digits or dashes;
// a percent (1–100) or an amount (1–MaxPrice so'm), exactly one; validTo
// after validFrom; limits of 0 (none) or more; known services.
func (in promoCodeInput) Validate() error {
	p := in.result
	errs := validation.Errors{}
	for k, v := range in.formProblems {
		errs[k] = v
	}
	set := func(field string, err error) {
		if errs[field] == nil {
			errs[field] = err
		}
	}
	if p.Code == "" {
		set("code", validation.ErrRequired)
	} else if !promoCodePattern.MatchString(p.Code) {
		set("code", errPromoCodeFormat)
	}
	if p.PercentOff != 0 { // 0 is "not a percent": the amount's code
		set("percentOff", validation.Validate(p.PercentOff, validation.Min(1), validation.Max(100)))
	}
	if p.AmountOff != 0 {
		set("amountOff", validation.Validate(p.AmountOff, validation.Min(int64(1)), validation.Max(int64(store.MaxPrice))))
	}
	if (p.PercentOff > 0) == (p.AmountOff > 0) {
		set("percentOff", errPromoOneDiscount)
	}
	if p.ValidFrom != nil && p.ValidTo != nil && !p.ValidTo.After(*p.ValidFrom) {
		set("validTo", errPromoValidTo)
	}
	set("maxUses", validation.Validate(p.MaxUses, validation.Min(0), validation.Max(maxPromoUses)))
	set("maxUsesPerCustomer", validation.Validate(p.MaxUsesPerCustomer, validation.Min(0), validation.Max(maxPromoUsesPerCustomer)))
	if in.badServiceID {
		set("serviceIds", errObjectID)
	}
	for _, id := range p.ServiceIDs {
		if !in.services[id] {
			set("serviceIds", errUnknownService)
		}
	}
	return errs.Filter()
}

// values are the form's values, as typed.
func (in promoCodeInput) values() map[string]string {
	v := map[string]string{
		"code": deref(in.Code), "percentOff": deref(in.FormPercentOff), "amountOff": deref(in.FormAmountOff),
		"validFrom": deref(in.FormValidFrom), "validTo": deref(in.FormValidTo),
		"maxUses": deref(in.FormMaxUses), "maxUsesPerCustomer": deref(in.FormMaxUsesPerCustomer),
		"firstOrderOnly": deref(in.FormFirstOrderOnly), "active": deref(in.FormActive),
	}
	for _, id := range in.FormServiceIDs {
		v["service_"+id] = "true"
	}
	return v
}

func (h *Handler) promoCodes() *store.PromoCodeStore { return store.NewPromoCodeStore(h.db) }

// bindPromoCode binds a promo code's body, knowing the services it may
// name.
func (h *Handler) bindPromoCode(c *fiber.Ctx, in *promoCodeInput) error {
	all, err := h.services.All(ctx(c))
	if err != nil {
		return err
	}
	in.services = make(map[primitive.ObjectID]bool, len(all))
	for _, s := range all {
		in.services[s.ID] = true
	}
	in.fromForm = !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON)
	return h.bind(c, in)
}

// promoCodesPage is the page of the codes with the new code's form.
func (h *Handler) promoCodesPage(c *fiber.Ctx, f views.FormState) (page, []*store.PromoCode, error) {
	codes, err := h.promoCodes().List(ctx(c))
	if err != nil {
		return page{}, nil, err
	}
	services, err := h.services.All(ctx(c))
	if err != nil {
		return page{}, nil, err
	}
	if f.Values == nil {
		f.Values = map[string]string{"active": "true"}
	}
	return page{title: h.meta(c).T("promoAdmin.title"), body: views.PromoCodesPage(codes, services, f)}, codes, nil
}

// ListPromoCodes is GET /admin/promo-codes (ADMIN): every code with its
// uses, newest first; JSON {"items":[…],"next":""}.
func (h *Handler) ListPromoCodes(c *fiber.Ctx) error {
	p, codes, err := h.promoCodesPage(c, views.FormState{})
	if err != nil {
		return err
	}
	if codes == nil {
		codes = []*store.PromoCode{}
	}
	return h.render(c, fiber.StatusOK, list[*store.PromoCode]{Items: codes}, p)
}

// CreatePromoCode is POST /admin/promo-codes (ADMIN): 201 with the code
// for JSON, else back to the list with a flash.
func (h *Handler) CreatePromoCode(c *fiber.Ctx) error {
	var in promoCodeInput
	form := func(f views.FormState) page {
		p, _, err := h.promoCodesPage(c, f)
		if err != nil {
			return page{title: h.meta(c).T("promoAdmin.title"), body: views.PromoCodesPage(nil, nil, f)}
		}
		return p
	}
	if err := h.bindPromoCode(c, &in); err != nil {
		return h.formError(c, err, in.values(), form)
	}
	p := in.result
	if err := h.promoCodes().Create(ctx(c), &p); err != nil {
		return h.formError(c, h.promoTaken(c, err), in.values(), form)
	}
	if wantsJSON(c) {
		return c.Status(fiber.StatusCreated).JSON(&p)
	}
	h.setFlash(c, "success", "flash.promoCodeSaved")
	return c.Redirect("/admin/promo-codes", fiber.StatusSeeOther)
}

// UpdatePromoCode is PATCH /admin/promo-codes/:id (ADMIN): the fields
// sent change (a row's button sends active); the code as saved, or its
// row for htmx.
func (h *Handler) UpdatePromoCode(c *fiber.Ctx) error {
	id, err := store.ParseID(c.Params("id"))
	if err != nil {
		return err
	}
	existing, err := h.promoCodes().Get(ctx(c), id)
	if err != nil {
		return err
	}
	in := promoCodeInput{existing: existing}
	if err := h.bindPromoCode(c, &in); err != nil {
		return err
	}
	p := in.result
	saved, err := h.promoCodes().Update(ctx(c), &p)
	if err != nil {
		return h.promoTaken(c, err)
	}
	if !wantsJSON(c) && !isFragment(c) {
		h.setFlash(c, "success", "flash.promoCodeSaved")
		return c.Redirect("/admin/promo-codes", fiber.StatusSeeOther)
	}
	services, err := h.services.All(ctx(c))
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, saved, page{title: h.meta(c).T("promoAdmin.title"), body: views.PromoCodeRow(saved, services)})
}

// promoTaken is a save's error: a code another has is a conflict naming
// the field.
func (h *Handler) promoTaken(c *fiber.Ctx, err error) error {
	if errors.Is(err, store.ErrConflict) {
		return &conflictError{Fields: map[string]string{"code": h.meta(c).T("err.promo_code_taken")}}
	}
	return err
}
