package handlers

import (
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// authCache remembers, for a few seconds, that a session is live and who
// its user is, so a page does not cost two look-ups before its own work.
// Anything that ends a session or changes a user here drops the entries at
// once; another instance of the app sees such a change within the TTL.
type authCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[primitive.ObjectID]authEntry // by session id
}

type authEntry struct {
	user    store.User
	session store.Session
	until   time.Time
}

const maxAuthEntries = 50_000

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{ttl: ttl, entries: map[primitive.ObjectID]authEntry{}}
}

func (a *authCache) get(sid primitive.ObjectID, now time.Time) (*store.User, *store.Session, bool) {
	if a.ttl <= 0 {
		return nil, nil, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.entries[sid]
	if !ok || now.After(e.until) {
		return nil, nil, false
	}
	u, s := e.user, e.session // copies: handlers may change theirs
	return &u, &s, true
}

func (a *authCache) put(u *store.User, s *store.Session, now time.Time) {
	if a.ttl <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
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
}
