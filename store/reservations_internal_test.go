package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// A booking, a cancellation, a move or a delete cut off at any step, as by
// kill -9, and then finished by another instance's journal repair, leaves
// the order's cells exactly those of its reservation (none once cancelled
// or deleted) and the day's list agreeing with it.
func TestReservationsRepairedAfterACut(t *testing.T) {
	ctx := context.Background()
	steps := map[string][]string{
		"book":   {"journaled", "written", "counted", "settled"},
		"cancel": {"journaled", "written", "counted"},
		"move":   {"written"},
		"delete": {"journaled", "written"},
	}
	for kind, cuts := range steps {
		for _, step := range cuts {
			t.Run(kind+"/"+step, func(t *testing.T) {
				name := fmt.Sprintf("r_%s_%s_%d", kind, step, time.Now().UnixNano()%1e6)
				crashing, survivor := openForTest(t, name), openForTest(t, name)
				orders, sched := NewOrderStore(crashing), NewScheduleStore(crashing)
				u := &User{Username: "cut", Email: "cut@example.uz", Role: RoleUser}
				if err := NewUserStore(crashing).Create(ctx, u); err != nil {
					t.Fatal(err)
				}
				hours := WeekHours{}
				for _, d := range Weekdays {
					hours[d] = [][2]string{{"08:00", "20:00"}}
				}
				var crews []*Crew
				for i := 0; i < 2; i++ {
					c := &Crew{Name: fmt.Sprintf("Crew %d", i), Active: true, Hours: hours}
					if err := sched.CreateCrew(ctx, c); err != nil {
						t.Fatal(err)
					}
					crews = append(crews, c)
				}
				day := time.Now().In(Tashkent).AddDate(0, 0, 10)
				at := func(d int, clock string) time.Time {
					m, _ := ParseClock(clock)
					return time.Date(day.Year(), day.Month(), day.Day()+d, 0, m, 0, 0, Tashkent)
				}
				dates := []string{LocalDate(at(0, "00:00")), LocalDate(at(1, "00:00"))}
				book := func(key string, crews []*Crew, when time.Time) (*Order, error) {
					id := primitive.NewObjectID()
					r, err := sched.Reserve(ctx, crews, id, when, 120, DefaultScheduleRules(), "")
					if err != nil {
						t.Fatal(err)
					}
					o := &Order{ID: id, UserID: u.ID, ServiceID: primitive.NewObjectID(), Price: 300000, DurationMinutes: 120, IdempotencyKey: key,
						ScheduledAt: r.From, CrewID: r.CrewID, CrewName: "crew", EndsAt: r.EndsAt, ReservedUntil: r.Until}
					return o, orders.Create(ctx, o)
				}
				o, err := book("first", crews[:1], at(0, "09:00"))
				if err != nil {
					t.Fatal(err)
				}
				orders.cutAt = step
				switch kind {
				case "book":
					o, err = book("cut", crews[:1], at(0, "13:00"))
				case "cancel":
					_, err = orders.Transition(ctx, o.ID, StatusCancelled, StatusChange{ByUserID: u.ID})
				case "move":
					var r *Reservation
					if r, err = sched.Reserve(ctx, crews[1:], o.ID, at(1, "10:00"), 120, DefaultScheduleRules(), ""); err != nil {
						t.Fatal(err)
					}
					_, err = orders.Update(ctx, o.ID, OrderChange{Reservation: r, CrewName: "crew 1"}, false)
				case "delete":
					err = orders.Delete(ctx, o.ID)
				}
				if !errors.Is(err, errCut) {
					t.Fatalf("the write was not cut off: %v", err)
				}
				later := time.Now().UTC().Add(journalStale + time.Second)
				if n, err := survivor.RepairJournal(ctx, later); err != nil || n != 1 {
					t.Fatalf("repaired %d writes: %v", n, err)
				}
				checkReservation(t, survivor, o.ID, dates)
			})
		}
	}
}

// checkReservation compares the cells order id holds and the days' lists
// of dates with its reservation; a booking never made holds cells nobody
// covers, which the next claim over them takes back once they are old.
func checkReservation(t *testing.T, d *DB, id primitive.ObjectID, dates []string) {
	t.Helper()
	ctx := context.Background()
	var r *Reservation
	o, err := NewOrderStore(d).Get(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound): // deleted, or never made
	case err != nil:
		t.Fatal(err)
	default:
		r = o.Reservation()
	}
	raw, err := d.RawFind(ctx, colCrewTime)
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, c := range raw {
		if c["o"] == id {
			held = append(held, c["_id"].(string))
		}
	}
	sort.Strings(held)
	var want []string
	if r != nil {
		want = cells(r.CrewID, r.From, r.Until)
	}
	neverMade := o == nil && len(held) > 0
	if strings.Join(held, " ") != strings.Join(want, " ") && !neverMade {
		t.Errorf("holds %v, its reservation covers %v", held, want)
	}
	if neverMade {
		// Left-overs: the next claim over them takes them back once old.
		s := NewScheduleStore(d)
		c := &crewCell{ID: held[0], Order: id, At: time.Now().Add(-time.Hour)}
		if !s.orphan(ctx, c, time.Now()) {
			t.Errorf("cells of an order never made are not orphans")
		}
	}
	for _, date := range dates {
		day, err := NewScheduleStore(d).Day(ctx, date)
		if err != nil {
			t.Fatal(err)
		}
		var mine []Reservation
		for _, x := range day {
			if x.OrderID == id {
				mine = append(mine, x)
			}
		}
		switch {
		case r == nil || LocalDate(r.From) != date:
			if len(mine) != 0 {
				t.Errorf("%s lists it: %+v", date, mine)
			}
		case len(mine) != 1 || mine[0].CrewID != r.CrewID || !mine[0].From.Equal(r.From) || !mine[0].Until.Equal(r.Until):
			t.Errorf("%s lists %+v, want %+v", date, mine, r)
		}
	}
}

// An old cell is a left-over when its order is gone, cancelled, or holds
// another time; never while its order's reservation covers it, however
// old; and no fresh cell is one.
func TestReservationOrphanCells(t *testing.T) {
	ctx := context.Background()
	d := openForTest(t, fmt.Sprintf("orphans_%d", time.Now().UnixNano()%1e6))
	s, orders := NewScheduleStore(d), NewOrderStore(d)
	u := &User{Username: "orph", Email: "orph@example.uz", Role: RoleUser}
	if err := NewUserStore(d).Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	crew := primitive.NewObjectID()
	from := time.Now().Add(240 * time.Hour).UTC().Truncate(time.Hour)
	o := &Order{UserID: u.ID, ServiceID: primitive.NewObjectID(), IdempotencyKey: "o", ScheduledAt: from, CrewID: crew, EndsAt: from.Add(2 * time.Hour), ReservedUntil: from.Add(150 * time.Minute)}
	if err := orders.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old, fresh := now.Add(-orphanAge-time.Second), now.Add(-orphanAge+time.Second)
	covered, outside := cellID(crew, from.Add(2*time.Hour)), cellID(crew, from.Add(150*time.Minute))
	for _, c := range []struct {
		name string
		cell crewCell
		want bool
	}{
		{"covered by its order, old", crewCell{ID: covered, Order: o.ID, At: old}, false},
		{"its order holds another time", crewCell{ID: outside, Order: o.ID, At: old}, true},
		{"the same, fresh", crewCell{ID: outside, Order: o.ID, At: fresh}, false},
		{"its order was never made", crewCell{ID: covered, Order: primitive.NewObjectID(), At: old}, true},
		{"never made, fresh", crewCell{ID: covered, Order: primitive.NewObjectID(), At: fresh}, false},
	} {
		if got := s.orphan(ctx, &c.cell, now); got != c.want {
			t.Errorf("%s: orphan = %v", c.name, got)
		}
	}
	if _, err := orders.Transition(ctx, o.ID, StatusCancelled, StatusChange{ByUserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if !s.orphan(ctx, &crewCell{ID: covered, Order: o.ID, At: old}, now) {
		t.Error("an old cell of a cancelled order is not a left-over")
	}
}
