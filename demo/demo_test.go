package demo

import (
	"context"
	"os"
	"testing"
	"time"

	"tozalash/store"
	"tozalash/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// The demo's visits are booked on its crews through the store's booking
// path: each day's schedule shows them on the crews, each order names its
// crew, and a second seeding adds nothing.
func TestSeedVisitsBooksTheCrews(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	if _, err := Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := SeedCrews(ctx, db, WorkingWeek()); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	n, err := SeedVisits(ctx, db, now)
	if err != nil {
		t.Fatal(err)
	}
	// Every planned visit fits: at most three a day, on three free crews.
	if n != len(visitPlan) {
		t.Fatalf("booked %d demo visits, want %d", n, len(visitPlan))
	}
	sched := store.NewScheduleStore(db)
	crews, err := sched.Crews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, c := range crews {
		names[c.ID.Hex()] = c.Name
	}
	count := func() (int, map[string]int) {
		t.Helper()
		total, perCrew := 0, map[string]int{}
		for _, day := range workingDays(now, 7) {
			visits, err := sched.Day(ctx, store.LocalDate(day))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range visits {
				if names[v.CrewID.Hex()] == "" {
					t.Errorf("a visit on %s holds no demo crew: %+v", store.LocalDate(day), v)
				}
				if !v.EndsAt.After(v.From) || v.Until.Before(v.EndsAt) {
					t.Errorf("a visit's times: %+v", v)
				}
				o, err := store.NewOrderStore(db).Get(ctx, v.OrderID)
				if err != nil {
					t.Fatalf("the order of a visit: %v", err)
				}
				if o.CrewID != v.CrewID || o.CrewName != names[v.CrewID.Hex()] || !o.ScheduledAt.Equal(v.From) || o.Address == "" {
					t.Errorf("order %+v for visit %+v", o, v)
				}
				perCrew[v.CrewID.Hex()]++
				total++
			}
		}
		return total, perCrew
	}
	total, perCrew := count()
	if total != n || len(perCrew) != len(CrewNames) {
		t.Errorf("the schedule shows %d visits on %d crews, want %d on %d", total, len(perCrew), n, len(CrewNames))
	}

	again, err := SeedVisits(ctx, db, now)
	if err != nil || again != 0 {
		t.Fatalf("a second seeding booked %d (%v), want none", again, err)
	}
	if total2, _ := count(); total2 != total {
		t.Errorf("after a second seeding the schedule shows %d visits, was %d", total2, total)
	}
}
