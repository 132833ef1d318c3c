package demo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// SeedPlans makes one regular cleaning, once per database: Aziza's weekly
// apartment cleaning at 12:00, from three days on, priced with the demo's
// weekly discount. Its visits are not booked here: the plans job books
// them when the app starts, as it would for any plan (so `make run` shows
// /my/plans and the board's "Regular" badge). It reports whether it did
// anything.
func SeedPlans(ctx context.Context, db *store.DB, now time.Time) (bool, error) {
	first, err := db.MarkOnce(ctx, "seed:demo-plans")
	if err != nil || !first {
		return false, err
	}
	services, err := store.NewServiceStore(db).All(ctx)
	if err != nil {
		return false, err
	}
	svc := catalogueService(services, 0)
	if svc == nil {
		return false, nil // the admin archived or renamed it
	}
	customers, err := seedCustomers(ctx, db)
	if err != nil {
		return false, err
	}
	size := store.QuoteInput{Rooms: 2, Bathrooms: 1, Frequency: store.FrequencyWeekly}
	q, err := svc.Quote(size, FrequencyDiscounts, nil)
	if err != nil {
		return false, err
	}
	u := customers[0]
	start := store.AddDays(store.LocalDate(now), 3)
	p := &store.Plan{ID: primitive.NewObjectID(), UserID: u.ID, CustomerName: u.Username, ServiceID: svc.ID, ServiceNames: svc.Name,
		Address: "Chilonzor tumani, 9-kvartal, 14-uy, 27-xonadon", Phone: u.Phone, Notes: "Domofon kodi 27",
		Terms: []store.PlanTerms{{From: start, Frequency: store.FrequencyWeekly, Anchor: start, Time: "12:00",
			Rooms: size.Rooms, Bathrooms: size.Bathrooms, Area: size.Area, Quote: *q}},
		Through: store.AddDays(start, -1)}
	return true, store.NewPlanStore(db).Create(ctx, p)
}
