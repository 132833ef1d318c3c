package store_test

import (
	"context"
	"reflect"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"tozalash/store"
	"tozalash/store/storetest"
)

// A service's checklist round-trips in its order; a change without one
// leaves it, an empty one clears it, and a service stored before the
// checklist reads as an empty list (the JSON's [] rather than null).
func TestServiceChecklistRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	services := store.NewServiceStore(db)
	items := []store.ChecklistItem{
		{ID: "dust", Text: store.Texts{Uz: "Changni artish", Ru: "Протереть пыль", En: "Dust the surfaces"}},
		{ID: "a1b2c3d4", Text: store.Texts{Uz: "Pollarni yuvish"}},
	}
	svc := &store.Service{Name: store.Texts{Uz: "Tozalash"}, Price: 100_000, DurationMinutes: 60, Checklist: items}
	if err := services.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if got, err := services.Get(ctx, svc.ID, true); err != nil || !reflect.DeepEqual(got.Checklist, items) {
		t.Fatalf("created: %+v (%v), want %+v", got.Checklist, err, items)
	}
	price := int64(120_000)
	if got, err := services.Update(ctx, svc.ID, store.ServiceChange{Price: &price}); err != nil || !reflect.DeepEqual(got.Checklist, items) {
		t.Errorf("a change without a checklist: %+v (%v)", got.Checklist, err)
	}
	edited := []store.ChecklistItem{{ID: "a1b2c3d4", Text: store.Texts{Uz: "Pollarni changyutgich bilan tozalash"}}, items[0]}
	if got, err := services.Update(ctx, svc.ID, store.ServiceChange{Checklist: &edited}); err != nil || !reflect.DeepEqual(got.Checklist, edited) {
		t.Errorf("reordered and edited: %+v (%v)", got.Checklist, err)
	}
	none := []store.ChecklistItem{}
	if got, err := services.Update(ctx, svc.ID, store.ServiceChange{Checklist: &none}); err != nil || got.Checklist == nil || len(got.Checklist) != 0 {
		t.Errorf("cleared: %#v (%v), want an empty list", got.Checklist, err)
	}

	// A document of before the checklist has no such field.
	var legacy store.Service
	raw, _ := bson.Marshal(bson.M{"name": bson.M{"uz": "Eski"}, "price": 1, "durationMinutes": 60})
	if err := bson.Unmarshal(raw, &legacy); err != nil || legacy.Checklist == nil {
		t.Errorf("a legacy service's checklist = %#v (%v), want an empty list", legacy.Checklist, err)
	}
}
