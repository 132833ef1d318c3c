package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// The embedded database's hot documents are served from memory, and every
// kind of write the app makes is seen at once: a second read costs no
// command, and no read after a write returns what was there before it.
func TestDocumentCacheFollowsEveryWrite(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	orders := store.NewOrderStore(db)
	user := account(t, db, "kesh")
	o := newOrder(user, primitive.NewObjectID(), "k1")
	if err := orders.Create(ctx, o); err != nil {
		t.Fatal(err)
	}

	if _, err := orders.Get(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	before := db.Commands()
	if _, err := orders.Get(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	if n := db.Commands() - before; n != 0 {
		t.Errorf("a second read of an order sent %d commands, want 0 (from memory)", n)
	}

	// findAndModify (a transition) and its history.
	if _, err := orders.Advance(ctx, o.ID, store.StatusCompleted, store.StatusChange{ByName: "admin"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := orders.Get(ctx, o.ID); got.Status != store.StatusCompleted || len(got.History) != 5 {
		t.Errorf("after a transition the order reads %s with %d changes", got.Status, len(got.History))
	}
	items, _, err := orders.ForCustomer(ctx, user, primitive.NilObjectID, 20)
	if err != nil || len(items) != 1 || items[0].Status != store.StatusCompleted {
		t.Errorf("the customer's list after a transition: %+v, %v", items, err)
	}

	// An insert of a document read before as missing (an insert command,
	// its documents sent as a sequence).
	id := primitive.NewObjectID()
	if _, err := orders.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a missing order: %v", err)
	}
	if _, err := db.InsertRaw(ctx, "orders", bson.D{{Key: "_id", Value: id}, {Key: "status", Value: store.StatusPending}}); err != nil {
		t.Fatal(err)
	}
	if _, err := orders.Get(ctx, id); err != nil {
		t.Errorf("an order inserted after it was read as missing: %v", err)
	}

	// A delete.
	if err := orders.Delete(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := orders.Get(ctx, o.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted order still reads: %v", err)
	}
	if tt := totals(t, orders); tt.N != 0 {
		t.Errorf("the totals after the delete count %d orders", tt.N)
	}
}

// Readers racing writers: once the writers are done, every reader sees the
// last value, never one kept from before a write.
func TestDocumentCacheUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	counters := store.NewCounterStore(db)
	const writers, each, readers = 4, 40, 4
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := counters.Add(ctx, "hits", 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var rg sync.WaitGroup
	for r := 0; r < readers; r++ {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := counters.Get(ctx, "hits"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	rg.Wait()
	for r := 0; r < 3; r++ {
		if n, err := counters.Get(ctx, "hits"); err != nil || n != writers*each {
			t.Fatalf("after the writers, the counter reads %d, %v; want %d", n, err, writers*each)
		}
	}
}

// Another instance's write is seen here within the cache's second: the
// bound every cache of the app keeps.
func TestAnotherInstancesWriteIsSeenWithinASecond(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	opts := storetest.Options(t, name)
	opts.Now = clock
	here, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = here.Close(ctx) })
	there := storetest.OpenNamed(t, name)
	user := account(t, here, "ikki")
	o := newOrder(user, primitive.NewObjectID(), "i1")
	if err := store.NewOrderStore(here).Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	if _, err := store.NewOrderStore(here).Get(ctx, o.ID); err != nil { // cached here
		t.Fatal(err)
	}
	if _, err := store.NewOrderStore(there).Advance(ctx, o.ID, store.StatusCompleted, store.StatusChange{ByName: "admin"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if got, err := store.NewOrderStore(here).Get(ctx, o.ID); err != nil || got.Status != store.StatusCompleted {
		t.Errorf("a second after another instance completed it, the order reads %+v, %v", got, err)
	}
}
