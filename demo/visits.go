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

// Customers are the demo's customers, who have the demo visits booked.
// They sign in only after a password reset: their password is random.
var Customers = []store.User{
	{Username: "aziza.karimova", Name: "Aziza Karimova", Email: "aziza.karimova@example.uz", Phone: "+998901234501"},
	{Username: "jasur.toshmatov", Name: "Jasur Toshmatov", Email: "jasur.toshmatov@example.uz", Phone: "+998935550217"},
	{Username: "nilufar.rahimova", Name: "Nilufar Rahimova", Email: "nilufar.rahimova@example.uz", Phone: "+998977041193"},
}

// plannedVisit is one demo booking: on the day-th working day from
// tomorrow (Sundays skipped: the demo crews rest then), at a local time.
type plannedVisit struct {
	day      int
	at       string
	service  int // index in Catalogue
	customer int // index in Customers
	address  string
	size     store.QuoteInput
	notes    string
}

// visitPlan is a believable week and a half: two or three visits a day,
// spread by the schedule over the three crews.
var visitPlan = []plannedVisit{
	{0, "09:00", 0, 0, "Chilonzor tumani, 9-kvartal, 14-uy, 27-xonadon", store.QuoteInput{Rooms: 2, Bathrooms: 1}, "Domofon kodi 27"},
	{0, "10:00", 2, 1, "Yunusobod tumani, 4-mavze, 12-uy, 45-xonadon", store.QuoteInput{}, "Ikkita gilam, 3×4 va 2×3"},
	{0, "14:00", 3, 2, "Mirzo Ulug‘bek tumani, Buyuk Ipak Yo‘li ko‘chasi, 87-uy", store.QuoteInput{}, ""},
	{1, "09:00", 1, 1, "Mirobod tumani, Amir Temur ko‘chasi, 15-uy, 3-qavat (ofis)", store.QuoteInput{Area: 120}, "Qo‘riqchiga ism aytiladi"},
	{1, "11:00", 5, 0, "Chilonzor tumani, 9-kvartal, 14-uy, 27-xonadon", store.QuoteInput{}, "Burchak divan"},
	{2, "08:30", 4, 2, "Sergeli tumani, 7-mavze, 3-uy, 18-xonadon", store.QuoteInput{Area: 60}, "Ta’mir endi tugadi"},
	{2, "10:00", 0, 1, "Yakkasaroy tumani, Shota Rustaveli ko‘chasi, 41-uy, 9-xonadon", store.QuoteInput{Rooms: 3, Bathrooms: 2}, ""},
	{2, "15:00", 2, 0, "Olmazor tumani, Qorasaroy ko‘chasi, 22-uy, 5-xonadon", store.QuoteInput{}, ""},
	{3, "09:30", 3, 1, "Shayxontohur tumani, Navoiy ko‘chasi, 30-uy, 12-xonadon", store.QuoteInput{}, "Balkon oynalari ham"},
	{3, "13:00", 0, 2, "Mirzo Ulug‘bek tumani, Qorasuv-3, 8-uy, 40-xonadon", store.QuoteInput{Rooms: 1, Bathrooms: 1}, ""},
	{4, "09:00", 1, 0, "Yunusobod tumani, Amir Temur shoh ko‘chasi, 107-uy (ofis)", store.QuoteInput{Area: 80}, "Shanba kuni ish yo‘q, juma kuni kerak"},
	{4, "12:00", 5, 1, "Yashnobod tumani, Tuzel-1, 5-uy, 33-xonadon", store.QuoteInput{}, ""},
	{5, "10:00", 0, 0, "Chilonzor tumani, 9-kvartal, 14-uy, 27-xonadon", store.QuoteInput{Rooms: 2, Bathrooms: 1}, "Har hafta"},
	{5, "11:00", 2, 2, "Sergeli tumani, 7-mavze, 3-uy, 18-xonadon", store.QuoteInput{}, ""},
	{6, "09:00", 4, 1, "Bektemir tumani, Husayn Boyqaro ko‘chasi, 19-uy", store.QuoteInput{Area: 90}, ""},
	{6, "14:30", 3, 0, "Uchtepa tumani, 22-kvartal, 6-uy, 51-xonadon", store.QuoteInput{}, ""},
}

// SeedVisits books the demo visits, once per database, through the
// store's booking path: a free crew found on the schedule, its time
// reserved, the order made with the reservation (as POST /orders does, so
// they hold their crews like any booking). A visit whose time is taken, or
// that the schedule refuses (no crew then, too soon), is left out. It
// returns how many it booked; 0 when the database had them already.
func SeedVisits(ctx context.Context, db *store.DB, now time.Time) (int, error) {
	first, err := db.MarkOnce(ctx, "seed:demo-visits")
	if err != nil || !first {
		return 0, err
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
	days := workingDays(now, 7)
	booked := 0
	for i, p := range visitPlan {
		svc := catalogueService(services, p.service)
		if svc == nil {
			continue // the admin archived or renamed it
		}
		ok, err := bookVisit(ctx, schedule, orders, svc, customers[p.customer], p, days[p.day], now, i)
		if err != nil {
			return booked, err
		}
		if ok {
			booked++
		}
	}
	return booked, nil
}

// bookVisit books p, as a booking does; false when the schedule refuses it.
func bookVisit(ctx context.Context, schedule *store.ScheduleStore, orders *store.OrderStore, svc *store.Service, u *store.User, p plannedVisit, day time.Time, now time.Time, n int) (bool, error) {
	clock, _ := store.ParseClock(p.at)
	at := day.Add(time.Duration(clock) * time.Minute)
	o, err := bookOn(ctx, schedule, orders, svc, u, p, at, now, primitive.NilObjectID, fmt.Sprintf("demo-visit-%d", n))
	return o != nil, err
}

// bookOn books p at at through the booking path (the schedule's check,
// the crew's time reserved, the order made with the reservation), as a
// customer who booked at bookedAt; on crew only, unless it is nil. It
// returns the order, or nil when the schedule refuses the visit.
func bookOn(ctx context.Context, schedule *store.ScheduleStore, orders *store.OrderStore, svc *store.Service, u *store.User, p plannedVisit, at, bookedAt time.Time, crew primitive.ObjectID, key string) (*store.Order, error) {
	q, err := svc.Quote(p.size, store.FrequencyDiscounts{}, nil)
	if err != nil {
		return nil, fmt.Errorf("demo visit %s: %w", key, err)
	}
	sc, err := schedule.LoadAround(ctx, at, 0)
	if err != nil {
		return nil, err
	}
	crews, err := sc.Check(svc.ID, q.DurationMinutes, at, bookedAt)
	if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
		return nil, nil // taken, or not bookable on this database
	} else if err != nil {
		return nil, err
	}
	if !crew.IsZero() {
		var only []*store.Crew
		for _, c := range crews {
			if c.ID == crew {
				only = append(only, c)
			}
		}
		if crews = only; len(crews) == 0 {
			return nil, nil // that crew is busy then
		}
	}
	o := &store.Order{
		UserID: u.ID, CustomerName: u.Username, ServiceID: svc.ID, ServiceName: svc.Name.Uz, ServiceNames: svc.Name,
		ScheduledAt: at.UTC(), Address: p.address, Phone: u.Phone, Notes: p.notes,
		IdempotencyKey: key,
	}
	o.ID = primitive.NewObjectID() // named now: the reservation points at it
	hold, err := schedule.Reserve(ctx, crews, o.ID, at, q.DurationMinutes, sc.Rules, "")
	if errors.Is(err, store.ErrSlotTaken) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	for _, c := range crews {
		if c.ID == hold.CrewID {
			o.CrewName = c.Name
		}
	}
	o.CrewID, o.EndsAt, o.ReservedUntil = hold.CrewID, hold.EndsAt, hold.Until
	o.SetQuote(q)
	if err := orders.CreateWithEmail(ctx, o, nil); err != nil {
		return nil, errors.Join(err, schedule.Unreserve(context.WithoutCancel(ctx), hold, nil))
	}
	return o, nil
}

// seedCustomers makes the demo customers, or finds them: an account of
// that email made before (a sign-up) is taken as theirs.
func seedCustomers(ctx context.Context, db *store.DB) ([]*store.User, error) {
	users := store.NewUserStore(db)
	out := make([]*store.User, len(Customers))
	for i := range Customers {
		u := Customers[i]
		hash, err := auth.HashPassword(auth.RandomSecret(16))
		if err != nil {
			return nil, err
		}
		u.PasswordHash, u.Role, u.IsVerified, u.Locale = hash, store.RoleUser, true, "uz"
		err = users.Create(ctx, &u)
		if errors.Is(err, store.ErrConflict) {
			found, ferr := users.GetByEmail(ctx, u.Email)
			if ferr != nil {
				return nil, errors.Join(err, ferr)
			}
			u = *found
		} else if err != nil {
			return nil, err
		}
		out[i] = &u
	}
	return out, nil
}

// workingDays are the local midnights of the next n days from tomorrow
// that are not Sundays.
func workingDays(now time.Time, n int) []time.Time {
	l := now.In(store.Tashkent)
	day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, store.Tashkent)
	var out []time.Time
	for len(out) < n {
		day = day.AddDate(0, 0, 1)
		if day.Weekday() != time.Sunday {
			out = append(out, day)
		}
	}
	return out
}

// catalogueService finds the demo catalogue's i-th service among
// services, by its English name; nil when it is gone or archived.
func catalogueService(services []store.Service, i int) *store.Service {
	for k := range services {
		if services[k].Name.En == Catalogue[i].Name.En && services[k].Active {
			return &services[k]
		}
	}
	return nil
}
