package store

import (
	"math/rand/v2"
	"testing"
	"time"

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
