package handlers

import (
	"strings"
	"sync"
	"time"
)

// failureCounter counts failed logins per account in a fixed window, so a
// password can't be guessed from many addresses either. It lives in memory:
// one instance's view, which is what a single binary has.
type failureCounter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	seen   map[string]*failures
}

type failures struct {
	n     int
	since time.Time
}

func newFailureCounter(max int, window time.Duration) *failureCounter {
	return &failureCounter{max: max, window: window, seen: map[string]*failures{}}
}

// Attempt counts an attempt for key before the work it guards, so that
// attempts in flight at the same time are counted too. It reports whether
// the attempt may go on, and otherwise how long until it may. A successful
// attempt then calls Reset; a failed one stays counted.
func (f *failureCounter) Attempt(key string, now time.Time) (bool, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key = strings.ToLower(key)
	e := f.seen[key]
	if e == nil || now.Sub(e.since) >= f.window {
		if len(f.seen) >= maxTracked {
			f.evictExpired(now)
		}
		e = &failures{since: now}
		f.seen[key] = e
	}
	if e.n >= f.max {
		return false, f.window - now.Sub(e.since)
	}
	e.n++
	return true, 0
}

// maxTracked bounds the memory a flood of made-up keys can take.
const maxTracked = 100_000

func (f *failureCounter) evictExpired(now time.Time) {
	for k, e := range f.seen {
		if now.Sub(e.since) >= f.window {
			delete(f.seen, k)
		}
	}
	if len(f.seen) >= maxTracked { // all live: forget the oldest half
		for k := range f.seen {
			delete(f.seen, k)
			if len(f.seen) < maxTracked/2 {
				break
			}
		}
	}
}

// Undo gives back one attempt of key: one the server, not the client,
// failed.
func (f *failureCounter) Undo(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := f.seen[strings.ToLower(key)]; e != nil && e.n > 0 {
		e.n--
	}
}

// Reset forgets key's attempts after a success.
func (f *failureCounter) Reset(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.seen, strings.ToLower(key))
}
