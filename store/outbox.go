package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Outbox statuses. An email stays pending while a worker sends it: what
// says a worker has it is its claim (see Claim), not the email.
const (
	EmailPending = "pending"
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
	// Attachments are files sent with it: a booking's .ics (#24).
	Attachments []Attachment `bson:"attachments,omitempty" json:"-"`
	// Channel is how it goes: by email ("", ChannelEmail) to To, or by
	// Telegram (ChannelTelegram, #24) to the chat ChatID, its Text alone.
	Channel string `bson:"channel,omitempty" json:"channel,omitempty"`
	ChatID  int64  `bson:"chatId,omitempty" json:"-"`
	// UserID is the customer a Telegram message is for: it goes only
	// while ChatID is still theirs (zero: the bot's answer to a chat).
	UserID primitive.ObjectID `bson:"userId,omitempty" json:"-"`
}

// Attachment is one file of an email.
type Attachment struct {
	Name        string `bson:"name"`        // the file name the reader sees: "tozalash-1042.ics"
	ContentType string `bson:"contentType"` // "text/calendar; charset=utf-8; method=PUBLISH"
	Content     string `bson:"content"`
}

// oneTimeSecret is a one-time link's token in an email's text or HTML (a
// reset or a verification link): the value of its token parameter, whose
// secret part follows the account's id ("<userId>.<secret>").
var oneTimeSecret = regexp.MustCompile(`([?&;]token=)((?:[0-9a-f]{24}\.)?)([^&\s"'<>]+)`)

// RemovedSecret stands for the secret of a link RedactLinks blanked.
const RemovedSecret = "REMOVED"

// RedactLinks blanks the secrets of the one-time links in an email's body
// and keeps the rest, the account's id in the token included (the mail
// worker's Relink makes fresh links from it, should the email be sent
// again): once sent or given up on, an email's copy must not be a way into
// the account.
func RedactLinks(body string) string {
	return oneTimeSecret.ReplaceAllString(body, "${1}${2}"+RemovedSecret)
}

// carriesLink reports whether an email's body holds a live one-time link.
func carriesLink(body string) bool { return hasLink(body, func(removed bool) bool { return !removed }) }

// LinksRemoved reports whether e holds one-time links of an account that
// RedactLinks blanked.
func LinksRemoved(e *Email) bool {
	return hasLink(e.Text, func(removed bool) bool { return removed }) || hasLink(e.HTML, func(removed bool) bool { return removed })
}

// hasLink reports whether body holds a one-time link that want accepts,
// told whether its secret was removed.
func hasLink(body string, want func(removed bool) bool) bool {
	for _, m := range oneTimeSecret.FindAllStringSubmatch(body, -1) {
		if want(m[3] == RemovedSecret) {
			return true
		}
	}
	return false
}

// OutboxStore keeps the emails to send.
type OutboxStore struct{ db *DB }

// NewOutboxStore returns the outbox of db.
func NewOutboxStore(db *DB) *OutboxStore { return &OutboxStore{db: db} }

// Enqueue adds e to the outbox, due at once.
func (s *OutboxStore) Enqueue(ctx context.Context, e *Email) error {
	e.prepare(time.Now().UTC().Truncate(time.Millisecond))
	// A new document is written whole, atomically, on FerretDB too: no
	// need to queue behind the write lock.
	_, err := s.db.col(colOutbox).InsertOne(ctx, e)
	if err == nil {
		s.db.hint(e)
	}
	return translate(err)
}

// EnqueueOnce is Enqueue for an email that must go out once however many
// instances decide to send it (a chat notice): its id is made from key, so
// a second insert is refused by the _id index, and one already delivered
// (moved to outboxSent) is not queued again. ErrConflict when it was queued
// or sent already.
//
// The email is inserted first, held back (due later), and only then is
// the record of sent mail checked: a sent email is recorded in outboxSent
// before it leaves the outbox, so of two instances queueing one key, the
// second either finds the first's email in the outbox (its insert is
// refused) or finds it sent (and takes its own copy back), whatever the
// moment the first's worker sends it. (Checking first, then inserting, let
// a copy in between: measured with two instances' reminders.) A crash
// after the insert leaves the email due after enqueueHold: late, not lost.
func (s *OutboxStore) EnqueueOnce(ctx context.Context, key string, e *Email) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	e.prepare(now)
	e.ID = keyedID(key)
	e.NextAttemptAt = now.Add(enqueueHold)
	if _, err := s.db.col(colOutbox).InsertOne(ctx, e); err != nil {
		return translate(err)
	}
	if err := s.db.col(colOutboxSent).FindOne(ctx, bson.D{{Key: "_id", Value: e.ID}}).Err(); err == nil {
		_, derr := s.db.col(colOutbox).DeleteOne(ctx, bson.D{{Key: "_id", Value: e.ID}}) // ours: an insert of its id succeeded
		return errors.Join(ErrConflict, translate(derr))
	} else if !errors.Is(err, mongo.ErrNoDocuments) {
		return translate(err)
	}
	e.NextAttemptAt = now
	if _, err := s.db.col(colOutbox).UpdateOne(ctx, bson.D{{Key: "_id", Value: e.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "nextAttemptAt", Value: now}}}}); err != nil {
		return translate(err)
	}
	s.db.hint(e)
	return nil
}

// enqueueHold is how long EnqueueOnce holds an email back until it has
// checked that it was not sent before.
const enqueueHold = time.Minute

// keyedID is the email id made from key: the same key, the same id.
func keyedID(key string) primitive.ObjectID {
	var id primitive.ObjectID
	sum := sha256.Sum256([]byte(key))
	copy(id[:], sum[:12])
	return id
}

// prepare makes e a new pending email, due at now.
func (e *Email) prepare(now time.Time) {
	e.ID = primitive.NewObjectID()
	e.Status = EmailPending
	e.CreatedAt, e.NextAttemptAt = now, now
}

// Hints. An email this process queues is handed to its worker by id as
// well, so that the worker sends it without looking through the outbox,
// which on the embedded database means decoding every email waiting (about
// 40 µs each: seconds for a burst of bookings' emails). A hint is only a
// shortcut: the email is in the database, the claim decides who sends it,
// and a hint lost (a full channel, a crash) leaves the email to the
// worker's regular look (Due).
const hintBuffer = 2000

// hint hands a copy of e, as it was queued, to this process's worker, if
// there is room.
func (d *DB) hint(e *Email) {
	c := *e
	select {
	case d.mailHints <- &c:
	default:
	}
}

// Hinted returns up to max emails this process queued since the last call,
// as they were queued.
func (s *OutboxStore) Hinted(max int) []*Email {
	var out []*Email
	for len(out) < max {
		select {
		case e := <-s.db.mailHints:
			out = append(out, e)
		default:
			return out
		}
	}
	return out
}

// ClaimNew claims the first attempt of each of emails (hinted: queued by
// this process) until leaseUntil, in one insert, and returns a claim for
// each it took, nil for those another worker holds or that are no longer
// as they were queued: each is read again once claimed, since the regular
// look may have had one before its hint came, and sent it (and released
// its claim), or been told by Telegram to wait (a 429 leaves its attempts
// at 0 but moves its next try later than the hint's).
func (s *OutboxStore) ClaimNew(ctx context.Context, emails []*Email, leaseUntil time.Time) ([]*Claim, error) {
	docs := make([]any, len(emails))
	for i, e := range emails {
		docs[i] = claimDoc{ID: e.ID.Hex() + ".0.0", Until: leaseUntil}
	}
	claims := make([]*Claim, len(emails))
	_, err := s.db.col(colClaims).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	refused := map[int]bool{}
	var bulk mongo.BulkWriteException
	switch {
	case err == nil:
	case errors.As(err, &bulk) && bulk.WriteConcernError == nil:
		for _, we := range bulk.WriteErrors {
			if !isDuplicate(we) {
				return nil, we
			}
			refused[we.Index] = true
		}
	default:
		return nil, translate(err)
	}
	for i, e := range emails {
		if refused[i] {
			continue
		}
		c := &Claim{Until: leaseUntil, ids: []string{e.ID.Hex() + ".0.0"}}
		var cur Email
		err := translate(s.db.col(colOutbox).FindOne(ctx, bson.D{{Key: "_id", Value: e.ID}}).Decode(&cur))
		switch {
		case err == nil && cur.Status == EmailPending && cur.Attempts == 0 && !cur.NextAttemptAt.After(e.NextAttemptAt):
			*e = cur
			claims[i] = c
		case err == nil || errors.Is(err, ErrNotFound):
			// Sent, or tried, already: the regular look has it from here.
			// Released past a shutdown's cancel, or it would wait out
			// its lease.
			s.db.release(context.WithoutCancel(ctx), c)
		default:
			s.db.release(context.WithoutCancel(ctx), c)
			return nil, err
		}
	}
	return claims, nil
}

// checkUnsent is ErrConflict when e is recorded delivered already (its
// outbox copy left behind by a failed delete, which goes now, or it would
// stay due for ever).
func (s *OutboxStore) checkUnsent(ctx context.Context, e *Email) error {
	err := translate(s.db.col(colOutboxSent).FindOne(ctx, bson.D{{Key: "_id", Value: e.ID}}).Err())
	if err == nil {
		_, _ = s.db.col(colOutbox).DeleteOne(ctx, bson.D{{Key: "_id", Value: e.ID}})
		return ErrConflict
	}
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Due returns up to limit pending emails whose turn has come, the oldest
// due first. Some may be in a worker's hands right now: Claim tells.
// (On the embedded database this reads the whole outbox, which holds only
// the mail still to send: delivered mail moves to outboxSent.)
func (s *OutboxStore) Due(ctx context.Context, now time.Time, limit int) ([]Email, error) {
	cur, err := s.db.col(colOutbox).Find(ctx, bson.D{
		{Key: "status", Value: EmailPending},
		{Key: "nextAttemptAt", Value: bson.D{{Key: "$lte", Value: now}}},
	}, options.Find().SetSort(bson.D{{Key: "nextAttemptAt", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var out []Email
	err = cur.All(ctx, &out)
	return out, err
}

// Claim takes e for its current attempt until leaseUntil (see claims.go:
// the work is "<email>.<attempt>"). ErrConflict when another worker holds
// it, or when e is no longer what it was when Due read it (sent, failed, or
// tried again since): the caller skips it. On success e is the email as it
// is now.
func (s *OutboxStore) Claim(ctx context.Context, e *Email, now, leaseUntil time.Time) (*Claim, error) {
	c, err := s.db.claim(ctx, e.ID.Hex()+"."+strconv.Itoa(e.Attempts), now, leaseUntil)
	if err != nil {
		return nil, err
	}
	// Ours. Due may have read e before another worker's attempt was
	// recorded: only the email as it is now counts. A delivery recorded but
	// not taken out of the outbox can only be behind a claim taken over.
	var cur Email
	err = translate(s.db.col(colOutbox).FindOne(ctx, bson.D{{Key: "_id", Value: e.ID}}).Decode(&cur))
	if err == nil && (cur.Status != EmailPending || cur.Attempts != e.Attempts || cur.NextAttemptAt.After(now)) {
		err = ErrConflict
	}
	if err == nil && c.takenOver {
		err = s.checkUnsent(ctx, &cur)
	}
	if err != nil {
		s.db.release(ctx, c)
		if errors.Is(err, ErrNotFound) {
			err = ErrConflict
		}
		return nil, err
	}
	*e = cur
	return c, nil
}

// MarkSent records the delivery of e under claim c (RecordSent), then
// takes it out of the queue (Clear).
func (s *OutboxStore) MarkSent(ctx context.Context, e *Email, c *Claim, at time.Time) error {
	if err := s.RecordSent(ctx, e, at); err != nil {
		return err
	}
	return s.Clear(ctx, []*Email{e}, []*Claim{c})
}

// RecordSent records the delivery of e: a copy without the bodies (they
// carry one-time links) in outboxSent. Each delivery is recorded as it
// happens, before the next send, so a crash after it never sends the email
// again. Recording one twice does no harm.
func (s *OutboxStore) RecordSent(ctx context.Context, e *Email, at time.Time) error {
	sent := *e
	sent.Status, sent.SentAt, sent.HTML, sent.Text, sent.Attachments = EmailSent, &at, "", "", nil
	sent.Attempts++
	if _, err := s.db.col(colOutboxSent).InsertOne(ctx, &sent); err != nil && !isConflict(translate(err)) {
		return translate(err)
	}
	return nil
}

// Clear takes recorded emails out of the queue and releases their claims,
// by _id, in two writes however many. Should it fail, the claims' leases
// end and whoever takes them over finds the deliveries (checkUnsent).
func (s *OutboxStore) Clear(ctx context.Context, sent []*Email, claims []*Claim) error {
	if len(sent) == 0 {
		return nil
	}
	var emails, held []mongo.WriteModel
	for _, e := range sent {
		emails = append(emails, mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: e.ID}}))
	}
	for _, c := range claims {
		for _, id := range c.ids {
			held = append(held, mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: id}}))
		}
	}
	if _, err := s.db.col(colOutbox).BulkWrite(ctx, emails, options.BulkWrite().SetOrdered(false)); err != nil {
		return translate(err)
	}
	if len(held) > 0 {
		if _, err := s.db.col(colClaims).BulkWrite(ctx, held, options.BulkWrite().SetOrdered(false)); err != nil {
			return translate(err)
		}
	}
	return nil
}

// MarkAttemptFailed records a failed try under claim c: the email is due
// again at next, or failed for good when next is zero, and then its
// one-time links are blanked (RedactLinks): it stays for the admin's page,
// and an admin's retry sends it without them (the user asks for a new
// link). Only c's owner writes the email, so a plain update by _id is
// enough.
func (s *OutboxStore) MarkAttemptFailed(ctx context.Context, e *Email, c *Claim, reason string, next time.Time) error {
	set := bson.D{{Key: "lastError", Value: reason}, {Key: "attempts", Value: e.Attempts + 1}}
	if next.IsZero() {
		e.HTML, e.Text = RedactLinks(e.HTML), RedactLinks(e.Text)
		set = append(set, bson.E{Key: "status", Value: EmailFailed}, bson.E{Key: "html", Value: e.HTML}, bson.E{Key: "text", Value: e.Text})
	} else {
		set = append(set, bson.E{Key: "nextAttemptAt", Value: next})
	}
	_, err := s.db.col(colOutbox).UpdateOne(ctx, bson.D{{Key: "_id", Value: e.ID}}, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return translate(err)
	}
	e.Attempts, e.LastError = e.Attempts+1, reason
	if next.IsZero() {
		e.Status = EmailFailed
	} else {
		e.NextAttemptAt = next
	}
	s.db.release(ctx, c)
	return nil
}

// MarkThrottled records a try the receiver asked to have again later
// (Telegram's 429 and its retry_after): due again at next, the try not
// counted against giving up. A worker that read the message before this
// finds it not due when it claims it (see Claim).
func (s *OutboxStore) MarkThrottled(ctx context.Context, e *Email, c *Claim, reason string, next time.Time) error {
	_, err := s.db.col(colOutbox).UpdateOne(ctx, bson.D{{Key: "_id", Value: e.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lastError", Value: reason}, {Key: "nextAttemptAt", Value: next}}}})
	if err != nil {
		return translate(err)
	}
	e.LastError, e.NextAttemptAt = reason, next
	s.db.release(ctx, c)
	return nil
}

// Get returns one email, sent or to send: a recorded delivery first, as an
// email is recorded sent a moment before it leaves the queue.
func (s *OutboxStore) Get(ctx context.Context, id primitive.ObjectID) (*Email, error) {
	var e Email
	err := translate(s.db.col(colOutboxSent).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&e))
	if errors.Is(err, ErrNotFound) {
		err = translate(s.db.col(colOutbox).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&e))
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
	// FailedNext is the cursor (before) of the failed ones' next page;
	// zero on the last.
	FailedNext primitive.ObjectID
}

// ListProblems returns up to limit messages of each kind (emails and
// Telegram messages alike), newest first and without their bodies; the
// failed ones from before on (zero: the newest), in pages. On the embedded
// database any filter but _id reads the whole collection; that is fine
// here, as the outbox holds only what is still to send (delivered
// messages move to outboxSent).
func (s *OutboxStore) ListProblems(ctx context.Context, limit int, before primitive.ObjectID) (*OutboxProblems, error) {
	if limit < 1 {
		return nil, fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	}
	find := func(filter bson.D) ([]Email, error) {
		opts := options.Find().SetProjection(leanEmail).
			SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit) + 1)
		cur, err := s.db.col(colOutbox).Find(ctx, filter, opts)
		if err != nil {
			return nil, err
		}
		out := []Email{}
		err = cur.All(ctx, &out)
		return out, err
	}
	failedFilter := bson.D{{Key: "status", Value: EmailFailed}}
	if !before.IsZero() {
		failedFilter = append(failedFilter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: before}}})
	}
	failed, err := find(failedFilter)
	if err != nil {
		return nil, err
	}
	var next primitive.ObjectID
	if len(failed) > limit {
		failed, next = failed[:limit], failed[limit-1].ID
	}
	retrying, err := find(bson.D{
		{Key: "status", Value: EmailPending},
		{Key: "attempts", Value: bson.D{{Key: "$gte", Value: 1}}},
	})
	if err != nil {
		return nil, err
	}
	return &OutboxProblems{Failed: failed, Retrying: retrying[:min(len(retrying), limit)], FailedNext: next}, nil
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
	c.Pending, err = col.CountDocuments(ctx, bson.D{{Key: "status", Value: EmailPending}})
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
	err := translate(s.db.col(colOutboxSent).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, opts).Decode(&e))
	if errors.Is(err, ErrNotFound) {
		err = translate(s.db.col(colOutbox).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, opts).Decode(&e))
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}
