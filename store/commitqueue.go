package store

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// commitQueue commits writes in groups: the bookings (createQueue) and the
// chat's messages (postQueue), whose writes share documents, so writes
// that arrive together share those writes. There is no timer: a write
// that finds no commit running starts a committer, which commits it at
// once; the ones that arrive meanwhile queue, and when a commit ends the
// committer commits the whole queue, until it is empty. Under load the
// groups grow by themselves. A write waits only for its own group.
//
// The committer is a goroutine of its own, not a caller's: a caller whose
// request runs out of time (a database that stopped answering) returns
// with its context's error while the commit goes on, bounded by
// commitTimeout, so a request's deadline holds for these writes too.
type commitQueue[R grouped] struct {
	what       string // "booking", "message": for errors and the log
	forBooking bool   // commits take the write lock as a booking's (writeLock)

	mu      sync.Mutex
	busy    bool // a committer runs, and will commit whatever queues
	pending []R
}

// groupMember is what a queued write hears back.
type groupMember struct {
	err  error
	done chan struct{} // closed once the write's group is committed
}

func (m *groupMember) member() *groupMember { return m }

// grouped is a write a commitQueue carries.
type grouped interface{ member() *groupMember }

// commitTimeout bounds a group's commit, which no single caller may cancel:
// it carries other callers' writes too.
const commitTimeout = 10 * time.Second

func (q *commitQueue[R]) do(ctx context.Context, db *DB, r R, commit func(context.Context, []R)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.member().done = make(chan struct{})
	q.mu.Lock()
	q.pending = append(q.pending, r)
	start := !q.busy
	q.busy = true
	q.mu.Unlock()
	if start {
		go q.commitAll(context.WithoutCancel(ctx), db, commit)
	}
	select {
	case <-r.member().done:
		return r.member().err
	case <-ctx.Done():
		return fmt.Errorf("%s not answered in time (it may still be made): %w", q.name(), ctx.Err())
	}
}

// doAll is do for many writes at once: they join the queue together,
// so one commit takes them all (unless a commit is running, whose group
// they follow).
func (q *commitQueue[R]) doAll(ctx context.Context, db *DB, rs []R, commit func(context.Context, []R)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, r := range rs {
		r.member().done = make(chan struct{})
	}
	q.mu.Lock()
	q.pending = append(q.pending, rs...)
	start := !q.busy
	q.busy = true
	q.mu.Unlock()
	if start {
		go q.commitAll(context.WithoutCancel(ctx), db, commit)
	}
	for _, r := range rs {
		select {
		case <-r.member().done:
		case <-ctx.Done():
			return fmt.Errorf("%ss not answered in time (they may still be made): %w", q.name(), ctx.Err())
		}
	}
	return nil
}

func (q *commitQueue[R]) name() string {
	if q.what == "" {
		return "write"
	}
	return q.what
}

// commitAll commits the queue, group after group, until it is empty.
func (q *commitQueue[R]) commitAll(ctx context.Context, db *DB, commit func(context.Context, []R)) {
	for {
		q.mu.Lock()
		group := q.pending
		q.pending = nil
		if len(group) == 0 {
			q.busy = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		q.commitGroup(ctx, db, group, commit)
	}
}

// commitGroup commits one group under the write lock. Every member hears
// back, even if the commit panics: the panic becomes their error, and is
// logged with its stack (no request's recovery is there to catch it).
func (q *commitQueue[R]) commitGroup(ctx context.Context, db *DB, group []R, commit func(context.Context, []R)) {
	_ = db.writeAs(q.forBooking, func() error {
		defer func() {
			p := recover()
			if p != nil && db.log != nil {
				db.log.Error(q.name()+" commit panicked", "panic", p, "stack", string(debug.Stack()))
			}
			for _, g := range group {
				m := g.member()
				if p != nil && m.err == nil {
					m.err = fmt.Errorf("%s commit: %v", q.name(), p)
				}
				close(m.done)
			}
		}()
		cctx, cancel := context.WithTimeout(ctx, commitTimeout)
		defer cancel()
		commit(cctx, group)
		return nil
	})
}
