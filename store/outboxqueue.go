package store

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// outboxQueue is the outbox's queue in memory: which emails are still to
// send, in what state and when, and the whole of the newest ones.
//
// The worker's look for due mail is a filter on the state, which the
// embedded database answers by reading every queued email, bodies and
// all; after a burst of bookings, each look read thousands. Its claims and
// its records of delivery were two writes each. With this process the
// database's one writer (as for the document cache), every change to the
// queue passes through OutboxStore, so the queue is known here: the look
// for due mail reads nothing, a claim is taken in memory, and deliveries
// are recorded a batch at a time.
//
// A claim held only in memory dies with the process, as a lease would
// expire: the email is sent again after a crash, as before.
type outboxQueue struct {
	mu      sync.Mutex
	entries map[primitive.ObjectID]*queuedEmail
	bodies  int       // entries holding their email whole
	synced  time.Time // when the queue was last read from the database
}

type queuedEmail struct {
	status   string // pending or sending
	attempts int
	next     time.Time // when due; for sending, the end of the claim
	email    *Email    // the whole email while there is room, else nil (read it by _id)
}

// queueBodies bounds the emails kept whole: a burst beyond it is read back
// by _id when its turn comes.
const queueBodies = 2000

// loadOutboxQueue reads the queue at start.
func loadOutboxQueue(ctx context.Context, d *DB) (*outboxQueue, error) {
	q := &outboxQueue{entries: map[primitive.ObjectID]*queuedEmail{}}
	return q, q.sync(ctx, d)
}

// resyncEvery is how often the queue is read from the database again: a
// safety net for an email whose insert answered with an error but was
// made all the same (a timeout).
const resyncEvery = 5 * time.Minute

// sync adds what the database queues and the queue in memory lacks. An
// email already recorded in outboxSent (its delete failed) is deleted,
// not queued: it went out.
func (q *outboxQueue) sync(ctx context.Context, d *DB) error {
	cur, err := d.col(colOutbox).Find(ctx, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{EmailPending, EmailSending}}}}},
		options.Find().SetProjection(leanEmail))
	if err != nil {
		return err
	}
	var queued []Email
	if err := cur.All(ctx, &queued); err != nil {
		return err
	}
	for _, e := range queued {
		q.mu.Lock()
		_, known := q.entries[e.ID]
		q.mu.Unlock()
		if known {
			continue
		}
		err := d.col(colOutboxSent).FindOne(ctx, bson.D{{Key: "_id", Value: e.ID}}).Err()
		switch {
		case err == nil:
			if err := d.write(func() error {
				_, err := d.col(colOutbox).DeleteOne(ctx, bson.D{{Key: "_id", Value: e.ID}})
				return err
			}); err != nil {
				return err
			}
			continue
		case !errors.Is(err, mongo.ErrNoDocuments):
			return err
		}
		q.mu.Lock()
		if _, known := q.entries[e.ID]; !known {
			q.entries[e.ID] = &queuedEmail{status: e.Status, attempts: e.Attempts, next: e.NextAttemptAt}
		}
		q.mu.Unlock()
	}
	q.mu.Lock()
	q.synced = time.Now()
	q.mu.Unlock()
	return nil
}

// stale reports whether the queue is due to be read again.
func (q *outboxQueue) stale(now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return now.Sub(q.synced) > resyncEvery
}

// add queues e (pending, as written).
func (q *outboxQueue) add(e *Email, whole bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if old := q.entries[e.ID]; old != nil && old.email != nil {
		q.bodies--
	}
	qe := &queuedEmail{status: e.Status, attempts: e.Attempts, next: e.NextAttemptAt}
	if whole && q.bodies < queueBodies {
		c := *e
		qe.email = &c
		q.bodies++
	}
	q.entries[e.ID] = qe
}

func (q *outboxQueue) removeLocked(id primitive.ObjectID) {
	if qe := q.entries[id]; qe != nil {
		if qe.email != nil {
			q.bodies--
		}
		delete(q.entries, id)
	}
}

func (q *outboxQueue) remove(ids ...primitive.ObjectID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range ids {
		q.removeLocked(id)
	}
}

// dueEmail is an email whose turn has come: whole, or only its id and state.
type dueEmail struct {
	id    primitive.ObjectID
	state queuedEmail
}

// due returns up to limit emails whose turn has come, the longest waiting
// first.
func (q *outboxQueue) due(now time.Time, limit int) []dueEmail {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []dueEmail
	for id, qe := range q.entries {
		if !qe.next.After(now) {
			out = append(out, dueEmail{id, *qe})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].state.next.Equal(out[j].state.next) {
			return out[i].state.next.Before(out[j].state.next)
		}
		return out[i].id.Hex() < out[j].id.Hex()
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// claim takes e until leaseUntil if it is still in the state it was read
// in; false when another worker took it first.
func (q *outboxQueue) claim(e *Email, leaseUntil time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	qe := q.entries[e.ID]
	if qe == nil || qe.status != e.Status || qe.attempts != e.Attempts || !qe.next.Equal(e.NextAttemptAt) {
		return false
	}
	qe.status, qe.next = EmailSending, leaseUntil
	return true
}

// failed records a failed try: due again at next, or gone from the queue
// (failed for good) when next is zero.
func (q *outboxQueue) failed(id primitive.ObjectID, next time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qe := q.entries[id]
	if qe == nil {
		return
	}
	if next.IsZero() {
		q.removeLocked(id)
		return
	}
	qe.status, qe.next = EmailPending, next
	qe.attempts++
}
