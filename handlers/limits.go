package handlers

import (
	"cmp"
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"tozalash/store"
)

// limit is one of the app's rate limits: at most max hits of a key in any
// window's length (a sliding window, see store.LimitStore). The hits are counted in the database (store.LimitStore), so every
// instance behind the load balancer spends from one budget, not one each.
//
// A database that cannot count a hit fails it (closed): the routes behind
// these limits need the database anyway, so a hit it cannot count would
// fail a moment later, and a limit that opened whenever the database
// stumbled would let a guesser through exactly then.
type limit struct {
	counts *store.LimitStore
	log    *slog.Logger
	scope  string // names the limit in the database: one per limit
	max    int
	window time.Duration

	// refused holds the keys this instance saw over the limit, until one
	// more hit may pass: a flood from one of them is refused without a database
	// write each. (A hit given back on another instance meanwhile is not
	// seen here before the window ends: this errs on refusing.)
	mu      sync.Mutex
	refused map[string]time.Time
}

// maxRefused bounds the memory a flood of made-up keys can take.
const maxRefused = 10_000

func newLimit(counts *store.LimitStore, log *slog.Logger, scope string, max int, window time.Duration) *limit {
	return &limit{counts: counts, log: log, scope: scope, max: max, window: window, refused: map[string]time.Time{}}
}

// hit counts one hit of key at now and reports whether it may go on, and
// otherwise how long until it may.
func (l *limit) hit(ctx context.Context, key string, now time.Time) (bool, time.Duration, error) {
	if wait, refused := l.stillRefused(key, now); refused {
		return false, wait, nil
	}
	key = store.LimitKey(key) // as the store counts it
	ok, wait, err := l.counts.Hit(ctx, l.scope, key, l.max, l.window, now)
	if err == nil && !ok {
		l.refuse(key, now, now.Add(wait))
	}
	return ok, wait, err
}

// stillRefused reports whether this instance saw key over the limit and
// it may not pass yet, and for how long: no database is asked.
func (l *limit) stillRefused(key string, now time.Time) (time.Duration, bool) {
	key = store.LimitKey(key)
	l.mu.Lock()
	until, seen := l.refused[key]
	l.mu.Unlock()
	if seen && now.Before(until) {
		return until.Sub(now), true
	}
	return 0, false
}

// allow counts one hit of key at now: nil when it may go on, a
// *rateLimitedError when it may not, another error when the database did
// not count it.
func (l *limit) allow(ctx context.Context, key string, now time.Time) error {
	ok, wait, err := l.hit(ctx, key, now)
	if err != nil {
		return err // closed: see limit
	}
	if !ok {
		return &rateLimitedError{wait: wait}
	}
	return nil
}

// rateLimitedError is a request refused by a rate limit: 429, with how
// long to wait in Retry-After, and an error code of its own where the
// client is told more than "wait" (empty: rate_limited).
type rateLimitedError struct {
	wait time.Duration
	code string
}

func (e *rateLimitedError) Error() string { return cmp.Or(e.code, "rate_limited") }

// refuse remembers key as over the limit until until.
func (l *limit) refuse(key string, now, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.refused) >= maxRefused {
		for k, u := range l.refused {
			if !now.Before(u) {
				delete(l.refused, k)
			}
		}
		if len(l.refused) >= maxRefused { // all current: the database still counts them
			clear(l.refused)
		}
	}
	l.refused[key] = until
}

// undo gives back the hit of key made at at: one the server, not the
// client, failed. It runs after the request's own context may have ended
// (the client left, the deadline passed), so on one of its own.
func (l *limit) undo(ctx context.Context, key string, at time.Time) {
	cx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := l.counts.Undo(cx, l.scope, key, l.window, at); err != nil {
		l.log.Warn("rate limit: giving a hit back", slog.String("limit", l.scope), slog.Any("error", err))
	}
}

// reset forgets the hits of key after a success. Should that fail, the
// success still stands: the hits stay counted until their window ends.
func (l *limit) reset(ctx context.Context, key string, now time.Time) {
	l.mu.Lock()
	delete(l.refused, store.LimitKey(key))
	l.mu.Unlock()
	if err := l.counts.Reset(ctx, l.scope, key, l.max, l.window, now); err != nil {
		l.log.Warn("rate limit: reset", slog.String("limit", l.scope), slog.Any("error", err))
	}
}

// setRetryAfter tells a refused client how many whole seconds to wait,
// rounded up.
func setRetryAfter(c *fiber.Ctx, wait time.Duration) {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
}

// now is the rate limits' clock (Config.Now).
func (h *Handler) now() time.Time {
	if h.cfg.Now != nil {
		return h.cfg.Now()
	}
	return time.Now()
}
