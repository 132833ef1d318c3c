package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// A review is once per order (its _id), changeable for 7 days; the
// tallies of its service and crew follow every write, hidden ones out of
// the average.
func TestReviewOncePerOrderAndTallies(t *testing.T) {
	db := storetest.Open(t)
	ctx := context.Background()
	reviews := store.NewReviewStore(db)
	svc, crew := primitive.NewObjectID(), primitive.NewObjectID()
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(rating int) *store.Review {
		return &store.Review{ID: primitive.NewObjectID(), ServiceID: svc, CrewID: crew, UserID: primitive.NewObjectID(),
			FirstName: "Dilnoza", Rating: rating, CreatedAt: now, UpdatedAt: now}
	}
	a, b := mk(5), mk(2)
	for _, r := range []*store.Review{a, b} {
		if err := reviews.Create(ctx, r, "Brigada 1"); err != nil {
			t.Fatal(err)
		}
	}
	again := *a
	again.Rating = 1
	if err := reviews.Create(ctx, &again, "Brigada 1"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second review = %v, want a conflict", err)
	}
	rating := func(want store.Rating) {
		t.Helper()
		st, err := reviews.ServiceTally(ctx, svc)
		ct, err2 := reviews.CrewTally(ctx, crew)
		if err != nil || err2 != nil || st.Rating() != want || ct.Rating() != want {
			t.Errorf("ratings = %+v %+v (%v %v), want %+v", st.Rating(), ct.Rating(), err, err2, want)
		}
	}
	rating(store.Rating{Average: 3.5, Count: 2})
	if _, err := reviews.Change(ctx, b.ID, 4, "yaxshi", now.Add(6*24*time.Hour), "Brigada 1"); err != nil {
		t.Fatal(err)
	}
	rating(store.Rating{Average: 4.5, Count: 2})
	if _, err := reviews.Change(ctx, b.ID, 1, "", now.Add(8*24*time.Hour), "Brigada 1"); !errors.Is(err, store.ErrReviewLocked) {
		t.Fatalf("late change = %v", err)
	}
	if _, err := reviews.Hide(ctx, a.ID, true, "spam", "admin", now, "Brigada 1"); err != nil {
		t.Fatal(err)
	}
	rating(store.Rating{Average: 4, Count: 1})
	st, _ := reviews.ServiceTally(ctx, svc)
	if rows := st.Newest(true); len(rows) != 2 || len(st.Newest(false)) != 1 {
		t.Errorf("rows = %+v", rows)
	}
}
