package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A booking committed in another's group returns at once: it never waits
// for the lead, nor for the group after its own. The first queue had every
// member queue for the commit lock again after its group was committed;
// under load each one then committed whoever had just arrived, alone
// (measured: 163 bookings a second at 50 clients, 290 once fixed).
func TestCommittedBookingsDoNotWaitForTheNextGroup(t *testing.T) {
	var q createQueue
	db := &DB{}
	ctx := context.Background()
	firstHeld, releaseFirst := make(chan struct{}), make(chan struct{})
	thirdHeld, releaseThird := make(chan struct{}), make(chan struct{})
	var commits atomic.Int32
	var d *createReq
	dDone := make(chan error, 1)
	var commit func(context.Context, []*createReq)
	commit = func(_ context.Context, group []*createReq) {
		switch commits.Add(1) {
		case 1: // a alone, held until b and c queue
			close(firstHeld)
			<-releaseFirst
		case 2: // b and c: d arrives meanwhile and queues
			d = &createReq{o: &Order{}}
			go func() { dDone <- q.do(ctx, db, d, commit) }()
			for !q.queued(d) {
				time.Sleep(time.Millisecond)
			}
		case 3: // d's group, held
			close(thirdHeld)
			<-releaseThird
		}
	}

	run := func() (*createReq, chan error) {
		r := &createReq{o: &Order{}}
		done := make(chan error, 1)
		go func() { done <- q.do(ctx, db, r, commit) }()
		return r, done
	}
	_, aDone := run()
	<-firstHeld
	b, bDone := run()
	c, cDone := run()
	for !q.queued(b) || !q.queued(c) {
		time.Sleep(time.Millisecond)
	}
	close(releaseFirst)
	<-aDone
	<-thirdHeld
	for name, done := range map[string]chan error{"b": bDone, "c": cDone} {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s, committed in the second group, still waits while the third commits", name)
		}
	}
	close(releaseThird)
	if err := <-dDone; err != nil {
		t.Fatal(err)
	}
	if n := commits.Load(); n != 3 {
		t.Errorf("%d commits, want 3", n)
	}
}

// queued reports whether r waits in the queue.
func (q *commitQueue[R]) queued(r R) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range q.pending {
		if p.member() == r.member() {
			return true
		}
	}
	return false
}
