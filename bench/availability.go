package main

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/demo"
	"tozalash/store"
	"tozalash/views"
)

// The availability scenario's data set, apart from the suite's: a company
// of availCrews crews working round the clock, with availVisits visits
// booked, asked for the free times of availDays days.
const (
	availCrews     = 20
	availVisits    = 20_000
	availDays      = 30
	availCustomers = 500
)

// availData is what the availability scenario asks about: the demo's
// apartment cleaning, priced by rooms and bathrooms.
type availData struct {
	service primitive.ObjectID
	query   string // the sizes, as the booking form sends them
}

// seedCrews adds n crews doing every service, working 00:00–24:00 every
// day: capacity for clients that book at any hour as fast as they can.
func seedCrews(ctx context.Context, db *store.DB, n int) ([]store.Crew, error) {
	sched := store.NewScheduleStore(db)
	out := make([]store.Crew, 0, n)
	for i := 0; i < n; i++ {
		c := store.Crew{Name: fmt.Sprintf("Brigada %03d", i+1), Members: []string{"Dilnoza", "Gulnora"}, Hours: demo.EveryDay("00:00", "24:00"), Active: true}
		if err := sched.CreateCrew(ctx, &c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// bookingTime is the k-th booking's start: the days from the day after
// tomorrow (always past the lead) to near the horizon's end in turn, then
// the next half hour, so that a run's bookings rarely meet on one crew.
// The starts stop at 19:30: a visit must end within its crew's day, and
// with starts up to 23:30 the 2,520th booking of a run (at 22:30) was
// refused as outside every crew's hours, once booking passed 168 a second.
// After the last start the times come round again, each on another crew.
func bookingTime(now time.Time, k int) time.Time {
	const days, starts = 56, 40
	l := now.In(views.Tashkent)
	day := time.Date(l.Year(), l.Month(), l.Day()+2+k%days, 0, 0, 0, 0, views.Tashkent)
	return day.Add(time.Duration((k/days)%starts*30) * time.Minute)
}

// generateAvailability fills the embedded database under dataDir, then
// closes it: the demo catalogue, availCrews crews round the clock and
// availVisits visits imported with their reservations (store Import writes
// their cells and days' entries). A crew's day holds nine visits of 90
// minutes, each two hours with the buffer, and one gap of six hours whose
// place moves with the crew and the day: busy, with a free time here and
// there. The visits run from the horizon's last day back into the past
// (completed ones) until there are availVisits of them.
func generateAvailability(dataDir string) (*availData, error) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: dataDir, Database: "tozalash"})
	if err != nil {
		return nil, err
	}
	defer db.Close(ctx)
	if _, err := demo.Seed(ctx, db); err != nil {
		return nil, err
	}
	crews, err := seedCrews(ctx, db, availCrews)
	if err != nil {
		return nil, err
	}
	svcs, err := store.NewServiceStore(db).All(ctx)
	if err != nil {
		return nil, err
	}
	var flat *store.Service
	for i := range svcs {
		if svcs[i].Name.En == demo.Catalogue[0].Name.En {
			flat = &svcs[i]
		}
	}
	if flat == nil {
		return nil, fmt.Errorf("the demo catalogue has no %q", demo.Catalogue[0].Name.En)
	}
	hash, _ := auth.HashPassword(password)
	now := time.Now().UTC().Truncate(time.Millisecond)
	users := make([]store.User, availCustomers)
	for i := range users {
		users[i] = store.User{ID: primitive.NewObjectID(), Username: fmt.Sprintf("mijoz%04d", i), Email: fmt.Sprintf("mijoz%04d@example.uz", i),
			PasswordHash: hash, Role: store.RoleUser, IsVerified: true, Locale: "uz", CreatedAt: now, UpdatedAt: now}
	}
	if err := store.NewUserStore(db).ImportUsers(ctx, users); err != nil {
		return nil, err
	}
	l := now.In(views.Tashkent)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, views.Tashkent)
	orders := make([]store.Order, 0, availVisits)
	for d := store.DefaultHorizonDays - 1; len(orders) < availVisits; d-- {
		day := today.AddDate(0, 0, d)
		for c := range crews {
			gap := (3*c + d + 1000) % 10 // the gap's first two-hour slot of twelve
			for slot := 0; slot < 12 && len(orders) < availVisits; slot++ {
				if slot >= gap && slot < gap+3 {
					continue
				}
				at := day.Add(time.Duration(slot) * 2 * time.Hour).UTC()
				i := len(orders)
				u := users[i%len(users)]
				created := at.Add(-72 * time.Hour)
				if created.After(now) {
					created = now
				}
				status := store.StatusPending
				if at.Before(now) {
					status = store.StatusCompleted
				}
				orders = append(orders, store.Order{ID: primitive.NewObjectIDFromTimestamp(created), UserID: u.ID, CustomerName: u.Username,
					ServiceID: flat.ID, ServiceName: flat.Name.Uz, ServiceNames: flat.Name, Status: status, Price: 350_000, Total: 350_000, DurationMinutes: 90,
					ScheduledAt: at, CrewID: crews[c].ID, CrewName: crews[c].Name, EndsAt: at.Add(90 * time.Minute), ReservedUntil: at.Add(2 * time.Hour),
					Address: fmt.Sprintf("Yunusobod %d-mavze, %d-uy", 1+i%19, 1+i%60), Phone: fmt.Sprintf("+99890%07d", i),
					IdempotencyKey: fmt.Sprintf("avail-%d", i), CreatedAt: created, UpdatedAt: created,
					History: []store.StatusChange{{Status: store.StatusPending, At: created, ByUserID: u.ID, ByName: u.Username}}})
			}
		}
	}
	if err := store.NewOrderStore(db).Import(ctx, orders); err != nil {
		return nil, err
	}
	return &availData{service: flat.ID, query: "rooms=1&bathrooms=1"}, nil
}
