package store_test

import (
	"context"
	"reflect"
	"testing"

	"tozalash/store"
	"tozalash/store/storetest"
)

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
