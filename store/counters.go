package store

import (
	"context"

	"go.mongodb.org/mongo-driver/bson"
)

// CounterStore keeps named integers, one small document each, read and
// written by _id: the only look-up the embedded database does not scan for.
type CounterStore struct{ db *DB }

// NewCounterStore returns the counters of db.
func NewCounterStore(db *DB) *CounterStore { return &CounterStore{db: db} }

// Add increments the counter key by delta, creating it at zero first.
func (s *CounterStore) Add(ctx context.Context, key string, delta int64) error {
	return s.db.write(func() error { return translate(s.db.addCounter(ctx, key, delta)) })
}

// Get returns the counter key; a counter never written is zero.
func (s *CounterStore) Get(ctx context.Context, key string) (int64, error) {
	return s.db.counter(ctx, key)
}

// MarkOnce records that the one-time step name happened and reports whether
// this call was the first; the unique _id makes it safe against racers.
func (d *DB) MarkOnce(ctx context.Context, name string) (first bool, err error) {
	err = d.write(func() error {
		_, err := d.col(colMeta).InsertOne(ctx, bson.D{{Key: "_id", Value: name}})
		return translate(err)
	})
	if err == nil {
		return true, nil
	}
	if isConflict(err) {
		return false, nil
	}
	return false, err
}

// metaRunning is the marker of a running server kept by versions before
// the journal; a backup leaves it out.
const metaRunning = "running"

// OwnsEmbedded reports whether this process started the embedded database
// itself, and so is its only server.
func (d *DB) OwnsEmbedded() bool { return d.owned }
