package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// Imported visits hold their crews as booked ones do: the day shows them,
// a booking cannot take their time, and an import that would sell a crew
// twice writes nothing.
func TestImportReservesTheCrews(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	sched := store.NewScheduleStore(db)
	day := [][2]string{{"00:00", "24:00"}}
	crew := &store.Crew{Name: "Brigada", Active: true, Hours: store.WeekHours{"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}}
	if err := sched.CreateCrew(ctx, crew); err != nil {
		t.Fatal(err)
	}
	user := account(t, db, "importer")
	d := time.Now().In(store.Tashkent).AddDate(0, 0, 3)
	at := time.Date(d.Year(), d.Month(), d.Day(), 10, 0, 0, 0, store.Tashkent).UTC()
	visit := func(at time.Time, key string) store.Order {
		o := *newOrder(user, primitive.NewObjectID(), key)
		o.ID, o.Status, o.ScheduledAt = primitive.NewObjectID(), store.StatusPending, at
		o.CrewID, o.CrewName, o.EndsAt, o.ReservedUntil = crew.ID, crew.Name, at.Add(time.Hour), at.Add(90*time.Minute)
		return o
	}
	orders := store.NewOrderStore(db)
	if err := orders.Import(ctx, []store.Order{visit(at, "i1"), visit(at.Add(2*time.Hour), "i2")}); err != nil {
		t.Fatal(err)
	}
	booked, err := sched.Day(ctx, store.LocalDate(at))
	if err != nil {
		t.Fatal(err)
	}
	if len(booked) != 2 || booked[0].CrewID != crew.ID || !booked[0].From.Equal(at) || !booked[1].Until.Equal(at.Add(210*time.Minute)) {
		t.Fatalf("the day holds %+v", booked)
	}
	rules := store.DefaultScheduleRules()
	if _, err := sched.Reserve(ctx, []*store.Crew{crew}, primitive.NewObjectID(), at.Add(30*time.Minute), 30, rules, ""); !errors.Is(err, store.ErrSlotTaken) {
		t.Fatalf("a booking over an imported visit: %v, want ErrSlotTaken", err)
	}
	// Two visits of one crew at once, or one over a visit held already.
	for _, batch := range [][]store.Order{{visit(at.Add(5*time.Hour), "i3"), visit(at.Add(5*time.Hour+30*time.Minute), "i4")}, {visit(at.Add(time.Hour), "i5")}} {
		if err := orders.Import(ctx, batch); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("an import selling the crew twice: %v, want ErrConflict", err)
		}
	}
	if n, err := store.NewCounterStore(db).Get(ctx, store.CounterOrders); err != nil || n != 2 {
		t.Fatalf("orders counted after the refused imports: %d, %v; want 2", n, err)
	}
}
