package store_test

import (
	"context"
	"testing"

	"tozalash/store"
	"tozalash/store/storetest"
)

// A priced service's catalogue figures are its smallest home's quote (1
// room, 1 bathroom, 10 m² where used, no extras, once), on create and on
// every change of its pricing; a service without a pricing keeps its flat
// price. Each figure worked out by hand.
func TestCatalogueFiguresFollowThePricing(t *testing.T) {
	ctx := context.Background()
	services := store.NewServiceStore(storetest.Open(t))
	extras := []store.Extra{{ID: "fridge", Name: store.Texts{Uz: "Muzlatgich ichi"}, Price: 40_000, Minutes: 30, Active: true}}
	cases := []struct {
		name    string
		pricing store.Pricing
		price   int64
		minutes int
	}{
		// 150 000 + 60 000 + 40 000 = 250 000; 60 + 45 + 30 = 135.
		{"rooms and bathrooms", store.Pricing{Base: 150_000, PerRoom: 60_000, PerBathroom: 40_000, BaseMinutes: 60, MinutesPerRoom: 45, MinutesPerBathroom: 30}, 250_000, 135},
		// 10 × 9 000 = 90 000, raised to 600 000; 120 + 40 = 160.
		{"per m² under its minimum", store.Pricing{PerSquareMetre: 9_000, Minimum: 600_000, BaseMinutes: 120, MinutesPer10SquareMetres: 40}, 600_000, 160},
		// 10 × 12 345 = 123 450, rounded to 123 000; 30 + 10 = 40.
		{"per m², rounded to 1,000 so'm", store.Pricing{PerSquareMetre: 12_345, BaseMinutes: 30, MinutesPer10SquareMetres: 10}, 123_000, 40},
		{"flat", store.Pricing{Base: 120_000, BaseMinutes: 90}, 120_000, 90},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc := &store.Service{Name: store.Texts{Uz: c.name}, Price: 1, DurationMinutes: 1, Pricing: c.pricing, Extras: extras}
			if err := services.Create(ctx, svc); err != nil {
				t.Fatal(err)
			}
			got, err := services.Get(ctx, svc.ID, true)
			if err != nil || got.Price != c.price || got.DurationMinutes != c.minutes {
				t.Fatalf("created: %d so'm, %d min (%v); want %d, %d", got.Price, got.DurationMinutes, err, c.price, c.minutes)
			}
			// A change of pricing moves them: the base 10 000 more.
			p := c.pricing
			p.Base += 10_000
			want := c.price + 10_000
			if c.pricing.Minimum > 0 && c.price == c.pricing.Minimum {
				want = c.price // still under the minimum
			}
			changed, err := services.Update(ctx, svc.ID, store.ServiceChange{Pricing: &p})
			if err != nil || changed.Price != want || changed.DurationMinutes != c.minutes {
				t.Errorf("changed: %d so'm, %d min (%v); want %d, %d", changed.Price, changed.DurationMinutes, err, want, c.minutes)
			}
		})
	}
	legacy := &store.Service{Name: store.Texts{Uz: "Oddiy"}, Price: 300_000, DurationMinutes: 180}
	if err := services.Create(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	if got, _ := services.Get(ctx, legacy.ID, true); got.Price != 300_000 || got.DurationMinutes != 180 || got.Extras == nil {
		t.Errorf("a flat service: %d so'm, %d min, extras %v", got.Price, got.DurationMinutes, got.Extras)
	}
	price := int64(310_000)
	if got, err := services.Update(ctx, legacy.ID, store.ServiceChange{Price: &price}); err != nil || got.Price != 310_000 {
		t.Errorf("a flat price changed: %v %v", got, err)
	}
}
