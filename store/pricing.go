package store

import (
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// How a visit is priced (DESIGN.md, Pricing). Money is integer so'm from
// the form to the order: no float touches it. The rules, in order:
//
//  1. lines: the base price, rooms × perRoom, bathrooms × perBathroom,
//     area × perSquareMetre (each only where the service uses it), and each
//     chosen extra × its count;
//  2. subtotal: their sum, raised to the service's minimum with a line of
//     its own ("minimum") when below it;
//  3. the frequency discount: its percent of the subtotal, rounded half up
//     to the so'm;
//  4. the promo code: its percent of what is left (rounded the same), or
//     its amount, never more than what is left;
//  5. total: what is left, rounded half up to 1,000 so'm; the difference is
//     the quote's Rounding.
//
// Duration: baseMinutes, plus minutesPerRoom × rooms, minutesPerBathroom ×
// bathrooms, minutesPer10SquareMetres for every 10 m² begun, and each
// extra's minutes × its count.

// Frequencies of a booking: once, or a regular cleaning (a plan).
const (
	FrequencyOnce     = "once"
	FrequencyWeekly   = "weekly"
	FrequencyBiweekly = "biweekly"
	FrequencyMonthly  = "monthly"
)

// Frequencies in the order the form offers them.
var Frequencies = []string{FrequencyOnce, FrequencyWeekly, FrequencyBiweekly, FrequencyMonthly}

// Bounds of a home's size and an extra's count: beyond them the input is a
// mistake, not a home (a 10,000 m² flat).
const (
	MaxRooms      = 20
	MaxBathrooms  = 10
	MaxArea       = 1000 // m²
	MaxExtraCount = 20
	// MaxPrice bounds every price an admin sets, so that no sum of
	// MaxExtraCount extras and MaxArea square metres overflows.
	MaxPrice = 1_000_000_000
	// MaxMinutes bounds every duration an admin sets.
	MaxMinutes = 24 * 60
)

// Pricing is how a service is priced; 0 leaves a part unused, and none of
// the per-unit prices set is a flat price (Base).
type Pricing struct {
	Base                     int64 `bson:"base" json:"base"`
	PerRoom                  int64 `bson:"perRoom" json:"perRoom"`
	PerBathroom              int64 `bson:"perBathroom" json:"perBathroom"`
	PerSquareMetre           int64 `bson:"perSquareMetre" json:"perSquareMetre"`
	Minimum                  int64 `bson:"minimum" json:"minimum"`
	BaseMinutes              int   `bson:"baseMinutes" json:"baseMinutes"`
	MinutesPerRoom           int   `bson:"minutesPerRoom" json:"minutesPerRoom"`
	MinutesPerBathroom       int   `bson:"minutesPerBathroom" json:"minutesPerBathroom"`
	MinutesPer10SquareMetres int   `bson:"minutesPer10SquareMetres" json:"minutesPer10SquareMetres"`
}

// UsesRooms, UsesBathrooms and UsesArea say which sizes the booking form
// asks for: those that change the price or the duration.
func (p Pricing) UsesRooms() bool     { return p.PerRoom > 0 || p.MinutesPerRoom > 0 }
func (p Pricing) UsesBathrooms() bool { return p.PerBathroom > 0 || p.MinutesPerBathroom > 0 }
func (p Pricing) UsesArea() bool      { return p.PerSquareMetre > 0 || p.MinutesPer10SquareMetres > 0 }

// Extra is something a customer may add to a visit: ticked (inside the
// oven) or counted (3 windows). An archived extra (not Active) is offered
// no more; the orders that have it keep its line.
type Extra struct {
	ID        string `bson:"id" json:"id"` // short and stable: the form's field is extra_<id>
	Name      Texts  `bson:"name" json:"name"`
	Price     int64  `bson:"price" json:"price"`
	Minutes   int    `bson:"minutes" json:"minutes"`
	Countable bool   `bson:"countable" json:"countable"`
	Active    bool   `bson:"active" json:"active"`
}

// FrequencyDiscounts are the percents off a regular cleaning, by frequency
// (company settings).
type FrequencyDiscounts struct {
	Weekly   int `bson:"weekly" json:"weekly"`
	Biweekly int `bson:"biweekly" json:"biweekly"`
	Monthly  int `bson:"monthly" json:"monthly"`
}

// Percent is the discount of frequency f.
func (d FrequencyDiscounts) Percent(f string) int {
	switch f {
	case FrequencyWeekly:
		return d.Weekly
	case FrequencyBiweekly:
		return d.Biweekly
	case FrequencyMonthly:
		return d.Monthly
	}
	return 0
}

// ExtraChoice is an extra the customer chose, Count times (1 for a ticked
// one).
type ExtraChoice struct {
	ID    string `json:"id"`
	Count int    `json:"count"`
}

// QuoteInput is what a customer tells about the visit to be priced: the
// same from the booking form, POST /quote and POST /orders.
type QuoteInput struct {
	Rooms     int           `json:"rooms"`
	Bathrooms int           `json:"bathrooms"`
	Area      int           `json:"area"` // m²
	Extras    []ExtraChoice `json:"extras"`
	Frequency string        `json:"frequency"`
	PromoCode string        `json:"promoCode"`
}

// Kinds of a price line.
const (
	LineBase      = "base"
	LineRooms     = "rooms"
	LineBathrooms = "bathrooms"
	LineArea      = "area"
	LineExtra     = "extra"
	LineMinimum   = "minimum" // raises the subtotal to the service's minimum
	LineFlat      = "flat"    // an order booked before the calculator: its one price
)

// PriceLine is one line of a price. An extra's line keeps the extra's name
// as it was (an order's snapshot); the other kinds are named by Kind in the
// reader's language. Label is that name, filled for the reader by the
// handler (LabelFor), never stored.
type PriceLine struct {
	Kind      string `bson:"kind" json:"kind"`
	ExtraID   string `bson:"extraId,omitempty" json:"extraId,omitempty"`
	Name      Texts  `bson:"name,omitempty" json:"name,omitzero"` // omitzero: a struct is never "empty" to encoding/json
	Label     string `bson:"-" json:"label"`
	UnitPrice int64  `bson:"unitPrice" json:"unitPrice"`
	Quantity  int64  `bson:"quantity" json:"quantity"`
	Amount    int64  `bson:"amount" json:"amount"`
}

// An order's price lines are stored packed, as its timeline is.
func (l PriceLine) MarshalBSONValue() (bsontype.Type, []byte, error) {
	type plain PriceLine
	return pack(plain(l))
}

func (l *PriceLine) UnmarshalBSONValue(t bsontype.Type, data []byte) error {
	type plain PriceLine
	return unpack(t, data, (*plain)(l), "a price line")
}

// Kinds of a discount.
const (
	DiscountFrequency = "frequency"
	DiscountPromo     = "promo"
)

// PriceDiscount is an amount taken off the subtotal: a frequency's percent,
// or a promo code's percent or amount. Label is for the reader, as in
// PriceLine.
type PriceDiscount struct {
	Kind    string `bson:"kind" json:"kind"`
	Percent int    `bson:"percent,omitempty" json:"percent,omitempty"`
	Code    string `bson:"code,omitempty" json:"code,omitempty"`
	Label   string `bson:"-" json:"label"`
	Amount  int64  `bson:"amount" json:"amount"`
}

// Quote is a priced visit: what the form shows and the order keeps.
type Quote struct {
	Lines     []PriceLine     `json:"lines"`
	Subtotal  int64           `json:"subtotal"`
	Discounts []PriceDiscount `json:"discounts"`
	// Rounding is what rounding to 1,000 so'm added (or took, negative).
	Rounding        int64  `json:"rounding"`
	Total           int64  `json:"total"`
	DurationMinutes int    `json:"durationMinutes"`
	Currency        string `json:"currency"`
	Frequency       string `json:"frequency"`
	PromoCode       string `json:"promoCode,omitempty"`
}

// PricingProblem is input the rules refuse: Field is the input's name
// (rooms, bathrooms, area, extras, frequency, promoCode), Message the
// message id that says why.
type PricingProblem struct {
	Field   string
	Message string
}

func (p *PricingProblem) Error() string { return fmt.Sprintf("%s: %s", p.Field, p.Message) }

// Unwrap makes a problem an ErrInvalid.
func (p *PricingProblem) Unwrap() error { return ErrInvalid }

// PriceModel is the service's pricing, and for a service priced before
// the calculator (no pricing set) its flat price and duration.
func (s *Service) PriceModel() Pricing {
	if s.Pricing == (Pricing{}) {
		return Pricing{Base: s.Price, BaseMinutes: s.DurationMinutes}
	}
	return s.Pricing
}

// ActiveExtras are the extras the booking form offers, in the admin's
// order.
func (s *Service) ActiveExtras() []Extra {
	var out []Extra
	for _, e := range s.Extras {
		if e.Active {
			out = append(out, e)
		}
	}
	return out
}

func (s *Service) extra(id string) (Extra, bool) {
	for _, e := range s.Extras {
		if e.ID == id {
			return e, true
		}
	}
	return Extra{}, false
}

// Quote prices in for the service, with the company's frequency discounts
// and promo, a code already found eligible for this booking (nil: none).
// Input the rules refuse is a *PricingProblem.
func (s *Service) Quote(in QuoteInput, discounts FrequencyDiscounts, promo *PromoCode) (*Quote, error) {
	p := s.PriceModel()
	// Room for every line at once: a quote is the calculator's hot path.
	q := &Quote{Currency: "UZS", Frequency: in.Frequency, Lines: make([]PriceLine, 0, 5+len(in.Extras)), Discounts: make([]PriceDiscount, 0, 2)}
	if q.Frequency == "" {
		q.Frequency = FrequencyOnce
	}
	if !validFrequency(q.Frequency) {
		return nil, &PricingProblem{"frequency", "err.pricing.frequency"}
	}
	minutes := p.BaseMinutes
	if p.Base > 0 {
		q.Lines = append(q.Lines, PriceLine{Kind: LineBase, UnitPrice: p.Base, Quantity: 1, Amount: p.Base})
	}
	if p.UsesRooms() {
		if in.Rooms < 1 || in.Rooms > MaxRooms {
			return nil, &PricingProblem{"rooms", "err.pricing.rooms"}
		}
		minutes += in.Rooms * p.MinutesPerRoom
		if p.PerRoom > 0 {
			q.Lines = append(q.Lines, line(LineRooms, p.PerRoom, in.Rooms))
		}
	}
	if p.UsesBathrooms() {
		if in.Bathrooms < 1 || in.Bathrooms > MaxBathrooms {
			return nil, &PricingProblem{"bathrooms", "err.pricing.bathrooms"}
		}
		minutes += in.Bathrooms * p.MinutesPerBathroom
		if p.PerBathroom > 0 {
			q.Lines = append(q.Lines, line(LineBathrooms, p.PerBathroom, in.Bathrooms))
		}
	}
	if p.UsesArea() {
		if in.Area < 1 || in.Area > MaxArea {
			return nil, &PricingProblem{"area", "err.pricing.area"}
		}
		minutes += (in.Area + 9) / 10 * p.MinutesPer10SquareMetres
		if p.PerSquareMetre > 0 {
			q.Lines = append(q.Lines, line(LineArea, p.PerSquareMetre, in.Area))
		}
	}
	seen := map[string]bool{}
	for _, c := range in.Extras {
		if c.Count == 0 {
			continue // offered, not chosen
		}
		e, ok := s.extra(c.ID)
		switch {
		case !ok || !e.Active || seen[c.ID]:
			return nil, &PricingProblem{"extras", "err.pricing.extra_unknown"}
		case c.Count < 0 || c.Count > MaxExtraCount:
			return nil, &PricingProblem{"extras", "err.pricing.extra_count"}
		case !e.Countable && c.Count != 1:
			return nil, &PricingProblem{"extras", "err.pricing.extra_not_countable"}
		}
		seen[c.ID] = true
		l := line(LineExtra, e.Price, c.Count)
		l.ExtraID, l.Name = e.ID, e.Name
		q.Lines = append(q.Lines, l)
		minutes += e.Minutes * c.Count
	}
	for _, l := range q.Lines {
		q.Subtotal += l.Amount
	}
	if q.Subtotal < p.Minimum {
		q.Lines = append(q.Lines, PriceLine{Kind: LineMinimum, UnitPrice: p.Minimum - q.Subtotal, Quantity: 1, Amount: p.Minimum - q.Subtotal})
		q.Subtotal = p.Minimum
	}
	left := q.Subtotal
	if pct := discounts.Percent(q.Frequency); pct > 0 {
		off := percentOf(left, pct)
		q.Discounts = append(q.Discounts, PriceDiscount{Kind: DiscountFrequency, Percent: pct, Amount: off})
		left -= off
	}
	if promo != nil {
		off := min(promo.AmountOff, left)
		if promo.PercentOff > 0 {
			off = percentOf(left, promo.PercentOff)
		}
		q.Discounts = append(q.Discounts, PriceDiscount{Kind: DiscountPromo, Percent: promo.PercentOff, Code: promo.Code, Amount: off})
		q.PromoCode = promo.Code
		left -= off
	}
	q.Total = RoundSom(left)
	q.Rounding = q.Total - left
	q.DurationMinutes = minutes
	return q, nil
}

func line(kind string, unit int64, n int) PriceLine {
	return PriceLine{Kind: kind, UnitPrice: unit, Quantity: int64(n), Amount: unit * int64(n)}
}

// percentOf is pct percent of amount, rounded half up to the so'm.
func percentOf(amount int64, pct int) int64 { return (amount*int64(pct) + 50) / 100 }

// RoundSom rounds a non-negative amount half up to 1,000 so'm: 349 499 →
// 349 000, 349 500 → 350 000.
func RoundSom(amount int64) int64 { return (amount + 500) / 1000 * 1000 }

func validFrequency(f string) bool {
	for _, v := range Frequencies {
		if f == v {
			return true
		}
	}
	return false
}

// PromoCode is a discount a customer gets by typing Code: PercentOff
// percent, or AmountOff so'm. MaxUses (0: no limit) counts every
// customer's orders with it, MaxUsesPerCustomer (0: no limit) one
// customer's; ServiceIDs (empty: every service) are the services it is
// for. Uses is read from the claims, never written.
type PromoCode struct {
	ID                 primitive.ObjectID   `bson:"_id" json:"id"`
	Code               string               `bson:"code" json:"code"` // upper case (NormalizeCode)
	PercentOff         int                  `bson:"percentOff" json:"percentOff"`
	AmountOff          int64                `bson:"amountOff" json:"amountOff"`
	ValidFrom          *time.Time           `bson:"validFrom,omitempty" json:"validFrom"`
	ValidTo            *time.Time           `bson:"validTo,omitempty" json:"validTo"`
	MaxUses            int                  `bson:"maxUses" json:"maxUses"`
	MaxUsesPerCustomer int                  `bson:"maxUsesPerCustomer" json:"maxUsesPerCustomer"`
	ServiceIDs         []primitive.ObjectID `bson:"serviceIds" json:"serviceIds"`
	FirstOrderOnly     bool                 `bson:"firstOrderOnly" json:"firstOrderOnly"`
	Active             bool                 `bson:"active" json:"active"`
	Uses               int                  `bson:"-" json:"uses"`
	CreatedAt          time.Time            `bson:"createdAt" json:"createdAt"`
	UpdatedAt          time.Time            `bson:"updatedAt" json:"updatedAt"`
}

// NormalizeCode is a code as stored and matched: codes are matched
// whatever their case.
func NormalizeCode(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// Problem says why the code cannot be used on a booking of service now by
// a customer with priorOrders orders already: the message id, or "" when
// it can. Its uses are checked when it is claimed (see PromoCodeStore).
// A disabled code reads as unknown: the customer learns nothing of codes
// they cannot use.
func (p *PromoCode) Problem(now time.Time, service primitive.ObjectID, priorOrders int64) string {
	switch {
	case !p.Active:
		return "err.promo.unknown"
	case p.ValidFrom != nil && now.Before(*p.ValidFrom):
		return "err.promo.not_yet"
	case p.ValidTo != nil && !now.Before(*p.ValidTo):
		return "err.promo.expired"
	case p.FirstOrderOnly && priorOrders > 0:
		return "err.promo.first_order"
	}
	if len(p.ServiceIDs) == 0 {
		return ""
	}
	for _, id := range p.ServiceIDs {
		if id == service {
			return ""
		}
	}
	return "err.promo.service"
}

// SetQuote makes q the order's price: its lines, discounts and total.
func (o *Order) SetQuote(q *Quote) {
	o.Lines, o.Subtotal, o.Discounts, o.Rounding = q.Lines, q.Subtotal, q.Discounts, q.Rounding
	o.Total, o.Price, o.DurationMinutes = q.Total, q.Total, q.DurationMinutes
	o.PromoCode, o.Frequency = q.PromoCode, q.Frequency
}

// PriceLines are the order's lines; an order booked before the calculator
// has one, of its price.
func (o *Order) PriceLines() []PriceLine {
	if len(o.Lines) > 0 {
		return o.Lines
	}
	return []PriceLine{{Kind: LineFlat, UnitPrice: o.Price, Quantity: 1, Amount: o.Price}}
}
