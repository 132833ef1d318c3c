package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/store"
)

// Cleaner is a demo cleaner's account and the demo crew (an index in
// CrewNames) they work in; their first name is the crew's member of that
// name.
type Cleaner struct {
	Crew int
	User store.User
}

// Cleaners are the demo crews' cleaners, one or two a crew.
var Cleaners = []Cleaner{
	{0, store.User{Username: "dilnoza.yusupova", Name: "Dilnoza Yusupova", Email: "dilnoza.yusupova@example.uz", Phone: "+998901112201"}},
	{0, store.User{Username: "gulnora.ergasheva", Name: "Gulnora Ergasheva", Email: "gulnora.ergasheva@example.uz", Phone: "+998931112202"}},
	{1, store.User{Username: "malika.abdullayeva", Name: "Malika Abdullayeva", Email: "malika.abdullayeva@example.uz", Phone: "+998971112203"}},
	{1, store.User{Username: "zarina.qodirova", Name: "Zarina Qodirova", Email: "zarina.qodirova@example.uz", Phone: "+998901112204"}},
	{2, store.User{Username: "nodira.saidova", Name: "Nodira Saidova", Email: "nodira.saidova@example.uz", Phone: "+998941112205"}},
}

// Credential is a demo account's sign-in, for the development log.
type Credential struct {
	Email, Password, Crew string
}

// SeedCleaners makes the demo cleaners' accounts (verified, CLEANER, a
// random password as the demo customers have) and adds them to their demo
// crews (MemberIDs, and their first name to Members when missing), once
// per database. It returns the sign-ins it made, passwords in clear: they
// are not kept anywhere else, so the caller prints them in development
// only (later, a password reset gives a new one). An account of a demo
// cleaner's email made before is taken as theirs only if it is a CLEANER;
// a crew the admin renamed or deleted gets no demo cleaner.
func SeedCleaners(ctx context.Context, db *store.DB) ([]Credential, error) {
	first, err := db.MarkOnce(ctx, "seed:demo-cleaners")
	if err != nil || !first {
		return nil, err
	}
	users, schedule := store.NewUserStore(db), store.NewScheduleStore(db)
	crews, err := schedule.Crews(ctx)
	if err != nil {
		return nil, err
	}
	var made []Credential
	for _, c := range Cleaners {
		u := c.User
		found, err := users.GetByEmail(ctx, u.Email)
		switch {
		case err == nil:
			if !found.IsCleaner() {
				continue // someone's own account: not made a cleaner here
			}
			u = *found
		case errors.Is(err, store.ErrNotFound):
			password := auth.RandomSecret(12)
			hash, err := auth.HashPassword(password)
			if err != nil {
				return made, err
			}
			u.PasswordHash, u.Role, u.IsVerified, u.Locale = hash, store.RoleCleaner, true, "uz"
			if err := users.Create(ctx, &u); err != nil {
				return made, fmt.Errorf("demo cleaner %s: %w", u.Email, err)
			}
			made = append(made, Credential{Email: u.Email, Password: password, Crew: CrewNames[c.Crew]})
		default:
			return made, err
		}
		for i := range crews {
			if crews[i].Name == CrewNames[c.Crew] {
				if err := addMember(ctx, schedule, &crews[i], &u); err != nil {
					return made, err
				}
			}
		}
	}
	return made, nil
}

// addMember puts cleaner u in crew c (a copy the caller keeps up to date).
func addMember(ctx context.Context, schedule *store.ScheduleStore, c *store.Crew, u *store.User) error {
	if c.HasMember(u.ID) {
		return nil
	}
	cr := *c
	cr.MemberIDs = append(append([]primitive.ObjectID(nil), c.MemberIDs...), u.ID)
	cr.Members = append([]string(nil), c.Members...)
	named := false
	for _, m := range cr.Members {
		named = named || m == u.FirstName()
	}
	if !named {
		cr.Members = append(cr.Members, u.FirstName())
	}
	if err := schedule.UpdateCrew(ctx, &cr); err != nil {
		return fmt.Errorf("demo crew %s: %w", c.Name, err)
	}
	*c = cr
	return nil
}

// dayVisit is one visit of a demo crew's day: its start times to try in
// order (the first the crew is free at is booked), and for tomorrow the
// status it is left in (today's follows the clock, see todayStatus).
type dayVisit struct {
	times   []string
	service int // index in Catalogue
	size    store.QuoteInput
	notes   string
	status  string
}

// todayPlan is each crew's today: four visits that fill 08:00–19:00.
var todayPlan = []dayVisit{
	{times: []string{"08:00"}, service: 2, notes: "Bitta gilam, 2×3"},
	{times: []string{"10:30"}, service: 3},
	{times: []string{"13:30"}, service: 0, size: store.QuoteInput{Rooms: 1, Bathrooms: 1}, notes: "Domofon ishlamaydi, qo‘ng‘iroq qiling"},
	{times: []string{"17:00"}, service: 5},
}

// tomorrowPlan is each crew's tomorrow, around the demo visits booked
// there already: one confirmed, one still to be confirmed.
var tomorrowPlan = []dayVisit{
	{times: []string{"16:30", "14:30", "08:00", "12:00"}, service: 3, status: store.StatusConfirmed},
	{times: []string{"08:00", "12:00", "14:30", "17:00"}, service: 2, status: store.StatusPending},
}

// crewAddresses are where each demo crew's day takes it, by crew.
var crewAddresses = [][]string{
	{"Chilonzor tumani, 19-kvartal, 31-uy, 12-xonadon", "Chilonzor tumani, Bunyodkor shoh ko‘chasi, 24-uy, 60-xonadon", "Chilonzor tumani, 6-kvartal, 2-uy, 7-xonadon", "Chilonzor tumani, Muqimiy ko‘chasi, 58-uy"},
	{"Yunusobod tumani, 11-mavze, 5-uy, 21-xonadon", "Yunusobod tumani, Bogishamol ko‘chasi, 160-uy", "Yunusobod tumani, 19-mavze, 40-uy, 3-xonadon", "Yunusobod tumani, Amir Temur shoh ko‘chasi, 88-uy, 15-xonadon"},
	{"Sergeli tumani, 5-mavze, 14-uy, 9-xonadon", "Sergeli tumani, Yangi Sergeli ko‘chasi, 33-uy", "Sergeli tumani, 8-mavze, 27-uy, 44-xonadon", "Sergeli tumani, Qo‘yliq-5, 11-uy, 2-xonadon"},
}

// SeedCrewDays books today's and tomorrow's visits (Asia/Tashkent) of
// each demo crew that has cleaners, once per database and day, so that a
// cleaner signing in finds a day to work through: today's earlier visits
// done or under way, the next ones confirmed ("On my way" to tap), and
// tomorrow one confirmed and one pending. They go through the booking
// path SeedVisits uses, on that crew; today's as booked the day before
// (they would be too soon now). A crew that does not work a day (an
// admin's change of its hours) or is busy gets none that day. It
// returns how many it booked.
func SeedCrewDays(ctx context.Context, db *store.DB, now time.Time) (int, error) {
	l := now.In(store.Tashkent)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, store.Tashkent)
	days := []struct {
		day  time.Time
		plan []dayVisit
	}{{today, todayPlan}, {today.AddDate(0, 0, 1), tomorrowPlan}}
	var todo []int
	for i, d := range days {
		first, err := db.MarkOnce(ctx, "seed:demo-crew-day:"+store.LocalDate(d.day))
		if err != nil {
			return 0, err
		}
		if first {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return 0, nil
	}
	services, err := store.NewServiceStore(db).All(ctx)
	if err != nil {
		return 0, err
	}
	customers, err := seedCustomers(ctx, db)
	if err != nil {
		return 0, err
	}
	schedule, orders := store.NewScheduleStore(db), store.NewOrderStore(db)
	crews, err := schedule.Crews(ctx)
	if err != nil {
		return 0, err
	}
	users := store.NewUserStore(db)
	booked := 0
	for k, name := range CrewNames {
		crew := crewNamed(crews, name)
		if crew == nil || len(crew.MemberIDs) == 0 {
			continue
		}
		cleaner, err := users.Get(ctx, crew.MemberIDs[0])
		if err != nil {
			return booked, err
		}
		for _, i := range todo {
			d := days[i]
			var made []*store.Order
			for n, v := range d.plan {
				svc := catalogueService(services, v.service)
				if svc == nil {
					continue
				}
				p := plannedVisit{service: v.service, address: crewAddresses[k][n%len(crewAddresses[k])], size: v.size, notes: v.notes}
				for _, at := range v.times {
					clock, _ := store.ParseClock(at)
					start := d.day.Add(time.Duration(clock) * time.Minute)
					o, err := bookOn(ctx, schedule, orders, svc, customers[(k+n)%len(customers)], p, start, bookedBefore(start, now),
						crew.ID, fmt.Sprintf("demo-day-%s-%d-%d", store.LocalDate(d.day), k, n))
					if err != nil {
						return booked, err
					}
					if o != nil {
						booked++
						made = append(made, o)
						break
					}
				}
			}
			targets := make([]string, len(made))
			for n, o := range made {
				targets[n] = d.plan[n].status
				if d.day.Equal(today) {
					targets[n] = todayStatus(o, now)
				}
			}
			if d.day.Equal(today) {
				keepOneConfirmed(targets)
			}
			for n, o := range made {
				if err := reach(ctx, orders, o, targets[n], cleaner); err != nil {
					return booked, fmt.Errorf("demo visit %s: %w", o.IdempotencyKey, err)
				}
			}
		}
	}
	return booked, nil
}

// bookedBefore is when a demo visit at at was booked: now, or a day
// before it when that is earlier (a visit of today was booked while it
// was still far enough ahead for the booking rules' lead).
func bookedBefore(at, now time.Time) time.Time {
	if b := at.Add(-24 * time.Hour); b.Before(now) {
		return b
	}
	return now
}

// todayStatus is where a visit of today stands at now: done once it has
// ended, under way from its start, its crew on the way in the hour
// before, confirmed before that.
func todayStatus(o *store.Order, now time.Time) string {
	switch {
	case !now.Before(o.EndsAt):
		return store.StatusCompleted
	case !now.Before(o.ScheduledAt):
		return store.StatusInProgress
	case o.ScheduledAt.Sub(now) <= time.Hour:
		return store.StatusOnTheWay
	}
	return store.StatusConfirmed
}

// keepOneConfirmed leaves the day's last visit confirmed when the clock
// left none (a late `make run`): a crew running late, whose cleaner has
// an "On my way" to tap.
func keepOneConfirmed(targets []string) {
	for _, s := range targets {
		if s == store.StatusConfirmed {
			return
		}
	}
	if n := len(targets); n > 0 {
		targets[n-1] = store.StatusConfirmed
	}
}

// reach moves order o from PENDING to target as the day would have: the
// company confirms it, the crew's cleaner makes the steps of the day, and
// a visit done was paid on site.
func reach(ctx context.Context, orders *store.OrderStore, o *store.Order, target string, cleaner *store.User) error {
	if target == store.StatusPending {
		return nil
	}
	if _, err := orders.Move(ctx, o.ID, store.Step{To: store.StatusConfirmed, By: store.StatusChange{ByName: "Tozalash"}}); err != nil {
		return err
	}
	by := store.StatusChange{ByUserID: cleaner.ID, ByName: cleaner.Name}
	if target != store.StatusCompleted {
		_, err := orders.Advance(ctx, o.ID, target, by)
		return err
	}
	if _, err := orders.Advance(ctx, o.ID, store.StatusInProgress, by); err != nil {
		return err
	}
	method := store.PaymentMethods[o.Seq%int64(len(store.PaymentMethods))]
	_, err := orders.Move(ctx, o.ID, store.Step{To: store.StatusCompleted, By: by, Payment: &store.Payment{Amount: o.Price, Method: method}})
	return err
}

// crewNamed is the crew of that name, or nil.
func crewNamed(crews []store.Crew, name string) *store.Crew {
	for i := range crews {
		if crews[i].Name == name {
			return &crews[i]
		}
	}
	return nil
}
