package store_test

import (
	"context"
	"strings"
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
	// The same address in other letters is the same key. Three hits this
	// minute fill it; they count in full until the minute ends (36 s after
	// this hit), then less and less: as two from 9:31:20.
	ok, wait := hit("login", "lola@example.uz", limitNow.Add(4*time.Second))
	if ok || wait != 56*time.Second {
		t.Errorf("4th hit = %v, wait %v; want refused, 56s", ok, wait)
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
	// 20 s into the next minute the three hits count as two: one passes.
	if ok, _ := hit("login", "lola@example.uz", limitNow.Add(59*time.Second)); ok {
		t.Error("a hit 19 s into the next minute allowed")
	}
	next := limitNow.Add(60 * time.Second)
	if ok, _ := hit("login", "lola@example.uz", next); !ok {
		t.Error("a hit 40 s after the last of three refused")
	}
	ok, wait = hit("login", "lola@example.uz", next.Add(time.Second))
	if ok {
		t.Error("a second hit 20 s into the next minute allowed")
	}
	// The previous minute's three count as one from 40 s in: wait 19 s.
	if wait != 19*time.Second {
		t.Errorf("wait = %v, want 19s", wait)
	}
	if ok, _ := hit("login", "lola@example.uz", next.Add(20*time.Second)); !ok {
		t.Error("a hit once the earlier ones count less refused")
	}
	if _, _, err := limits.Hit(ctx, "login", "x", 3, 1500*time.Millisecond, limitNow); err == nil {
		t.Error("a window of 1.5 s accepted")
	}
}

// A burst at the end of one window and another at the start of the next
// pass the limit once, not twice: the window slides.
func TestLimitBurstAcrossTheWindowsEdge(t *testing.T) {
	ctx := context.Background()
	limits := store.NewLimitStore(storetest.Open(t))
	edge := time.Date(2026, 5, 1, 9, 31, 0, 0, time.UTC)
	allowed := 0
	for i := 0; i < 20; i++ {
		at := edge.Add(-time.Second + time.Duration(i)*100*time.Millisecond) // 9:30:59 to 9:31:01
		ok, _, err := limits.Hit(ctx, "auth-ip", "203.0.113.9", 10, time.Minute, at)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		}
	}
	if allowed != 10 {
		t.Errorf("%d of 20 hits within two seconds across a window's edge allowed, limit 10 a minute", allowed)
	}
}

// A key of any length is counted, and stored in bounded space.
func TestLimitLongKeys(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	limits := store.NewLimitStore(db)
	long := strings.Repeat("a", 100_000) + "@example.uz"
	for i := 0; i < 2; i++ {
		ok, _, err := limits.Hit(ctx, "reset-email", long, 1, time.Minute, limitNow)
		if err != nil || ok != (i == 0) {
			t.Fatalf("hit %d = %v, %v", i, ok, err)
		}
	}
	docs, err := db.RawFind(ctx, "limits")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if id, _ := d["_id"].(string); len(id) > 200 {
			t.Errorf("a limit stored under a %d-byte _id", len(id))
		}
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
	// A refused hit does not count; one given back makes room for one.
	if err := limits.Undo(ctx, "auth-ip", "203.0.113.7", time.Minute, limitNow); err != nil {
		t.Fatal(err)
	}
	if !hit(limitNow.Add(time.Second)) {
		t.Error("a hit after one was given back refused")
	}
	if hit(limitNow.Add(2 * time.Second)) {
		t.Error("two hits after one was given back allowed")
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
	// The first window (9:30:20–30) counts in the next one, until 9:30:40.
	if n, err := limits.Prune(ctx, limitNow.Add(20*time.Second)); err != nil || n != 0 {
		t.Errorf("prune at the end of the window after the first = %d, %v; want 0", n, err)
	}
	if n, err := limits.Prune(ctx, limitNow.Add(21*time.Second)); err != nil || n != 4 {
		t.Errorf("prune after the window after the first = %d, %v; want its 2 counts and their 2 slots", n, err)
	}
	docs, err := db.RawFind(ctx, "limits")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Errorf("left after pruning: %v, want the current window of a (its count and its slot)", docs)
	}
	// A pruned window's key counts afresh.
	if ok, _, err := limits.Hit(ctx, "chat", "b", 1, 10*time.Second, limitNow.Add(21*time.Second)); err != nil || !ok {
		t.Errorf("b's first hit two windows on = %v, %v", ok, err)
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
