package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Outbox statuses.
const (
	EmailPending = "pending"
	EmailSending = "sending" // claimed by a worker until NextAttemptAt
	EmailSent    = "sent"
	EmailFailed  = "failed"
)

// Email is one message in the outbox. Requests only write it; the mail
// worker sends it, so no request ever waits on SMTP.
type Email struct {
	ID            primitive.ObjectID `bson:"_id" json:"id"`
	To            string             `bson:"to" json:"to"`
	Subject       string             `bson:"subject" json:"subject"`
	HTML          string             `bson:"html" json:"-"`
	Text          string             `bson:"text" json:"-"`
	Status        string             `bson:"status" json:"status"`
	Attempts      int                `bson:"attempts" json:"attempts"`
	NextAttemptAt time.Time          `bson:"nextAttemptAt" json:"nextAttemptAt"`
	LastError     string             `bson:"lastError,omitempty" json:"lastError,omitempty"`
	// PreviousError is the last error before an admin's retry (see Retry).
	PreviousError string     `bson:"previousError,omitempty" json:"previousError,omitempty"`
	CreatedAt     time.Time  `bson:"createdAt" json:"createdAt"`
	SentAt        *time.Time `bson:"sentAt,omitempty" json:"sentAt,omitempty"`
}

// OutboxStore keeps the emails to send.
type OutboxStore struct{ db *DB }

// NewOutboxStore returns the outbox of db.
func NewOutboxStore(db *DB) *OutboxStore { return &OutboxStore{db: db} }

// Enqueue adds e to the outbox, due at once.
func (s *OutboxStore) Enqueue(ctx context.Context, e *Email) error {
	e.prepare(time.Now().UTC().Truncate(time.Millisecond))
	// A new document is written whole, atomically, on FerretDB too: no
	// need to queue behind the write lock. Not cancelled with the request:
	// an insert cut off after the database made it would leave an email
	// the queue in memory does not know (until its next sync).
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if _, err := s.db.col(colOutbox).InsertOne(ictx, e); err != nil {
		return translate(err)
	}
	if s.db.outboxQ != nil {
		s.db.outboxQ.add(e, true)
	}
	return nil
}

// prepare makes e a new pending email, due at now.
func (e *Email) prepare(now time.Time) {
	e.ID = primitive.NewObjectID()
	e.Status = EmailPending
	e.CreatedAt, e.NextAttemptAt = now, now
}

// Due returns up to limit emails whose turn has come: pending ones, and
// claimed ones whose worker did not finish in time.
func (s *OutboxStore) Due(ctx context.Context, now time.Time, limit int) ([]Email, error) {
	if q := s.db.outboxQ; q != nil {
		if q.stale(time.Now()) {
			if err := q.sync(ctx, s.db); err != nil {
				return nil, err
			}
		}
		return s.dueFromQueue(ctx, q, now, limit)
	}
	cur, err := s.db.col(colOutbox).Find(ctx, bson.D{
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{EmailPending, EmailSending}}}},
		{Key: "nextAttemptAt", Value: bson.D{{Key: "$lte", Value: now}}},
	}, options.Find().SetSort(bson.D{{Key: "nextAttemptAt", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var out []Email
	err = cur.All(ctx, &out)
	return out, err
}

// Claim takes e for sending until leaseUntil. It fails with ErrConflict when
// another worker took it first: the update applies only to the state e was
// read in.
func (s *OutboxStore) Claim(ctx context.Context, e *Email, leaseUntil time.Time) error {
	if q := s.db.outboxQ; q != nil {
		if !q.claim(e, leaseUntil) {
			return ErrConflict
		}
		return nil
	}
	return s.db.write(func() error {
		ok, err := s.db.updateIf(ctx, colOutbox, e.ID,
			bson.D{{Key: "status", Value: e.Status}, {Key: "attempts", Value: e.Attempts}, {Key: "nextAttemptAt", Value: e.NextAttemptAt}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: EmailSending}, {Key: "nextAttemptAt", Value: leaseUntil}}}})
		if err != nil {
			return err
		}
		if !ok {
			return ErrConflict
		}
		return nil
	})
}

// MarkSent records the delivery of e, as the worker claimed it.
func (s *OutboxStore) MarkSent(ctx context.Context, e *Email, at time.Time) error {
	// Delivered mail leaves the queue for the record: the worker's look for
	// due mail reads the queue whole on the embedded database, so the queue
	// holds only what is still to send. The bodies carry one-time links:
	// they are not kept.
	return s.MarkSentMany(ctx, []*Email{e}, at)
}

// MarkSentMany records the delivery of a batch: two writes, however many.
// Recording one twice does no harm.
func (s *OutboxStore) MarkSentMany(ctx context.Context, es []*Email, at time.Time) error {
	if len(es) == 0 {
		return nil
	}
	docs := make([]any, len(es))
	deletes := make([]mongo.WriteModel, len(es))
	ids := make([]primitive.ObjectID, len(es))
	for i, e := range es {
		sent := *e
		sent.Status, sent.SentAt, sent.HTML, sent.Text = EmailSent, &at, "", ""
		sent.Attempts++
		docs[i] = &sent
		// By _id alone: the embedded database looks that up by index, and
		// reads the whole queue for an $in.
		deletes[i] = mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: e.ID}})
		ids[i] = e.ID
	}
	round := s.db.behindRound()
	err := round.write(ctx, func() error {
		_, err := s.db.col(colOutboxSent).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		if err != nil && !onlyDuplicates(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Recorded: never due again here, even if a delete below fails (a
	// start skips what outboxSent holds, see loadOutboxQueue).
	if s.db.outboxQ != nil {
		s.db.outboxQ.remove(ids...)
	}
	// The deletes a few at a time: each costs about a write, and a
	// booking waiting for the lock should wait behind a few, not fifty.
	for start := 0; start < len(deletes); start += deleteChunk {
		chunk := deletes[start:min(start+deleteChunk, len(deletes))]
		if err := round.write(ctx, func() error {
			_, err := s.db.col(colOutbox).BulkWrite(ctx, chunk, options.BulkWrite().SetOrdered(false))
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// deleteChunk is how many sent emails leave the queue in one write.
const deleteChunk = 5

// onlyDuplicates reports whether err is a bulk insert's refusal of ids
// that exist already, and nothing else.
func onlyDuplicates(err error) bool {
	var bulk mongo.BulkWriteException
	if !errors.As(err, &bulk) || bulk.WriteConcernError != nil || len(bulk.WriteErrors) == 0 {
		return false
	}
	for _, we := range bulk.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) {
			return false
		}
	}
	return true
}

// dueFromQueue is Due from the queue in memory: the emails kept whole cost
// nothing, the others one _id look-up each.
func (s *OutboxStore) dueFromQueue(ctx context.Context, q *outboxQueue, now time.Time, limit int) ([]Email, error) {
	due := q.due(now, limit)
	out := make([]Email, 0, len(due))
	for _, d := range due {
		var e Email
		if d.state.email != nil {
			e = *d.state.email
		} else {
			err := translate(s.db.col(colOutbox).FindOne(ctx, bson.D{{Key: "_id", Value: d.id}}).Decode(&e))
			if errors.Is(err, ErrNotFound) || (err == nil && e.Status == EmailFailed) {
				q.remove(d.id) // sent, or given up on, since the queue learnt of it
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		// The state in memory is the one that counts: a claim is held only
		// there.
		e.Status, e.Attempts, e.NextAttemptAt = d.state.status, d.state.attempts, d.state.next
		out = append(out, e)
	}
	return out, nil
}

// MarkAttemptFailed records a failed try: the email is due again at next,
// or failed for good when next is zero.
func (s *OutboxStore) MarkAttemptFailed(ctx context.Context, id primitive.ObjectID, reason string, next time.Time) error {
	set := bson.D{{Key: "lastError", Value: reason}}
	if next.IsZero() {
		set = append(set, bson.E{Key: "status", Value: EmailFailed})
	} else {
		set = append(set, bson.E{Key: "status", Value: EmailPending}, bson.E{Key: "nextAttemptAt", Value: next})
	}
	return s.db.write(func() error {
		_, err := s.db.col(colOutbox).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}}})
		if err == nil && s.db.outboxQ != nil {
			// Under the lock, so that the queue changes in the database's
			// order (an admin's retry right after a last failure stays).
			s.db.outboxQ.failed(id, next)
		}
		return err
	})
}

// Get returns one email, to send or sent.
func (s *OutboxStore) Get(ctx context.Context, id primitive.ObjectID) (*Email, error) {
	var e Email
	err := translate(s.db.col(colOutbox).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&e))
	if errors.Is(err, ErrNotFound) {
		err = translate(s.db.col(colOutboxSent).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&e))
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// leanEmail leaves the bodies out of what the admin's outbox page reads:
// they are the bulk of a document and carry one-time links.
var leanEmail = bson.D{{Key: "html", Value: 0}, {Key: "text", Value: 0}}

// OutboxProblems is what an admin should look at in the outbox: the emails
// given up on, and the ones still being retried after a failed try.
type OutboxProblems struct {
	Failed   []Email // status failed, newest first
	Retrying []Email // pending (or being sent) after at least one failed try, newest first
}

// ListProblems returns up to limit emails of each kind, newest first and
// without their bodies. On the embedded database any filter but _id reads
// the whole collection; that is fine here, as the outbox holds only mail
// still to send (delivered mail moves to outboxSent).
func (s *OutboxStore) ListProblems(ctx context.Context, limit int) (*OutboxProblems, error) {
	if limit < 1 {
		return nil, fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	}
	find := func(filter bson.D) ([]Email, error) {
		opts := options.Find().SetProjection(leanEmail).
			SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit))
		cur, err := s.db.col(colOutbox).Find(ctx, filter, opts)
		if err != nil {
			return nil, err
		}
		out := []Email{}
		err = cur.All(ctx, &out)
		return out, err
	}
	failed, err := find(bson.D{{Key: "status", Value: EmailFailed}})
	if err != nil {
		return nil, err
	}
	retrying, err := find(bson.D{
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{EmailPending, EmailSending}}}},
		{Key: "attempts", Value: bson.D{{Key: "$gte", Value: 1}}},
	})
	if err != nil {
		return nil, err
	}
	return &OutboxProblems{Failed: failed, Retrying: retrying}, nil
}

// OutboxCounts are the outbox page's header: emails given up on, and
// emails still to send (pending, or claimed by a worker right now).
type OutboxCounts struct {
	Failed  int64 `json:"failed"`
	Pending int64 `json:"pending"`
}

// Counts counts the failed and the pending emails (a read of the whole
// queue each on the embedded database; see ListProblems).
func (s *OutboxStore) Counts(ctx context.Context) (OutboxCounts, error) {
	var c OutboxCounts
	var err error
	col := s.db.col(colOutbox)
	if c.Failed, err = col.CountDocuments(ctx, bson.D{{Key: "status", Value: EmailFailed}}); err != nil {
		return c, err
	}
	c.Pending, err = col.CountDocuments(ctx, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{EmailPending, EmailSending}}}}})
	return c, err
}

// Retry puts a failed email back in the queue: pending, due now, with its
// attempts back to 0, so the worker gives it MaxAttempts tries again. Its
// lastError moves to previousError (kept for the record; lastError then
// says only what went wrong after the retry). Only a failed email can be
// retried: another one is ErrConflict (a pending one is queued already, a
// sent one is done), an unknown id ErrNotFound. The change is a conditional
// update on {status: failed}, so two admins pressing "retry" at once queue
// it once, and the worker, which only takes pending mail, sends it once.
// It returns the email as it is afterwards, without its bodies.
func (s *OutboxStore) Retry(ctx context.Context, id primitive.ObjectID) (*Email, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	err := s.db.write(func() error {
		ok, err := s.db.updateIf(ctx, colOutbox, id,
			bson.D{{Key: "status", Value: EmailFailed}},
			bson.D{
				{Key: "$rename", Value: bson.D{{Key: "lastError", Value: "previousError"}}},
				{Key: "$set", Value: bson.D{{Key: "status", Value: EmailPending}, {Key: "attempts", Value: 0}, {Key: "nextAttemptAt", Value: now}}},
			})
		if err != nil {
			return err
		}
		if !ok {
			// Unknown, or known but not failed (queued, or delivered and
			// moved to outboxSent).
			if _, err := s.getLean(ctx, id); err != nil {
				return err
			}
			return ErrConflict
		}
		if s.db.outboxQ != nil {
			s.db.outboxQ.add(&Email{ID: id, Status: EmailPending, NextAttemptAt: now}, false)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A worker may have taken it (or even sent it) since: this is how it
	// is now.
	return s.getLean(ctx, id)
}

// getLean is Get without the bodies.
func (s *OutboxStore) getLean(ctx context.Context, id primitive.ObjectID) (*Email, error) {
	var e Email
	opts := options.FindOne().SetProjection(leanEmail)
	err := translate(s.db.col(colOutbox).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, opts).Decode(&e))
	if errors.Is(err, ErrNotFound) {
		err = translate(s.db.col(colOutboxSent).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, opts).Decode(&e))
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}
