package handlers

import (
	"bytes"
	"errors"
	"mime"
	"sort"
	"strconv"
	"strings"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// pricingInput is what prices a visit (DESIGN.md, Pricing): the same in
// POST /quote and POST /orders. A form sends each extra as
// extra_<id>=<count> (a ticked checkbox: 1), read by formExtras.
//
// A size not sent at all (nil) is the smallest home's, as the catalogue's
// "from" price is: a client of the booking API from before the calculator
// books as it did. A size sent is checked: 0 rooms is a 422.
type pricingInput struct {
	Rooms     *int                `json:"rooms" form:"rooms"`
	Bathrooms *int                `json:"bathrooms" form:"bathrooms"`
	Area      *int                `json:"area" form:"area"`
	Extras    []store.ExtraChoice `json:"extras" form:"-"`
	Frequency string              `json:"frequency" form:"frequency"`
	PromoCode string              `json:"promoCode" form:"promoCode"`
}

// maxExtraChoices bounds the extras a request may name: a service offers
// a handful.
const maxExtraChoices = 50

func (p *pricingInput) normalize() {
	p.Frequency = strings.TrimSpace(p.Frequency)
	p.PromoCode = strings.TrimSpace(p.PromoCode)
}

func (p pricingInput) quoteInput() store.QuoteInput {
	return store.QuoteInput{Rooms: sizeOr(p.Rooms, store.SmallestHome.Rooms), Bathrooms: sizeOr(p.Bathrooms, store.SmallestHome.Bathrooms),
		Area: sizeOr(p.Area, store.SmallestHome.Area), Extras: p.Extras, Frequency: p.Frequency, PromoCode: p.PromoCode}
}

func sizeOr(n *int, absent int) int {
	if n == nil {
		return absent
	}
	return *n
}

// sizeText is a size as the idempotency key and the form write it: "" when
// not sent.
func sizeText(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

// key is the pricing input as the idempotency hash takes it: "" when none
// was sent, so that a booking without it hashes as before the calculator.
func (p pricingInput) key() string {
	var extras []string
	for _, e := range p.Extras {
		if e.Count != 0 {
			extras = append(extras, e.ID+"="+strconv.Itoa(e.Count))
		}
	}
	sort.Strings(extras)
	frequency := p.Frequency
	if frequency == store.FrequencyOnce {
		frequency = ""
	}
	code := store.NormalizeCode(p.PromoCode)
	if p.Rooms == nil && p.Bathrooms == nil && p.Area == nil && len(extras) == 0 && frequency == "" && code == "" {
		return ""
	}
	return strings.Join([]string{sizeText(p.Rooms), sizeText(p.Bathrooms), sizeText(p.Area), strings.Join(extras, ","), frequency, code}, "|")
}

// values are the pricing input as the form shows it again.
func (p pricingInput) values(into map[string]string) {
	for k, n := range map[string]*int{"rooms": p.Rooms, "bathrooms": p.Bathrooms, "area": p.Area} {
		if n != nil {
			into[k] = strconv.Itoa(*n)
		}
	}
	for _, e := range p.Extras {
		into["extra_"+e.ID] = strconv.Itoa(e.Count)
	}
	into["frequency"], into["promoCode"] = p.Frequency, p.PromoCode
}

// formExtras reads a form's extras, extra_<id>=<count>, in the form's
// order (a multipart form's by id). A count that is not a number is a 422
// on extras.
func (h *Handler) formExtras(c *fiber.Ctx) ([]store.ExtraChoice, error) {
	mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	var out []store.ExtraChoice
	bad := false
	add := func(k, v string) {
		id, ok := strings.CutPrefix(k, "extra_")
		if !ok || id == "" {
			return
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			bad = true
			return
		}
		out = append(out, store.ExtraChoice{ID: id, Count: n})
	}
	// Only the extras' fields are made strings: the form's other fields
	// are read apart.
	addArg := func(k, v []byte) {
		if bytes.HasPrefix(k, []byte("extra_")) {
			add(string(k), string(v))
		}
	}
	switch {
	case c.Method() == fiber.MethodGet: // GET /availability: the query
		c.Request().URI().QueryArgs().VisitAll(addArg)
	case mt == fiber.MIMEApplicationForm:
		c.Request().PostArgs().VisitAll(addArg)
	case mt == fiber.MIMEMultipartForm:
		if mf, err := c.MultipartForm(); err == nil {
			keys := make([]string, 0, len(mf.Value))
			for k := range mf.Value {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				for _, v := range mf.Value[k] {
					add(k, v)
				}
			}
		}
	default:
		return nil, nil
	}
	if bad || len(out) > maxExtraChoices {
		return out, &ValidationError{Fields: map[string]string{"extras": h.meta(c).T("err.pricing.extra_count")}}
	}
	return out, nil
}

// bindPricing is bind for a body that carries a pricing input p: a
// form's extras are read besides. The first problem wins.
func (h *Handler) bindPricing(c *fiber.Ctx, dst input, p *pricingInput) error {
	err := h.bind(c, dst)
	var bad *fiber.Error
	if errors.As(err, &bad) {
		return err
	}
	extras, xerr := h.formExtras(c)
	if extras != nil {
		p.Extras = extras
	}
	var ve, xe *ValidationError
	switch {
	case errors.As(xerr, &xe) && errors.As(err, &ve):
		ve.Fields["extras"] = xe.Fields["extras"]
	case xerr != nil && err == nil:
		return xerr
	}
	return err
}

// priceVisit prices p for svc, booked by customer (zero: an anonymous
// quote, a customer with no orders yet): the company's frequency
// discounts, and the promo code, when one is typed, looked up and checked
// (one more read) but not claimed. Input the rules refuse is a
// ValidationError naming every field at fault, in the reader's language.
func (h *Handler) priceVisit(c *fiber.Ctx, svc *store.Service, p pricingInput, customer primitive.ObjectID) (*store.Quote, *store.PromoCode, error) {
	st, err := h.settings.Get(ctx(c))
	if err != nil {
		return nil, nil, err
	}
	loc := h.meta(c).Locale
	fields := map[string]string{}
	var promo *store.PromoCode
	if code := store.NormalizeCode(p.PromoCode); code != "" {
		found, err := h.promos.ByCode(ctx(c), code)
		switch {
		case errors.Is(err, store.ErrNotFound):
			fields["promoCode"] = loc.T("err.promo.unknown")
		case err != nil:
			return nil, nil, err
		default:
			var prior int64
			if found.FirstOrderOnly && !customer.IsZero() {
				if prior, err = h.orders.CustomerOrderCount(ctx(c), customer); err != nil {
					return nil, nil, err
				}
			}
			if msg := found.Problem(h.now(), svc.ID, prior); msg != "" {
				fields["promoCode"] = loc.T(msg)
			} else {
				promo = found
			}
		}
	}
	q, err := svc.Quote(p.quoteInput(), st.FrequencyDiscounts, promo)
	var problem *store.PricingProblem
	if errors.As(err, &problem) {
		fields[problem.Field] = loc.T(problem.Message)
	} else if err != nil {
		return nil, nil, err
	}
	if len(fields) > 0 {
		return nil, nil, &ValidationError{Fields: fields}
	}
	return q, promo, nil
}

// bookingPrice is what a booking form of svc shows of the price of p: the
// frequency discounts and the quote (nil when p does not price; the form
// carries the errors).
func (h *Handler) bookingPrice(c *fiber.Ctx, svc *store.Service, p pricingInput, customer primitive.ObjectID) (views.BookingPrice, error) {
	st, err := h.settings.Get(ctx(c))
	if err != nil {
		return views.BookingPrice{}, err
	}
	out := views.BookingPrice{Discounts: st.FrequencyDiscounts}
	if svc == nil {
		return out, nil
	}
	q, _, err := h.priceVisit(c, svc, p, customer)
	var ve *ValidationError
	if err != nil && !errors.As(err, &ve) {
		return out, err
	}
	out.Quote = q
	return out, nil
}

// defaultSizes fills the sizes svc asks for that values lacks with a
// small flat's, so that a new form shows a price at once.
func defaultSizes(svc *store.Service, values map[string]string) {
	m := svc.PriceModel()
	for _, d := range []struct {
		field string
		used  bool
		value string
	}{{"rooms", m.UsesRooms(), "2"}, {"bathrooms", m.UsesBathrooms(), "1"}, {"area", m.UsesArea(), "50"}} {
		if d.used && values[d.field] == "" {
			values[d.field] = d.value
		}
	}
	if values["frequency"] == "" {
		values["frequency"] = store.FrequencyOnce
	}
}

// pricingOf reads the pricing input back from a form's values.
func pricingOf(values map[string]string) pricingInput {
	p := pricingInput{Frequency: values["frequency"], PromoCode: values["promoCode"]}
	for field, size := range map[string]**int{"rooms": &p.Rooms, "bathrooms": &p.Bathrooms, "area": &p.Area} {
		if n, err := strconv.Atoi(values[field]); err == nil {
			*size = &n
		}
	}
	return p
}

// quoteInput is the body of POST /quote.
type quoteInput struct {
	ServiceID string `json:"serviceId" form:"serviceId"`
	pricingInput
}

func (in *quoteInput) readForm(args *fasthttp.Args) error {
	p := &in.pricingInput
	formString(args, "serviceId", &in.ServiceID)
	formString(args, "frequency", &p.Frequency)
	formString(args, "promoCode", &p.PromoCode)
	return errors.Join(formInt(args, "rooms", &p.Rooms), formInt(args, "bathrooms", &p.Bathrooms), formInt(args, "area", &p.Area))
}

func (in *quoteInput) normalize() {
	in.ServiceID = strings.TrimSpace(in.ServiceID)
	in.pricingInput.normalize()
}

// The pricing input's rules, made once: ozzo builds a rule's error (a map
// and its message) when the rule is made, a tenth of a quote's
// allocations.
var (
	promoCodeLength    = validation.RuneLength(0, 50)
	extraChoicesLength = validation.Length(0, maxExtraChoices)
	objectIDField      = validation.By(objectIDRule)
)

func (in quoteInput) Validate() error {
	return validation.ValidateStruct(&in,
		validation.Field(&in.ServiceID, validation.Required, objectIDField),
		validation.Field(&in.PromoCode, promoCodeLength),
		validation.Field(&in.Extras, extraChoicesLength),
	)
}

// Quote is POST /quote (anyone): the price of a visit without booking it,
// as JSON for an app or a partner site, or the booking form's price panel
// for htmx. It reads the service from the catalogue in memory, the
// settings through the document cache, and a promo code, when one is
// typed, once; the code is previewed, not claimed (the booking claims it).
func (h *Handler) Quote(c *fiber.Ctx) error {
	var in quoteInput
	fail := func(err error) error {
		var ve *ValidationError
		if wantsJSON(c) || !errors.As(err, &ve) {
			return err
		}
		panel := views.PricePanel(nil, views.FormState{Errors: ve.Fields})
		return h.render(c, fiber.StatusUnprocessableEntity, nil, page{title: h.meta(c).T("price.title"), body: panel})
	}
	if err := h.bindPricing(c, &in, &in.pricingInput); err != nil {
		return fail(err)
	}
	id, _ := primitive.ObjectIDFromHex(in.ServiceID)
	svc, err := h.services.Get(ctx(c), id, false)
	if errors.Is(err, store.ErrNotFound) {
		return fail(&ValidationError{Fields: map[string]string{"serviceId": h.meta(c).T("err.unknown_service")}})
	}
	if err != nil {
		return err
	}
	var customer primitive.ObjectID
	if u := currentUser(c); u != nil {
		customer = u.ID
	}
	q, _, err := h.priceVisit(c, svc, in.pricingInput, customer)
	if err != nil {
		return fail(err)
	}
	views.LabelQuote(h.meta(c).Locale, q)
	return h.render(c, fiber.StatusOK, q, page{title: h.meta(c).T("price.title"), body: views.PricePanel(q, views.FormState{})})
}

// orderOut is o as its JSON shows it to the reader: the lines and
// discounts labelled in their language, and an order booked before the
// calculator as one line of its price. A copy: o itself is left as stored.
func (h *Handler) orderOut(c *fiber.Ctx, o *store.Order) *store.Order {
	out := *o
	out.Lines = append([]store.PriceLine(nil), o.PriceLines()...)
	out.Discounts = append([]store.PriceDiscount{}, o.Discounts...)
	if len(o.Lines) == 0 {
		out.Subtotal, out.Total = o.Price, o.Price
	}
	if out.Frequency == "" {
		out.Frequency = store.FrequencyOnce
	}
	views.LabelPrice(h.meta(c).Locale, out.Lines, out.Discounts, out.Frequency)
	return &out
}
