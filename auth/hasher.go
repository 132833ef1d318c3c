package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
)

// Hasher runs the password hashes (about 19 MiB and tens of milliseconds
// each) on a few workers of their own, so a flood of logins queues here
// instead of taking every core and all the memory from the rest of the app.
//
// Each worker holds its own OS thread at a lower scheduling priority: while
// the machine is idle a login hashes at full speed, and while pages are
// being served the kernel gives them the cores first.
//
// The queue is bounded by time: a hash is admitted only if, by the measured
// time of a hash (a moving average, or the age of a running hash if that is
// longer) and the number of workers, it can end within the budget
// (DefaultHashBudget) after the ones already admitted. Beyond that the
// caller gets a *BusyError at once, instead of waiting longer than anyone
// waits for a login.
type Hasher struct {
	n      int
	jobs   chan func()
	start  sync.Once
	budget time.Duration
	gate   func()

	mu       sync.Mutex
	admitted int           // hashes waiting or running
	hashing  int           // of them, the ones handed to a worker or queued for one
	estimate time.Duration // moving average of a hash's time on a worker
	running  []time.Time   // when the running hashes began
}

// DefaultHashBudget is how long a hash may take by default from its call to
// its end, its wait for a worker included: half of the 2 s a login may take
// at worst, the rest being the database's and the session's.
const DefaultHashBudget = time.Second

// defaultHashEstimate is the time of a hash assumed before any is measured:
// more than the 67 ms of an idle machine, since a server starts busy.
const defaultHashEstimate = 100 * time.Millisecond

// BusyError is the answer to a hash the Hasher cannot end within its
// budget; RetryAfter is when the hashes admitted now should be done.
type BusyError struct{ RetryAfter time.Duration }

func (e *BusyError) Error() string {
	return fmt.Sprintf("password hashing is busy, retry after %s", e.RetryAfter)
}

// HasherOption sets up a Hasher beyond its number of workers.
type HasherOption func(*Hasher)

// WithBudget sets how long a hash may take from its call to its end.
func WithBudget(d time.Duration) HasherOption { return func(h *Hasher) { h.budget = d } }

// WithEstimate sets the time of a hash assumed until hashes are measured.
func WithEstimate(d time.Duration) HasherOption { return func(h *Hasher) { h.estimate = d } }

// WithGate has each worker call gate before each job, outside the measured
// time: a test holds the hashes there.
func WithGate(gate func()) HasherOption { return func(h *Hasher) { h.gate = gate } }

// HashNice is the nice value of the hashing threads (0 is normal, 19 the
// lowest).
const HashNice = 19

// NewHasher allows n hashes at once; n <= 0 means one per core but one, so
// a flood of logins always leaves a core to everything else (measured on 2
// cores: with both hashing, the home page fell to 5 % of its rate).
func NewHasher(n int, opts ...HasherOption) *Hasher {
	if n <= 0 {
		n = DefaultHashSlots()
	}
	h := &Hasher{n: n, jobs: make(chan func()), budget: DefaultHashBudget, estimate: defaultHashEstimate}
	for _, o := range opts {
		o(h)
	}
	h.estimate = max(h.estimate, time.Microsecond)
	return h
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

// perHash is the time a hash is expected to take now: the moving average,
// or longer if a running hash has already taken longer (the machine just
// got busier, and the average learns of it only as hashes end).
func (h *Hasher) perHash(now time.Time) time.Duration {
	d := h.estimate
	for _, began := range h.running {
		d = max(d, now.Sub(began))
	}
	return d
}

// capacity is how many hashes may be admitted at once: as many as end
// within the budget, one after another on each worker, and never fewer than
// the workers (when one hash takes longer than the budget, the workers still
// work; only the queue goes).
func (h *Hasher) capacity(perHash time.Duration) int {
	return h.n * max(1, int(h.budget/perHash))
}

// admit takes a place for one hash, or says when to try again.
func (h *Hasher) admit() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.perHash(time.Now()); h.admitted >= h.capacity(d) {
		return h.busy(d)
	}
	h.admitted++
	return nil
}

// busy is the refusal: the hashes admitted now end in admitted/n rounds.
func (h *Hasher) busy(perHash time.Duration) *BusyError {
	rounds := math.Ceil(float64(max(h.admitted, 1)) / float64(h.n))
	return &BusyError{RetryAfter: time.Duration(rounds) * perHash}
}

func (h *Hasher) leave() {
	h.mu.Lock()
	h.admitted--
	h.mu.Unlock()
}

// begin notes a hash starting on a worker.
func (h *Hasher) begin() time.Time {
	now := time.Now()
	h.mu.Lock()
	h.running = append(h.running, now)
	h.mu.Unlock()
	return now
}

// end notes the end of the hash begun at began; a measured one's time joins
// the moving average (weight 1/4: it follows a change of the machine's load
// within a few hashes, and one slow hash moves it by a quarter).
func (h *Hasher) end(began time.Time, measured bool) {
	took := time.Since(began)
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, b := range h.running {
		if b.Equal(began) {
			h.running = append(h.running[:i], h.running[i+1:]...)
			break
		}
	}
	if measured {
		h.estimate = max(h.estimate+(took-h.estimate)/4, time.Microsecond)
	}
}

// Load reports the hashes admitted (waiting or running), how many may be,
// and the time a hash is expected to take now.
func (h *Hasher) Load() (admitted, capacity int, perHash time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	perHash = h.perHash(time.Now())
	return h.admitted, h.capacity(perHash), perHash
}

// Place is a hash admitted before its caller is ready to run it: a login
// takes one before its database work, so a login the hashing cannot serve
// in time is refused before it reads or writes anything (and under a flood
// the refusals cost the database nothing). The budget counts from the
// reservation. A place runs one hash; Release gives back one never used.
type Place struct {
	h    *Hasher
	at   time.Time
	once sync.Once
}

// Reserve admits one hash to be run later on the place, or answers a
// *BusyError at once.
func (h *Hasher) Reserve() (*Place, error) {
	h.start.Do(func() {
		for i := 0; i < h.n; i++ {
			go h.worker()
		}
	})
	if err := h.admit(); err != nil {
		return nil, err
	}
	return &Place{h: h, at: time.Now()}, nil
}

// Release gives the place back; after its hash, or a second time, it does
// nothing.
func (p *Place) Release() { p.once.Do(p.h.leave) }

// Check is CheckPassword on the place.
func (p *Place) Check(ctx context.Context, hash, password string) (ok bool, err error) {
	if rerr := p.run(ctx, true, func() { ok, err = CheckPassword(hash, password) }); rerr != nil {
		return false, rerr
	}
	return ok, err
}

// CheckNoUser is CheckNoUser on the place.
func (p *Place) CheckNoUser(ctx context.Context, password string) error {
	return p.run(ctx, true, func() { CheckNoUser(password) })
}

// Hashing reports how many admitted hashes were handed to a worker or wait
// for one: the others' callers are still busy before their hash (a
// login's database work).
func (h *Hasher) Hashing() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hashing
}

// run runs fn on a hashing worker and waits for it; a caller that gives up
// while queued leaves without it running. When more wait than end within
// the budget it answers a *BusyError at once; and one that the estimate
// admitted but still waits for a worker when the budget is spent (the
// machine got slower) gets one then. A measured fn's time feeds the
// estimate.
func (h *Hasher) run(ctx context.Context, measured bool, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := h.Reserve()
	if err != nil {
		return err
	}
	return p.run(ctx, measured, fn)
}

// run runs fn in the place, which it then gives back; the wait for a
// worker ends with the budget counted from the reservation.
func (p *Place) run(ctx context.Context, measured bool, fn func()) error {
	h := p.h
	used := true
	p.once.Do(func() { used = false }) // from here Release does nothing: this run gives the place back
	if used {
		return errPlaceUsed
	}
	defer h.leave()
	h.mu.Lock()
	h.hashing++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.hashing--
		h.mu.Unlock()
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan struct{})
	var failed any
	job := func() {
		// A panic (a stored hash with impossible parameters) is this
		// caller's error, not the end of the worker or the process.
		defer func() { failed = recover(); close(done) }()
		if h.gate != nil {
			h.gate()
		}
		defer h.end(h.begin(), measured)
		fn()
	}
	select {
	case h.jobs <- job:
	default: // no worker free: queue, until the budget is spent
		spent := time.NewTimer(max(0, h.budget-time.Since(p.at)))
		defer spent.Stop()
		select {
		case h.jobs <- job:
		case <-ctx.Done():
			return ctx.Err()
		case <-spent.C:
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.busy(h.perHash(time.Now()))
		}
	}
	<-done
	if failed != nil {
		return fmt.Errorf("password hash: %v", failed)
	}
	return nil
}

// errPlaceUsed is a second hash on one place (or one after Release): a
// caller's mistake.
var errPlaceUsed = errors.New("password hash: the place was used or given back")

// Hash is HashPassword within the bound.
func (h *Hasher) Hash(ctx context.Context, password string) (hash string, err error) {
	if rerr := h.run(ctx, true, func() { hash, err = HashPassword(password) }); rerr != nil {
		return "", rerr
	}
	return hash, err
}

// HashNew is Hash for a password being set: on the same worker, first
// PasswordWeakness against context (the estimate can cost as much as a
// hash, so it is bounded as one), and a weak password is not hashed but
// answered with why.
func (h *Hasher) HashNew(ctx context.Context, password string, context []string) (hash string, weak Weakness, err error) {
	if rerr := h.run(ctx, true, func() {
		if weak = PasswordWeakness(password, context...); weak == "" {
			hash, err = HashPassword(password)
		}
	}); rerr != nil {
		return "", "", rerr
	}
	return hash, weak, err
}

// Check is CheckPassword within the bound, on a place of its own.
func (h *Hasher) Check(ctx context.Context, hash, password string) (ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	p, err := h.Reserve()
	if err != nil {
		return false, err
	}
	return p.Check(ctx, hash, password)
}

// Nice reports the nice value of a hashing worker's thread (for tests).
func (h *Hasher) Nice(ctx context.Context) (nice int, err error) {
	err = h.run(ctx, false, func() { nice = threadNice() })
	return nice, err
}
