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
	type writer struct {
		name    string
		booking bool
	}
	message1, message2, booking1, booking2, booking3 := writer{"message 1", false}, writer{"message 2", false}, writer{"booking 1", true}, writer{"booking 2", true}, writer{"booking 3", true}
	for _, tc := range []struct {
		name    string
		line    []writer      // in the order they come
		waited  time.Duration // how long they wait before the holder lets go
		want    []string
		comment string
	}{
		{"first come first served", []writer{message1, booking1, message2}, bookingPatience - time.Millisecond,
			[]string{"message 1", "booking 1", "message 2"}, "a booking that has not waited its patience keeps its place"},
		{"a booking that waited goes ahead", []writer{message1, booking1, message2}, bookingPatience,
			[]string{"booking 1", "message 1", "message 2"}, "once it has waited its patience, the booking goes next"},
		{"never twice in a row", []writer{message1, booking1, booking2, message2, booking3}, bookingPatience,
			[]string{"booking 1", "message 1", "booking 2", "booking 3", "message 2"}, "the first in line lets one booking go ahead at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
			l := &writeLock{now: func() time.Time { return now }}
			got := make(chan string)
			l.lock(false) // held by a write under way
			for _, w := range tc.line {
				waitInLine(t, l, w.booking, w.name, got)
			}
			now = now.Add(tc.waited)
			if names := order(l, got, len(tc.line)); !slices.Equal(names, tc.want) {
				t.Fatalf("%s: turns %v, want %v", tc.comment, names, tc.want)
			}
			if l.held || len(l.line) > 0 {
				t.Fatalf("after the last unlock: held %v, %d waiting", l.held, len(l.line))
			}
		})
	}
}
