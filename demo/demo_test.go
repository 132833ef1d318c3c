package demo

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

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

// The demo crews get their cleaners (verified CLEANER accounts, members
// of their crews) and, through the booking path, visits today and
// tomorrow: today's by the clock, tomorrow one CONFIRMED and one PENDING.
// A second seeding makes no second cleaner and books nothing.
func TestSeedCleanersAndTheirDays(t *testing.T) {
	t.Run("now", func(t *testing.T) { testCleanersDays(t, time.Now()) })
	// At 12:15 in Tashkent: 08:00 done, 10:30 under way, 13:30 and 17:00
	// confirmed.
	l := time.Now().In(store.Tashkent)
	t.Run("noon", func(t *testing.T) {
		testCleanersDays(t, time.Date(l.Year(), l.Month(), l.Day(), 12, 15, 0, 0, store.Tashkent))
	})
}

func testCleanersDays(t *testing.T, now time.Time) {
	ctx := context.Background()
	db := storetest.Open(t)
	if _, err := Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	// Every day, so that today is a working day whatever day the test runs.
	if _, err := SeedCrews(ctx, db, EveryDay("08:00", "19:00")); err != nil {
		t.Fatal(err)
	}
	if _, err := SeedVisits(ctx, db, now); err != nil {
		t.Fatal(err)
	}
	made, err := SeedCleaners(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != len(Cleaners) {
		t.Fatalf("made %d demo cleaners, want %d", len(made), len(Cleaners))
	}
	booked, err := SeedCrewDays(ctx, db, now)
	if err != nil {
		t.Fatal(err)
	}
	users, sched, orders := store.NewUserStore(db), store.NewScheduleStore(db), store.NewOrderStore(db)
	withCleaners := map[string]bool{}
	for i, c := range Cleaners {
		u, err := users.GetByEmail(ctx, c.User.Email)
		if err != nil {
			t.Fatalf("cleaner %s: %v", c.User.Email, err)
		}
		if !u.IsCleaner() || !u.IsVerified || u.PasswordHash == "" || u.Name != c.User.Name {
			t.Errorf("cleaner %s: role %s, verified %v, name %q", u.Email, u.Role, u.IsVerified, u.Name)
		}
		if made[i].Email != u.Email || made[i].Password == "" {
			t.Errorf("the sign-in of %s: %+v", u.Email, made[i])
		}
		mine, err := sched.CrewsOf(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(mine) != 1 || mine[0].Name != CrewNames[c.Crew] || !slices.Contains(mine[0].Members, u.FirstName()) {
			t.Errorf("cleaner %s is in %+v, want %s", u.Email, mine, CrewNames[c.Crew])
		}
		withCleaners[CrewNames[c.Crew]] = true
	}
	if len(withCleaners) != len(CrewNames) {
		t.Errorf("crews with cleaners: %v", withCleaners)
	}
	crews, err := sched.Crews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	today := now.In(store.Tashkent)
	dayVisits := func(day time.Time, crew primitive.ObjectID) []*store.Order {
		t.Helper()
		visits, err := sched.Day(ctx, store.LocalDate(day))
		if err != nil {
			t.Fatal(err)
		}
		var out []*store.Order
		for _, v := range visits {
			if v.CrewID != crew {
				continue
			}
			o, err := orders.Get(ctx, v.OrderID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, o)
		}
		return out
	}
	n := 0
	for _, c := range crews {
		if !withCleaners[c.Name] {
			continue
		}
		var mine []*store.Order
		for _, o := range dayVisits(today, c.ID) {
			if strings.HasPrefix(o.IdempotencyKey, "demo-day-") {
				mine = append(mine, o)
			}
		}
		slices.SortFunc(mine, func(a, b *store.Order) int { return a.ScheduledAt.Compare(b.ScheduledAt) })
		// By the clock, the day's last one kept CONFIRMED when it left none.
		wants := make([]string, len(mine))
		for i, o := range mine {
			wants[i] = todayStatus(o, now)
		}
		keepOneConfirmed(wants)
		confirmed := 0
		for i, o := range mine {
			n++
			if want := wants[i]; o.Status != want {
				t.Errorf("%s today at %s: %s, want %s", c.Name, o.ScheduledAt.In(store.Tashkent).Format("15:04"), o.Status, want)
			}
			if o.Status == store.StatusConfirmed {
				confirmed++
			}
		}
		if confirmed == 0 {
			t.Errorf("%s has no CONFIRMED visit today", c.Name)
		}
		statuses := map[string]int{}
		for _, o := range dayVisits(today.AddDate(0, 0, 1), c.ID) {
			if strings.HasPrefix(o.IdempotencyKey, "demo-day-") {
				statuses[o.Status]++
				n++
			}
		}
		if statuses[store.StatusConfirmed] != 1 || statuses[store.StatusPending] != 1 {
			t.Errorf("%s tomorrow: %v, want one CONFIRMED and one PENDING", c.Name, statuses)
		}
	}
	if n != booked || n != len(CrewNames)*(len(todayPlan)+len(tomorrowPlan)) {
		t.Errorf("the schedule shows %d of the crews' days, booked %d, want %d", n, booked, len(CrewNames)*(len(todayPlan)+len(tomorrowPlan)))
	}

	again, err := SeedCleaners(ctx, db)
	if err != nil || len(again) != 0 {
		t.Fatalf("a second seeding made cleaners %+v (%v)", again, err)
	}
	if n, err := SeedCrewDays(ctx, db, now); err != nil || n != 0 {
		t.Fatalf("a second seeding booked %d (%v), want none", n, err)
	}
	all, _, err := users.List(ctx, store.UserFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	cleaners := 0
	for _, u := range all {
		if u.IsCleaner() {
			cleaners++
		}
	}
	if cleaners != len(Cleaners) {
		t.Errorf("%d cleaners after a second seeding, want %d", cleaners, len(Cleaners))
	}
	after, _ := sched.Crews(ctx)
	for i := range after {
		if len(after[i].MemberIDs) != len(crews[i].MemberIDs) {
			t.Errorf("%s: members %v after a second seeding, were %v", after[i].Name, after[i].MemberIDs, crews[i].MemberIDs)
		}
	}
}
