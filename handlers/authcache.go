package handlers

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// authCache remembers, for a few seconds, that a session is live and who
// its user is, so a page does not cost two look-ups before its own work.
// Anything that ends a session or changes a user here drops the entries at
// once; another instance of the app sees such a change within the TTL.
//
// The requests that miss an entry while it is being read wait for that
// one read (lookup): under load a session's entry expiring found tens of
// its requests in flight, and each read the session and the user again
// (the quote's bench: 110 reads of each a second for 20 sessions).
type authCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[primitive.ObjectID]authEntry // by session id
	reads   map[primitive.ObjectID]*authRead // under way, by session id
	// forgets counts the entries dropped: a read begun before a drop
	// keeps nothing, as it may have read what the drop was for.
	forgets uint64
}

type authEntry struct {
	user    store.User
	session store.Session
	until   time.Time
}

// authRead is a read of a session and its user, shared by the requests
// that ask for it meanwhile.
type authRead struct {
	done    chan struct{}
	user    store.User
	session store.Session
	err     error
}

const maxAuthEntries = 50_000

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{ttl: ttl, entries: map[primitive.ObjectID]authEntry{}, reads: map[primitive.ObjectID]*authRead{}}
}

// lookup returns session sid and its user: the entry, or what read
// returns, read once for every request that asks while it runs. A read
// that fails but for a session or user not found is not shared: each of
// its waiters reads for itself (the first's request may have ended).
func (a *authCache) lookup(ctx context.Context, sid primitive.ObjectID, now time.Time, read func(context.Context) (*store.User, *store.Session, error)) (*store.User, *store.Session, error) {
	if a.ttl <= 0 {
		return read(ctx)
	}
	a.mu.Lock()
	if e, ok := a.entries[sid]; ok && !now.After(e.until) {
		a.mu.Unlock()
		u, s := e.user, e.session // copies: handlers may change theirs
		return &u, &s, nil
	}
	if r, ok := a.reads[sid]; ok {
		a.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		switch {
		case errors.Is(r.err, store.ErrNotFound):
			return nil, nil, r.err
		case r.err != nil:
			return read(ctx)
		}
		u, s := r.user, r.session // copies: handlers may change theirs
		return &u, &s, nil
	}
	r := &authRead{done: make(chan struct{})}
	a.reads[sid] = r
	forgets := a.forgets
	a.mu.Unlock()

	// Ended however read ends (a panic too, which recoverPanic turns into
	// a 500): its waiters are let go, and the next request reads afresh.
	r.err = errReadEnded
	defer func() {
		a.mu.Lock()
		if a.reads[sid] == r {
			delete(a.reads, sid)
		}
		a.mu.Unlock()
		close(r.done)
	}()
	u, s, err := read(ctx)
	a.mu.Lock()
	if err == nil {
		r.user, r.session = *u, *s
		if a.forgets == forgets {
			a.put(u, s, now)
		}
	}
	r.err = err
	a.mu.Unlock()
	return u, s, err
}

// errReadEnded is the outcome of a shared read that never returned: its
// waiters read for themselves.
var errReadEnded = errors.New("auth cache: the shared read ended without an answer")

// put keeps u and s, under a.mu.
func (a *authCache) put(u *store.User, s *store.Session, now time.Time) {
	if len(a.entries) >= maxAuthEntries {
		for k, e := range a.entries {
			if now.After(e.until) {
				delete(a.entries, k)
			}
		}
		if len(a.entries) >= maxAuthEntries {
			a.entries = map[primitive.ObjectID]authEntry{}
		}
	}
	a.entries[s.ID] = authEntry{user: *u, session: *s, until: now.Add(a.ttl)}
}

// forgetSession drops one session.
func (a *authCache) forgetSession(sid primitive.ObjectID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.entries, sid)
	delete(a.reads, sid) // a request from now on reads afresh
	a.forgets++
}

// forgetUser drops every session of a user (logout everywhere, a new
// password, a new role, a deleted account, any change of the user).
func (a *authCache) forgetUser(userID primitive.ObjectID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, e := range a.entries {
		if e.user.ID == userID {
			delete(a.entries, k)
		}
	}
	clear(a.reads) // whose users they are is not known yet
	a.forgets++
}
