package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

func newOrder(user, service primitive.ObjectID, key string) *store.Order {
	return &store.Order{UserID: user, ServiceID: service, ServiceName: "Gilam yuvish", Price: 120000,
		ScheduledAt: time.Now().Add(48 * time.Hour).UTC().Truncate(time.Millisecond), Address: "Chilonzor 1", Phone: "+998901234567", IdempotencyKey: key}
}

func counter(t *testing.T, c *store.CounterStore, key string) int64 {
	t.Helper()
	n, err := c.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOrdersLifecycle(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	orders, counters := store.NewOrderStore(db), store.NewCounterStore(db)
	alice, bob, svc := primitive.NewObjectID(), primitive.NewObjectID(), primitive.NewObjectID()

	var made []*store.Order
	for i := 0; i < 5; i++ {
		o := newOrder(alice, svc, "k"+string(rune('a'+i)))
		if err := orders.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		made = append(made, o)
	}
	if err := orders.Create(ctx, newOrder(bob, svc, "ka")); err != nil {
		t.Fatalf("another user's same key: %v", err)
	}
	if err := orders.Create(ctx, newOrder(alice, svc, "ka")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same user, same key = %v, want ErrConflict", err)
	}
	if got, err := orders.ByIdempotencyKey(ctx, alice, "ka"); err != nil || got.ID != made[0].ID {
		t.Fatalf("by key = %v %v", got, err)
	}

	page, next, err := orders.ForCustomer(ctx, alice, primitive.NilObjectID, 3)
	if err != nil || len(page) != 3 || page[0].ID != made[4].ID || next != made[2].ID {
		t.Fatalf("page 1 = %d items, next %v, %v", len(page), next, err)
	}
	page, next, _ = orders.ForCustomer(ctx, alice, next, 3)
	if len(page) != 2 || page[1].ID != made[0].ID || !next.IsZero() {
		t.Fatalf("page 2 = %d items, next %v", len(page), next)
	}

	done, err := orders.Transition(ctx, made[0].ID, store.StatusCompleted, store.StatusChange{ByUserID: bob})
	if err != nil || done.Status != store.StatusCompleted || len(done.History) != 2 || done.History[1].ByUserID != bob {
		t.Fatalf("transition = %+v %v", done, err)
	}
	if _, err := orders.Transition(ctx, made[0].ID, store.StatusCancelled, store.StatusChange{ByUserID: bob, Reason: "late"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second transition = %v, want ErrConflict", err)
	}
	if _, err := orders.Transition(ctx, primitive.NewObjectID(), store.StatusCancelled, store.StatusChange{ByUserID: bob}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a missing order = %v, want ErrNotFound", err)
	}
	page, _, _ = orders.ForCustomer(ctx, alice, primitive.NilObjectID, 10)
	if page[4].Status != store.StatusCompleted {
		t.Errorf("the customer's list says %s", page[4].Status)
	}
	addr := "Yunusobod 5"
	if _, err := orders.Update(ctx, made[0].ID, store.OrderChange{Address: &addr}, true); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a customer's change of a completed order = %v", err)
	}
	if o, err := orders.Update(ctx, made[1].ID, store.OrderChange{Address: &addr}, true); err != nil || o.Address != addr {
		t.Errorf("update = %v %v", o, err)
	}
	if err := orders.Delete(ctx, made[1].ID); err != nil {
		t.Fatal(err)
	}
	if page, _, _ = orders.ForCustomer(ctx, alice, primitive.NilObjectID, 10); len(page) != 4 {
		t.Errorf("after delete the list has %d", len(page))
	}
	if a, p, c := counter(t, counters, store.CounterOrders), counter(t, counters, store.StatusCounter(store.StatusPending)), counter(t, counters, store.StatusCounter(store.StatusCompleted)); a != 5 || p != 4 || c != 1 {
		t.Errorf("counters: all %d pending %d completed %d; want 5 4 1", a, p, c)
	}

	// A crash between the two writes is repaired by the reconcile.
	if err := orders.DeleteForUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if n, err := orders.ReconcileCustomerLists(ctx); err != nil || n != 2 {
		t.Fatalf("reconcile = %d %v", n, err)
	}
	if page, _, _ = orders.ForCustomer(ctx, alice, primitive.NilObjectID, 10); len(page) != 4 {
		t.Errorf("after the reconcile the list has %d", len(page))
	}

	list, _, err := orders.List(ctx, store.OrderFilter{Status: store.StatusPending, Text: "yunus", Limit: 10})
	if err != nil || len(list) != 0 {
		t.Errorf("board search for a deleted order: %d %v", len(list), err)
	}
	list, _, _ = orders.List(ctx, store.OrderFilter{UserIDs: []primitive.ObjectID{bob}, Limit: 10})
	if len(list) != 1 || list[0].UserID != bob {
		t.Errorf("board by customer: %d", len(list))
	}
}

// Eight racers completing or cancelling one order: one wins, the counters
// stay exact.
func TestOneTransitionWins(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	orders, counters := store.NewOrderStore(db), store.NewCounterStore(db)
	for trial := 0; trial < 5; trial++ {
		o := newOrder(primitive.NewObjectID(), primitive.NewObjectID(), "race")
		if err := orders.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				to := store.StatusCompleted
				if i%2 == 0 {
					to = store.StatusCancelled
				}
				if _, err := orders.Transition(ctx, o.ID, to, store.StatusChange{ByUserID: o.UserID}); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if !errors.Is(err, store.ErrConflict) {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("trial %d: %d winners", trial, wins)
		}
		got, _ := orders.Get(ctx, o.ID)
		if len(got.History) != 2 {
			t.Fatalf("trial %d: history of %d entries", trial, len(got.History))
		}
	}
	p, c, x := counter(t, counters, store.StatusCounter(store.StatusPending)), counter(t, counters, store.StatusCounter(store.StatusCompleted)), counter(t, counters, store.StatusCounter(store.StatusCancelled))
	if p != 0 || c+x != 5 {
		t.Errorf("counters: pending %d, completed %d, cancelled %d", p, c, x)
	}
}
