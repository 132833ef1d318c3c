package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// A crew's hours are saved and read back as they were: two intervals a
// day, a day off, a day with one.
func TestCrewHoursSavedAndReadBack(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	sched := store.NewScheduleStore(db)
	hours := store.WeekHours{"mon": {{"08:00", "13:00"}, {"14:00", "19:00"}}, "sat": {{"09:00", "14:00"}}}
	c := &store.Crew{Name: "Lola's crew", Members: []string{"Lola", "Aziz"}, Active: true, Hours: hours, ServiceIDs: []primitive.ObjectID{primitive.NewObjectID()}}
	if err := sched.CreateCrew(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := sched.Crew(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Hours, hours) || got.Name != c.Name || !reflect.DeepEqual(got.Members, c.Members) || !reflect.DeepEqual(got.ServiceIDs, c.ServiceIDs) {
		t.Errorf("read back %+v, want %+v", got, c)
	}
	if iv := got.Hours.On(time.Monday); len(iv) != 2 || iv[1] != (store.DayMinutes{From: 14 * 60, To: 19 * 60}) {
		t.Errorf("Monday: %v", iv)
	}
	if iv := got.Hours.On(time.Sunday); len(iv) != 0 {
		t.Errorf("Sunday, a day off: %v", iv)
	}
	// Changed hours, read back through the schedule.
	c.Hours = store.WeekHours{"tue": {{"10:00", "12:00"}}}
	if err := sched.UpdateCrew(ctx, c); err != nil {
		t.Fatal(err)
	}
	sc, err := sched.Load(ctx, visitDay(0), visitDay(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Crews) != 1 || !reflect.DeepEqual(sc.Crews[0].Hours, c.Hours) {
		t.Errorf("loaded crews %+v", sc.Crews)
	}
	// Hours that overlap, or end before they start, are refused.
	for _, bad := range []store.WeekHours{{"mon": {{"08:00", "13:00"}, {"12:00", "14:00"}}}, {"mon": {{"13:00", "08:00"}}}, {"monday": {{"08:00", "13:00"}}}, {"mon": {{"8:00", "13:00"}}}} {
		if err := sched.CreateCrew(ctx, &store.Crew{Name: "bad", Hours: bad}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("hours %v: %v, want ErrInvalid", bad, err)
		}
	}
}

// Twenty crews created at once are twenty crews: the compare-and-set on
// the schedule's version loses none, however often a writer comes second.
func TestCrewsCreatedAtOnce(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	sched := store.NewScheduleStore(db)
	var wg sync.WaitGroup
	start := make(chan struct{})
	ids := make([]primitive.ObjectID, 20)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := &store.Crew{Name: fmt.Sprintf("Crew %02d", i), Active: true, Hours: store.WeekHours{"mon": {{"08:00", "18:00"}}}}
			if err := sched.CreateCrew(ctx, c); err != nil {
				t.Errorf("crew %d: %v", i, err)
			}
			ids[i] = c.ID
		}()
	}
	close(start)
	wg.Wait()
	crews, err := sched.Crews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(crews) != 20 {
		t.Fatalf("%d crews, want 20", len(crews))
	}
	for i, c := range crews {
		if c.Name != fmt.Sprintf("Crew %02d", i) || c.ID != ids[i] {
			t.Errorf("crew %d: %s %s", i, c.Name, c.ID.Hex())
		}
	}
}

// Closures are added and removed; one for a crew that does not exist is
// refused, and a closure's times are checked.
func TestClosuresCreatedAndDeleted(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	sched := store.NewScheduleStore(db)
	crews := makeCrews(t, sched, 1)
	holiday := &store.Closure{Date: visitDay(3), Reason: "Navro'z"}
	short := &store.Closure{Date: visitDay(1), CrewID: crews[0].ID, From: "14:00", To: "20:00"}
	for _, c := range []*store.Closure{holiday, short} {
		if err := sched.CreateClosure(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := sched.CreateClosure(ctx, &store.Closure{Date: visitDay(1), CrewID: primitive.NewObjectID()}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a closure of no crew: %v", err)
	}
	for _, bad := range []*store.Closure{{Date: "2027-13-01"}, {Date: visitDay(1), From: "14:00", To: "13:00"}, {Date: visitDay(1), From: "14:00"}} {
		if err := sched.CreateClosure(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("closure %+v: %v, want ErrInvalid", bad, err)
		}
	}
	got, err := sched.Closures(ctx)
	if err != nil || len(got) != 2 || got[0].ID != short.ID || got[1].ID != holiday.ID {
		t.Fatalf("closures %+v %v", got, err)
	}
	// The schedule sees them: the crew's afternoon is gone that day, and
	// the holiday is everyone's.
	sc, err := sched.Load(ctx, visitDay(1), visitDay(3))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := sc.Check(primitive.NewObjectID(), 60, local(t, visitDay(1)+" 14:00"), now); !errors.Is(err, store.ErrOutsideHours) {
		t.Errorf("the crew's closed afternoon: %v", err)
	}
	if _, err := sc.Check(primitive.NewObjectID(), 60, local(t, visitDay(1)+" 13:00"), now); err != nil {
		t.Errorf("the crew's morning: %v", err)
	}
	if _, err := sc.Check(primitive.NewObjectID(), 60, local(t, visitDay(3)+" 10:00"), now); !errors.Is(err, store.ErrOutsideHours) {
		t.Errorf("the holiday: %v", err)
	}
	if err := sched.DeleteClosure(ctx, holiday.ID); err != nil {
		t.Fatal(err)
	}
	if err := sched.DeleteClosure(ctx, holiday.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a closure deleted twice: %v", err)
	}
	if got, _ := sched.Closures(ctx); len(got) != 1 || got[0].ID != short.ID {
		t.Errorf("after the delete: %+v", got)
	}
}

// Hours stored as [from, to] pairs (a MongoDB, which takes nested arrays,
// from before they were stored as "from-to") read as they were.
func TestCrewHoursReadFromPairs(t *testing.T) {
	raw, err := bson.Marshal(bson.M{"hours": bson.M{"mon": bson.A{bson.A{"08:00", "13:00"}, bson.A{"14:00", "19:00"}}, "sat": bson.A{"09:00-14:00"}}})
	if err != nil {
		t.Fatal(err)
	}
	var c store.Crew
	if err := bson.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	want := store.WeekHours{"mon": {{"08:00", "13:00"}, {"14:00", "19:00"}}, "sat": {{"09:00", "14:00"}}}
	if !reflect.DeepEqual(c.Hours, want) {
		t.Errorf("read %v, want %v", c.Hours, want)
	}
}

// A crew's week comes back as it was saved, lunch break and day off too,
// from a second connection (another instance) as well: the embedded
// database stores no nested arrays, so the hours are kept as strings.
func TestCrewHoursRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	hours := store.WeekHours{"mon": {{"08:00", "13:00"}, {"14:00", "19:00"}}, "tue": {{"08:00", "24:00"}}, "sun": {}}
	c := &store.Crew{Name: "Alfa", Hours: hours, Active: true}
	if err := store.NewScheduleStore(db).CreateCrew(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := store.NewScheduleStore(storetest.OpenNamed(t, db.Name())).Crew(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Hours, hours) {
		t.Errorf("hours = %v, want %v", got.Hours, hours)
	}
}
