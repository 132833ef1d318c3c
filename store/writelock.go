package store

import (
	"sync"
	"time"
)

// bookingPatience is how long a booking's write waits for the write lock
// behind other writes before it goes ahead of them.
const bookingPatience = 300 * time.Millisecond

// writeLock is the write mutex of a FerretDB database (see DB.write): first
// come, first served, except that a booking's write (a booking group's
// commit, or the cells a claim gives back) that has waited bookingPatience
// goes ahead of the others still waiting, though never twice in a row: the
// turn after one that went ahead goes to the first in line, so a write at
// the head waits for one booking's write at most, however many wait. A group carries the bookings of
// many customers, and while it waits the next group fills behind it, so it
// may wait a little (its bookings share its writes, which makes each
// cheaper) but not for a whole queue; a booking that tries several crews
// gives cells back after each. (Measured with a plain mutex under the load
// test's chat: a group waited 1.2 s behind some forty messages, and the
// bookings' p99 reached 6 s; with groups always first they shrank to one
// or two bookings, each three times as dear, and the messages waited
// instead.)
type writeLock struct {
	now    func() time.Time
	mu     sync.Mutex
	held   bool
	line   []*lockTurn // the waiting, in arrival order
	jumped bool        // the last turn went ahead of the first in line
}

func newWriteLock() *writeLock { return &writeLock{now: time.Now} }

type lockTurn struct {
	booking bool
	since   time.Time
	turn    chan struct{}
}

// lock waits for the lock; booking says the caller writes for a booking.
func (l *writeLock) lock(booking bool) {
	l.mu.Lock()
	if !l.held {
		l.held = true
		l.mu.Unlock()
		return
	}
	t := &lockTurn{booking: booking, since: l.now(), turn: make(chan struct{})}
	l.line = append(l.line, t)
	l.mu.Unlock()
	<-t.turn
}

// unlock hands the lock to the next in turn, or frees it.
func (l *writeLock) unlock() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.line) == 0 {
		l.held, l.jumped = false, false
		return
	}
	next := 0
	for i, t := range l.line {
		if l.jumped {
			break
		}
		if t.booking && l.now().Sub(t.since) >= bookingPatience {
			next = i
			break
		}
	}
	l.jumped = next > 0
	t := l.line[next]
	l.line = append(l.line[:next], l.line[next+1:]...)
	close(t.turn)
}
