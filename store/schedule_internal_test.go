package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// The free times of a day, counted by cells, are exactly the start times
// at which Check finds a crew: on random schedules of crews, hours,
// closures and reservations (some off the grid, some past midnight).
func TestDayTimesAgreeWithCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 12, 6, 10, 17, 0, 0, Tashkent)
	service := primitive.NewObjectID()
	total := 0
	for round := 0; round < 200; round++ {
		s := &Schedule{Rules: ScheduleRules{SlotMinutes: 30 * (1 + rng.IntN(3)), BufferMinutes: 15 * rng.IntN(4), LeadMinutes: 60 * rng.IntN(30), HorizonDays: 1 + rng.IntN(5)}, Booked: map[string][]Reservation{}}
		for c := 0; c < 1+rng.IntN(4); c++ {
			from := 30 * rng.IntN(30)
			to := from + 30*(1+rng.IntN(48-from/30))
			day := [][2]string{{Clock(from), Clock(to)}}
			crew := Crew{ID: primitive.NewObjectID(), Active: rng.IntN(5) > 0, Hours: WeekHours{"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}}
			if rng.IntN(4) == 0 {
				crew.ServiceIDs = []primitive.ObjectID{primitive.NewObjectID()}
			}
			crew.prepare()
			s.Crews = append(s.Crews, crew)
			if rng.IntN(3) == 0 {
				s.Closures = append(s.Closures, Closure{Date: LocalDate(now.AddDate(0, 0, rng.IntN(3))), CrewID: crew.ID, From: "12:00", To: "14:00"})
			}
		}
		for d := -1; d < 4; d++ {
			date := LocalDate(now.AddDate(0, 0, d))
			for v := 0; v < rng.IntN(12); v++ {
				c := s.Crews[rng.IntN(len(s.Crews))]
				at := time.Date(now.Year(), now.Month(), now.Day()+d, 0, 0, 0, 0, Tashkent).Add(time.Duration(rng.IntN(24*60)) * time.Minute)
				s.Booked[date] = append(s.Booked[date], Reservation{OrderID: primitive.NewObjectID(), CrewID: c.ID, From: at, Until: at.Add(time.Duration(20+rng.IntN(400)) * time.Minute)})
			}
		}
		minutes := 30 + rng.IntN(300)
		for d := 0; d < 3; d++ {
			day := time.Date(now.Year(), now.Month(), now.Day()+d, 0, 0, 0, 0, Tashkent)
			var want []string
			for m := 0; m < 24*60; m += s.Rules.SlotMinutes {
				if _, err := s.Check(service, minutes, day.Add(time.Duration(m)*time.Minute), now); err == nil {
					want = append(want, Clock(m))
				}
			}
			got := s.dayTimes(service, minutes, day, now, primitive.NilObjectID)
			total += len(want)
			if len(got) != len(want) {
				t.Fatalf("round %d, day %d: dayTimes %v, Check %v", round, d, got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("round %d, day %d: dayTimes %v, Check %v", round, d, got, want)
				}
			}
		}
	}
	if total < 1000 {
		t.Fatalf("only %d free times in all: the schedules test too little", total)
	}
}

// A day's free times are computed once for what they come from, and again
// as soon as that changes: a booking of the day, the crews' hours.
func TestFreeTimesMemoFollowsTheDay(t *testing.T) {
	ctx := context.Background()
	d := openForTest(t, fmt.Sprintf("memo_%d", time.Now().UnixNano()%1e6))
	s, orders := NewScheduleStore(d), NewOrderStore(d)
	day := func(from, to string) WeekHours {
		h := [][2]string{{from, to}}
		return WeekHours{"mon": h, "tue": h, "wed": h, "thu": h, "fri": h, "sat": h, "sun": h}
	}
	crew := &Crew{Name: "A", Hours: day("08:00", "20:00"), Active: true}
	if err := s.CreateCrew(ctx, crew); err != nil {
		t.Fatal(err)
	}
	u := &User{Username: "memo", Email: "memo@example.uz", Role: RoleUser}
	if err := NewUserStore(d).Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	service, now := primitive.NewObjectID(), time.Now()
	date := LocalDate(now.AddDate(0, 0, 10))
	times := func() []string {
		t.Helper()
		sc, err := s.Load(ctx, date, date)
		if err != nil {
			t.Fatal(err)
		}
		days := sc.FreeTimes(service, 120, date, date, now)
		if len(days) != 1 {
			t.Fatalf("%d days", len(days))
		}
		return days[0].Times
	}
	first := times()
	if len(first) == 0 || first[0] != "08:00" || first[len(first)-1] != "18:00" {
		t.Fatalf("free times of a crew working 08:00–20:00, for 2 h: %v", first)
	}
	if again := times(); &again[0] != &first[0] {
		t.Error("asked again with nothing changed, the day was computed again")
	}

	// A booking at 10:00 holds the crew until 12:30 (2 h and the 30 min
	// buffer): the starts from 08:00 (which would hold it until 10:30) to
	// 12:00 go.
	at, _ := time.ParseInLocation("2006-01-02 15:04", date+" 10:00", Tashkent)
	o := &Order{UserID: u.ID, ServiceID: service, IdempotencyKey: "m", ScheduledAt: at.UTC(), CrewID: crew.ID, EndsAt: at.Add(2 * time.Hour).UTC(), ReservedUntil: at.Add(150 * time.Minute).UTC()}
	if err := orders.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	booked := times()
	if booked[0] != "12:30" || len(booked) != len(first)-9 {
		t.Errorf("after a booking at 10:00, free from 12:30 on: %v", booked)
	}

	// Shorter hours: the evening goes.
	crew.Hours = day("08:00", "16:00")
	if err := s.UpdateCrew(ctx, crew); err != nil {
		t.Fatal(err)
	}
	shorter := times()
	if got := shorter[len(shorter)-1]; got != "14:00" {
		t.Errorf("the last free time of a crew working until 16:00: %s, want 14:00 (%v)", got, shorter)
	}

	// An edit of the crews' document that leaves its version alone (by
	// hand, a restore): the crew stops working, and no time is offered.
	if _, err := d.col(colSettings).UpdateOne(ctx, bson.D{{Key: "_id", Value: settingsSchedule}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "crews.0.active", Value: false}}}}); err != nil {
		t.Fatal(err)
	}
	if inactive := times(); len(inactive) != 0 {
		t.Errorf("the only crew made inactive, behind the version's back: %v", inactive)
	}
}

// LocalDate writes the date itself; it must be Format's, at every day's
// edges in Tashkent and far from today.
func TestLocalDateIsFormats(t *testing.T) {
	for _, base := range []time.Time{time.Date(2026, 12, 31, 18, 59, 59, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 18, 0, 0, 0, time.UTC), time.Date(2024, 2, 28, 19, 0, 0, 0, time.UTC), time.Date(-5, 3, 1, 0, 0, 0, 0, time.UTC)} {
		for h := -50; h <= 50; h++ {
			at := base.Add(time.Duration(h) * 37 * time.Minute)
			if got, want := LocalDate(at), at.In(Tashkent).Format(time.DateOnly); got != want {
				t.Fatalf("LocalDate(%v) = %q, Format writes %q", at, got, want)
			}
		}
	}
}
