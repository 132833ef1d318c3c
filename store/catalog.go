package store

import (
	"context"
	"sort"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// catalogCheck is how often an instance asks whether another instance
// changed the catalogue: at most this long it may show the old one.
const catalogCheck = time.Second

// catalog keeps every service, archived ones too, in memory: the catalogue
// is small, changes rarely and is on nearly every page. Writes through this
// DB drop it at once; writes by another instance bump the version in the
// services counter, which is read by _id at most once per catalogCheck.
type catalog struct {
	mu       sync.Mutex
	services []Service // newest first
	version  int64
	checked  time.Time
}

type servicesCounter struct {
	N int64 `bson:"n"` // active services
	V int64 `bson:"v"` // bumped by every write to the catalogue
}

// all returns the catalogue, newest first; callers must not change it.
func (d *DB) allServices(ctx context.Context) ([]Service, error) {
	c := &d.catalog
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.services != nil && now.Sub(c.checked) < catalogCheck {
		return c.services, nil
	}
	var sc servicesCounter
	if err := d.findByID(ctx, colCounters, counterServices, &sc); err != nil && err != ErrNotFound {
		return nil, err
	}
	if c.services != nil && sc.V == c.version {
		c.checked = now
		return c.services, nil
	}
	cur, err := d.col(colServices).Find(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	list := []Service{}
	if err := cur.All(ctx, &list); err != nil {
		return nil, err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID.Hex() > list[j].ID.Hex() })
	c.services, c.version, c.checked = list, sc.V, now
	return list, nil
}

// changedServices records a write to the catalogue (activeDelta: services
// that became active, or not): the counter and the version in the database,
// and this instance's copy dropped. The caller holds the write lock.
func (d *DB) changedServices(ctx context.Context, activeDelta int64) error {
	d.catalog.mu.Lock()
	d.catalog.services = nil
	d.catalog.mu.Unlock()
	_, err := d.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: counterServices}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: activeDelta}, {Key: "v", Value: 1}}}}, options.Update().SetUpsert(true))
	return err
}
