package handlers

import (
	"sync"
	"time"

	"tozalash/store"
)

// shiftClock is the real time moved by a set amount: a test moves the
// handler's clock past a visit's start instead of waiting for it, while
// everything else (tokens, the mail worker) keeps the real time.
type shiftClock struct {
	mu    sync.Mutex
	shift time.Duration
}

func (c *shiftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.shift)
}

func (c *shiftClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shift += d
}

// visitStarted moves the handler's clock to a minute after o's visit
// starts (if it is not there yet): from then on it may be completed.
func (f *orderFixture) visitStarted(o *store.Order) {
	if d := time.Until(o.ScheduledAt) + time.Minute - f.clock.shiftNow(); d > 0 {
		f.clock.advance(d)
	}
}

func (c *shiftClock) shiftNow() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shift
}

// reset puts the clock back to the real time.
func (c *shiftClock) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shift = 0
}
