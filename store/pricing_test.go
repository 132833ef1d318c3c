package store_test

import (
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// The rules of pricing.go, each expected figure worked out by hand from
// them (not by the code under test).
func TestQuote(t *testing.T) {
	rooms := &store.Service{Pricing: store.Pricing{Base: 100_000, PerRoom: 50_000, PerBathroom: 40_000, Minimum: 200_000,
		BaseMinutes: 60, MinutesPerRoom: 30, MinutesPerBathroom: 20},
		Extras: []store.Extra{
			{ID: "fridge", Name: store.Texts{Uz: "Muzlatgich ichi"}, Price: 35_000, Minutes: 30, Active: true},
			{ID: "windows", Name: store.Texts{Uz: "Derazalar"}, Price: 15_000, Minutes: 10, Countable: true, Active: true},
			{ID: "oven", Name: store.Texts{Uz: "Duxovka ichi"}, Price: 30_000, Minutes: 20, Active: false},
		}}
	area := &store.Service{Pricing: store.Pricing{PerSquareMetre: 4_500, Minimum: 250_000, BaseMinutes: 30, MinutesPer10SquareMetres: 12}}
	legacy := &store.Service{Price: 300_000, DurationMinutes: 180}
	odd := &store.Service{Pricing: store.Pricing{Base: 1_000_555, BaseMinutes: 60}}
	discounts := store.FrequencyDiscounts{Weekly: 15, Biweekly: 10, Monthly: 5}
	tenPercent := &store.PromoCode{Code: "BAHOR10", PercentOff: 10}
	fiftyThousand := &store.PromoCode{Code: "MINUS50", AmountOff: 50_000}
	tooMuch := &store.PromoCode{Code: "HAMMASI", AmountOff: 10_000_000}

	type line struct {
		kind   string
		unit   int64
		qty    int64
		amount int64
	}
	cases := []struct {
		name      string
		svc       *store.Service
		in        store.QuoteInput
		promo     *store.PromoCode
		lines     []line
		subtotal  int64
		discounts []int64
		rounding  int64
		total     int64
		minutes   int
	}{
		{name: "rooms and bathrooms", svc: rooms, in: store.QuoteInput{Rooms: 2, Bathrooms: 1},
			lines:    []line{{"base", 100_000, 1, 100_000}, {"rooms", 50_000, 2, 100_000}, {"bathrooms", 40_000, 1, 40_000}},
			subtotal: 240_000, total: 240_000, minutes: 140},
		{name: "below the minimum", svc: rooms, in: store.QuoteInput{Rooms: 1, Bathrooms: 1, Frequency: "once"},
			lines:    []line{{"base", 100_000, 1, 100_000}, {"rooms", 50_000, 1, 50_000}, {"bathrooms", 40_000, 1, 40_000}, {"minimum", 10_000, 1, 10_000}},
			subtotal: 200_000, total: 200_000, minutes: 110},
		{name: "extras, weekly, rounded up", svc: rooms,
			in: store.QuoteInput{Rooms: 3, Bathrooms: 2, Frequency: "weekly", Extras: []store.ExtraChoice{{ID: "fridge", Count: 1}, {ID: "windows", Count: 3}, {ID: "oven", Count: 0}}},
			lines: []line{{"base", 100_000, 1, 100_000}, {"rooms", 50_000, 3, 150_000}, {"bathrooms", 40_000, 2, 80_000},
				{"extra", 35_000, 1, 35_000}, {"extra", 15_000, 3, 45_000}},
			subtotal: 410_000, discounts: []int64{61_500}, rounding: 500, total: 349_000, minutes: 250},
		{name: "every two weeks and a percent code, rounded down", svc: rooms, promo: tenPercent,
			in: store.QuoteInput{Rooms: 3, Bathrooms: 2, Frequency: "biweekly", Extras: []store.ExtraChoice{{ID: "fridge", Count: 1}, {ID: "windows", Count: 3}}},
			lines: []line{{"base", 100_000, 1, 100_000}, {"rooms", 50_000, 3, 150_000}, {"bathrooms", 40_000, 2, 80_000},
				{"extra", 35_000, 1, 35_000}, {"extra", 15_000, 3, 45_000}},
			subtotal: 410_000, discounts: []int64{41_000, 36_900}, rounding: -100, total: 332_000, minutes: 250},
		{name: "monthly and an amount code", svc: rooms, promo: fiftyThousand, in: store.QuoteInput{Rooms: 2, Bathrooms: 1, Frequency: "monthly"},
			lines:    []line{{"base", 100_000, 1, 100_000}, {"rooms", 50_000, 2, 100_000}, {"bathrooms", 40_000, 1, 40_000}},
			subtotal: 240_000, discounts: []int64{12_000, 50_000}, total: 178_000, minutes: 140},
		{name: "by area, half rounds up", svc: area, in: store.QuoteInput{Area: 73},
			lines:    []line{{"area", 4_500, 73, 328_500}},
			subtotal: 328_500, rounding: 500, total: 329_000, minutes: 30 + 8*12},
		{name: "by area, below the minimum", svc: area, in: store.QuoteInput{Area: 50, Rooms: 99},
			lines:    []line{{"area", 4_500, 50, 225_000}, {"minimum", 25_000, 1, 25_000}},
			subtotal: 250_000, total: 250_000, minutes: 90},
		{name: "a code larger than the price leaves nothing", svc: area, promo: tooMuch, in: store.QuoteInput{Area: 49},
			lines:    []line{{"area", 4_500, 49, 220_500}, {"minimum", 29_500, 1, 29_500}},
			subtotal: 250_000, discounts: []int64{250_000}, total: 0, minutes: 30 + 5*12},
		{name: "a service priced before the calculator: flat", svc: legacy, in: store.QuoteInput{Rooms: 0, Frequency: "weekly"},
			lines:    []line{{"base", 300_000, 1, 300_000}},
			subtotal: 300_000, discounts: []int64{45_000}, total: 255_000, minutes: 180},
		{name: "a percent rounds half up to the so'm", svc: odd, promo: tenPercent, in: store.QuoteInput{},
			lines:    []line{{"base", 1_000_555, 1, 1_000_555}},
			subtotal: 1_000_555, discounts: []int64{100_056}, rounding: -499, total: 900_000, minutes: 60},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := c.svc.Quote(c.in, discounts, c.promo)
			if err != nil {
				t.Fatal(err)
			}
			var got []line
			for _, l := range q.Lines {
				got = append(got, line{l.Kind, l.UnitPrice, l.Quantity, l.Amount})
			}
			if len(got) != len(c.lines) {
				t.Fatalf("lines %v, want %v", got, c.lines)
			}
			for i := range got {
				if got[i] != c.lines[i] {
					t.Errorf("line %d: %v, want %v", i, got[i], c.lines[i])
				}
			}
			var off []int64
			for _, d := range q.Discounts {
				off = append(off, d.Amount)
			}
			if len(off) != len(c.discounts) {
				t.Fatalf("discounts %v, want %v", off, c.discounts)
			}
			for i := range off {
				if off[i] != c.discounts[i] {
					t.Errorf("discount %d: %d, want %d", i, off[i], c.discounts[i])
				}
			}
			if q.Subtotal != c.subtotal || q.Rounding != c.rounding || q.Total != c.total || q.DurationMinutes != c.minutes || q.Currency != "UZS" {
				t.Errorf("subtotal %d rounding %d total %d minutes %d %s; want %d %d %d %d UZS",
					q.Subtotal, q.Rounding, q.Total, q.DurationMinutes, q.Currency, c.subtotal, c.rounding, c.total, c.minutes)
			}
		})
	}
	t.Run("an extra's line keeps its name", func(t *testing.T) {
		q, err := rooms.Quote(store.QuoteInput{Rooms: 1, Bathrooms: 1, Extras: []store.ExtraChoice{{ID: "windows", Count: 2}}}, discounts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if l := q.Lines[len(q.Lines)-1]; l.ExtraID != "windows" || l.Name.Uz != "Derazalar" {
			t.Errorf("%+v", l)
		}
	})
	t.Run("a code is named on the quote", func(t *testing.T) {
		q, _ := rooms.Quote(store.QuoteInput{Rooms: 1, Bathrooms: 1}, discounts, tenPercent)
		if q.PromoCode != "BAHOR10" || q.Discounts[0].Kind != "promo" || q.Discounts[0].Code != "BAHOR10" || q.Discounts[0].Percent != 10 {
			t.Errorf("%+v", q)
		}
	})
}

func TestQuoteRefuses(t *testing.T) {
	rooms := &store.Service{Pricing: store.Pricing{Base: 100_000, PerRoom: 50_000, PerBathroom: 40_000},
		Extras: []store.Extra{
			{ID: "fridge", Price: 35_000, Active: true},
			{ID: "windows", Price: 15_000, Countable: true, Active: true},
			{ID: "oven", Price: 30_000, Active: false},
		}}
	area := &store.Service{Pricing: store.Pricing{PerSquareMetre: 4_500}}
	ok := store.QuoteInput{Rooms: 2, Bathrooms: 1}
	with := func(extras ...store.ExtraChoice) store.QuoteInput { in := ok; in.Extras = extras; return in }
	cases := []struct {
		name  string
		svc   *store.Service
		in    store.QuoteInput
		field string
	}{
		{"no rooms where priced by room", rooms, store.QuoteInput{Rooms: 0, Bathrooms: 1}, "rooms"},
		{"21 rooms", rooms, store.QuoteInput{Rooms: 21, Bathrooms: 1}, "rooms"},
		{"negative rooms", rooms, store.QuoteInput{Rooms: -2, Bathrooms: 1}, "rooms"},
		{"no bathroom", rooms, store.QuoteInput{Rooms: 2}, "bathrooms"},
		{"no area", area, store.QuoteInput{}, "area"},
		{"10,000 m²", area, store.QuoteInput{Area: 10_000}, "area"},
		{"an unknown extra", rooms, with(store.ExtraChoice{ID: "sauna", Count: 1}), "extras"},
		{"an archived extra", rooms, with(store.ExtraChoice{ID: "oven", Count: 1}), "extras"},
		{"a count on a tick-only extra", rooms, with(store.ExtraChoice{ID: "fridge", Count: 2}), "extras"},
		{"too many windows", rooms, with(store.ExtraChoice{ID: "windows", Count: 21}), "extras"},
		{"a negative count", rooms, with(store.ExtraChoice{ID: "windows", Count: -1}), "extras"},
		{"an extra twice", rooms, with(store.ExtraChoice{ID: "windows", Count: 1}, store.ExtraChoice{ID: "windows", Count: 2}), "extras"},
		{"an unknown frequency", rooms, store.QuoteInput{Rooms: 2, Bathrooms: 1, Frequency: "daily"}, "frequency"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := c.svc.Quote(c.in, store.FrequencyDiscounts{}, nil)
			var p *store.PricingProblem
			if !errors.As(err, &p) || p.Field != c.field || !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("quote %+v, error %v; want a problem with %s", q, err, c.field)
			}
		})
	}
}

func TestRoundSom(t *testing.T) {
	for in, want := range map[int64]int64{0: 0, 499: 0, 500: 1000, 999: 1000, 349_499: 349_000, 349_500: 350_000, 350_000: 350_000} {
		if got := store.RoundSom(in); got != want {
			t.Errorf("RoundSom(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestPromoCodeProblem(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	svc, other := primitive.NewObjectID(), primitive.NewObjectID()
	cases := []struct {
		name  string
		code  store.PromoCode
		prior int64
		want  string
	}{
		{"usable", store.PromoCode{Active: true, ValidFrom: &earlier, ValidTo: &later}, 3, ""},
		{"disabled reads as unknown", store.PromoCode{Active: false}, 0, "err.promo.unknown"},
		{"not yet valid", store.PromoCode{Active: true, ValidFrom: &later}, 0, "err.promo.not_yet"},
		{"expired at its end", store.PromoCode{Active: true, ValidTo: &now}, 0, "err.promo.expired"},
		{"first order only, a second", store.PromoCode{Active: true, FirstOrderOnly: true}, 1, "err.promo.first_order"},
		{"first order only, the first", store.PromoCode{Active: true, FirstOrderOnly: true}, 0, ""},
		{"for another service", store.PromoCode{Active: true, ServiceIDs: []primitive.ObjectID{other}}, 0, "err.promo.service"},
		{"for this service", store.PromoCode{Active: true, ServiceIDs: []primitive.ObjectID{other, svc}}, 0, ""},
	}
	for _, c := range cases {
		if got := c.code.Problem(now, svc, c.prior); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if store.NormalizeCode("  bahor10 ") != "BAHOR10" {
		t.Error("codes are matched whatever their case")
	}
}
