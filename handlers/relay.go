package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/chat"
	"tozalash/store"
)

// chatHub is the hub the handlers use: chat.Hub, with presence across
// instances and the loop that relays (relayedHub).
type chatHub interface {
	chat.Hub
	awaySince(ctx context.Context, userID string) (bool, time.Time)
	relayDropped() int64
	Run(ctx context.Context)
}

// relayedHub is the chat hub of one instance among several: it delivers to
// the sockets held here at once, like LocalHub, and passes every event and
// every closing of sockets to the other instances through the database's
// events feed (store.Feed), whose events it delivers in turn to the
// sockets here. It also records which instance holds a user's sockets, so
// that a user connected to another instance is not taken for away.
type relayedHub struct {
	*chat.LocalHub
	db   *store.DB
	feed *store.Feed
	log  *slog.Logger
	auth *authCache // what a closing elsewhere makes stale here

	running  atomic.Bool    // Run follows the feed: publish to it
	outgoing chan relayed   // to append, in order; full: dropped
	arrivals chan arrival   // presence changes to record, in order
	alive    aliveInstances // the instances alive, looked up now and then
	dropped  atomic.Int64   // events and presence changes not relayed (see relayDropped)
	position atomic.Int64   // the last event followed
}

// relayed is an event as the feed carries it.
type relayed struct {
	Kind    string          `json:"-"`
	To      *chat.Audience  `json:"to,omitempty"`
	Type    string          `json:"type,omitempty"`
	Conv    string          `json:"conv,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	User    string          `json:"user,omitempty"`
	Session string          `json:"session,omitempty"`
}

// What the feed carries.
const (
	relayChat         = "chat"
	relayCloseUser    = "close-user"
	relayReconnect    = "reconnect"
	relayCloseSession = "close-session"
)

type arrival struct {
	user string
	here bool
	at   time.Time
}

// relayQueue bounds the events waiting to be appended: a database that
// stopped answering costs live updates (the messages are stored; sockets
// catch up when they reconnect), never a blocked request.
const relayQueue = 4096

func newRelayedHub(db *store.DB, log *slog.Logger, auth *authCache) *relayedHub {
	r := &relayedHub{db: db, feed: store.NewFeed(db), log: log, auth: auth,
		outgoing: make(chan relayed, relayQueue), arrivals: make(chan arrival, relayQueue)}
	r.LocalHub = chat.NewLocalHub(chatBuffer, func(user string, here bool) {
		select {
		case r.arrivals <- arrival{user, here, time.Now().UTC()}:
		default:
			r.dropped.Add(1)
		}
	})
	return r
}

// relayDropped counts what this instance failed to pass on: events whose
// append failed or found the queue full, presence changes likewise. Ops
// see it in /metrics; the messages themselves are stored either way.
func (r *relayedHub) relayDropped() int64 { return r.dropped.Load() }

// send queues ev for the feed; until Run starts, it waits there.
func (r *relayedHub) send(ev relayed) {
	select {
	case r.outgoing <- ev:
	default:
		r.dropped.Add(1)
	}
}

// Publish delivers ev here and to the other instances.
func (r *relayedHub) Publish(to chat.Audience, ev chat.Event) {
	r.LocalHub.Publish(to, ev)
	payload, err := json.Marshal(ev.Payload)
	if err != nil {
		r.log.Error("chat relay: encode", "type", ev.Type, "err", err)
		return
	}
	r.send(relayed{Kind: relayChat, To: &to, Type: ev.Type, Conv: ev.ConversationID, Payload: payload})
}

// CloseUser closes the user's sockets here and on the other instances.
func (r *relayedHub) CloseUser(userID string) {
	r.LocalHub.CloseUser(userID)
	r.send(relayed{Kind: relayCloseUser, User: userID})
}

// Reconnect sends the user's sockets, here and elsewhere, back to be
// checked again.
func (r *relayedHub) Reconnect(userID string) {
	r.LocalHub.Reconnect(userID)
	r.send(relayed{Kind: relayReconnect, User: userID})
}

// CloseSession closes the sockets of one login, here and elsewhere.
func (r *relayedHub) CloseSession(sessionID string) {
	r.LocalHub.CloseSession(sessionID)
	r.send(relayed{Kind: relayCloseSession, Session: sessionID})
}

// deliver applies an event another instance appended.
func (r *relayedHub) deliver(fe *store.FeedEvent) {
	var ev relayed
	if err := json.Unmarshal(fe.Body, &ev); err != nil {
		r.log.Warn("chat relay: an event that does not decode", "seq", fe.Seq, "err", err)
		return
	}
	// A closing or a change elsewhere ends what this instance remembers of
	// the sessions too, at once rather than when the entries expire.
	switch fe.Kind {
	case relayCloseUser:
		r.forgetUser(ev.User)
		r.LocalHub.CloseUser(ev.User)
	case relayReconnect:
		r.forgetUser(ev.User)
		r.LocalHub.Reconnect(ev.User)
	case relayCloseSession:
		if sid, err := primitive.ObjectIDFromHex(ev.Session); err == nil {
			r.auth.forgetSession(sid)
		}
		r.LocalHub.CloseSession(ev.Session)
	case relayChat:
		if ev.To == nil {
			return
		}
		payload, err := chatPayload(ev.Type, ev.Payload)
		if err != nil {
			r.log.Warn("chat relay: a payload that does not decode", "seq", fe.Seq, "type", ev.Type, "err", err)
			return
		}
		r.LocalHub.Publish(*ev.To, chat.Event{Type: ev.Type, ConversationID: ev.Conv, Payload: payload})
	}
}

func (r *relayedHub) forgetUser(user string) {
	if id, err := primitive.ObjectIDFromHex(user); err == nil {
		r.auth.forgetUser(id)
	}
}

// chatPayload decodes an event's payload into the type the socket writer
// expects of its kind (see chatWriter).
func chatPayload(typ string, raw json.RawMessage) (any, error) {
	switch typ {
	case "message":
		var m store.Message
		err := json.Unmarshal(raw, &m)
		return m, err
	case "typing":
		var who [3]string // id, username, the agent's name for customers (support)
		err := json.Unmarshal(raw, &who)
		return who, err
	default:
		var v any
		if len(raw) == 0 {
			return nil, nil
		}
		err := json.Unmarshal(raw, &v)
		return v, err
	}
}

// Run follows the feed from its head, appends this instance's events and
// records its presence changes, until ctx ends.
func (r *relayedHub) Run(ctx context.Context) {
	head, err := r.feed.Head(ctx)
	for err != nil && ctx.Err() == nil {
		r.log.Warn("chat relay: finding the feed's head", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		head, err = r.feed.Head(ctx)
	}
	r.running.Store(true)
	defer r.running.Store(false)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); r.appendAll(ctx) }()
	go func() { defer wg.Done(); r.recordPresence(ctx) }()
	go func() { defer wg.Done(); r.keepFeed(ctx) }()
	me := r.db.Instance()
	r.feed.Follow(ctx, head, func(fe *store.FeedEvent) {
		r.position.Store(fe.Seq)
		if fe.From != me {
			r.deliver(fe)
		}
	}, time.Now)
	wg.Wait()
}

func (r *relayedHub) appendAll(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.outgoing:
			body, err := json.Marshal(ev)
			if err == nil {
				_, err = r.feed.Append(ctx, ev.Kind, body, time.Now().UTC())
			}
			if err != nil && ctx.Err() == nil {
				r.dropped.Add(1)
				r.log.Warn("chat relay: append", "kind", ev.Kind, "err", err)
			}
		}
	}
}

func (r *relayedHub) recordPresence(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-r.arrivals:
			var err error
			if a.here {
				err = r.db.Here(ctx, a.user, a.at)
			} else {
				err = r.db.Gone(ctx, a.user, a.at)
			}
			if err != nil && ctx.Err() == nil {
				r.dropped.Add(1)
				r.log.Warn("chat presence", "user", a.user, "err", err)
			}
		}
	}
}

// keepFeed records the head now and then, for the next start, and prunes
// what is older than the feed keeps.
func (r *relayedHub) keepFeed(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	type mark struct {
		at  time.Time
		seq int64
	}
	var marks []mark
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			pos := r.position.Load()
			marks = append(marks, mark{now, pos})
			if err := r.feed.Record(ctx, pos); err != nil && ctx.Err() == nil {
				r.log.Warn("chat relay: record the head", "err", err)
			}
			var cut int64
			for len(marks) > 0 && now.Sub(marks[0].at) >= store.FeedKeep {
				cut, marks = marks[0].seq, marks[1:]
			}
			if cut > 0 {
				if err := r.feed.Prune(ctx, cut); err != nil && ctx.Err() == nil {
					r.log.Warn("chat relay: prune", "err", err)
				}
			}
		}
	}
}

// awaySince reports whether user has no open socket on any instance alive,
// and since when (zero: not known). A database that does not answer
// counts as away: the notice it leads to is checked again when due.
func (r *relayedHub) awaySince(ctx context.Context, user string) (bool, time.Time) {
	away, since := r.LocalHub.AwaySince(user)
	if !away || !r.running.Load() {
		return away, since
	}
	alive, err := r.alive.get(ctx, r.db)
	if err != nil {
		return true, since
	}
	held, left, err := r.db.HeldElsewhere(ctx, user, alive)
	if err != nil {
		return true, since
	}
	if held {
		return false, time.Time{}
	}
	if left.After(since) {
		since = left
	}
	return true, since
}

// aliveInstances is the set of instances alive, looked up at most once a
// second: an instance is taken for dead only after seconds anyway.
type aliveInstances struct {
	mu  sync.Mutex
	at  time.Time
	set []string
}

func (a *aliveInstances) get(ctx context.Context, db *store.DB) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if a.set != nil && now.Sub(a.at) < time.Second {
		return a.set, nil
	}
	set, err := db.AliveInstances(ctx, now.UTC())
	if err != nil {
		return nil, err
	}
	a.set, a.at = set, now
	return set, nil
}
