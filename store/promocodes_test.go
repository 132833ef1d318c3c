package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// 50 customers race, through two connections to one database (as two
// instances), for a code with 10 uses left: exactly 10 get it.
func TestPromoCodeUsesHoldUnderARace(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	instances := []*store.PromoCodeStore{store.NewPromoCodeStore(db), store.NewPromoCodeStore(storetest.OpenNamed(t, db.Name()))}
	code := &store.PromoCode{Code: "yangi-yil", PercentOff: 20, MaxUses: 12, Active: true}
	if err := instances[0].Create(ctx, code); err != nil {
		t.Fatal(err)
	}
	for range 2 { // two used before the race: 10 left
		if err := instances[0].Claim(ctx, code, primitive.NewObjectID(), primitive.NewObjectID()); err != nil {
			t.Fatal(err)
		}
	}
	const racers = 50
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = instances[i%2].Claim(ctx, code, primitive.NewObjectID(), primitive.NewObjectID())
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrPromoExhausted):
			t.Errorf("racer %d: %v", i, err)
		}
	}
	if won != 10 {
		t.Errorf("%d racers got the code, want 10", won)
	}
	got, err := instances[1].Get(ctx, code.ID)
	if err != nil || got.Uses != 12 {
		t.Errorf("uses = %v %v, want 12", got, err)
	}
}

func TestPromoCodeClaims(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	codes := store.NewPromoCodeStore(db)
	aziz, dilnoza := primitive.NewObjectID(), primitive.NewObjectID()

	twice := &store.PromoCode{Code: "Ikki", AmountOff: 30_000, MaxUses: 3, MaxUsesPerCustomer: 2, Active: true}
	if err := codes.Create(ctx, twice); err != nil {
		t.Fatal(err)
	}
	if err := codes.Create(ctx, &store.PromoCode{Code: " IKKI", PercentOff: 5, Active: true}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a code twice, in another case: %v", err)
	}
	found, err := codes.ByCode(ctx, "ikki ")
	if err != nil || found.ID != twice.ID || found.Code != "IKKI" {
		t.Fatalf("found %+v %v", found, err)
	}
	if _, err := codes.ByCode(ctx, "NOPE"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown code: %v", err)
	}

	first, second, third := primitive.NewObjectID(), primitive.NewObjectID(), primitive.NewObjectID()
	for _, o := range []primitive.ObjectID{first, second} {
		if err := codes.Claim(ctx, twice, aziz, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := codes.Claim(ctx, twice, aziz, third); !errors.Is(err, store.ErrPromoUsedByYou) {
		t.Errorf("a third use by one customer: %v", err)
	}
	// A booking that failed gives its use back; another customer takes it.
	if err := codes.Release(ctx, second); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := codes.Claim(ctx, twice, dilnoza, primitive.NewObjectID()); err != nil {
			t.Fatalf("dilnoza's use %d: %v", i+1, err)
		}
	}
	if err := codes.Claim(ctx, twice, aziz, third); !errors.Is(err, store.ErrPromoExhausted) {
		t.Errorf("a fourth use of three: %v", err)
	}
	// The refused claim took none of aziz's own uses.
	if err := codes.Release(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := codes.Claim(ctx, twice, aziz, third); err != nil {
		t.Errorf("aziz again after a use came back: %v", err)
	}
	list, err := codes.List(ctx)
	if err != nil || len(list) != 1 || list[0].Uses != 3 {
		t.Errorf("list %v %v", list, err)
	}

	unlimited := &store.PromoCode{Code: "HAMMAGA", PercentOff: 5, Active: true}
	if err := codes.Create(ctx, unlimited); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := codes.Claim(ctx, unlimited, primitive.NewObjectID(), primitive.NewObjectID()); err != nil {
			t.Fatalf("use %d of a code without a limit: %v", i, err)
		}
	}
	unlimited.Active = false
	saved, err := codes.Update(ctx, unlimited)
	if err != nil || saved.Active || saved.Uses != 5 {
		t.Errorf("disabled: %+v %v", saved, err)
	}
	if _, err := codes.Update(ctx, &store.PromoCode{ID: primitive.NewObjectID(), Code: "X"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an update of no code: %v", err)
	}
}
