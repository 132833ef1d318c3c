package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// The events feed carries what every instance must hear at once (a chat
// message for sockets held elsewhere, a logout that closes them) on both
// databases alike: a sequence of documents, one per event, whose _id is the
// event's number, zero-padded.
//
//	events  {_id: "00000000000000000042", at, from, kind, body}
//	counters {_id: "events", head, floor}
//
// An event is numbered by its insert: the unique _id makes the database
// refuse a number already taken, and the loser takes the next. So there is
// no counter to bump per event, and no number is handed out that nobody
// writes, unless its writer dies between choosing it and inserting it:
// a follower waits a moment at such a gap, then steps over it. Followers
// read by exact _id, the only filter FerretDB answers from an index (on
// MongoDB a tailable cursor or a change stream would be the natural
// reader; an _id look-up a poll is cheap on both). Events are kept
// FeedKeep, then pruned: FerretDB has no TTL index.
const (
	colEvents = "events"
	eventsDoc = "events" // in counters: a recent head and the pruned floor
)

// Feed timing. A follower polls often while events flow and less once
// the feed has been quiet for a while; at a missing number it looks one
// past it each feedGap and, less often, feedStep past it and at the pruned
// floor: a quiet feed costs a dozen _id look-ups a second, not a hundred.
const (
	feedPoll      = 20 * time.Millisecond  // a follower's look for the next event
	feedIdlePoll  = 100 * time.Millisecond // the same once the feed is quiet
	feedIdleAfter = 5 * time.Second        // quiet: no event for this long
	feedGap       = time.Second            // how long a follower waits at a missing number
	feedWideGap   = 10 * time.Second       // how often it looks feedStep past one
	FeedKeep      = 2 * time.Minute        // how long an event stays for late followers (see Prune)
	feedStep      = 64                     // how far past a gap a follower looks
)

// FeedEvent is one event: a kind, the instance it came from, and its body
// (JSON, for the reader that knows the kind).
type FeedEvent struct {
	Seq  int64     `bson:"-"`
	ID   string    `bson:"_id"`
	At   time.Time `bson:"at"`
	From string    `bson:"from"`
	Kind string    `bson:"kind"`
	Body []byte    `bson:"body,omitempty"`
}

func eventID(seq int64) string { return fmt.Sprintf("%020d", seq) }

// Feed appends to, and follows, the events feed. One per process.
type Feed struct {
	db *DB

	mu   sync.Mutex
	next int64 // the number this instance tries first for its next event
}

// NewFeed returns the feed of db.
func NewFeed(db *DB) *Feed { return &Feed{db: db, next: 1} }

// Name is the database's name.
func (d *DB) Name() string { return d.db.Name() }

// Instance is this process's name among the instances (see Beat).
func (d *DB) Instance() string { return d.instance }

// Append adds an event from this instance and returns its number.
func (f *Feed) Append(ctx context.Context, kind string, body []byte, now time.Time) (int64, error) {
	for tries := 0; ; tries++ {
		f.mu.Lock()
		seq := f.next
		f.next++
		f.mu.Unlock()
		ev := FeedEvent{ID: eventID(seq), At: now, From: f.db.instance, Kind: kind, Body: body}
		_, err := f.db.col(colEvents).InsertOne(ctx, ev)
		if err == nil {
			return seq, nil
		}
		if !isDuplicate(err) || tries > 1000 {
			return 0, translate(err)
		}
		// Another instance wrote it: we are behind the head.
		if tries == 8 {
			if head, err := f.Head(ctx); err == nil {
				f.seen(head)
			}
		}
	}
}

// seen moves the next number to try past seq.
func (f *Feed) seen(seq int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next = max(f.next, seq+1)
}

// Get returns event seq, ErrNotFound if there is none (yet, or any more).
func (f *Feed) Get(ctx context.Context, seq int64) (*FeedEvent, error) {
	var ev FeedEvent
	err := f.db.col(colEvents).FindOne(ctx, bson.D{{Key: "_id", Value: eventID(seq)}}).Decode(&ev)
	if err != nil {
		return nil, translate(err)
	}
	ev.Seq = seq
	return &ev, nil
}

type feedMarks struct {
	Head  int64 `bson:"head"`
	Floor int64 `bson:"floor"`
}

func (f *Feed) marks(ctx context.Context) (feedMarks, error) {
	var m feedMarks
	err := f.db.col(colCounters).FindOne(ctx, bson.D{{Key: "_id", Value: eventsDoc}}).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return m, nil
	}
	return m, translate(err)
}

// Head finds the newest event's number (0: none): from the head last
// recorded, forward by _id look-ups while they find events.
func (f *Feed) Head(ctx context.Context) (int64, error) {
	m, err := f.marks(ctx)
	if err != nil {
		return 0, err
	}
	head := max(m.Head, m.Floor)
	for {
		found := int64(0)
		for k := int64(1); k <= feedStep; k++ {
			if _, err := f.Get(ctx, head+k); err == nil {
				found = head + k
				break
			} else if !errors.Is(err, ErrNotFound) {
				return 0, err
			}
		}
		if found == 0 {
			f.seen(head)
			return head, nil
		}
		head = found
		for { // run along the events that follow
			if _, err := f.Get(ctx, head+1); err != nil {
				break
			}
			head++
		}
	}
}

// Follow calls deliver with each event after from, in order, until ctx
// ends, and returns the last number it delivered. Events from this
// instance are delivered too; the caller skips what it delivered itself.
// A number missing for feedGap while a later one exists is stepped over;
// one pruned before this follower got there is jumped (after an instance
// stalled for longer than FeedKeep).
func (f *Feed) Follow(ctx context.Context, from int64, deliver func(*FeedEvent), now func() time.Time) int64 {
	next := from + 1
	var missingSince, lookedPast, lookedWide, lastEvent time.Time
	lastEvent = now()
	t := time.NewTimer(feedPoll)
	defer t.Stop()
	for ctx.Err() == nil {
		ev, err := f.Get(ctx, next)
		if err == nil {
			f.seen(next)
			deliver(ev)
			next++
			missingSince, lastEvent = time.Time{}, now()
			continue
		}
		at := now()
		if errors.Is(err, ErrNotFound) {
			switch {
			case missingSince.IsZero():
				missingSince, lookedPast, lookedWide = at, at, at
			case at.Sub(lookedPast) >= feedGap:
				steps := int64(1)
				if at.Sub(lookedWide) >= feedWideGap {
					steps, lookedWide = feedStep, at
				}
				lookedPast = at
				if past := f.pastGap(ctx, next, steps); past != next {
					next, missingSince = past, time.Time{}
					continue
				}
			}
		}
		wait := feedPoll
		if at.Sub(lastEvent) >= feedIdleAfter {
			wait = feedIdlePoll
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return next - 1
}

// pastGap is where a follower stuck at the missing number next goes on:
// the pruned floor, or the first event within steps after next, or next
// itself when nothing follows (the feed is quiet).
func (f *Feed) pastGap(ctx context.Context, next, steps int64) int64 {
	if m, err := f.marks(ctx); err == nil && m.Floor > next {
		return m.Floor
	}
	for k := int64(1); k <= steps; k++ {
		if _, err := f.Get(ctx, next+k); err == nil {
			return next + k
		}
	}
	return next
}

// Record notes head as a recent head, for the next start's Head.
func (f *Feed) Record(ctx context.Context, head int64) error {
	_, err := f.db.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: eventsDoc}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "head", Value: head}}}}, options.Update().SetUpsert(true))
	if isDuplicate(err) { // created meanwhile by another instance
		return f.Record(ctx, head)
	}
	return translate(err)
}

// Prune deletes the events below before, from the floor up, by _id, and
// raises the floor. Two instances pruning at once delete nothing twice
// that matters.
func (f *Feed) Prune(ctx context.Context, before int64) error {
	m, err := f.marks(ctx)
	if err != nil || before <= m.Floor {
		return err
	}
	for lo := max(m.Floor, 1); lo < before; lo += 500 {
		var models []mongo.WriteModel
		for seq := lo; seq < min(lo+500, before); seq++ {
			models = append(models, mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: eventID(seq)}}))
		}
		if _, err := f.db.col(colEvents).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err != nil {
			return translate(err)
		}
	}
	_, err = f.db.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: eventsDoc}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "floor", Value: before}}}}, options.Update().SetUpsert(true))
	if isDuplicate(err) {
		return f.Prune(ctx, before)
	}
	return translate(err)
}
