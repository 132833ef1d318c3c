// Package chat is the live side of the support chat: a hub that fans events
// out to the open sockets of their users, and the per-user rate limit. It
// knows nothing of HTTP, HTML or storage: messages are stored before they
// reach it.
package chat

import (
	"sync"
	"time"
)

// Event is what a socket is told.
type Event struct {
	Type           string // "message", "read", "typing", "error"
	ConversationID string
	Payload        any // the message, the reader, the error text
}

// Audience says who an event is for: some users, and all ADMINs when
// Support is set.
type Audience struct {
	Users   []string
	Support bool
}

// Why a subscription ended.
const (
	EndedSlow     = "slow"     // its buffer was full: dropped, others go on
	EndedUser     = "user"     // the user logged out or was deleted
	EndedChanged  = "changed"  // the user's rights changed: come back with the new ones
	EndedShutdown = "shutdown" // the server is stopping
	EndedClosed   = "closed"   // the socket went away
)

// Hub fans events out to subscribers. LocalHub is the in-process one; with
// several instances the app wraps it in one that also publishes to, and
// receives from, the others through the database.
type Hub interface {
	Subscribe(userID, sessionID string, admin bool) *Subscription
	Publish(to Audience, ev Event)
	CloseUser(userID string)
	CloseSession(sessionID string)
	// Reconnect ends a user's subscriptions so that their sockets come back
	// and are checked again (a change of role).
	Reconnect(userID string)
	Close()
	// AwaySince reports whether the user has no open socket, and since
	// when (the zero time: never connected since the start).
	AwaySince(userID string) (bool, time.Time)
	Sockets() int
}

// Subscription is one socket's feed.
type Subscription struct {
	UserID    string
	SessionID string
	admin     bool
	events    chan Event
	done      chan struct{}
	once      sync.Once
	reason    string
	hub       *LocalHub
}

// Events delivers the events in order.
func (s *Subscription) Events() <-chan Event { return s.events }

// Done is closed when the hub drops the subscription; Reason says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Reason says why the subscription ended.
func (s *Subscription) Reason() string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.reason
}

// Close ends the subscription (the socket went away).
func (s *Subscription) Close() { s.hub.remove(s, EndedClosed) }

// LocalHub is the Hub of one process. Publish never blocks: a subscriber
// whose buffer is full is dropped.
type LocalHub struct {
	mu     sync.Mutex
	buffer int
	users  map[string]map[*Subscription]struct{}
	admins map[*Subscription]struct{}
	away   map[string]time.Time // when each user's last socket closed
	closed bool
	// presence hears when a user's first socket here opens (true) and their
	// last closes (false). It is called with the hub locked: it must not
	// block or call the hub.
	presence func(userID string, here bool)
}

// NewLocalHub returns a hub whose subscribers hold up to buffer events;
// presence, if not nil, hears users arrive and leave (see LocalHub).
func NewLocalHub(buffer int, presence func(userID string, here bool)) *LocalHub {
	if presence == nil {
		presence = func(string, bool) {}
	}
	return &LocalHub{buffer: buffer, users: map[string]map[*Subscription]struct{}{},
		admins: map[*Subscription]struct{}{}, away: map[string]time.Time{}, presence: presence}
}

// Subscribe opens a feed for one socket of userID in session sessionID. On
// a closed hub the subscription is already done.
func (h *LocalHub) Subscribe(userID, sessionID string, admin bool) *Subscription {
	s := &Subscription{UserID: userID, SessionID: sessionID, admin: admin, events: make(chan Event, h.buffer), done: make(chan struct{}), hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.reason = EndedShutdown
		close(s.done)
		return s
	}
	if h.users[userID] == nil {
		h.users[userID] = map[*Subscription]struct{}{}
		h.presence(userID, true)
	}
	h.users[userID][s] = struct{}{}
	if admin {
		h.admins[s] = struct{}{}
	}
	return s
}

// Publish hands ev to every subscriber of the audience at once.
func (h *LocalHub) Publish(to Audience, ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[*Subscription]bool{}
	deliver := func(s *Subscription) {
		if seen[s] {
			return
		}
		seen[s] = true
		select {
		case s.events <- ev:
		default:
			h.removeLocked(s, EndedSlow)
		}
	}
	for _, u := range to.Users {
		for s := range h.users[u] {
			deliver(s)
		}
	}
	if to.Support {
		for s := range h.admins {
			deliver(s)
		}
	}
}

// CloseUser ends every subscription of userID.
func (h *LocalHub) CloseUser(userID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.users[userID] {
		h.removeLocked(s, EndedUser)
	}
}

// Reconnect ends every subscription of userID with EndedChanged.
func (h *LocalHub) Reconnect(userID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.users[userID] {
		h.removeLocked(s, EndedChanged)
	}
}

// CloseSession ends the subscriptions of one login (a logout).
func (h *LocalHub) CloseSession(sessionID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.users {
		for s := range subs {
			if s.SessionID == sessionID {
				h.removeLocked(s, EndedUser)
			}
		}
	}
}

// Close ends every subscription and refuses new ones.
func (h *LocalHub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, subs := range h.users {
		for s := range subs {
			h.removeLocked(s, EndedShutdown)
		}
	}
}

// AwaySince reports whether userID has no open socket, and since when.
func (h *LocalHub) AwaySince(userID string) (bool, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.users[userID]) > 0 {
		return false, time.Time{}
	}
	return true, h.away[userID]
}

// Sockets counts the open subscriptions.
func (h *LocalHub) Sockets() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, subs := range h.users {
		n += len(subs)
	}
	return n
}

func (h *LocalHub) remove(s *Subscription, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(s, reason)
}

func (h *LocalHub) removeLocked(s *Subscription, reason string) {
	subs := h.users[s.UserID]
	if _, ok := subs[s]; !ok {
		return
	}
	delete(subs, s)
	delete(h.admins, s)
	if len(subs) == 0 {
		delete(h.users, s.UserID)
		h.away[s.UserID] = time.Now()
		h.presence(s.UserID, false)
	}
	s.reason = reason
	s.once.Do(func() { close(s.done) })
}

// RateLimit allows each key at most n events in any window.
type RateLimit struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	seen   map[string][]time.Time
}

// NewRateLimit returns a limit of n events per window per key.
func NewRateLimit(n int, window time.Duration) *RateLimit {
	return &RateLimit{n: n, window: window, seen: map[string][]time.Time{}}
}

// Allow records an event of key at now if the limit allows it.
func (r *RateLimit) Allow(key string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	times := r.seen[key]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= r.window {
		i++
	}
	times = times[i:]
	if len(times) >= r.n {
		r.seen[key] = times
		return false
	}
	r.seen[key] = append(times, now)
	if len(r.seen) > 10000 { // forget the quiet ones now and then
		for k, ts := range r.seen {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= r.window {
				delete(r.seen, k)
			}
		}
	}
	return true
}
