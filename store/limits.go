package store

import (
	"context"
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
// Each is a fixed-window counter: one document per scope, key and window,
// counted and read in one update by _id (the one filter the embedded
// database answers without a scan).
//
//	limits  {_id: "<scope>|<key>|<window start, unix seconds>", n, until}
//
// n counts every hit of the window, the refused ones too; a hit is allowed
// while n is within the limit, and once it holds the hit's slot:
//
//	limits  {_id: "<scope>|<key>|<window start>#<k>", until}   k = 1 … limit
//
// a document whose unique _id only one hit can insert. Windows start on multiples of their length
// (Unix time), the same on every instance. until is the window's end:
// FerretDB has no TTL index, so Prune deletes the documents past it (the
// instances' maintenance, at most once a minute).
//
// The slots make the limit exact on every database, across processes too:
// FerretDB applies no $inc atomically across processes, so two instances'
// hits can both read n and write n+1 (measured: up to 2.6 times the limit
// let through by the count alone), but only one of them inserts slot n; the
// other counts again and takes the next slot, or is refused past the
// limit. A hit allowed costs one insert more than its count; a refused one
// costs the count alone (and the handlers remember a refused key until its
// window ends).
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

// limitWindow names the window of scope and key that at falls in, and
// when it ends. A key is matched case-insensitively (emails). The window
// must be whole seconds.
func limitWindow(scope, key string, window time.Duration, at time.Time) (id string, until time.Time, err error) {
	secs := int64(window / time.Second)
	if secs < 1 || window%time.Second != 0 {
		return "", time.Time{}, fmt.Errorf("%w: limit window %v", ErrInvalid, window)
	}
	start := at.Unix() - at.Unix()%secs
	id = scope + "|" + strings.ToLower(key) + "|" + strconv.FormatInt(start, 10)
	return id, time.Unix(start+secs, 0).UTC(), nil
}

// Hit counts one hit of key in scope at now, against limit hits a window,
// and reports whether it is allowed, and otherwise how long until the
// window ends.
func (s *LimitStore) Hit(ctx context.Context, scope, key string, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	id, until, err := limitWindow(scope, key, window, now)
	if err != nil {
		return false, 0, err
	}
	filter := bson.D{{Key: "_id", Value: id}}
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "until", Value: until}}}}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
	for tries := 0; tries <= limit; tries++ {
		var doc limitDoc
		err = s.db.limitWrite(ctx, func() error {
			err := s.db.col(colLimits).FindOneAndUpdate(ctx, filter, update, opts).Decode(&doc)
			if isDuplicate(err) { // another instance made the window's document this moment: it exists now
				err = s.db.col(colLimits).FindOneAndUpdate(ctx, filter, update, opts).Decode(&doc)
			}
			return translate(err)
		})
		if err != nil {
			return false, 0, err
		}
		if doc.N > int64(limit) {
			break
		}
		_, err = s.db.col(colLimits).InsertOne(ctx, bson.D{{Key: "_id", Value: limitSlot(id, doc.N)}, {Key: "until", Value: until}})
		if err == nil {
			return true, 0, nil
		}
		if !isDuplicate(err) {
			return false, 0, translate(err)
		}
		// Another instance's hit holds slot n (their count and ours met):
		// count again.
	}
	return false, until.Sub(now), nil
}

// limitSlot is the _id of the k-th allowed hit of window id.
func limitSlot(id string, k int64) string { return id + "#" + strconv.FormatInt(k, 10) }

// Undo gives back one hit of key made at at: one the server, not the
// client, failed. A window already gone has nothing to give back.
func (s *LimitStore) Undo(ctx context.Context, scope, key string, window time.Duration, at time.Time) error {
	id, _, err := limitWindow(scope, key, window, at)
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

// Reset forgets the hits of key in the window of now (a success after
// failures).
func (s *LimitStore) Reset(ctx context.Context, scope, key string, limit int, window time.Duration, now time.Time) error {
	id, _, err := limitWindow(scope, key, window, now)
	if err != nil {
		return err
	}
	models := []mongo.WriteModel{mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: id}})}
	for k := int64(1); k <= int64(limit); k++ {
		models = append(models, mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: limitSlot(id, k)}}))
	}
	return s.db.limitWrite(ctx, func() error {
		_, err := s.db.col(colLimits).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		return translate(err)
	})
}

// Prune deletes the windows that ended before now. On the embedded
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
