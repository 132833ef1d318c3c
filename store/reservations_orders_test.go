package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// visits is what the reservation tests need of a database.
type visits struct {
	db     *store.DB
	sched  *store.ScheduleStore
	orders *store.OrderStore
	user   primitive.ObjectID
	crews  []*store.Crew
	n      int
}

func newVisits(t *testing.T, crews int) *visits {
	db := storetest.Open(t)
	sched := store.NewScheduleStore(db)
	return &visits{db: db, sched: sched, orders: store.NewOrderStore(db), user: account(t, db, "lola"), crews: makeCrews(t, sched, crews)}
}

func (v *visits) crewName(id primitive.ObjectID) string {
	for _, c := range v.crews {
		if c.ID == id {
			return c.Name
		}
	}
	return ""
}

// book reserves a crew of crews at at for minutes and makes the order
// with that reservation, as the booking handler does.
func (v *visits) book(t *testing.T, crews []*store.Crew, at time.Time, minutes int) *store.Order {
	t.Helper()
	ctx := context.Background()
	id := primitive.NewObjectID()
	r, err := v.sched.Reserve(ctx, crews, id, at, minutes, rules, "")
	if err != nil {
		t.Fatalf("reserve %v: %v", at, err)
	}
	v.n++
	o := &store.Order{ID: id, UserID: v.user, ServiceID: svc, ServiceName: "Uy tozalash", Price: 300000, DurationMinutes: minutes,
		ScheduledAt: r.From, CrewID: r.CrewID, CrewName: v.crewName(r.CrewID), EndsAt: r.EndsAt, ReservedUntil: r.Until,
		Address: "Chilonzor 1", Phone: "+998901234567", IdempotencyKey: fmt.Sprintf("k%d", v.n)}
	if err := v.orders.CreateWithEmail(ctx, o, nil); err != nil {
		_ = v.sched.Unreserve(ctx, r, nil)
		t.Fatal(err)
	}
	return o
}

// move reserves crews at at for the order's visit and moves the order
// there, as the admin's edit does: a move that fails gives back what it
// reserved, apart from what the order holds then.
func (v *visits) move(ctx context.Context, id primitive.ObjectID, crews []*store.Crew, at time.Time, minutes int) (*store.Order, error) {
	r, err := v.sched.Reserve(ctx, crews, id, at, minutes, rules, "")
	if err != nil {
		return nil, err
	}
	return v.moveTo(ctx, id, r)
}

// moveTo is move's second step: the order to the hold r.
func (v *visits) moveTo(ctx context.Context, id primitive.ObjectID, r *store.Reservation) (*store.Order, error) {
	o, _, err := v.orders.UpdateBy(ctx, id, store.OrderChange{Reservation: r, CrewName: v.crewName(r.CrewID)}, false, store.StatusChange{ByName: "admin"})
	if err != nil {
		var keep *store.Reservation
		if cur, gerr := v.orders.Get(ctx, id); gerr == nil {
			keep = cur.Reservation()
		}
		return nil, errors.Join(err, v.sched.Unreserve(ctx, r, keep))
	}
	return o, nil
}

func (v *visits) cancel(ctx context.Context, id primitive.ObjectID) (*store.Order, error) {
	return v.orders.Transition(ctx, id, store.StatusCancelled, store.StatusChange{ByUserID: v.user, Reason: "plans changed"})
}

// consistent checks that the cells order id holds are exactly those its
// reservation covers (none once cancelled), and that of the days dates
// only its reservation's lists it, as it is.
func (v *visits) consistent(t *testing.T, id primitive.ObjectID, dates ...string) {
	t.Helper()
	ctx := context.Background()
	o, err := v.orders.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	r := o.Reservation()
	var want []string
	if r != nil {
		want = cellsOf(r.CrewID, r.From, r.Until)
	}
	if got := cellsHeldBy(t, v.db, id); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("order %s (%s): holds cells %v, its reservation covers %v", id.Hex(), o.Status, got, want)
	}
	for _, date := range dates {
		day, err := v.sched.Day(ctx, date)
		if err != nil {
			t.Fatal(err)
		}
		var mine []store.Reservation
		for _, x := range day {
			if x.OrderID == id {
				mine = append(mine, x)
			}
		}
		switch {
		case r == nil || store.LocalDate(r.From) != date:
			if len(mine) != 0 {
				t.Errorf("order %s (%s): %s lists it: %+v", id.Hex(), o.Status, date, mine)
			}
		case len(mine) != 1 || mine[0].CrewID != r.CrewID || !mine[0].From.Equal(r.From) || !mine[0].Until.Equal(r.Until) || !mine[0].EndsAt.Equal(r.EndsAt):
			t.Errorf("order %s: %s lists %+v, want %+v", id.Hex(), date, mine, r)
		}
	}
}

// A cancelled visit's time is free at once, and off the day's list.
func TestReservationFreedByCancel(t *testing.T) {
	ctx := context.Background()
	v := newVisits(t, 1)
	day := visitDay(0)
	at := local(t, day+" 09:00")
	o := v.book(t, v.crews, at, 120)
	v.consistent(t, o.ID, day)
	if d, _ := v.sched.Day(ctx, day); len(d) != 1 || d[0].OrderID != o.ID {
		t.Fatalf("the day lists %+v", d)
	}
	if _, err := v.sched.Reserve(ctx, v.crews, primitive.NewObjectID(), at, 60, rules, ""); !errors.Is(err, store.ErrSlotTaken) {
		t.Fatalf("the booked time: %v, want ErrSlotTaken", err)
	}
	if _, err := v.cancel(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	v.consistent(t, o.ID, day)
	if d, _ := v.sched.Day(ctx, day); len(d) != 0 {
		t.Errorf("the day still lists %+v", d)
	}
	if _, err := v.sched.Reserve(ctx, v.crews, primitive.NewObjectID(), at, 120, rules, ""); err != nil {
		t.Errorf("the cancelled visit's time: %v", err)
	}
}

// A move holds the new time's cells and those only, and moves the visit
// in the days' lists: to another crew and day, and on its own crew to a
// time overlapping its old one.
func TestReservationMoved(t *testing.T) {
	ctx := context.Background()
	v := newVisits(t, 2)
	d0, d1 := visitDay(0), visitDay(1)
	o := v.book(t, v.crews[:1], local(t, d0+" 09:00"), 120)

	// Another crew, the next day.
	moved, err := v.move(ctx, o.ID, v.crews[1:], local(t, d1+" 14:00"), 120)
	if err != nil {
		t.Fatal(err)
	}
	if moved.CrewID != v.crews[1].ID || moved.CrewName != v.crews[1].Name || !moved.ScheduledAt.Equal(local(t, d1+" 14:00")) {
		t.Fatalf("moved: %+v", moved)
	}
	v.consistent(t, o.ID, d0, d1)
	if _, err := v.sched.Reserve(ctx, v.crews[:1], primitive.NewObjectID(), local(t, d0+" 09:00"), 120, rules, ""); err != nil {
		t.Errorf("the old time: %v", err)
	}

	// Its own crew, an hour later: 15:00 to 17:30 over 14:00 to 16:30.
	if _, err := v.move(ctx, o.ID, v.crews[1:], local(t, d1+" 15:00"), 120); err != nil {
		t.Fatal(err)
	}
	v.consistent(t, o.ID, d0, d1)
	if got := cellsHeldBy(t, v.db, o.ID); len(got) != 5 || got[0] != cellsOf(v.crews[1].ID, local(t, d1+" 15:00"), local(t, d1+" 15:30"))[0] {
		t.Errorf("after the overlapping move: %v", got)
	}
	// And back an hour earlier than it was: 13:00 over 15:00 to 17:30.
	if _, err := v.move(ctx, o.ID, v.crews[1:], local(t, d1+" 13:00"), 180); err != nil {
		t.Fatal(err)
	}
	v.consistent(t, o.ID, d0, d1)

	// A new time alone (the edit form's, which reserves nothing) is
	// refused for a visit with a crew: its cells would stay behind.
	when := local(t, d1+" 16:00").UTC()
	if _, err := v.orders.Update(ctx, o.ID, store.OrderChange{ScheduledAt: &when}, false); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a new time without a reservation: %v, want ErrInvalid", err)
	}
	v.consistent(t, o.ID, d0, d1)
	if cur, _ := v.orders.Get(ctx, o.ID); !cur.ScheduledAt.Equal(local(t, d1+" 13:00")) || len(cellsHeldBy(t, v.db, o.ID)) != 7 {
		t.Errorf("after a new time alone: at %v, holding %v", cur.ScheduledAt, cellsHeldBy(t, v.db, o.ID))
	}

	// A move onto another visit's time fails and changes nothing.
	other := v.book(t, v.crews[:1], local(t, d1+" 09:00"), 120)
	if _, err := v.move(ctx, o.ID, v.crews[:1], local(t, d1+" 10:00"), 120); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("onto another visit: %v, want ErrSlotTaken", err)
	}
	v.consistent(t, o.ID, d0, d1)
	v.consistent(t, other.ID, d0, d1)
}

// A cancellation racing a move, either side first: the order ends
// holding exactly the cells of its reservation (none when cancelled), and
// the days list it so. Each round on a day of its own.
func TestReservationCancelRacingMove(t *testing.T) {
	ctx := context.Background()
	v := newVisits(t, 2)
	outcomes := map[string]int{}
	for round := 0; round < 40; round++ {
		d0 := visitDay(round)
		o := v.book(t, v.crews[:1], local(t, d0+" 09:00"), 120)
		// Even rounds: an hour later on its own crew (overlapping);
		// odd rounds: the other crew, the next day.
		to, crews := local(t, d0+" 10:00"), v.crews[:1]
		if round%2 == 1 {
			to, crews = local(t, visitDay(round+1)+" 15:00"), v.crews[1:]
		}
		// Rounds 0, 1 mod 4: the whole move races the cancellation (which
		// then mostly comes between its hold and its write); 2, 3: the
		// hold is made first, and its write races the cancellation.
		var r *store.Reservation
		if round%4 >= 2 {
			var err error
			if r, err = v.sched.Reserve(ctx, crews, o.ID, to, 120, rules, ""); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var errMove, errCancel error
		start := make(chan struct{})
		moving := func() {
			defer wg.Done()
			<-start
			if r != nil {
				_, errMove = v.moveTo(ctx, o.ID, r)
			} else {
				_, errMove = v.move(ctx, o.ID, crews, to, 120)
			}
		}
		cancelling := func() { defer wg.Done(); <-start; _, errCancel = v.cancel(ctx, o.ID) }
		wg.Add(2)
		if round/4%2 == 0 { // either goroutine made last, so either runs first as often
			go moving()
			go cancelling()
		} else {
			go cancelling()
			go moving()
		}
		close(start)
		wg.Wait()
		for _, err := range []error{errMove, errCancel} {
			if err != nil && !errors.Is(err, store.ErrConflict) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		outcomes[fmt.Sprintf("move %v, cancel %v", errMove == nil, errCancel == nil)]++
		v.consistent(t, o.ID, d0, store.LocalDate(to))
		if t.Failed() {
			t.Fatalf("round %d: move: %v; cancel: %v", round, errMove, errCancel)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

// A crew with visits to come cannot be deleted; once they are gone, it
// can.
func TestCrewDeleteRefusedWhileItHasVisits(t *testing.T) {
	ctx := context.Background()
	v := newVisits(t, 2)
	o := v.book(t, v.crews[:1], local(t, visitDay(0)+" 09:00"), 120)
	if err := v.sched.DeleteCrew(ctx, v.crews[0].ID, time.Now()); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("deleting a crew with a visit to come: %v, want ErrConflict", err)
	}
	if _, err := v.sched.Crew(ctx, v.crews[0].ID); err != nil {
		t.Fatalf("the crew is gone: %v", err)
	}
	if err := v.sched.DeleteCrew(ctx, v.crews[1].ID, time.Now()); err != nil {
		t.Fatalf("a crew without visits: %v", err)
	}
	if _, err := v.cancel(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	if err := v.sched.DeleteCrew(ctx, v.crews[0].ID, time.Now()); err != nil {
		t.Fatalf("once its visit is cancelled: %v", err)
	}
	if crews, _ := v.sched.Crews(ctx); len(crews) != 0 {
		t.Errorf("left: %+v", crews)
	}
	if err := v.sched.DeleteCrew(ctx, v.crews[0].ID, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted twice: %v", err)
	}
}
