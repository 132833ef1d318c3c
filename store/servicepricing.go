package store

// The catalogue's figures of a priced service. A service's Price and
// DurationMinutes are what the catalogue shows ("from 350 000 so'm,
// 3 h"); once the service has a pricing they follow it, so that the
// catalogue never promises less than the calculator asks.

// SmallestHome is the visit the catalogue's "from" figures price: 1 room,
// 1 bathroom and 10 m² (each where the service uses it), no extras, once,
// no discount.
var SmallestHome = QuoteInput{Rooms: 1, Bathrooms: 1, Area: 10, Frequency: FrequencyOnce}

// FromFigures are the price and duration of the smallest home under
// pricing p; a pricing that refuses it (none does that passes the admin's
// validation) is the error.
func FromFigures(p Pricing) (price int64, minutes int, err error) {
	q, err := (&Service{Pricing: p}).Quote(SmallestHome, FrequencyDiscounts{}, nil)
	if err != nil {
		return 0, 0, err
	}
	return q.Total, q.DurationMinutes, nil
}

// followPricing sets the service's Price and DurationMinutes from its
// pricing; a service without one (priced before the calculator) keeps its
// flat price.
func (s *Service) followPricing() error {
	if s.Pricing == (Pricing{}) {
		return nil
	}
	price, minutes, err := FromFigures(s.Pricing)
	if err != nil {
		return err
	}
	s.Price, s.DurationMinutes = price, minutes
	return nil
}
