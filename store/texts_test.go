package store_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// Services and orders written before the catalogue had three languages
// (name and description plain Uzbek strings, the other languages in
// translations; an order's serviceName a string) still read, on the real
// database; a change writes the new shape and drops translations.
func TestLegacyServiceAndOrderDocumentsDecode(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	withTr, plain := primitive.NewObjectID(), primitive.NewObjectID()
	if _, err := db.InsertRaw(ctx, "services", bson.D{{Key: "_id", Value: withTr}, {Key: "name", Value: "Gilam yuvish"}, {Key: "description", Value: "Gilamlarni yuvish"},
		{Key: "price", Value: int64(120000)}, {Key: "durationMinutes", Value: 90}, {Key: "active", Value: true},
		{Key: "translations", Value: bson.D{{Key: "ru", Value: bson.D{{Key: "name", Value: "Стирка ковров"}, {Key: "description", Value: "Стирка"}}}}},
		{Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InsertRaw(ctx, "services", bson.D{{Key: "_id", Value: plain}, {Key: "name", Value: "Deraza yuvish"}, {Key: "description", Value: ""},
		{Key: "price", Value: int64(150000)}, {Key: "durationMinutes", Value: 120}, {Key: "active", Value: true}, {Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}}); err != nil {
		t.Fatal(err)
	}
	services := store.NewServiceStore(db)
	a, err := services.Get(ctx, withTr, false)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != (store.Texts{Uz: "Gilam yuvish", Ru: "Стирка ковров"}) || a.Description != (store.Texts{Uz: "Gilamlarni yuvish", Ru: "Стирка"}) || a.Price != 120000 || !a.Active {
		t.Errorf("legacy with translations = %+v", a)
	}
	if a.Text("en").Name != "Gilam yuvish" || a.Text("ru").Name != "Стирка ковров" {
		t.Errorf("fallbacks: en %q ru %q", a.Text("en").Name, a.Text("ru").Name)
	}
	b, err := services.Get(ctx, plain, false)
	if err != nil || b.Name != (store.Texts{Uz: "Deraza yuvish"}) || b.Text("ru").Name != "Deraza yuvish" {
		t.Errorf("legacy plain = %+v %v", b, err)
	}

	en := store.Texts{Uz: "Gilam yuvish", Ru: "Стирка ковров", En: "Carpet washing"}
	up, err := services.Update(ctx, withTr, store.ServiceChange{Name: &en})
	if err != nil || up.Name != en || up.Description.Ru != "Стирка" {
		t.Fatalf("update = %+v %v", up, err)
	}
	docs, err := db.RawFind(ctx, "services")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range docs {
		if d["_id"] != withTr {
			continue
		}
		found = true
		if _, ok := d["translations"]; ok {
			t.Errorf("translations left after the change: %v", d)
		}
		if n, ok := d["name"].(bson.M); !ok || n["en"] != "Carpet washing" || n["uz"] != "Gilam yuvish" {
			t.Errorf("name stored as %#v", d["name"])
		}
		if ds, ok := d["description"].(bson.M); !ok || ds["ru"] != "Стирка" {
			t.Errorf("description stored as %#v", d["description"])
		}
	}
	if !found {
		t.Fatal("the service is not in the collection")
	}

	// an order whose snapshot is a plain Uzbek string
	oid := primitive.NewObjectID()
	if _, err := db.InsertRaw(ctx, "orders", bson.D{{Key: "_id", Value: oid}, {Key: "userId", Value: primitive.NewObjectID()}, {Key: "serviceId", Value: withTr},
		{Key: "serviceName", Value: "Gilam yuvish"}, {Key: "status", Value: store.StatusPending}, {Key: "price", Value: int64(120000)}}); err != nil {
		t.Fatal(err)
	}
	o, err := store.NewOrderStore(db).Get(ctx, oid)
	if err != nil || o.ServiceName != "Gilam yuvish" || o.ServiceNames != (store.Texts{}) {
		t.Fatalf("legacy order = %+v %v", o, err)
	}
	if got := store.ServiceTitle(o.ServiceNames, o.ServiceName, "en", up.Name.In("en")); got != "Carpet washing" {
		t.Errorf("an old order of an existing service in English = %q", got)
	}
	if got := store.ServiceTitle(o.ServiceNames, o.ServiceName, "en", ""); got != "Gilam yuvish" {
		t.Errorf("an old order of a service gone = %q", got)
	}
}
