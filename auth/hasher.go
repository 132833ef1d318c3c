package auth

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// Hasher runs the password hashes (about 19 MiB and tens of milliseconds
// each) on a few workers of their own, so a flood of logins queues here
// instead of taking every core and all the memory from the rest of the app.
//
// Each worker holds its own OS thread at a lower scheduling priority: while
// the machine is idle a login hashes at full speed, and while pages are
// being served the kernel gives them the cores first.
type Hasher struct {
	n     int
	jobs  chan func()
	start sync.Once
}

// HashNice is the nice value of the hashing threads (0 is normal, 19 the
// lowest).
const HashNice = 19

// NewHasher allows n hashes at once; n <= 0 means one per core but one, so
// a flood of logins always leaves a core to everything else (measured on 2
// cores: with both hashing, the home page fell to 5 % of its rate).
func NewHasher(n int) *Hasher {
	if n <= 0 {
		n = DefaultHashSlots()
	}
	return &Hasher{n: n, jobs: make(chan func())}
}

// DefaultHashSlots is how many hashes run at once by default: from the
// cores the process was given at its start (a container's quota included),
// before main adds the hashers' own.
func DefaultHashSlots() int { return max(1, startProcs-1) }

var startProcs = runtime.GOMAXPROCS(0)

func (h *Hasher) worker() {
	runtime.LockOSThread() // never unlocked: the thread ends with the process
	lowerThreadPriority(HashNice)
	for job := range h.jobs {
		job()
	}
}

// run runs fn on a hashing worker and waits for it; a caller that gives up
// while queued leaves without it running.
func (h *Hasher) run(ctx context.Context, fn func()) error {
	h.start.Do(func() {
		for i := 0; i < h.n; i++ {
			go h.worker()
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan struct{})
	var failed any
	job := func() {
		// A panic (a stored hash with impossible parameters) is this
		// caller's error, not the end of the worker or the process.
		defer func() { failed = recover(); close(done) }()
		fn()
	}
	select {
	case h.jobs <- job:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	if failed != nil {
		return fmt.Errorf("password hash: %v", failed)
	}
	return nil
}

// Hash is HashPassword within the bound.
func (h *Hasher) Hash(ctx context.Context, password string) (hash string, err error) {
	if rerr := h.run(ctx, func() { hash, err = HashPassword(password) }); rerr != nil {
		return "", rerr
	}
	return hash, err
}

// Check is CheckPassword within the bound.
func (h *Hasher) Check(ctx context.Context, hash, password string) (ok bool, err error) {
	if rerr := h.run(ctx, func() { ok, err = CheckPassword(hash, password) }); rerr != nil {
		return false, rerr
	}
	return ok, err
}

// CheckNoUser is CheckNoUser within the bound.
func (h *Hasher) CheckNoUser(ctx context.Context, password string) error {
	return h.run(ctx, func() { CheckNoUser(password) })
}

// Nice reports the nice value of a hashing worker's thread (for tests).
func (h *Hasher) Nice(ctx context.Context) (nice int, err error) {
	err = h.run(ctx, func() { nice = threadNice() })
	return nice, err
}
