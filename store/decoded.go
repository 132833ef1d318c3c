package store

import (
	"context"
	"errors"
	"sync"

	"go.mongodb.org/mongo-driver/bson"
)

// decodedDocs keeps, for a few hot documents read through the document
// cache, what their bytes decode to: the schedule's crews and each day's
// reservations, read on every availability question. An entry is used
// only while the cache answers with the very bytes it was decoded from,
// so it is never older than the cache itself (cacheTTL).
type decodedDocs[T any] struct {
	mu sync.Mutex
	m  map[string]decodedDoc[T]
}

type decodedDoc[T any] struct {
	raw bson.Raw
	v   T
}

// decodedMax bounds the entries kept; past it they are all dropped.
const decodedMax = 1024

// get returns document id of col decoded by decode (ErrNotFound when
// there is none), decoding only when the cache's bytes changed.
func (c *decodedDocs[T]) get(ctx context.Context, d *DB, col, id string, decode func(bson.Raw) (T, error)) (T, error) {
	var zero T
	if d.cache == nil || !cachedCollections[col] {
		raw, err := d.col(col).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if err != nil {
			return zero, translate(err)
		}
		return decode(raw)
	}
	_, raw, err := d.load(ctx, col, id, "s"+id)
	if err != nil {
		return zero, err
	}
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && len(e.raw) == len(raw) && len(raw) > 0 && &e.raw[0] == &raw[0] {
		return e.v, nil
	}
	v, err := decode(raw)
	if err != nil {
		return zero, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= decodedMax {
		c.m = map[string]decodedDoc[T]{}
	}
	c.m[id] = decodedDoc[T]{raw: raw, v: v}
	c.mu.Unlock()
	return v, nil
}

// orNone is get's error with a missing document as none.
func orNone(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
