package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// visitDay is a local date well ahead of now, d days on: the store's
// reservations do not look at the clock, the orders only need a future.
func visitDay(d int) string {
	return time.Now().In(store.Tashkent).AddDate(0, 0, 10+d).Format(time.DateOnly)
}

// makeCrews creates n crews that do every service, 8 to 20 every day.
func makeCrews(t *testing.T, sched *store.ScheduleStore, n int) []*store.Crew {
	t.Helper()
	day := [][2]string{{"08:00", "20:00"}}
	hours := store.WeekHours{}
	for _, d := range store.Weekdays {
		hours[d] = day
	}
	var out []*store.Crew
	for i := 0; i < n; i++ {
		c := &store.Crew{Name: fmt.Sprintf("Crew %d", i+1), Active: true, Hours: hours}
		if err := sched.CreateCrew(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// cellsOf are the ids of the cells crew holds for [from, until), as the
// store names them: "<crew>@<UTC 20060102T1504>", a half hour each.
func cellsOf(crew primitive.ObjectID, from, until time.Time) []string {
	var ids []string
	for at := from; at.Before(until); at = at.Add(30 * time.Minute) {
		ids = append(ids, crew.Hex()+"@"+at.UTC().Format("20060102T1504"))
	}
	return ids
}

// heldCells maps every cell in crewTime to the order holding it.
func heldCells(t *testing.T, db *store.DB) map[string]primitive.ObjectID {
	t.Helper()
	docs, err := db.RawFind(context.Background(), "crewTime")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]primitive.ObjectID{}
	for _, d := range docs {
		id, _ := d["_id"].(string)
		o, _ := d["o"].(primitive.ObjectID)
		out[id] = o
	}
	return out
}

// cellsHeldBy are the cells order holds, sorted.
func cellsHeldBy(t *testing.T, db *store.DB, order primitive.ObjectID) []string {
	t.Helper()
	var ids []string
	for id, o := range heldCells(t, db) {
		if o == order {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

var rules = store.DefaultScheduleRules()

func TestReserveHoldsTheVisitAndItsBuffer(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	sched := store.NewScheduleStore(db)
	crews := makeCrews(t, sched, 2)
	at := local(t, visitDay(0)+" 09:00")
	order := primitive.NewObjectID()
	// 100 minutes and a 30-minute buffer: 130, held as five half hours,
	// 9:00 to 11:30.
	r, err := sched.Reserve(ctx, crews, order, at, 100, rules, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.CrewID != crews[0].ID || !r.From.Equal(at) || !r.Until.Equal(at.Add(150*time.Minute)) || !r.EndsAt.Equal(at.Add(100*time.Minute)) {
		t.Fatalf("reservation %+v", r)
	}
	want := cellsOf(crews[0].ID, at, at.Add(150*time.Minute))
	if got := cellsHeldBy(t, db, order); strings.Join(got, " ") != strings.Join(want, " ") || len(got) != 5 {
		t.Errorf("cells %v, want %v", got, want)
	}
	// 11:30 on the first crew is free again; 11:00 only on the second.
	if r, err := sched.Reserve(ctx, crews[:1], primitive.NewObjectID(), at.Add(150*time.Minute), 60, rules, ""); err != nil || r.CrewID != crews[0].ID {
		t.Errorf("right after the buffer: %+v %v", r, err)
	}
	if r, err := sched.Reserve(ctx, crews, primitive.NewObjectID(), at.Add(120*time.Minute), 30, rules, ""); err != nil || r.CrewID != crews[1].ID {
		t.Errorf("in the buffer: %+v %v, want the second crew", r, err)
	}
	if _, err := sched.Reserve(ctx, crews, primitive.NewObjectID(), at.Add(90*time.Minute), 30, rules, ""); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("both busy: %v, want ErrSlotTaken", err)
	}
	// A failed claim leaves nothing behind.
	if n := len(heldCells(t, db)); n != 5+3+2 {
		t.Errorf("%d cells held, want 10", n)
	}
}

// A retry of a booking that finds every crew taken learns which of them
// its own other tries hold (the same BookingTag): those orders, one of
// which is being made, and nothing else's; a crew still free it takes.
func TestARetryFindsTheCrewsItsOtherTriesHold(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	sched := store.NewScheduleStore(db)
	crews := makeCrews(t, sched, 3)
	at := local(t, visitDay(0)+" 09:00")
	alice, bob := primitive.NewObjectID(), primitive.NewObjectID()
	tag := store.BookingTag(alice, "k1")
	if tag == "" || tag == store.BookingTag(alice, "k2") || tag == store.BookingTag(bob, "k1") || store.BookingTag(alice, "") != "" {
		t.Fatalf("tags: %q", tag)
	}
	first, second, other := primitive.NewObjectID(), primitive.NewObjectID(), primitive.NewObjectID()
	for i, hold := range []struct {
		order primitive.ObjectID
		tag   string
	}{{first, tag}, {other, store.BookingTag(bob, "k1")}, {second, tag}} {
		if _, err := sched.Reserve(ctx, crews[i:i+1], hold.order, at, 120, rules, hold.tag); err != nil {
			t.Fatal(err)
		}
	}
	cells := len(heldCells(t, db))
	_, err := sched.Reserve(ctx, crews, primitive.NewObjectID(), at.Add(30*time.Minute), 60, rules, tag)
	var tries *store.OwnTriesError
	if !errors.As(err, &tries) || !errors.Is(err, store.ErrSlotTaken) || len(tries.Tries) != 2 || tries.Tries[0].Order != first || tries.Tries[1].Order != second {
		t.Fatalf("the retry: %v, want ErrSlotTaken naming %s and %s", err, first.Hex(), second.Hex())
	}
	for _, try := range tries.Tries {
		if still, err := sched.StillTrying(ctx, try); err != nil || !still {
			t.Errorf("try %s: still trying %v %v, want true: it holds its crew", try.Order.Hex(), still, err)
		}
	}
	// Another booking, or one without a key, is told the time is taken.
	for _, other := range []string{store.BookingTag(alice, "k2"), ""} {
		if _, err := sched.Reserve(ctx, crews, primitive.NewObjectID(), at, 60, rules, other); !errors.Is(err, store.ErrSlotTaken) || errors.As(err, &tries) {
			t.Errorf("booking %q: %v, want ErrSlotTaken alone", other, err)
		}
	}
	if n := len(heldCells(t, db)); n != cells {
		t.Errorf("%d cells held after the refusals, want %d", n, cells)
	}
	// A try that gives up gives its crew back, and is seen to.
	if err := sched.Unreserve(ctx, &store.Reservation{OrderID: second, CrewID: crews[2].ID, From: at, Until: at.Add(150 * time.Minute)}, nil); err != nil {
		t.Fatal(err)
	}
	if still, err := sched.StillTrying(ctx, tries.Tries[1]); err != nil || still {
		t.Errorf("a try that gave its crew back: still trying %v %v, want false", still, err)
	}
	if still, err := sched.StillTrying(ctx, tries.Tries[0]); err != nil || !still {
		t.Errorf("the try that holds on: still trying %v %v, want true", still, err)
	}
	// A crew free again is the retry's, as any booking's.
	if err := sched.Unreserve(ctx, &store.Reservation{OrderID: other, CrewID: crews[1].ID, From: at, Until: at.Add(150 * time.Minute)}, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := sched.Reserve(ctx, crews, primitive.NewObjectID(), at, 60, rules, tag); err != nil || r.CrewID != crews[1].ID {
		t.Errorf("with a crew free: %+v %v, want the second crew", r, err)
	}
}

// reserveAtOnce makes n Reserve calls for one slot at once, spread over
// the handles of dbs, and returns the reservations made.
func reserveAtOnce(t *testing.T, n int, crews []*store.Crew, at time.Time, minutes int, dbs ...*store.DB) []*store.Reservation {
	t.Helper()
	var mu sync.Mutex
	var made []*store.Reservation
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(sched *store.ScheduleStore) {
			defer wg.Done()
			<-start
			r, err := sched.Reserve(context.Background(), crews, primitive.NewObjectID(), at, minutes, rules, "")
			switch {
			case errors.Is(err, store.ErrSlotTaken):
			case err != nil:
				t.Error(err)
			default:
				mu.Lock()
				made = append(made, r)
				mu.Unlock()
			}
		}(store.NewScheduleStore(dbs[i%len(dbs)]))
	}
	close(start)
	wg.Wait()
	return made
}

// checkRace says whether made are one reservation of each crew, and the
// cells held exactly theirs.
func checkRace(t *testing.T, db *store.DB, made []*store.Reservation, crews []*store.Crew) {
	t.Helper()
	if len(made) != len(crews) {
		t.Fatalf("%d reservations of one slot with %d crews", len(made), len(crews))
	}
	seen := map[primitive.ObjectID]bool{}
	want := map[string]primitive.ObjectID{}
	for _, r := range made {
		if seen[r.CrewID] {
			t.Errorf("crew %s reserved twice", r.CrewID.Hex())
		}
		seen[r.CrewID] = true
		for _, id := range cellsOf(r.CrewID, r.From, r.Until) {
			want[id] = r.OrderID
		}
	}
	got := heldCells(t, db)
	if len(got) != len(want) {
		t.Errorf("%d cells held, want the winners' %d", len(got), len(want))
	}
	for id, o := range want {
		if got[id] != o {
			t.Errorf("cell %s held by %s, want %s", id, got[id].Hex(), o.Hex())
		}
	}
}

// 200 bookings of one 9:00 slot at once, three crews free: three win,
// one crew each.
func TestReserveRaceOfOneInstance(t *testing.T) {
	db := storetest.Open(t)
	crews := makeCrews(t, store.NewScheduleStore(db), 3)
	made := reserveAtOnce(t, 200, crews, local(t, visitDay(0)+" 09:00"), 120, db)
	checkRace(t, db, made, crews)
}

// The same over two handles of one database (two instances): the unique
// _id of a cell holds across connections, and on FerretDB across
// processes too (the shared profile).
func TestReserveRaceOfTwoInstances(t *testing.T) {
	for round := 0; round < 3; round++ {
		name := storetest.DBName(t)
		a, b := storetest.OpenNamed(t, name), storetest.OpenNamed(t, name)
		crews := makeCrews(t, store.NewScheduleStore(a), 3)
		made := reserveAtOnce(t, 200, crews, local(t, visitDay(round)+" 09:00"), 120, a, b)
		checkRace(t, a, made, crews)
	}
}

// Spans that overlap without being equal: a 3-hour visit at 9:00 (9:00 to
// 12:30 with its buffer) and a 2-hour one at 10:00 on one crew never both
// succeed, whichever inserts first, on one handle or two.
func TestReserveRaceOfOverlappingSpans(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	a, b := storetest.OpenNamed(t, name), storetest.OpenNamed(t, name)
	crews := makeCrews(t, store.NewScheduleStore(a), 1)
	wins := map[string]int{}
	for round := 0; round < 30; round++ {
		day := visitDay(round)
		var wg sync.WaitGroup
		var nine, ten *store.Reservation
		var errNine, errTen error
		second := a
		if round%2 == 1 {
			second = b
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			nine, errNine = store.NewScheduleStore(a).Reserve(ctx, crews, primitive.NewObjectID(), local(t, day+" 09:00"), 180, rules, "")
		}()
		go func() {
			defer wg.Done()
			ten, errTen = store.NewScheduleStore(second).Reserve(ctx, crews, primitive.NewObjectID(), local(t, day+" 10:00"), 120, rules, "")
		}()
		wg.Wait()
		for _, err := range []error{errNine, errTen} {
			if err != nil && !errors.Is(err, store.ErrSlotTaken) {
				t.Fatal(err)
			}
		}
		switch {
		case nine != nil && ten != nil:
			t.Fatalf("round %d: both overlapping visits reserved one crew", round)
		case nine != nil:
			wins["9:00"]++
		case ten != nil:
			wins["10:00"]++
		default:
			t.Fatalf("round %d: neither visit reserved", round)
		}
		if n, want := len(heldCells(t, a)), 7*wins["9:00"]+5*wins["10:00"]; n != want {
			t.Fatalf("round %d: %d cells held, want the winners' %d", round, n, want)
		}
	}
	t.Logf("wins: %v", wins)
}

// A cell its order does not cover, left by a booking cut off, is taken
// back by the next booking that needs it once it is old enough; a fresh
// one (a booking still being made) is not.
func TestReserveTakesBackOrphanCells(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	sched := store.NewScheduleStore(db)
	crews := makeCrews(t, sched, 1)
	at := local(t, visitDay(0)+" 09:00")
	ghost := primitive.NewObjectID() // never made
	lay := func(from, until time.Time, age time.Duration) {
		t.Helper()
		for _, id := range cellsOf(crews[0].ID, from, until) {
			if _, err := db.InsertRaw(ctx, "crewTime", bson.D{{Key: "_id", Value: id}, {Key: "o", Value: ghost}, {Key: "at", Value: time.Now().Add(-age).UTC()}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Fresh: 9:00 to 11:30 is busy.
	lay(at, at.Add(150*time.Minute), 0)
	if _, err := sched.Reserve(ctx, crews, primitive.NewObjectID(), at, 120, rules, ""); !errors.Is(err, store.ErrSlotTaken) {
		t.Fatalf("over a fresh cell: %v, want ErrSlotTaken", err)
	}
	if got := cellsHeldBy(t, db, ghost); len(got) != 5 {
		t.Fatalf("the fresh cells: %d left, want 5", len(got))
	}
	// Old (a booking cut off a while ago, its whole span left): the next
	// booking over it takes it back and is made.
	day2 := local(t, visitDay(1)+" 09:00")
	lay(day2, day2.Add(150*time.Minute), time.Hour)
	order := primitive.NewObjectID()
	r, err := sched.Reserve(ctx, crews, order, day2, 120, rules, "")
	if err != nil {
		t.Fatalf("over old orphan cells: %v", err)
	}
	want := cellsOf(crews[0].ID, r.From, r.Until)
	if got := cellsHeldBy(t, db, order); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cells %v, want %v", got, want)
	}
	if got := cellsHeldBy(t, db, ghost); len(got) != 5 {
		t.Errorf("ghost holds %d cells, want the fresh 5", len(got))
	}
	// An old cell of an order that exists and covers it is its visit's.
	// (See TestReservationsFollowTheOrder for orders' own cells.)
}

// ReserveAll claims many reservations in one insert: one whose cell another
// order holds is not held, and keeps none of its cells; the others are.
func TestReserveAllHoldsWhatIsFree(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	sched := store.NewScheduleStore(db)
	crews := makeCrews(t, sched, 2)
	at := local(t, visitDay(0)+" 09:00")
	taken, err := sched.Reserve(ctx, crews[1:], primitive.NewObjectID(), at.Add(60*time.Minute), 60, rules, "") // crew 2, 10:00 to 11:30
	if err != nil {
		t.Fatal(err)
	}
	free := store.NewReservation(primitive.NewObjectID(), crews[0].ID, at, 90, rules)                       // crew 1, 9:00 to 11:00
	meets := store.NewReservation(primitive.NewObjectID(), crews[1].ID, at, 90, rules)                      // crew 2, 9:00 to 11:00: meets 10:00
	later := store.NewReservation(primitive.NewObjectID(), crews[1].ID, at.Add(150*time.Minute), 60, rules) // crew 2, 11:30 on
	held, err := sched.ReserveAll(ctx, []*store.Reservation{free, meets, later})
	if err != nil {
		t.Fatal(err)
	}
	if !held[0] || held[1] || !held[2] {
		t.Fatalf("held = %v, want [true false true]", held)
	}
	for _, c := range []struct {
		r    *store.Reservation
		want []string
	}{
		{free, cellsOf(crews[0].ID, at, at.Add(120*time.Minute))},
		{meets, nil},
		{later, cellsOf(crews[1].ID, at.Add(150*time.Minute), at.Add(240*time.Minute))},
		{taken, cellsOf(crews[1].ID, at.Add(60*time.Minute), at.Add(150*time.Minute))},
	} {
		if got := cellsHeldBy(t, db, c.r.OrderID); strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%v: cells %v, want %v", c.r, got, c.want)
		}
	}
}

// A visit held on a schedule (a batch placing many) is busy on it from
// then on, and on it alone: the day as the cache keeps it, and the free
// times remembered from it, are the next reader's unchanged.
func TestScheduleHoldIsTheSchedulesOwn(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	sched := store.NewScheduleStore(db)
	crews := makeCrews(t, sched, 1)
	day := visitDay(0)
	at := local(t, day+" 10:00")
	now := time.Now()
	service := primitive.NewObjectID()
	times := func(sc *store.Schedule) string {
		return strings.Join(sc.FreeTimes(service, 60, day, day, now)[0].Times, " ")
	}
	first, err := sched.Load(ctx, day, day)
	if err != nil {
		t.Fatal(err)
	}
	before := times(first) // remembered
	if !strings.Contains(before, "10:00") {
		t.Fatalf("free times %s, want 10:00 among them", before)
	}
	first.Hold(*store.NewReservation(primitive.NewObjectID(), crews[0].ID, at, 60, rules))
	if _, err := first.Check(service, 60, at, now); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("10:00 after the hold: %v, want ErrSlotTaken", err)
	}
	// Held 10:00 to 11:30 (the buffer): an hour's visit (and its buffer)
	// fits before 8:30's end and from 11:30.
	got := " " + times(first) + " "
	for _, clock := range []string{"09:00", "09:30", "10:00", "10:30", "11:00"} {
		if strings.Contains(got, " "+clock+" ") {
			t.Errorf("free times after the hold: %s; %s is not free", got, clock)
		}
	}
	for _, clock := range []string{"08:30", "11:30"} {
		if !strings.Contains(got, " "+clock+" ") {
			t.Errorf("free times after the hold: %s; %s is free", got, clock)
		}
	}
	second, err := sched.Load(ctx, day, day)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Check(service, 60, at, now); err != nil {
		t.Errorf("10:00 on another read: %v, want free", err)
	}
	if got := times(second); got != before {
		t.Errorf("free times on another read: %s, want %s", got, before)
	}
}
