package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"tozalash/store"
	"tozalash/store/storetest"
)

// One process at a time runs a step under a lease, whichever instance it
// is in; a lease whose holder stopped renewing it is taken over.
func TestExclusiveOneAtATime(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	dbs := []*store.DB{storetest.OpenNamed(t, name), storetest.OpenNamed(t, name), storetest.OpenNamed(t, name)}
	var inside, most, runs atomic.Int64
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				err := db.Exclusive(ctx, "step", func(context.Context) error {
					n := inside.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(5 * time.Millisecond)
					inside.Add(-1)
					runs.Add(1)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 || runs.Load() != 12 {
		t.Errorf("%d ran at once at most, %d runs; want 1, 12", most.Load(), runs.Load())
	}
	// fn's error comes back, and the lease goes with it.
	boom := errors.New("boom")
	if err := dbs[0].Exclusive(ctx, "step", func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Exclusive = %v, want fn's error", err)
	}
	// A holder that died: its lease is free once it has run out.
	restore := store.SetLeaseTTL(300 * time.Millisecond)
	defer restore()
	if _, err := dbs[0].InsertRaw(ctx, "meta", bson.D{{Key: "_id", Value: "lease:dead"}, {Key: "holder", Value: "gone"},
		{Key: "until", Value: time.Now().Add(300 * time.Millisecond)}}); err != nil {
		t.Fatal(err)
	}
	cx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := dbs[1].Exclusive(cx, "dead", func(context.Context) error { return nil }); err != nil {
		t.Errorf("a dead holder's lease: %v", err)
	}
}
