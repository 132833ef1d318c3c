package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"tozalash/store"
	"tozalash/store/storetest"
)

// Two instances record at once that one holds a user's socket and the other
// let its socket go: a third sees the user held, whatever the order of the
// writes, because no instance writes another's record. When the holder
// dies, what it recorded is forgotten.
func TestPresenceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	a, b, c := storetest.OpenNamed(t, name), storetest.OpenNamed(t, name), storetest.OpenNamed(t, name)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, db := range []*store.DB{a, b, c} {
		if err := db.Beat(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	const user = "65f000000000000000000001"
	alive, err := c.AliveInstances(ctx, now)
	if err != nil || len(alive) != 3 {
		t.Fatalf("alive = %v, %v", alive, err)
	}
	if held, left, err := c.HeldElsewhere(ctx, user, alive); err != nil || held || !left.IsZero() {
		t.Fatalf("a user never seen: held %v, left %v, %v", held, left, err)
	}

	// a opens and keeps a socket while b opens and closes one, many times
	// over, all at once.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); _ = a.Here(ctx, user, now) }()
		go func() {
			defer wg.Done()
			_ = b.Here(ctx, user, now)
			_ = b.Gone(ctx, user, now.Add(time.Second))
		}()
	}
	wg.Wait()
	if err := b.Gone(ctx, user, now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if held, _, err := c.HeldElsewhere(ctx, user, alive); err != nil || !held {
		t.Fatalf("held by a, seen from c = %v, %v", held, err)
	}
	if held, _, _ := a.HeldElsewhere(ctx, user, alive); held {
		t.Errorf("a takes b's closed socket for open")
	}

	// a lets go: nobody holds the user, who left when a's socket closed.
	if err := a.Gone(ctx, user, now.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	held, left, err := c.HeldElsewhere(ctx, user, alive)
	if err != nil || held || !left.Equal(now.Add(3*time.Second)) {
		t.Fatalf("after a let go: held %v, left %v, %v", held, left, err)
	}

	// a opens again and dies: once it is taken for dead, its record goes.
	if err := a.Here(ctx, user, now); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	if err := c.Beat(ctx, later); err != nil {
		t.Fatal(err)
	}
	if err := store.PrunePresence(c, later); err != nil {
		t.Fatal(err)
	}
	if held, _, _ := c.HeldElsewhere(ctx, user, alive); held {
		t.Errorf("a dead instance's socket still counts after the prune")
	}
}
