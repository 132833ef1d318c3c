package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Rate limits that every instance sharing the database spends from, so that
// N instances behind a load balancer do not make a limit N times larger.
// Each is a sliding window, estimated from two fixed ones as Cloudflare
// does: a hit at elapsed e into the current window counts the hits allowed
// in it plus the previous window's allowed hits times (window − e)/window,
// so a burst at the end of one window and another at the start of the next
// pass the limit once, not twice. Counts are read and written by _id (the
// one filter the embedded database answers without a scan):
//
//	limits  {_id: "<scope>|<key>|<window start, unix seconds>", n, until}
//
// n counts the hits allowed in the window (a refused hit's count is given
// back at once), and every allowed hit also holds its slot:
//
//	limits  {_id: "<scope>|<key>|<window start>#<k>", until}   k = 1 … limit
//
// a document whose unique _id only one hit can insert. Windows start on
// multiples of their length (Unix time), the same on every instance. until
// is when the window stops counting: the end of the window after it.
// FerretDB has no TTL index, so Prune deletes the documents past it (the
// instances' maintenance, at most once a minute).
//
// The slots make the limit exact on every database, across processes too:
// FerretDB applies no $inc atomically across processes, so two instances'
// hits can both read n and write n+1 (measured: up to 2.6 times the limit
// let through by the count alone), but only one of them inserts slot n; the
// other counts again and takes the next slot, or is refused past the
// limit. A hit allowed costs a read of the previous window, its count and
// its slot; a refused one its read, count and the count given back (and
// the handlers remember a refused key until it may pass again).
const colLimits = "limits"

// limitsPruneEvery is how often Maintain deletes the windows past their end.
const limitsPruneEvery = time.Minute

// limitWrite runs one write of the limits' counts. On FerretDB, which
// applies no $inc atomically under concurrency, it holds a lock of the
// limits' own, as db.write holds the write mutex for the other writes:
// not that mutex, since a write stuck in a database that stopped answering
// holds it for up to 10 s (an order's commit), and every auth request
// passes a limit first. Waiting for the lock ends with ctx.
func (d *DB) limitWrite(ctx context.Context, fn func() error) error {
	if d.limitsMu == nil {
		return fn()
	}
	select {
	case d.limitsMu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-d.limitsMu }()
	return fn()
}

// LimitStore counts the hits of the rate limits.
type LimitStore struct{ db *DB }

// NewLimitStore returns the limits of db.
func NewLimitStore(db *DB) *LimitStore { return &LimitStore{db: db} }

type limitDoc struct {
	N int64 `bson:"n"`
}

// maxLimitKey is the longest key stored as it is; a longer one (a made-up
// email of a megabyte) is stored as its hash.
const maxLimitKey = 128

// LimitKey is key as the limits count it: in lower case (emails), and
// hashed when longer than maxLimitKey.
func LimitKey(key string) string {
	key = strings.ToLower(key)
	if len(key) > maxLimitKey {
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	return key
}

// limitWindow names the window of scope and key that at falls in: its
// document, the previous window's, the time elapsed in it and when it stops
// counting. A key is matched case-insensitively (emails). The window must
// be whole seconds.
func limitWindow(scope, key string, window time.Duration, at time.Time) (id, prev string, elapsed time.Duration, until time.Time, err error) {
	secs := int64(window / time.Second)
	if secs < 1 || window%time.Second != 0 {
		return "", "", 0, time.Time{}, fmt.Errorf("%w: limit window %v", ErrInvalid, window)
	}
	key = LimitKey(key)
	start := at.Unix() - at.Unix()%secs
	base := scope + "|" + key + "|"
	id = base + strconv.FormatInt(start, 10)
	prev = base + strconv.FormatInt(start-secs, 10)
	elapsed = at.Sub(time.Unix(start, 0))
	return id, prev, elapsed, time.Unix(start+2*secs, 0).UTC(), nil
}

// stillCounted is how many of prev hits allowed in the previous window
// still count at elapsed into this one: rounded up, so that the estimate
// never lets more through than the limit.
func stillCounted(prev int64, elapsed, window time.Duration) int64 {
	if elapsed >= window {
		return 0
	}
	return (prev*int64(window-elapsed) + int64(window) - 1) / int64(window)
}

// fromWhen is the time into a window from which no more than room of prev
// hits of the previous window still count.
func fromWhen(prev, room int64, window time.Duration) time.Duration {
	if prev <= room {
		return 0
	}
	// ⌈prev·(window−x)/window⌉ ≤ room  ⇔  x ≥ window − room·window/prev
	return window - time.Duration(room*int64(window)/prev)
}

// limitWait is how long after elapsed a hit may pass again, with prev hits
// allowed in the previous window and cur in this one.
func limitWait(limit, prev, cur int64, elapsed, window time.Duration) time.Duration {
	if room := limit - cur - 1; room >= 0 {
		return max(0, fromWhen(prev, room, window)-elapsed)
	}
	// Full on its own: the next window, once this one's hits count less.
	return window - elapsed + fromWhen(cur, limit-1, window)
}

// Hit counts one hit of key in scope at now, against limit hits in any
// window's length, and reports whether it is allowed, and otherwise how
// long until one may be.
func (s *LimitStore) Hit(ctx context.Context, scope, key string, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	id, prevID, elapsed, until, err := limitWindow(scope, key, window, now)
	if err != nil {
		return false, 0, err
	}
	var prev limitDoc
	err = s.db.col(colLimits).FindOne(ctx, bson.D{{Key: "_id", Value: prevID}}).Decode(&prev)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return false, 0, translate(err)
	}
	prev.N = min(max(prev.N, 0), int64(limit))
	allowed := int64(limit) - stillCounted(prev.N, elapsed, window)
	count := func(by int64) (int64, error) {
		update := bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: by}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "until", Value: until}}}}
		var doc limitDoc
		err := s.db.limitWrite(ctx, func() error {
			// another instance may make the window's document this moment
			return translate(s.db.findAndUpsertByID(ctx, colLimits, id, update, true, &doc))
		})
		return doc.N, err
	}
	for tries := 0; tries <= limit; tries++ {
		n, err := count(1)
		if err != nil {
			return false, 0, err
		}
		if n > allowed {
			if _, err := count(-1); err != nil {
				return false, 0, err
			}
			// n−1 hits hold slots, or fewer: a count another instance
			// gave back may have been lost (no atomic $inc on FerretDB).
			return false, limitWait(int64(limit), prev.N, min(n-1, max(allowed, 0)), elapsed, window), nil
		}
		if n < 1 { // counts lost both ways (FerretDB) drifted below the first slot
			continue
		}
		_, err = s.db.col(colLimits).InsertOne(ctx, bson.D{{Key: "_id", Value: limitSlot(id, n)}, {Key: "until", Value: until}})
		if err == nil {
			return true, 0, nil
		}
		if !isDuplicate(err) {
			return false, 0, translate(err)
		}
		// Another instance's hit holds slot n (their count and ours met):
		// count again.
	}
	return false, limitWait(int64(limit), prev.N, int64(limit), elapsed, window), nil
}

// limitSlot is the _id of the k-th allowed hit of window id.
func limitSlot(id string, k int64) string { return id + "#" + strconv.FormatInt(k, 10) }

// Undo gives back one hit of key made at at: one the server, not the
// client, failed. A window already gone has nothing to give back.
func (s *LimitStore) Undo(ctx context.Context, scope, key string, window time.Duration, at time.Time) error {
	id, _, _, _, err := limitWindow(scope, key, window, at)
	if err != nil {
		return err
	}
	var before limitDoc
	err = s.db.limitWrite(ctx, func() error {
		return translate(s.db.col(colLimits).FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: -1}}}}).Decode(&before))
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// The top slot goes with the count, so the next hit takes it.
	_, err = s.db.col(colLimits).DeleteOne(ctx, bson.D{{Key: "_id", Value: limitSlot(id, before.N)}})
	return translate(err)
}

// Reset forgets the hits of key counted at now (a success after
// failures): the window of now and the one before it.
func (s *LimitStore) Reset(ctx context.Context, scope, key string, limit int, window time.Duration, now time.Time) error {
	id, prev, _, _, err := limitWindow(scope, key, window, now)
	if err != nil {
		return err
	}
	// The slots to free are the ones the count reached, not every slot the
	// limit allows: a limit of a million (a load test's) would otherwise
	// make each reset a million deletes.
	var doc limitDoc
	err = s.db.limitWrite(ctx, func() error {
		return translate(s.db.col(colLimits).FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc))
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	models := []mongo.WriteModel{mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: prev}})}
	for k := int64(1); k <= min(doc.N, int64(limit)); k++ {
		models = append(models, mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: limitSlot(id, k)}}))
	}
	return s.db.limitWrite(ctx, func() error {
		_, err := s.db.col(colLimits).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		return translate(err)
	})
}

// Prune deletes the windows that stopped counting before now. On the embedded
// database its filter reads the whole collection, which is why it runs
// once a minute and not under limitWrite's lock (it would hold up every
// hit meanwhile): the windows it deletes are past, and no hit counts in
// them any more.
func (s *LimitStore) Prune(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.col(colLimits).DeleteMany(ctx, bson.D{{Key: "until", Value: bson.D{{Key: "$lt", Value: now}}}})
	if err != nil {
		return 0, translate(err)
	}
	return res.DeletedCount, nil
}
