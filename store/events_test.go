package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"tozalash/store"
	"tozalash/store/storetest"
)

// Two instances appending at once number their events 1, 2, 3, … with no
// number twice and none skipped, and a follower gets every one, in order.
func TestFeedNumbersEventsAcrossInstances(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	one, two := store.NewFeed(storetest.OpenNamed(t, name)), store.NewFeed(storetest.OpenNamed(t, name))
	for _, f := range []*store.Feed{one, two} {
		if head, err := f.Head(ctx); err != nil || head != 0 {
			t.Fatalf("head of an empty feed = %d, %v", head, err)
		}
	}
	const each = 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int64]bool{}
	for _, f := range []*store.Feed{one, two} {
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each/3; i++ {
					seq, err := f.Append(ctx, "test", []byte(`{}`), time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if got[seq] {
						t.Errorf("number %d given twice", seq)
					}
					got[seq] = true
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for seq := int64(1); seq <= 2*each; seq++ {
		if !got[seq] {
			t.Errorf("number %d skipped", seq)
		}
	}
	follower := store.NewFeed(storetest.OpenNamed(t, name))
	if head, err := follower.Head(ctx); err != nil || head != 2*each {
		t.Fatalf("head = %d, %v; want %d", head, err, 2*each)
	}
	fctx, stop := context.WithCancel(ctx)
	var seen []int64
	last := follower.Follow(fctx, 0, func(ev *store.FeedEvent) {
		seen = append(seen, ev.Seq)
		if ev.Seq == 2*each {
			stop()
		}
	}, time.Now)
	if last != 2*each || len(seen) != 2*each || seen[0] != 1 {
		t.Fatalf("followed to %d, %d events, first %v", last, len(seen), seen[:1])
	}
}

// A number chosen by a writer that died before writing it holds a
// follower up for feedGap by its clock, no longer; events pruned before a
// follower got there are jumped.
func TestFeedStepsOverGapsAndPrunedEvents(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	db := storetest.OpenNamed(t, name)
	f := store.NewFeed(db)
	for i := 0; i < 3; i++ {
		if _, err := f.Append(ctx, "test", nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// Event 4 is lost; 5 is written by another instance.
	raw := storetest.Client(t).Database(name).Collection("events")
	if _, err := raw.InsertOne(ctx, bson.D{{Key: "_id", Value: "00000000000000000005"}, {Key: "kind", Value: "test"}, {Key: "from", Value: "elsewhere"}}); err != nil {
		t.Fatal(err)
	}
	var clock sync.Mutex
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	tick := func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	advance := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	seen := make(chan int64, 16)
	done := make(chan int64)
	go func() { done <- f.Follow(fctx, 2, func(ev *store.FeedEvent) { seen <- ev.Seq }, tick) }()
	if s := <-seen; s != 3 {
		t.Fatalf("first event followed: %d, want 3", s)
	}
	select {
	case s := <-seen:
		t.Fatalf("event %d followed while the clock stood still at the gap", s)
	case <-time.After(200 * time.Millisecond): // ten polls
	}
	advance(2 * time.Second)
	select {
	case s := <-seen:
		if s != 5 {
			t.Fatalf("after the gap: %d, want 5", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the follower stayed at the gap")
	}
	stop()
	<-done

	// Pruned below 5: a follower from 0 starts at the floor.
	if err := f.Prune(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(ctx, 3); err == nil {
		t.Fatal("event 3 still there after pruning below 5")
	}
	gctx, stop2 := context.WithCancel(ctx)
	defer stop2()
	late := make(chan int64, 1)
	go f.Follow(gctx, 0, func(ev *store.FeedEvent) { late <- ev.Seq; stop2() }, tick)
	advance(2 * time.Second)
	go func() {
		for gctx.Err() == nil {
			advance(2 * time.Second)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	select {
	case s := <-late:
		if s != 5 {
			t.Fatalf("a follower below the floor got %d first, want 5", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a follower below the floor never caught up")
	}
}

// Pruning deletes every event below the mark and none above it, and a
// second prune starts where the first stopped.
func TestFeedPruneKeepsWhatIsNewer(t *testing.T) {
	ctx := context.Background()
	f := store.NewFeed(storetest.OpenNamed(t, storetest.DBName(t)))
	for i := 0; i < 100; i++ {
		if _, err := f.Append(ctx, "test", nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	kept := func() (below, from int) {
		for seq := int64(1); seq <= 100; seq++ {
			if _, err := f.Get(ctx, seq); err == nil {
				if below == 0 {
					below = int(seq)
				}
				from++
			}
		}
		return below, from
	}
	if err := f.Prune(ctx, 90); err != nil {
		t.Fatal(err)
	}
	if first, n := kept(); first != 90 || n != 11 {
		t.Fatalf("after pruning below 90: first kept %d, %d kept; want 90, 11", first, n)
	}
	if err := f.Prune(ctx, 95); err != nil {
		t.Fatal(err)
	}
	if first, n := kept(); first != 95 || n != 6 {
		t.Fatalf("after pruning below 95: first kept %d, %d kept; want 95, 6", first, n)
	}
	// A mark below the floor prunes nothing.
	if err := f.Prune(ctx, 50); err != nil {
		t.Fatal(err)
	}
	if first, n := kept(); first != 95 || n != 6 {
		t.Fatalf("after a prune below the floor: first kept %d, %d kept", first, n)
	}
	if head, err := f.Head(ctx); err != nil || head != 100 {
		t.Errorf("head after pruning = %d, %v; want 100", head, err)
	}
}
