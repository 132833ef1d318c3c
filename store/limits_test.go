package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tozalash/store"
	"tozalash/store/storetest"
)

// limitNow is a moment 20 s into a minute: the tests move the clock by
// hand, never wait for a window to pass.
var limitNow = time.Date(2026, 5, 1, 9, 30, 20, 0, time.UTC)

func TestLimitWindows(t *testing.T) {
	ctx := context.Background()
	limits := store.NewLimitStore(storetest.Open(t))
	hit := func(scope, key string, now time.Time) (bool, time.Duration) {
		t.Helper()
		ok, wait, err := limits.Hit(ctx, scope, key, 3, time.Minute, now)
		if err != nil {
			t.Fatal(err)
		}
		return ok, wait
	}
	for i := 1; i <= 3; i++ {
		if ok, _ := hit("login", "Lola@Example.uz", limitNow.Add(time.Duration(i)*time.Second)); !ok {
			t.Fatalf("hit %d refused", i)
		}
	}
	// The same address in other letters is the same key; the window ends on
	// the minute, 36 s after this hit.
	ok, wait := hit("login", "lola@example.uz", limitNow.Add(4*time.Second))
	if ok || wait != 36*time.Second {
		t.Errorf("4th hit = %v, wait %v; want refused, 36s", ok, wait)
	}
	if ok, _ := hit("login", "lola@example.uz", limitNow.Add(39*time.Second)); ok {
		t.Error("5th hit, the window's last second, allowed")
	}
	// Another key, another scope: budgets of their own.
	if ok, _ := hit("login", "bobur@example.uz", limitNow); !ok {
		t.Error("another key refused")
	}
	if ok, _ := hit("reset-email", "lola@example.uz", limitNow); !ok {
		t.Error("another scope refused")
	}
	// The next window starts afresh.
	if ok, _ := hit("login", "lola@example.uz", limitNow.Add(40*time.Second)); !ok {
		t.Error("the next window's first hit refused")
	}
	if _, _, err := limits.Hit(ctx, "login", "x", 3, 1500*time.Millisecond, limitNow); err == nil {
		t.Error("a window of 1.5 s accepted")
	}
}

func TestLimitUndoAndReset(t *testing.T) {
	ctx := context.Background()
	limits := store.NewLimitStore(storetest.Open(t))
	hit := func(now time.Time) bool {
		t.Helper()
		ok, _, err := limits.Hit(ctx, "auth-ip", "203.0.113.7", 2, time.Minute, now)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	hit(limitNow)
	hit(limitNow)
	if hit(limitNow) {
		t.Fatal("3rd of 2 allowed")
	}
	// The refused hit counted too; two given back make room for one.
	for i := 0; i < 2; i++ {
		if err := limits.Undo(ctx, "auth-ip", "203.0.113.7", time.Minute, limitNow); err != nil {
			t.Fatal(err)
		}
	}
	if !hit(limitNow.Add(time.Second)) {
		t.Error("a hit after two were given back refused")
	}
	if hit(limitNow.Add(2 * time.Second)) {
		t.Error("two hits after two were given back allowed")
	}
	// A hit given back after its window ended changes the new one nothing.
	if err := limits.Undo(ctx, "auth-ip", "203.0.113.7", time.Minute, limitNow.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if hit(limitNow.Add(3 * time.Second)) {
		t.Error("an old window's undo made room in this one")
	}
	if err := limits.Reset(ctx, "auth-ip", "203.0.113.7", 2, time.Minute, limitNow); err != nil {
		t.Fatal(err)
	}
	if !hit(limitNow.Add(4*time.Second)) || !hit(limitNow.Add(5*time.Second)) {
		t.Error("hits after a reset refused")
	}
}

func TestLimitPrune(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	limits := store.NewLimitStore(db)
	for _, key := range []string{"a", "b"} {
		if _, _, err := limits.Hit(ctx, "chat", key, 20, 10*time.Second, limitNow); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := limits.Hit(ctx, "chat", "a", 20, 10*time.Second, limitNow.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// The first window (9:30:20–30) has not ended at its end.
	if n, err := limits.Prune(ctx, limitNow.Add(10*time.Second)); err != nil || n != 0 {
		t.Errorf("prune at the first window's end = %d, %v; want 0", n, err)
	}
	if n, err := limits.Prune(ctx, limitNow.Add(11*time.Second)); err != nil || n != 4 {
		t.Errorf("prune after the first window = %d, %v; want its 2 counts and their 2 slots", n, err)
	}
	docs, err := db.RawFind(ctx, "limits")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Errorf("left after pruning: %v, want the current window of a (its count and its slot)", docs)
	}
	// A pruned window's key counts afresh.
	if ok, _, err := limits.Hit(ctx, "chat", "b", 1, 10*time.Second, limitNow.Add(10*time.Second)); err != nil || !ok {
		t.Errorf("b's first hit in the new window = %v, %v", ok, err)
	}
}

// hitAtOnce makes n hits of one key at the same moment, spread over the
// handles of dbs, and returns how many were allowed.
func hitAtOnce(t *testing.T, n, limit int, dbs ...*store.DB) int {
	t.Helper()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(limits *store.LimitStore) {
			defer wg.Done()
			<-start
			ok, _, err := limits.Hit(context.Background(), "auth-ip", "198.51.100.1", limit, time.Minute, limitNow)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		}(store.NewLimitStore(dbs[i%len(dbs)]))
	}
	close(start)
	wg.Wait()
	return int(allowed.Load())
}

// One database handle (one instance): exact under any concurrency, on
// FerretDB too (its write mutex), and first hits racing to make the
// window's document are all counted.
func TestLimitParallelHitsOfOneInstance(t *testing.T) {
	if got := hitAtOnce(t, 50, 10, storetest.Open(t)); got != 10 {
		t.Errorf("%d of 50 parallel hits allowed, limit 10", got)
	}
}

// Two handles of one database are two instances, with a write mutex each.
// Racing to make the window's document costs no hit an error, and exactly
// the limit passes: FerretDB applies no $inc atomically across processes,
// so racing counts are lost there, but each allowed hit must also insert
// its slot, which only one can (store/limits.go). Run a few times: it is a
// race.
func TestLimitParallelHitsOfTwoInstances(t *testing.T) {
	for round := 0; round < 5; round++ {
		name := storetest.DBName(t)
		a, b := storetest.OpenNamed(t, name), storetest.OpenNamed(t, name)
		if got := hitAtOnce(t, 50, 10, a, b); got != 10 {
			t.Errorf("round %d: %d of 50 parallel hits allowed over two instances, limit 10", round, got)
		}
	}
}
