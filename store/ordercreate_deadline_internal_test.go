package store

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A booking whose request runs out of time while its commit hangs (a
// database that stopped answering) returns with the deadline at once; the
// commit goes on for the group, and a booking after it is committed.
func TestBookingReturnsAtItsDeadline(t *testing.T) {
	var q createQueue
	db := &DB{log: slog.New(slog.DiscardHandler)}
	release := make(chan struct{})
	var committed []*createReq
	commit := func(_ context.Context, group []*createReq) {
		if len(committed) == 0 {
			<-release // the first commit hangs
		}
		committed = append(committed, group...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	first := &createReq{o: &Order{}}
	queued := &createReq{o: &Order{}}
	errs := make(chan error, 2)
	go func() { errs <- q.do(ctx, db, first, commit) }()
	for !q.running() {
		time.Sleep(time.Millisecond)
	}
	go func() { errs <- q.do(ctx, db, queued, commit) }() // behind the hung commit
	for i := 0; i < 2; i++ {
		select {
		case err := <-errs:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("a booking past its deadline = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a booking waits for a hung commit past its deadline")
		}
	}
	close(release)
	later := &createReq{o: &Order{}}
	if err := q.do(context.Background(), db, later, commit); err != nil {
		t.Fatal(err)
	}
	if len(committed) != 3 {
		t.Errorf("%d bookings committed, want all 3 (the two that timed out were still made)", len(committed))
	}
}

// A commit that panics fails its group's bookings, and the process lives.
func TestBookingCommitPanicFailsItsGroup(t *testing.T) {
	var q createQueue
	db := &DB{log: slog.New(slog.DiscardHandler)}
	err := q.do(context.Background(), db, &createReq{o: &Order{}}, func(context.Context, []*createReq) { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a booking whose commit panicked = %v", err)
	}
	if err := q.do(context.Background(), db, &createReq{o: &Order{}}, func(context.Context, []*createReq) {}); err != nil {
		t.Errorf("the next booking = %v", err)
	}
}

// running reports whether a committer runs.
func (q *commitQueue[R]) running() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.busy
}
