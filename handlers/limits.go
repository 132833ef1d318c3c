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

// Blocked reports whether key has used up its failures, and for how long.
func (f *failureCounter) Blocked(key string, now time.Time) (bool, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.seen[strings.ToLower(key)]
	if e == nil || now.Sub(e.since) >= f.window {
		return false, 0
	}
	return e.n >= f.max, f.window - now.Sub(e.since)
}

// Fail records a failed attempt for key.
func (f *failureCounter) Fail(key string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key = strings.ToLower(key)
	e := f.seen[key]
	if e == nil || now.Sub(e.since) >= f.window {
		if len(f.seen) > 100_000 { // bound the memory a flood can take
			f.seen = map[string]*failures{}
		}
		e = &failures{since: now}
		f.seen[key] = e
	}
	e.n++
}

// Reset forgets key's failures after a successful login.
func (f *failureCounter) Reset(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.seen, strings.ToLower(key))
}
