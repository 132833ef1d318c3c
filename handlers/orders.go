package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/go-ozzo/ozzo-validation/v4/is"
	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/views"
)

// customerCutoff: the customer may cancel or move a visit until 2 hours
// before it. When a visit may be booked at all is the schedule's to say
// (placeVisit).
const customerCutoff = 2 * time.Hour

var (
	errTooLate    = &codedError{status: fiber.StatusConflict, code: "too_late"}
	errNotStarted = &codedError{status: fiber.StatusConflict, code: "not_started"}
	// errNotToday: a cleaner sets out on the visit's day, not before.
	errNotToday = &codedError{status: fiber.StatusConflict, code: "not_today"}
	// paymentOnlyWithCompletion: a payment is recorded as the visit is completed.
	paymentOnlyWithCompletion = validation.NewError("payment_with_completion", "a payment is recorded with the visit's completion")
	idempotencyKeyRe          = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,100}$`)
	phoneDigits               = regexp.MustCompile(`\D`)
	errPhone                  = validation.NewError("validation_phone", "not an Uzbek phone number")
	errDateTime               = validation.NewError("validation_datetime", "not a date and time (RFC 3339)")
	errObjectID               = validation.NewError("validation_id", "not an id")
	errIdempotencyKey         = validation.NewError("validation_idempotency_key", "letters, digits and _.:- only")
)

// normalizePhone turns the ways people write an Uzbek number
// (+998 90 123 45 67, 998901234567, (90) 123-45-67) into +998901234567;
// anything else is left for validation to refuse.
func normalizePhone(s string) string {
	d := phoneDigits.ReplaceAllString(s, "")
	switch {
	case len(d) == 12 && strings.HasPrefix(d, "998"):
		return "+" + d
	case len(d) == 9:
		return "+998" + d
	}
	return strings.TrimSpace(s)
}

var uzPhone = regexp.MustCompile(`^\+998\d{9}$`)

func objectIDRule(v any) error {
	if s, _ := v.(string); s != "" {
		if _, err := primitive.ObjectIDFromHex(s); err != nil {
			return errObjectID
		}
	}
	return nil
}

func dateTimeRule(v any) error {
	s, _ := v.(string)
	if p, ok := v.(*string); ok && p != nil {
		s = *p
	}
	if s == "" {
		return nil
	}
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		return errDateTime
	}
	return nil
}

// joinDateTime makes an RFC 3339 time of a form's date and time fields, in
// Tashkent.
func joinDateTime(date, clock string) string {
	if date == "" {
		return ""
	}
	if clock == "" {
		clock = "10:00"
	}
	return date + "T" + clock + ":00+05:00"
}

// orderInput is the body of POST /orders.
type orderInput struct {
	ServiceID      string `json:"serviceId" form:"serviceId"`
	ScheduledAt    string `json:"scheduledAt" form:"scheduledAt"`
	Date           string `json:"-" form:"date"`
	Time           string `json:"-" form:"time"`
	Address        string `json:"address" form:"address"`
	Phone          string `json:"phone" form:"phone"`
	Notes          string `json:"notes" form:"notes"`
	IdempotencyKey string `json:"idempotencyKey" form:"idempotencyKey"`
	// Customer (ADMIN only) is whom an admin books for; a form sends it
	// as customerEmail, customerPhone and customerName.
	Customer      *customerInput `json:"customer" form:"-"`
	CustomerEmail string         `json:"-" form:"customerEmail"`
	CustomerPhone string         `json:"-" form:"customerPhone"`
	CustomerName  string         `json:"-" form:"customerName"`
	// The price of the visit, as POST /quote takes it.
	pricingInput
	// Recalculate (the form's "recalculate" button, without JavaScript)
	// asks for the form again with the price of its values: nothing is
	// booked.
	Recalculate string `json:"-" form:"recalculate"`
	// The day and time picker's own buttons, without JavaScript (with it,
	// GET /availability): "show times" of the day chosen (ShowTimes), the
	// strip's paging (DaysFrom, its first day; From is the strip shown),
	// and a free time offered after a 409 (Pick, "2026-12-07 09:00").
	// Each asks for the form again: nothing is booked.
	ShowTimes string `json:"-" form:"showTimes"`
	From      string `json:"-" form:"from"`
	DaysFrom  string `json:"-" form:"daysFrom"`
	Pick      string `json:"-" form:"pick"`
}

// picking reports whether a form's post asks for the form again rather
// than a booking (see Recalculate, ShowTimes).
func (in *orderInput) picking() bool {
	return in.Recalculate != "" || in.ShowTimes != "" || in.DaysFrom != "" || in.Pick != ""
}

// customerInput is the customer an admin books for: found by email, else
// by phone, else made (with an email).
type customerInput struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
	Email string `json:"email"`
}

func (in *orderInput) normalize() {
	if in.Customer == nil && (in.CustomerEmail != "" || in.CustomerPhone != "" || in.CustomerName != "") {
		in.Customer = &customerInput{Name: in.CustomerName, Phone: in.CustomerPhone, Email: in.CustomerEmail}
	}
	if cu := in.Customer; cu != nil {
		cu.Name, cu.Email = strings.TrimSpace(cu.Name), strings.ToLower(strings.TrimSpace(cu.Email))
		if cu.Phone = strings.TrimSpace(cu.Phone); cu.Phone != "" {
			cu.Phone = normalizePhone(cu.Phone)
		}
		in.CustomerName, in.CustomerEmail, in.CustomerPhone = cu.Name, cu.Email, cu.Phone
	}
	for _, p := range []*string{&in.ServiceID, &in.ScheduledAt, &in.Address, &in.Notes, &in.IdempotencyKey, &in.Date, &in.Time} {
		*p = strings.TrimSpace(*p)
	}
	if d, tm, ok := strings.Cut(strings.TrimSpace(in.Pick), " "); ok {
		in.Date, in.Time, in.From = d, tm, "" // the strip moves to the day picked
	}
	// The picker's form sends a day and a time chosen; a day without one
	// is no time at all (not 10:00, as a date alone is elsewhere).
	if in.ScheduledAt == "" && (in.Time != "" || in.From == "") {
		in.ScheduledAt = joinDateTime(in.Date, in.Time)
	}
	in.Phone = normalizePhone(in.Phone)
	in.pricingInput.normalize()
}

func (in orderInput) Validate() error {
	err := in.validateVisit()
	if in.Customer == nil {
		return err
	}
	// The customer's fields, named as the form names them.
	errs := validation.Errors{
		"customerEmail": validation.Validate(in.CustomerEmail, validation.When(in.CustomerPhone == "", validation.Required), is.EmailFormat, validation.RuneLength(0, 254)),
		"customerPhone": validation.Validate(in.CustomerPhone, validation.Match(uzPhone).ErrorObject(errPhone)),
		"customerName":  validation.Validate(in.CustomerName, validation.RuneLength(0, 100)),
	}
	if visit, ok := err.(validation.Errors); ok {
		for k, v := range visit {
			errs[k] = v
		}
	} else if err != nil {
		return err
	}
	return errs.Filter()
}

func (in orderInput) validateVisit() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.ServiceID, validation.Required, validation.By(objectIDRule)),
		validation.Field(&in.ScheduledAt, validation.Required, validation.By(dateTimeRule)),
		validation.Field(&in.Address, validation.Required, validation.RuneLength(5, 300)),
		validation.Field(&in.Phone, validation.Required, validation.Match(uzPhone).ErrorObject(errPhone)),
		validation.Field(&in.Notes, validation.RuneLength(0, 1000)),
		validation.Field(&in.IdempotencyKey, validation.Match(idempotencyKeyRe).ErrorObject(errIdempotencyKey)),
		validation.Field(&in.PromoCode, promoCodeLength),
		validation.Field(&in.Extras, extraChoicesLength),
	)
}

func (in orderInput) values() map[string]string {
	v := map[string]string{"serviceId": in.ServiceID, "date": in.Date, "time": in.Time, "address": in.Address,
		"phone": in.Phone, "notes": in.Notes, "idempotencyKey": in.IdempotencyKey,
		"customerEmail": in.CustomerEmail, "customerPhone": in.CustomerPhone, "customerName": in.CustomerName,
		"from": in.From, "daysFrom": in.DaysFrom}
	in.pricingInput.values(v)
	return v
}

// requestHash is what an idempotency key was first used for: the visit
// and its pricing input (a booking without one hashes as before #20).
func (in orderInput) requestHash(when time.Time) string {
	data := in.ServiceID + "\x00" + when.UTC().Format(time.RFC3339) + "\x00" + in.Address + "\x00" + in.Phone + "\x00" + in.Notes
	if k := in.pricingInput.key(); k != "" {
		data += "\x00" + k
	}
	sum := sha256.Sum256([]byte(data))
	return hex.EncodeToString(sum[:])
}

// NewOrderPage is the booking form of a service: a fragment for htmx (the
// "Book" button swaps it in), a page otherwise.
func (h *Handler) NewOrderPage(c *fiber.Ctx) error {
	if c.Query("serviceId") == "" && currentUser(c).IsAdmin() {
		f := views.FormState{Values: map[string]string{"idempotencyKey": auth.RandomSecret(16)}}
		return h.adminBookingForm(c, fiber.StatusOK, f)
	}
	id, err := store.ParseID(c.Query("serviceId"))
	if err != nil {
		return err
	}
	svc, err := h.services.Get(ctx(c), id, false)
	if err != nil {
		return err
	}
	f := views.FormState{Values: map[string]string{"idempotencyKey": auth.RandomSecret(16)}}
	if err := h.offerAddresses(c, &f); err != nil { // saved addresses, the profile's phone
		return err
	}
	defaultSizes(svc, f.Values)
	price, err := h.bookingPrice(c, svc, pricingOf(f.Values), currentUser(c).ID)
	if err != nil {
		return err
	}
	slots, err := h.bookingSlots(c, svc, price, f.Values, false, nil)
	if err != nil {
		return err
	}
	soonest(&slots, f.Values)
	return h.render(c, fiber.StatusOK, nil, page{title: h.meta(c).T("booking.title"), body: views.NewOrderPage(svc, f, price, slots), fragment: views.BookingForm(svc, f, price, slots)})
}

// CreateOrder books a cleaning for a verified user, priced as POST /quote
// prices it: the promo code, if any, is claimed for the new order first
// (a code used up meanwhile is a 422 on promoCode, nothing written), and
// given back when the booking then fails or turns out to be a retry. The
// same idempotency key again returns the first order; with another body
// it is refused.
func (h *Handler) CreateOrder(c *fiber.Ctx) error {
	u := currentUser(c)
	if u.IsCleaner() {
		return errForbidden // a cleaner works the visits, and books none (#22)
	}
	var in orderInput
	var svc *store.Service
	var taken *slotTakenError // a 409's free times, offered on the form
	form := func(f views.FormState) page {
		if in.Customer != nil {
			svcs, _ := h.activeServices(c)
			chosen := chosenService(svcs, in.ServiceID)
			price, _ := h.bookingPrice(c, chosen, in.pricingInput, primitive.NilObjectID)
			slots, _ := h.bookingSlots(c, chosen, price, f.Values, true, taken) // without it the form still books
			return page{title: h.meta(c).T("orders.newBooking"), body: views.AdminBookingPage(svcs, f, price, slots), fragment: views.AdminBookingForm(svcs, f, price, slots)}
		}
		_ = h.offerAddresses(c, nil) // the picker again; without it the form still works
		if svc == nil {
			return page{title: h.meta(c).T("booking.title"), body: views.ErrorPage(fiber.StatusUnprocessableEntity, h.meta(c).T("error.validation.title"), firstOf(f.Errors))}
		}
		price, _ := h.bookingPrice(c, svc, in.pricingInput, u.ID)
		slots, _ := h.bookingSlots(c, svc, price, f.Values, false, taken)
		return page{title: h.meta(c).T("booking.title"), body: views.NewOrderPage(svc, f, price, slots), fragment: views.BookingForm(svc, f, price, slots)}
	}
	fail := func(err error) error {
		errors.As(err, &taken)
		return h.formError(c, err, in.values(), form)
	}
	bindErr := h.bindPricing(c, &in, &in.pricingInput)
	if sid, err := primitive.ObjectIDFromHex(in.ServiceID); err == nil {
		svc, err = h.services.Get(ctx(c), sid, true)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if in.Customer != nil && !u.IsAdmin() {
		return errForbidden // only an admin books for someone else
	}
	if in.picking() && !wantsJSON(c) {
		return h.recalculate(c, &in, svc, bindErr, form)
	}
	if bindErr != nil {
		var ve *ValidationError
		if errors.As(bindErr, &ve) && ve.Fields["scheduledAt"] != "" && in.Date != "" && in.Time == "" {
			ve.Fields["scheduledAt"] = h.meta(c).T("booking.slots.pickTime") // the picker's day, no time chosen
		}
		return fail(bindErr)
	}
	loc := h.meta(c).Locale
	when, _ := time.Parse(time.RFC3339, in.ScheduledAt)
	// A retry of a booking already made answers that order, even when the
	// rules would refuse it now (the service archived, the time passed,
	// the promo code used up by that very order).
	sameBooking := func(first *store.Order) bool {
		return first != nil && first.UserID == u.ID && first.IdempotencyKey == in.IdempotencyKey && first.RequestHash == in.requestHash(when)
	}
	retried := func(refusal error) (*store.Order, bool) {
		if in.IdempotencyKey == "" {
			return nil, false
		}
		// A retry's time is taken by its own first order: that is found
		// among the visits at the time, by id, not by a search of the
		// orders by key (a scan on the embedded database), which a 409
		// under load would run for every refused booker.
		var first *store.Order
		if errors.As(refusal, new(*slotTakenError)) {
			first = h.bookedAt(c, u.ID, in.IdempotencyKey, when)
		} else {
			first, _ = h.orders.ByIdempotencyKey(ctx(c), u.ID, in.IdempotencyKey)
		}
		return first, sameBooking(first)
	}
	// answer is a retry's answer: the order its first try made.
	answer := func(first *store.Order) error {
		if err := h.ensurePlan(c, first, svc, in.pricingInput, when); err != nil {
			return err
		}
		if wantsJSON(c) {
			return c.Status(fiber.StatusOK).JSON(h.orderOut(c, first))
		}
		if !first.PlanID.IsZero() {
			return h.done(c, "/my/plans/"+first.PlanID.Hex(), "flash.planCreated")
		}
		return h.done(c, "/orders/"+first.ID.Hex(), "flash.orderCreated")
	}
	refuse := func(err error) error {
		if first, ok := retried(err); ok {
			return answer(first)
		}
		return fail(err)
	}
	refuseField := func(field, msg string) error {
		return refuse(&ValidationError{Fields: map[string]string{field: loc.T(msg)}})
	}
	if svc == nil {
		return refuseField("serviceId", "err.unknown_service")
	}
	if !svc.Active {
		return refuseField("serviceId", "err.archived_service")
	}
	var customer primitive.ObjectID // an admin's customer is found below
	if in.Customer == nil {
		customer = u.ID
	}
	q, promo, err := h.priceVisit(c, svc, in.pricingInput, customer)
	var ve *ValidationError
	if errors.As(err, &ve) {
		return refuse(err)
	} else if err != nil {
		return err
	}
	// The order is named now: its crew's reservation, its promo code's
	// claim and its email's link all point at it.
	orderID := primitive.NewObjectID()
	// A booking of a regular cleaning makes its plan (#23), whose first
	// visit it is, named as the plan names its visits.
	var planID primitive.ObjectID
	if q.Frequency != store.FrequencyOnce {
		planID = primitive.NewObjectID()
		orderID = store.PlanVisitID(planID, &store.PlanTerms{}, store.LocalDate(when)) // its first terms': gen 0, set when the plan is made
	}
	// A customer's booking tags its crew's time with its key, so that a
	// retry sent while this one commits knows whose the time is.
	var tag string
	if in.Customer == nil {
		tag = store.BookingTag(u.ID, in.IdempotencyKey)
	}
	v := visit{order: orderID, service: svc.ID, minutes: q.DurationMinutes, at: when, byAdmin: in.Customer != nil, tag: tag}
	hold, crew, err := h.placeVisit(c, v)
	// Crews held by this booking's own other tries: the order one of them
	// makes is this retry's answer; the crews of tries that give up are
	// free again, and placed anew.
	var tries *store.OwnTriesError
	for placed := 1; errors.As(err, &tries); placed++ {
		first, gaveUp := h.awaitOtherTries(c, tries.Tries)
		if first == nil && !gaveUp {
			// Still held when the wait ended, or the one made claimed its
			// crew after this try looked: rare, so a search by the key.
			first, _ = h.orders.ByIdempotencyKey(ctx(c), u.ID, in.IdempotencyKey)
		}
		if sameBooking(first) {
			return answer(first)
		}
		if !gaveUp || placed == 2 {
			err = h.slotTaken(c, v)
			break
		}
		hold, crew, err = h.placeVisit(c, v)
	}
	if err != nil {
		return refuse(err)
	}
	// unreserve gives the crew's time back: the booking failed, or was
	// made before. Past the request's cancel, as release below.
	unreserve := func() {
		if err := h.schedule.Unreserve(context.WithoutCancel(ctx(c)), hold, nil); err != nil {
			h.log.Warn("orders: a crew's reservation could not be given back", "order", orderID.Hex(), "error", err)
		}
	}
	if in.Customer != nil {
		found, err := h.customerFor(c, in.Customer)
		if err != nil {
			unreserve()
			return fail(err)
		}
		u = found
		// A first-order code is checked against the customer now known
		// (one just made has no orders: nothing was written for a refusal).
		if promo != nil && promo.FirstOrderOnly {
			n, err := h.orders.CustomerOrderCount(ctx(c), u.ID)
			if err != nil {
				unreserve()
				return err
			}
			if msg := promo.Problem(h.now(), svc.ID, n); msg != "" {
				unreserve()
				return refuseField("promoCode", msg)
			}
		}
	}
	if in.IdempotencyKey == "" {
		in.IdempotencyKey = auth.RandomSecret(16)
	}
	o := &store.Order{
		UserID: u.ID, CustomerName: u.Username, ServiceID: svc.ID, ServiceName: svc.Name.Uz, ServiceNames: svc.Name,
		ScheduledAt: when.UTC(), Address: in.Address, Phone: in.Phone, Notes: in.Notes,
		IdempotencyKey: in.IdempotencyKey, RequestHash: in.requestHash(when),
		// The email goes into the outbox with the order, in the same writes.
		ID: orderID, Status: store.StatusPending,
		CrewID: hold.CrewID, CrewName: crew.Name, EndsAt: hold.EndsAt, ReservedUntil: hold.Until,
	}
	if !planID.IsZero() {
		o.PlanID, o.PlanDate = planID, store.LocalDate(when)
	}
	o.SetQuote(q)
	message, err := h.orderEmailMessage(ctx(c), o, u, "created")
	if err != nil {
		unreserve()
		return err
	}
	confirm := message
	if !h.wantsEmail(u, "confirmed") {
		confirm = nil // the customer chose to have it by Telegram alone
	}
	if promo != nil {
		err := h.promos.Claim(ctx(c), promo, u.ID, o.ID)
		if err != nil {
			unreserve()
		}
		switch {
		case errors.Is(err, store.ErrPromoExhausted):
			return refuseField("promoCode", "err.promo.exhausted")
		case errors.Is(err, store.ErrPromoUsedByYou):
			return refuseField("promoCode", "err.promo.used_by_you")
		case err != nil:
			return err
		}
	}
	// release gives the claim back: the booking failed, or was made
	// before. Past the request's cancel: a client gone must not keep a use.
	release := func() {
		if promo == nil {
			return
		}
		if err := h.promos.Release(context.WithoutCancel(ctx(c)), o.ID); err != nil {
			h.log.Warn("orders: a promo code's claim could not be given back", "order", o.ID.Hex(), "code", promo.Code, "error", err)
		}
	}
	status := fiber.StatusCreated
	if err := h.orders.CreateWithEmail(ctx(c), o, confirm); errors.Is(err, store.ErrConflict) {
		release()
		unreserve()
		first, ferr := h.orders.ByIdempotencyKey(ctx(c), u.ID, in.IdempotencyKey)
		if ferr != nil {
			return ferr
		}
		if first.RequestHash != o.RequestHash {
			return fail(&ValidationError{Fields: map[string]string{"idempotencyKey": loc.T("err.idempotency_reused")}})
		}
		o, status = first, fiber.StatusOK
		// The first try may have been cut off before its email was queued:
		// queued once by the order's key, this is a no-op when it was.
		if again, err := h.orderEmailMessage(ctx(c), o, u, "created"); err == nil {
			_ = h.tell(ctx(c), u, "confirmed", "booking|"+o.ID.Hex(), again)
		}
	} else if err != nil {
		// A booking not answered in time may still be made (see
		// CreateWithEmail): its hold stays with it, and a hold left by
		// one that was not is taken back once found in someone's way.
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			unreserve()
		}
		release()
		return err
	} else {
		h.metrics.ordersCreated.Inc()
		h.emailQueued()
		h.telegramBooking(ctx(c), o, u, message)
		h.tellCompany(ctx(c), "booked", "booked|"+o.ID.Hex(), o)
		o = h.autoConfirm(c, o)
	}
	// The plan follows its first visit: made now, or on a retry of a
	// booking whose plan was cut off (a crash between the two).
	if err := h.ensurePlan(c, o, svc, in.pricingInput, when); err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.Status(status).JSON(h.orderOut(c, o))
	}
	if in.Customer != nil {
		return h.done(c, "/orders/"+o.ID.Hex(), "flash.orderCreatedForCustomer")
	}
	if !o.PlanID.IsZero() {
		return h.done(c, "/my/plans/"+o.PlanID.Hex(), "flash.planCreated")
	}
	return h.done(c, "/orders/"+o.ID.Hex(), "flash.orderCreated")
}

// recalculate is the booking form again with the price of its values
// (its "recalculate" button, or the admin's choice of another service):
// nothing is booked, and only the price's problems are shown.
func (h *Handler) recalculate(c *fiber.Ctx, in *orderInput, svc *store.Service, bindErr error, form func(views.FormState) page) error {
	var ve *ValidationError
	if bindErr != nil && !errors.As(bindErr, &ve) {
		return h.formError(c, bindErr, in.values(), form) // not a form at all: its 400
	}
	values := in.values()
	f := views.FormState{Values: values, Errors: map[string]string{}}
	if svc == nil && in.Customer != nil { // the admin's form prices the first service
		svcs, err := h.activeServices(c)
		if err != nil {
			return err
		}
		svc = chosenService(svcs, in.ServiceID)
	}
	if svc == nil {
		f.Errors["serviceId"] = h.meta(c).T("err.unknown_service")
		return h.render(c, fiber.StatusUnprocessableEntity, nil, form(f))
	}
	defaultSizes(svc, values)
	extras := offeredExtras(in.Extras, svc)
	in.pricingInput = pricingOf(values)
	in.Extras = extras
	customer := currentUser(c).ID
	if in.Customer != nil {
		customer = primitive.NilObjectID
	}
	_, _, err := h.priceVisit(c, svc, in.pricingInput, customer)
	if errors.As(err, &ve) {
		f.Errors = ve.Fields
		return h.render(c, fiber.StatusUnprocessableEntity, nil, form(f))
	} else if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, nil, form(f))
}

// offeredExtras keeps the extras chosen that svc offers (those of another
// service, after the admin chose a new one, are dropped).
func offeredExtras(chosen []store.ExtraChoice, svc *store.Service) []store.ExtraChoice {
	var out []store.ExtraChoice
	for _, e := range chosen {
		for _, offered := range svc.ActiveExtras() {
			if offered.ID == e.ID {
				out = append(out, e)
			}
		}
	}
	return out
}

// adminBookingForm is the admin's booking for a customer (GET /orders/new
// without a service).
func (h *Handler) adminBookingForm(c *fiber.Ctx, status int, f views.FormState) error {
	svcs, err := h.activeServices(c)
	if err != nil {
		return err
	}
	svc := chosenService(svcs, f.V("serviceId"))
	if svc != nil {
		defaultSizes(svc, f.Values)
	}
	price, err := h.bookingPrice(c, svc, pricingOf(f.Values), primitive.NilObjectID)
	if err != nil {
		return err
	}
	slots, err := h.bookingSlots(c, svc, price, f.Values, true, nil)
	if err != nil {
		return err
	}
	soonest(&slots, f.Values)
	return h.render(c, status, nil, page{title: h.meta(c).T("orders.newBooking"), body: views.AdminBookingPage(svcs, f, price, slots), fragment: views.AdminBookingForm(svcs, f, price, slots)})
}

// chosenService is the service of the admin's booking form: the one
// chosen, else the first offered; nil when none is.
func chosenService(svcs []store.Service, id string) *store.Service {
	for i := range svcs {
		if svcs[i].ID.Hex() == id {
			return &svcs[i]
		}
	}
	if len(svcs) > 0 {
		return &svcs[0]
	}
	return nil
}

func (h *Handler) activeServices(c *fiber.Ctx) ([]store.Service, error) {
	svcs, _, err := h.services.List(ctx(c), store.ServiceFilter{Limit: 100})
	return svcs, err
}

// customerFor finds the customer an admin books for, by email, else by
// phone; one not found is made, with the email: an account whose password
// they set through the link emailed to them (its use proves the address),
// in Uzbek until they choose. Without an email a customer not found is a
// 422 on the email.
func (h *Handler) customerFor(c *fiber.Ctx, in *customerInput) (*store.User, error) {
	loc := h.meta(c).Locale
	if in.Email != "" {
		if u, err := h.users.GetByEmail(ctx(c), in.Email); err == nil {
			return u, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	} else {
		u, err := h.users.GetByPhone(ctx(c), in.Phone)
		if errors.Is(err, store.ErrNotFound) {
			return nil, &ValidationError{Fields: map[string]string{"customerEmail": loc.T("booking.customerNotFound")}}
		}
		return u, err
	}
	// Nobody knows this password: the customer sets their own by the link.
	hash, err := auth.HashPassword(auth.RandomSecret(32))
	if err != nil {
		return nil, err
	}
	base := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' || r == '.' {
			return r
		}
		return -1
	}, strings.SplitN(in.Email, "@", 2)[0])
	if len(base) > 20 {
		base = base[:20]
	}
	if base == "" {
		base = "mijoz"
	}
	u := &store.User{Name: in.Name, Phone: in.Phone, Email: in.Email, PasswordHash: hash, Role: store.RoleUser, Locale: "uz",
		// The admin took the address from the customer; the link's use
		// proves it, and an unverified account would expire and be deleted.
		IsVerified: true}
	for try := 0; ; try++ {
		u.Username = base
		if try > 0 {
			u.Username = base + "." + primitive.NewObjectID().Hex()[18:] // the id's counter: differs each try
		}
		err = h.users.Create(ctx(c), u)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) || try == 3 {
			return nil, err
		}
		// A taken email (someone signed up meanwhile): book for them.
		if other, gerr := h.users.GetByEmail(ctx(c), in.Email); gerr == nil {
			return other, nil
		}
	}
	link, err := h.issueLink(ctx(c), u, store.PurposeResetPassword, u.Email)
	if err != nil {
		return nil, err
	}
	link = h.cfg.BaseURL + link
	wl := h.catalog.Locale(u.Locale)
	text := wl.Format("email.greeting", map[string]any{"Name": u.Username}) + "\n\n" + wl.T("email.welcome.body") + "\n\n" + link +
		"\n\n" + wl.T("email.welcome.expiry") + "\n\n-- \n" + wl.T("email.footer") + "\n"
	if err := h.queueEmail(ctx(c), u.Email, u.Locale, "email.welcome.subject", views.WelcomeEmail(u.Username, link), text); err != nil {
		return nil, err
	}
	return u, nil
}

func firstOf(m map[string]string) string {
	for _, v := range m {
		return v
	}
	return ""
}

// orderFor returns an order the current user may see: their own, or any
// for an ADMIN. Another user's order is "not found", not "forbidden".
func (h *Handler) orderFor(c *fiber.Ctx) (*store.Order, error) {
	return h.visibleOrder(c, c.Params("id"))
}

// visibleOrder is orderFor of an id from elsewhere (GET /availability's
// orderId); nobody signed in sees none.
func (h *Handler) visibleOrder(c *fiber.Ctx, hexID string) (*store.Order, error) {
	id, err := store.ParseID(hexID)
	if err != nil {
		return nil, err
	}
	u := currentUser(c)
	if u == nil {
		return nil, fmt.Errorf("%w: order", store.ErrNotFound)
	}
	switch {
	case u.IsAdmin():
		return h.orders.Get(ctx(c), id)
	case u.IsCleaner():
		return h.crewVisit(c, u, id)
	}
	// Another customer's order is "not found" for a customer.
	return h.orders.ForCustomerOrder(ctx(c), u.ID, id)
}

// crewVisit is order id for cleaner u: a visit of one of their crews, read
// at each request (one taken off the crew loses it at once); any other
// is "not found".
func (h *Handler) crewVisit(c *fiber.Ctx, u *store.User, id primitive.ObjectID) (*store.Order, error) {
	o, err := h.orders.Get(ctx(c), id)
	if err != nil {
		return nil, err
	}
	if o.CrewID.IsZero() {
		return nil, fmt.Errorf("%w: order", store.ErrNotFound)
	}
	crew, err := h.schedule.Crew(ctx(c), o.CrewID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !crew.HasMember(u.ID) {
		return nil, fmt.Errorf("%w: order", store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// ListOrders is the customer's orders, or the admin's board.
func (h *Handler) ListOrders(c *fiber.Ctx) error {
	if currentUser(c).IsAdmin() {
		return h.board(c)
	}
	p, err := pageQuery(c)
	if err != nil {
		return err
	}
	items, next, err := h.orders.ForCustomer(ctx(c), currentUser(c).ID, p.before, p.limit)
	if err != nil {
		return err
	}
	names, err := h.serviceNames(c)
	if err != nil {
		return err
	}
	cursor := cursorOf(next)
	return h.render(c, fiber.StatusOK, list[store.OrderSummary]{Items: items, Next: cursor}, page{
		title:    h.meta(c).T("orders.mine"),
		body:     views.MyOrdersPage(items, cursor, names),
		fragment: views.MyOrdersRows(items, cursor, names),
	})
}

// currentName is svc's name in lang, "" for no service.
func currentName(svc *store.Service, lang string) string {
	if svc == nil {
		return ""
	}
	return svc.Name.In(lang)
}

// serviceNames maps every service id, archived ones too, to its name in the
// user's language (the catalogue is small). For an order, ServiceTitle.
func (h *Handler) serviceNames(c *fiber.Ctx) (map[string]string, error) {
	svcs, err := h.services.All(ctx(c))
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(svcs))
	for i := range svcs {
		names[svcs[i].ID.Hex()] = svcs[i].Text(h.meta(c).Lang).Name
	}
	return names, nil
}

// board is the admin's order board: GET /orders?status=&serviceId=&userId=
// &customer=&from=&to=&q=&before=&limit=.
func (h *Handler) board(c *fiber.Ctx) error {
	p, err := pageQuery(c)
	if err != nil {
		return err
	}
	bf, f, err := h.boardFilter(c)
	if err != nil {
		return err
	}
	f.Before, f.Limit = p.before, p.limit
	var orders []store.OrderSummary
	var next primitive.ObjectID
	if f.UserIDs == nil || len(f.UserIDs) > 0 {
		if orders, next, err = h.orders.List(ctx(c), f); err != nil {
			return err
		}
	}
	cursor := cursorOf(next)
	if wantsJSON(c) {
		return c.JSON(list[boardItem]{Items: boardItems(orders), Next: cursor})
	}
	v := views.BoardView{Orders: orders, Next: cursor, Filter: bf, Counts: map[string]int64{}, Now: h.now()}
	if isFragment(c) {
		return h.render(c, fiber.StatusOK, nil, page{body: views.BoardRows(v)})
	}
	// What changed since this admin last looked is marked, and this look
	// is the new "last": in the database, so any instance marks the same.
	me := currentUser(c)
	if v.Seen, err = h.settings.LookAtBoard(ctx(c), me.ID); err != nil {
		return err
	}
	totals, err := h.orders.Totals(ctx(c))
	if err != nil {
		return err
	}
	v.Counts[""] = totals.N
	for _, s := range store.Statuses {
		v.Counts[s] = totals.ByStatus[s]
	}
	if v.Services, _, err = h.services.List(ctx(c), store.ServiceFilter{IncludeArchived: true, Limit: 100}); err != nil {
		return err
	}
	if v.Crews, err = h.schedule.Crews(ctx(c)); err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, nil, page{title: h.meta(c).T("orders.board"), body: views.BoardPage(v)})
}

// boardFilter reads the board's filter from the query (the board and its
// CSV share it); a customer's name becomes the ids of every matching account.
func (h *Handler) boardFilter(c *fiber.Ctx) (views.BoardFilter, store.OrderFilter, error) {
	var err error
	bf := views.BoardFilter{Status: c.Query("status"), ServiceID: c.Query("serviceId"), CrewID: c.Query("crewId"), UserID: c.Query("userId"), Limit: c.Query("limit"), Customer: truncateString(c.Query("customer"), 100),
		From: c.Query("from"), To: c.Query("to"), Q: truncateString(strings.TrimSpace(c.Query("q")), 100)}
	f := store.OrderFilter{Status: bf.Status, Text: bf.Q}
	switch c.Query("plan") {
	case "":
	case "1", "true", "on":
		bf.Plan, f.Plans = "1", true
	default:
		return bf, f, fiber.NewError(fiber.StatusBadRequest, "plan is 1 (only the visits of regular cleanings) or absent")
	}
	if f.Status != "" && !contains(store.Statuses, f.Status) {
		return bf, f, fiber.NewError(fiber.StatusBadRequest, "status must be one of "+strings.Join(store.Statuses, ", "))
	}
	if bf.CrewID != "" {
		if f.CrewID, err = store.ParseID(bf.CrewID); err != nil {
			return bf, f, err
		}
	}
	if bf.ServiceID != "" {
		if f.ServiceID, err = store.ParseID(bf.ServiceID); err != nil {
			return bf, f, err
		}
	}
	if s := c.Query("userId"); s != "" {
		id, err := store.ParseID(s)
		if err != nil {
			return bf, f, err
		}
		f.UserIDs = []primitive.ObjectID{id}
	}
	if f.From, err = parseDay(bf.From, false); err != nil {
		return bf, f, err
	}
	if f.To, err = parseDay(bf.To, true); err != nil {
		return bf, f, err
	}
	if bf.Customer != "" {
		ids := []primitive.ObjectID{}
		for before := primitive.NilObjectID; ; { // every matching account, a page at a time
			users, next, err := h.users.List(ctx(c), store.UserFilter{Q: bf.Customer, Before: before, Limit: 100})
			if err != nil {
				return bf, f, err
			}
			for _, u := range users {
				if f.UserIDs == nil || f.UserIDs[0] == u.ID {
					ids = append(ids, u.ID)
				}
			}
			if next.IsZero() {
				break
			}
			before = next
		}
		f.UserIDs = ids
	}
	return bf, f, nil
}

// parseDay reads a board date (YYYY-MM-DD, a day in Tashkent); end asks for
// the moment the day ends.
func parseDay(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	d, err := time.ParseInLocation("2006-01-02", s, views.Tashkent)
	if err != nil {
		return time.Time{}, fiber.NewError(fiber.StatusBadRequest, "dates are YYYY-MM-DD")
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// boardItem is the JSON of a board row: the summary with the fields only
// an admin sees.
type boardItem struct {
	store.OrderSummary
	UserID       primitive.ObjectID `json:"userId"`
	CustomerName string             `json:"customerName"`
	Address      string             `json:"address"`
	Phone        string             `json:"phone"`
}

func boardItems(items []store.OrderSummary) []boardItem {
	out := make([]boardItem, len(items))
	for i, it := range items {
		out[i] = boardItem{OrderSummary: it, UserID: it.UserID, CustomerName: it.CustomerName, Address: it.Address, Phone: it.Phone}
	}
	return out
}

// GetOrder is one order with its timeline.
func (h *Handler) GetOrder(c *fiber.Ctx) error {
	o, err := h.orderFor(c)
	if err != nil {
		return err
	}
	if currentUser(c).IsCleaner() {
		// The cleaner's page of a visit shows what they may see of it.
		return c.Redirect("/my/visits/"+o.ID.Hex(), fiber.StatusSeeOther)
	}
	v, err := h.orderView(c, o, views.FormState{}, nil)
	if err != nil {
		return err
	}
	fragment := views.OrderDetail(v)
	if c.Get("HX-Target") == "order-progress" { // the page following the visit
		fragment = views.OrderProgress(v, true)
	}
	return h.render(c, fiber.StatusOK, h.orderOut(c, o), page{title: v.ServiceName, body: views.OrderPage(v), fragment: fragment})
}

// orderView is the order's page: f the forms' values and errors (the
// order's own when nil), taken a 409's free times to offer.
func (h *Handler) orderView(c *fiber.Ctx, o *store.Order, f views.FormState, taken *slotTakenError) (views.OrderView, error) {
	me := currentUser(c)
	v := views.OrderView{Order: o, Admin: me.IsAdmin(), Form: f}
	svc, err := h.services.Get(ctx(c), o.ServiceID, true)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	v.ServiceName = store.ServiceTitle(o.ServiceNames, o.ServiceName, h.meta(c).Lang, currentName(svc, h.meta(c).Lang))
	if o.Status != store.StatusCancelled {
		v.GoogleCalendar = googleCalendarLink(h.visitEvent(orderVisit(o, v.ServiceName), h.meta(c).Lang))
	}
	if v.Admin {
		if cu, err := h.users.Get(ctx(c), o.UserID); err == nil {
			v.Customer = cu
		}
	}
	open := store.Upcoming(o.Status) && h.now().Before(o.ScheduledAt.Add(-customerCutoff))
	v.CanCancel = !v.Admin && open
	v.CanReschedule = v.CanCancel
	v.Started = !h.now().Before(o.ScheduledAt)
	// Followed live from the day before the visit to the day after.
	v.Live = store.IsOpen(o.Status) && h.now().After(o.ScheduledAt.Add(-24*time.Hour)) && h.now().Before(o.ScheduledAt.Add(24*time.Hour))
	if v.Form.Values == nil {
		local := o.ScheduledAt.In(views.Tashkent)
		v.Form.Values = map[string]string{"date": local.Format("2006-01-02"), "time": local.Format("15:04"),
			"address": o.Address, "phone": o.Phone, "notes": o.Notes, "price": strconv.FormatInt(o.Price, 10), "crewId": crewHex(o.CrewID)}
	}
	for _, to := range store.Statuses {
		if v.Admin && to != store.StatusCancelled && store.MayStep(store.RoleAdmin, o.Status, to) {
			v.Steps = append(v.Steps, to)
		}
	}
	// The customer of a completed visit rates it here (#24).
	if o.Status == store.StatusCompleted && me.ID == o.UserID && !wantsJSON(c) {
		r, err := h.reviews.Get(ctx(c), o.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return v, err
		}
		v.Review = &views.OrderReview{Review: r}
		if r != nil {
			v.Review.Changeable = r.Changeable(h.now())
			v.Review.Editing = v.Review.Changeable && c.Query("review") == "change"
		}
	}
	if !store.Upcoming(o.Status) || !(v.Admin || v.CanReschedule) || wantsJSON(c) {
		return v, nil // no form to show
	}
	// The times the visit may move to, its own free (#21); an admin's at
	// short notice too.
	slots, err := h.slotPicker(c, &store.Service{ID: o.ServiceID}, o.VisitMinutes(), v.Form.Values, v.Admin, o.ID)
	if err != nil {
		return v, err
	}
	withAlternatives(&slots, taken)
	v.Slots = slots
	if v.Admin && !o.CrewID.IsZero() {
		if v.Crews, err = h.crewChoices(c, o); err != nil {
			return v, err
		}
	}
	return v, nil
}

// crewChoices are the crews an admin may give o's visit to at its time:
// those doing its service, working then and free apart from the visit
// (its own crew always among them, first).
func (h *Handler) crewChoices(c *fiber.Ctx, o *store.Order) ([]views.CrewChoice, error) {
	sc, err := h.schedule.LoadAround(ctx(c), o.ScheduledAt, 0)
	if err != nil {
		return nil, err
	}
	out := []views.CrewChoice{{ID: o.CrewID.Hex(), Name: o.CrewName}}
	for _, cr := range sc.FreeCrews(o.ServiceID, o.VisitMinutes(), o.ScheduledAt, o.ID) {
		if cr.ID == o.CrewID {
			out[0].Name = cr.Name
		} else {
			out = append(out, views.CrewChoice{ID: cr.ID.Hex(), Name: cr.Name})
		}
	}
	return out, nil
}

// crewHex is a crew's id in a form, "" for none.
func crewHex(id primitive.ObjectID) string {
	if id.IsZero() {
		return ""
	}
	return id.Hex()
}

// orderPatch is the body of PATCH /orders/:id. A customer may send status
// CANCELLED (with a reason) or a new time; an ADMIN anything here.
type orderPatch struct {
	Status *string `json:"status" form:"status"`
	Reason *string `json:"reason" form:"reason"`
	// Note is the cleaner's word with a step (why nobody let them in);
	// kept in the history as a reason is.
	Note        *string       `json:"note" form:"note"`
	Payment     *paymentInput `json:"payment" form:"payment"` // with COMPLETED
	ScheduledAt *string       `json:"scheduledAt" form:"scheduledAt"`
	Date        string        `json:"-" form:"date"`
	Time        string        `json:"-" form:"time"`
	Address     *string       `json:"address" form:"address"`
	Phone       *string       `json:"phone" form:"phone"`
	Notes       *string       `json:"notes" form:"notes"`
	Price       *int64        `json:"price" form:"price"`
	CrewID      *string       `json:"crewId" form:"crewId"` // ADMIN: reassign
	UserID      *string       `json:"userId" form:"userId"`
	ServiceID   *string       `json:"serviceId" form:"serviceId"`
	// The picker's own buttons, without JavaScript, and a free time
	// offered after a 409 (see orderInput): the form again, nothing saved.
	ShowTimes string `json:"-" form:"showTimes"`
	From      string `json:"-" form:"from"`
	DaysFrom  string `json:"-" form:"daysFrom"`
	Pick      string `json:"-" form:"pick"`
}

// picking reports whether a form's post asks for the form again.
func (in *orderPatch) picking() bool {
	return in.ShowTimes != "" || in.DaysFrom != "" || in.Pick != ""
}

func (in *orderPatch) normalize() {
	in.Date, in.Time = strings.TrimSpace(in.Date), strings.TrimSpace(in.Time)
	if d, tm, ok := strings.Cut(strings.TrimSpace(in.Pick), " "); ok {
		in.Date, in.Time, in.From = d, tm, "" // the strip moves to the day picked
	}
	// The picker sends a day and a time chosen; a day without one is no
	// new time (see UpdateOrder).
	if in.ScheduledAt == nil && in.Date != "" && in.Time != "" {
		s := joinDateTime(in.Date, in.Time)
		in.ScheduledAt = &s
	}
	if in.Phone != nil {
		p := normalizePhone(*in.Phone)
		in.Phone = &p
	}
	for _, p := range []*string{in.Reason, in.Address, in.Notes} {
		if p != nil {
			*p = strings.TrimSpace(*p)
		}
	}
}

// paymentInput is what a cleaner collected on site.
type paymentInput struct {
	Amount *int64 `json:"amount" form:"amount"`
	Method string `json:"method" form:"method"`
}

func (p paymentInput) Validate() error {
	return validation.ValidateStruct(&p,
		validation.Field(&p.Amount, validation.NotNil, validation.Min(int64(0)), validation.Max(int64(100_000_000))),
		validation.Field(&p.Method, validation.Required, validation.In(anys(store.PaymentMethods)...)),
	)
}

func (in orderPatch) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.Status, validation.In(anys(store.Statuses)...)),
		validation.Field(&in.Reason, validation.RuneLength(0, 500)),
		validation.Field(&in.Note, validation.RuneLength(0, 500)),
		validation.Field(&in.Payment, validation.When(in.Status == nil || *in.Status != store.StatusCompleted,
			validation.Nil.ErrorObject(paymentOnlyWithCompletion))),
		validation.Field(&in.ScheduledAt, validation.By(dateTimeRule)),
		validation.Field(&in.CrewID, validation.NilOrNotEmpty, validation.By(objectIDRule)),
		validation.Field(&in.Address, validation.NilOrNotEmpty, validation.RuneLength(5, 300)),
		validation.Field(&in.Phone, validation.NilOrNotEmpty, validation.Match(uzPhone).ErrorObject(errPhone)),
		validation.Field(&in.Notes, validation.RuneLength(0, 1000)),
		validation.Field(&in.Price, validation.Min(int64(0)), validation.Max(int64(100_000_000))),
	)
}

// UpdateOrder changes an order: the status (one atomic update filtered on
// PENDING, the change appended to the history), the time, or, for an
// ADMIN, the details. The customer gets an email on a status change.
func (h *Handler) UpdateOrder(c *fiber.Ctx) error {
	o, err := h.orderFor(c)
	if err != nil {
		return err
	}
	me := currentUser(c)
	admin := me.IsAdmin()
	var in orderPatch
	var taken *slotTakenError // a 409's free times, offered on the form
	// answer shows the order after the change. Its message (f.Notice, a
	// catalog id) goes into the page's one banner slot: out of band for
	// htmx, which empties the slot on an error (the form says what is
	// wrong), or as the flash of the page redirected to.
	answer := func(o *store.Order, f views.FormState, status int) error {
		if me.IsCleaner() { // their visit's page, which shows what they may see
			return h.visitAnswer(c, o, f, status)
		}
		if strings.HasPrefix(c.Get("HX-Target"), "order-row-") {
			sum := o.Summary()
			return h.render(c, status, o, page{body: views.BoardRow(&sum)})
		}
		if strings.HasPrefix(c.Get("HX-Target"), "visit-") { // the admin's schedule
			return h.scheduleAnswer(c, o, f, status)
		}
		notice := f.Notice
		f.Notice = ""
		v, err := h.orderView(c, o, f, taken)
		if err != nil {
			return err
		}
		if !wantsJSON(c) && !isFragment(c) {
			if status >= 400 {
				return h.render(c, status, nil, page{title: v.ServiceName, body: views.OrderPage(v)})
			}
			if notice != "" {
				h.setFlash(c, "success", notice)
			}
			return c.Redirect("/orders/"+o.ID.Hex(), fiber.StatusSeeOther)
		}
		var banner *views.Flash
		if notice != "" {
			banner = &views.Flash{Kind: "success", Text: h.meta(c).T(notice)}
		}
		return h.render(c, status, h.orderOut(c, o), page{title: v.ServiceName, body: views.OrderPage(v),
			fragment: templ.Join(views.OrderDetail(v), views.FlashSlot(banner, true))})
	}
	// formValues is the form again as it was sent, the details the
	// request left out as they are.
	formValues := func() map[string]string {
		values := map[string]string{"date": in.Date, "time": in.Time, "from": in.From, "daysFrom": in.DaysFrom,
			"address": o.Address, "phone": o.Phone, "notes": o.Notes, "price": strconv.FormatInt(o.Price, 10), "crewId": crewHex(o.CrewID)}
		for k, p := range map[string]*string{"address": in.Address, "phone": in.Phone, "notes": in.Notes, "crewId": in.CrewID} {
			if p != nil {
				values[k] = *p
			}
		}
		if in.Price != nil {
			values["price"] = strconv.FormatInt(*in.Price, 10)
		}
		return values
	}
	fail := func(err error) error {
		if wantsJSON(c) {
			return err
		}
		var ve *ValidationError
		var cf *conflictError
		var fields map[string]string
		switch {
		case errors.As(err, &ve):
			fields = ve.Fields
		case errors.As(err, &taken):
			fields = taken.Fields
		case errors.As(err, &cf):
			fields = cf.Fields
		default:
			return err
		}
		st, _ := classify(err)
		f := views.FormState{Values: formValues(), Errors: fields, Error: firstOf(fields)}
		return answer(o, f, st)
	}
	if err := h.bind(c, &in); err != nil {
		return fail(err)
	}
	if in.picking() && !wantsJSON(c) {
		// A day paged or a time picked among the alternatives: the form
		// again with it, nothing saved.
		v, err := h.orderView(c, o, views.FormState{Values: formValues()}, nil)
		if err != nil {
			return err
		}
		return h.render(c, fiber.StatusOK, nil, page{title: v.ServiceName, body: views.OrderPage(v), fragment: views.OrderDetail(v)})
	}
	if in.ScheduledAt == nil && in.Date != "" && in.Time == "" && !admin {
		// The picker's day, no time chosen. (An admin's edit without one
		// keeps the visit's time: a visit begun offers none.)
		return fail(&ValidationError{Fields: map[string]string{"scheduledAt": h.meta(c).T("booking.slots.pickTime")}})
	}
	if in.Reason == nil && c.Get("HX-Prompt") != "" {
		r := c.Get("HX-Prompt")
		// htmx percent-encodes a prompt a header cannot carry (‘, Cyrillic).
		if c.Get("HX-Prompt-URI-AutoEncoded") == "true" {
			if dec, err := url.PathUnescape(r); err == nil {
				r = dec
			}
		}
		r = strings.TrimSpace(truncateString(r, 500))
		in.Reason = &r
	}
	if in.UserID != nil || in.ServiceID != nil {
		return errForbidden // an order stays whose it is, and for what
	}
	if in.Note != nil && in.Reason == nil {
		in.Reason = in.Note
	}
	if err := h.mayChange(me, o, &in); err != nil {
		return err
	}
	if me.IsCleaner() && in.Status != nil && *in.Status == store.StatusCompleted && in.Payment == nil {
		// What was collected on site is recorded as the visit is done
		// (0 when nothing was: paid otherwise).
		return fail(&ValidationError{Fields: map[string]string{"payment.amount": h.meta(c).T("err.payment_required")}})
	}
	ch := store.OrderChange{Address: in.Address, Phone: in.Phone, Notes: in.Notes, Price: in.Price}
	if in.ScheduledAt != nil {
		if when, err := time.Parse(time.RFC3339, *in.ScheduledAt); err == nil && when.Equal(o.ScheduledAt) {
			in.ScheduledAt = nil // the form sends the time as it is: not a change
		}
	}
	if in.CrewID != nil {
		if id, err := primitive.ObjectIDFromHex(*in.CrewID); err == nil && id == o.CrewID {
			in.CrewID = nil // the form sends the crew as it is: not a change
		}
	}
	// A new time or crew moves the visit: a crew is reserved for it first,
	// and the order's write releases the old hold (store/reservations.go).
	var hold *store.Reservation
	if in.ScheduledAt != nil || in.CrewID != nil {
		if !store.Upcoming(o.Status) {
			return fmt.Errorf("%w: only a visit not begun moves", store.ErrConflict)
		}
		when := o.ScheduledAt
		if in.ScheduledAt != nil {
			when, _ = time.Parse(time.RFC3339, *in.ScheduledAt)
		}
		v := visit{order: o.ID, service: o.ServiceID, minutes: o.VisitMinutes(), at: when.UTC(), prefer: o.CrewID, byAdmin: admin}
		if in.CrewID != nil {
			v.crew, _ = primitive.ObjectIDFromHex(*in.CrewID)
		}
		r, crew, err := h.placeVisit(c, v)
		if err != nil {
			return fail(err)
		}
		hold = r
		ch.Reservation, ch.CrewName = r, crew.Name
	}
	if ch != (store.OrderChange{}) {
		// With a status change in the same request, the details change only
		// while PENDING too: a 409 must leave the order as it was.
		moved, changes, err := h.orders.UpdateBy(ctx(c), o.ID, ch, !admin || in.Status != nil, store.StatusChange{ByUserID: me.ID, ByName: me.Username})
		if err != nil {
			// The new hold goes back, apart from what the visit's present
			// one covers (read again: a move meanwhile may own it now).
			if hold != nil {
				keep := o.Reservation()
				if now, gerr := h.orders.Get(context.WithoutCancel(ctx(c)), o.ID); gerr == nil {
					keep = now.Reservation()
				}
				if uerr := h.schedule.Unreserve(context.WithoutCancel(ctx(c)), hold, keep); uerr != nil {
					h.log.Warn("orders: a moved visit's new reservation could not be given back", "order", o.ID.Hex(), "error", uerr)
				}
			}
			return err
		}
		o = moved
		// Someone else (an admin) changed the customer's order: they hear
		// of it, in their language, once per change (keyed by its op).
		if len(changes) > 0 && me.ID != o.UserID {
			if err := h.orderChangedEmail(ctx(c), o, changes); err != nil {
				return err
			}
		}
		for _, ch := range changes {
			if ch.Type == store.ChangeScheduledAt {
				h.tellCompany(ctx(c), "rescheduled", "rescheduled|"+ch.Op.Hex(), o)
			}
		}
	}
	// Each actor reads their own words: the customer what they did, the
	// admin that the customer was told.
	notice := "flash.orderSaved"
	if admin && me.ID != o.UserID {
		notice = "flash.orderSavedCustomerTold"
	}
	if in.Status != nil {
		// Filtered on the time checked above: a reschedule meanwhile is a 409.
		step := store.Step{To: *in.Status, By: store.StatusChange{ByUserID: me.ID, ByName: me.Username, Reason: deref(in.Reason)},
			ScheduledAt: o.ScheduledAt}
		if p := in.Payment; p != nil {
			step.Payment = &store.Payment{Amount: *p.Amount, Method: p.Method}
		}
		if o, err = h.orders.Move(ctx(c), o.ID, step); err != nil {
			return err
		}
		if o.Status == store.StatusCancelled {
			h.tellCompany(ctx(c), "cancelled", "cancelled|"+o.ID.Hex(), o) // an order is cancelled once
		}
		notice = "orders.statusChanged"
		if me.ID == o.UserID {
			notice = "flash.orderCancelledByYou"
		}
		if me.IsCleaner() {
			notice = "myday.stepSaved"
		}
		h.metrics.statusChanges.WithLabelValues(o.Status).Inc()
		customer, err := h.users.Get(ctx(c), o.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if customer != nil && emailedSteps[o.Status] {
			if err := h.orderEmail(ctx(c), o, customer, o.Status); err != nil {
				return err
			}
		}
		// A completed visit asks its customer for a rating (#24), once
		// however often the step is answered.
		if customer != nil && o.Status == store.StatusCompleted {
			if err := h.reviewRequest(ctx(c), o, customer); err != nil {
				return err
			}
		}
	}
	return answer(o, views.FormState{Notice: notice}, fiber.StatusOK)
}

// autoConfirm confirms new order o when the company confirms bookings as
// they are made; the booking stands if it cannot (an admin confirms it).
func (h *Handler) autoConfirm(c *fiber.Ctx, o *store.Order) *store.Order {
	st, err := h.settings.Get(ctx(c))
	if err != nil || !st.AutoConfirm {
		return o
	}
	confirmed, err := h.orders.Move(ctx(c), o.ID, store.Step{To: store.StatusConfirmed, By: store.StatusChange{ByName: "Tozalash"}})
	if err != nil {
		h.log.Warn("orders: a new booking could not be confirmed automatically", "order", o.ID.Hex(), "error", err)
		return o
	}
	return confirmed
}

// emailedSteps are the steps the customer hears of by email; arriving
// (IN_PROGRESS) they see for themselves.
var emailedSteps = map[string]bool{store.StatusConfirmed: true, store.StatusOnTheWay: true, store.StatusCompleted: true,
	store.StatusCancelled: true, store.StatusNoAccess: true}

// mayChange decides whether me may make the change in of order o, before
// anything is written: who may touch which details, and which status
// steps (store.MayStep) at which time.
func (h *Handler) mayChange(me *store.User, o *store.Order, in *orderPatch) error {
	details := in.Address != nil || in.Phone != nil || in.Notes != nil || in.Price != nil || in.CrewID != nil
	role := store.RoleUser
	switch {
	case me.IsAdmin():
		role = store.RoleAdmin
	case me.IsCleaner():
		// A cleaner steps their crew's visit (crewVisit found it theirs),
		// and changes nothing else of it.
		if details || in.ScheduledAt != nil || in.Date != "" || in.Status == nil {
			return errForbidden
		}
		role = store.RoleCleaner
	default:
		if details || (in.Status != nil && *in.Status != store.StatusCancelled) {
			return errForbidden
		}
		if in.Payment != nil || in.Note != nil {
			return errForbidden
		}
		if (in.Status != nil || in.ScheduledAt != nil) && store.Upcoming(o.Status) && !h.now().Before(o.ScheduledAt.Add(-customerCutoff)) {
			return errTooLate
		}
	}
	if in.Status == nil {
		return nil
	}
	to := *in.Status
	if !store.MayStep(role, o.Status, to) {
		if role == store.RoleCleaner && (to == store.StatusPending || to == store.StatusConfirmed || to == store.StatusCancelled) {
			return errForbidden // the office's steps, never a cleaner's
		}
		return fmt.Errorf("%w: %s to %s", store.ErrBadTransition, o.Status, to)
	}
	// A visit is set out for on its day, and completed once it has
	// started, not before (it would count as revenue for work not done).
	if to == store.StatusOnTheWay && h.now().In(store.Tashkent).Format(time.DateOnly) < o.ScheduledAt.In(store.Tashkent).Format(time.DateOnly) {
		return errNotToday
	}
	if to == store.StatusCompleted && (in.ScheduledAt != nil || in.CrewID != nil || h.now().Before(o.ScheduledAt)) {
		return errNotStarted
	}
	return nil
}

// DeleteOrder removes an order (ADMIN).
func (h *Handler) DeleteOrder(c *fiber.Ctx) error {
	o, err := h.orderFor(c)
	if err != nil {
		return err
	}
	if err := h.orders.Delete(ctx(c), o.ID); err != nil {
		return err
	}
	return h.done(c, "/orders", "flash.orderDeleted")
}

// orderEmail tells the customer of a new order ("created") or of its new
// status, in their language.
func (h *Handler) orderEmail(ctx context.Context, o *store.Order, customer *store.User, event string) error {
	e, err := h.orderEmailMessage(ctx, o, customer, event)
	if err != nil {
		return err
	}
	return h.tell(ctx, customer, notifyEvent(event), "", e)
}

// orderChangedEmail tells the customer of o what changed (timeline
// entries of one edit), queued once whoever asks again.
func (h *Handler) orderChangedEmail(ctx context.Context, o *store.Order, changes []store.StatusChange) error {
	customer, err := h.users.Get(ctx, o.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the account is gone: nobody to tell
	}
	if err != nil {
		return err
	}
	e, err := h.orderEmailMessage(ctx, o, customer, "changed", changes...)
	if err != nil {
		return err
	}
	if err := h.tell(ctx, customer, "", "change|"+changes[0].Op.Hex(), e); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// orderEmailMessage renders the email of orderEmail; changes, if any, are
// listed as "what: from → to".
func (h *Handler) orderEmailMessage(ctx context.Context, o *store.Order, customer *store.User, event string, changes ...store.StatusChange) (*store.Email, error) {
	lang := localeOf(customer)
	loc := h.catalog.Locale(lang)
	svc, err := h.services.Get(ctx, o.ServiceID, true)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	name := store.ServiceTitle(o.ServiceNames, o.ServiceName, lang, currentName(svc, lang))
	var reason string
	if n := len(o.History); n > 0 && event != "created" {
		reason = o.History[n-1].Reason
	}
	// A new booking has no number yet: the booking group writes it in.
	number := store.OrderNumberMark
	if o.Seq > 0 {
		number = views.OrderNo(o.Seq)
	}
	d := views.OrderEmailData{
		Number: number, Username: customer.Username, Intro: loc.T("email.order." + event + ".intro"), Service: name,
		When: o.ScheduledAt.In(views.Tashkent).Format("02.01.2006 15:04"), Price: views.Price(lang, o.Price),
		Address: o.Address, Status: loc.T("status." + o.Status), Reason: reason, Link: h.cfg.BaseURL + "/orders/" + o.ID.Hex(),
		PriceLines: views.EmailPriceLines(loc, o), Crew: o.CrewName,
	}
	for _, ch := range changes {
		d.Changes = append(d.Changes, loc.T("timeline.change."+ch.Type)+": "+views.ChangeValue(lang, ch.Type, ch.From)+" → "+views.ChangeValue(lang, ch.Type, ch.To))
	}
	subject := "email.order." + event + ".subject"
	text := loc.Format("email.greeting", map[string]any{"Name": d.Username}) + "\n\n" + d.Intro + "\n\n"
	for _, line := range d.Changes {
		text += line + "\n"
	}
	if len(d.Changes) > 0 {
		text += "\n"
	}
	text +=
		loc.T("orders.number") + ": " + d.Number + "\n" + loc.T("orders.service") + ": " + d.Service + "\n" + loc.T("field.when") + ": " + d.When + "\n" +
			loc.T("service.price") + ": " + d.Price + "\n" + loc.T("field.address") + ": " + d.Address + "\n"
	if d.Crew != "" {
		text += loc.T("orders.crew") + ": " + d.Crew + "\n"
	}
	text += loc.T("orders.status") + ": " + d.Status + "\n"
	if reason != "" {
		text += loc.T("orders.reason") + ": " + reason + "\n"
	}
	text += "\n"
	for _, l := range d.PriceLines {
		text += l.Label
		if l.Detail != "" {
			text += " · " + l.Detail
		}
		text += ": " + l.Amount + "\n"
	}
	text += loc.T("price.total") + ": " + d.Price + "\n"
	text += "\n" + d.Link + "\n\n-- \n" + loc.T("email.footer") + "\n"
	e, err := h.renderEmail(ctx, customer.Email, lang, subject, views.OrderEmail(loc.T(subject), d), text)
	if err == nil && event == "created" {
		// The confirmation carries the visit for the customer's calendar
		// (#24); the booking's number is written into it at commit.
		e.Attachments = []store.Attachment{h.orderCalendarFile(o, name, lang)}
	}
	return e, err
}

// anys is list as the values validation.In takes.
func anys(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}
