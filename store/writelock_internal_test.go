package store

import (
	"runtime"
	"slices"
	"testing"
	"time"
)

// waitInLine starts a writer that takes l and records name once it holds
// it, and returns once the writer is in line (no clock involved).
func waitInLine(t *testing.T, l *writeLock, booking bool, name string, got chan<- string) {
	t.Helper()
	l.mu.Lock()
	n := len(l.line)
	l.mu.Unlock()
	go func() {
		l.lock(booking)
		got <- name
	}()
	for {
		l.mu.Lock()
		in := len(l.line) > n
		l.mu.Unlock()
		if in {
			return
		}
		runtime.Gosched()
	}
}

// order lets the writers through one after the other and returns who held
// the lock in turn.
func order(l *writeLock, got <-chan string, n int) []string {
	var names []string
	for range n {
		l.unlock()
		names = append(names, <-got)
	}
	l.unlock()
	return names
}

func TestWriteLockTurns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		waited  time.Duration // how long the writers wait before the holder lets go
		want    []string
		comment string
	}{
		{"first come first served", bookingPatience - time.Millisecond, []string{"message 1", "booking", "message 2"}, "a booking that has not waited its patience keeps its place"},
		{"a booking that waited goes ahead", bookingPatience, []string{"booking", "message 1", "message 2"}, "once it has waited its patience, the booking goes next"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
			l := &writeLock{now: func() time.Time { return now }}
			got := make(chan string)
			l.lock(false) // held by a write under way
			waitInLine(t, l, false, "message 1", got)
			waitInLine(t, l, true, "booking", got)
			waitInLine(t, l, false, "message 2", got)
			now = now.Add(tc.waited)
			if names := order(l, got, 3); !slices.Equal(names, tc.want) {
				t.Fatalf("%s: turns %v, want %v", tc.comment, names, tc.want)
			}
			if l.held || len(l.line) > 0 {
				t.Fatalf("after the last unlock: held %v, %d waiting", l.held, len(l.line))
			}
		})
	}
}
