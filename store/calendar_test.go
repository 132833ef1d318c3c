package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// A feed is found by its hash until it is replaced; the replaced one, and
// any unknown hash, is ErrNotFound; a second first feed is a conflict.
func TestCalendarFeedReplaceRevokesTheOld(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	feeds := store.NewCalendarStore(db)
	alice := primitive.NewObjectID()
	if _, err := feeds.Current(ctx, alice); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a feed before any: %v", err)
	}
	first := store.CalendarFeed{UserID: alice, Hash: "hash-one", Sealed: "sealed-one", CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := feeds.Replace(ctx, first, true); err != nil {
		t.Fatal(err)
	}
	if err := feeds.Replace(ctx, store.CalendarFeed{UserID: alice, Hash: "hash-race", Sealed: "x"}, true); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second first feed: %v", err)
	}
	if _, err := feeds.Owner(ctx, "hash-race"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused feed answers: %v", err)
	}
	if owner, err := feeds.Owner(ctx, "hash-one"); err != nil || owner != alice {
		t.Fatalf("owner %v %v", owner, err)
	}
	if err := feeds.Replace(ctx, store.CalendarFeed{UserID: alice, Hash: "hash-two", Sealed: "sealed-two"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := feeds.Owner(ctx, "hash-one"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the old feed answers: %v", err)
	}
	cur, err := feeds.Current(ctx, alice)
	if err != nil || cur.Hash != "hash-two" || cur.Sealed != "sealed-two" {
		t.Fatalf("current %+v %v", cur, err)
	}
	if _, err := feeds.Owner(ctx, "nothing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}

// The feed's visits: those from since on, among the latest limit orders,
// with their end and how many times they moved.
func TestCalendarVisitsAreBoundedAndCarryEndAndMoves(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	orders := store.NewOrderStore(db)
	alice, svc := account(t, db, "alice"), primitive.NewObjectID()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var made []*store.Order
	for i := 0; i < 25; i++ {
		o := newOrder(alice, svc, fmt.Sprint("cal", i))
		o.ScheduledAt = now.Add(time.Duration(i-5) * 24 * time.Hour) // five in the past
		o.DurationMinutes = 90
		if err := orders.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		made = append(made, o)
	}
	moved := made[24].ScheduledAt.Add(2 * time.Hour)
	if _, _, err := orders.UpdateBy(ctx, made[24].ID, store.OrderChange{ScheduledAt: &moved}, false, store.StatusChange{}); err != nil {
		t.Fatal(err)
	}
	rows, err := orders.CalendarVisits(ctx, alice, now.Add(-24*time.Hour), 22)
	if err != nil {
		t.Fatal(err)
	}
	// The latest 22 are orders 3..24; of those, 3 is two days ago.
	if len(rows) != 21 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if r.ScheduledAt.Before(now.Add(-24 * time.Hour)) {
			t.Fatalf("a visit before since: %v", r.ScheduledAt)
		}
		if !r.VisitEnd.Equal(r.ScheduledAt.Add(90 * time.Minute)) {
			t.Fatalf("end %v of start %v", r.VisitEnd, r.ScheduledAt)
		}
		if want := map[bool]int{true: 1, false: 0}[r.ID == made[24].ID]; r.Moves != want {
			t.Fatalf("moves %d, want %d", r.Moves, want)
		}
	}
}
