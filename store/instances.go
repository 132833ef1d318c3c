package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// The app instances that serve on this database, each renewing its own
// document while it runs: the journal's repair tells a dead writer from a
// busy one by it, and an instance on FerretDB warns when it is not alone.
//
//	instances  {_id: "<host>/<slot>/<pid>/<random>", startedAt, seenAt}
//
// Alive and dead are judged by the reader's clock against the writer's
// seenAt: the instances' clocks must agree within a few seconds (NTP).
const colInstances = "instances"

// Heartbeat timing: an instance renews its document every instanceBeat and
// is taken for dead once it has not for instanceDead.
const (
	instanceBeat = 2 * time.Second
	instanceDead = 10 * time.Second
	// instanceForget is how long a dead instance's document stays, so that
	// its journal is repaired at once rather than after journalStale.
	instanceForget = time.Hour
)

type instanceDoc struct {
	ID        string    `bson:"_id"`
	StartedAt time.Time `bson:"startedAt"`
	SeenAt    time.Time `bson:"seenAt"`
}

// Beat registers this instance as alive now; the server calls it every
// instanceBeat (see Maintain).
func (d *DB) Beat(ctx context.Context, now time.Time) error {
	_, err := d.col(colInstances).UpdateOne(ctx, bson.D{{Key: "_id", Value: d.instance}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "seenAt", Value: now}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "startedAt", Value: now}}}},
		options.Update().SetUpsert(true))
	return translate(err)
}

// Leave removes this instance from the list, at a clean stop.
func (d *DB) Leave(ctx context.Context) error {
	_, err := d.col(colInstances).DeleteOne(ctx, bson.D{{Key: "_id", Value: d.instance}})
	return translate(err)
}

// instances maps every registered instance to whether it is alive, and
// forgets those dead for long.
func (d *DB) instances(ctx context.Context, now time.Time) (map[string]bool, error) {
	cur, err := d.col(colInstances).Find(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	var docs []instanceDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(docs))
	for _, doc := range docs {
		out[doc.ID] = now.Sub(doc.SeenAt) < instanceDead
		if now.Sub(doc.SeenAt) > instanceForget {
			_, _ = d.col(colInstances).DeleteOne(ctx, bson.D{{Key: "_id", Value: doc.ID}})
		}
	}
	return out, nil
}

// OtherInstances counts the other instances alive now.
func (d *DB) OtherInstances(ctx context.Context, now time.Time) (int, error) {
	all, err := d.instances(ctx, now)
	n := 0
	for id, alive := range all {
		if alive && id != d.instance {
			n++
		}
	}
	return n, err
}

// unverifiedSweepEvery is how often the accounts that never verified
// their email are looked for (ExpireUnverified): on the embedded database
// the look reads every account.
const unverifiedSweepEvery = time.Hour

// ExpireUnverified deletes the accounts past their UnverifiedTTL (see
// UserStore.DeleteExpired), once per hour of now among all the instances
// sharing the database: an instance that finds this hour's sweep claimed by
// another gets ErrConflict and does nothing.
func (d *DB) ExpireUnverified(ctx context.Context, now time.Time) (int, error) {
	if err := d.claimPeriod(ctx, "expire-unverified", unverifiedSweepEvery, now); err != nil {
		return 0, err
	}
	return NewUserStore(d).DeleteExpired(ctx, now)
}

// Maintain keeps this instance registered, repairs cut-off writes (see
// RepairJournal), deletes the rate limits' past windows (at most once a
// minute) and the accounts never verified in time (ExpireUnverified,
// hourly) until ctx ends, then leaves the instances list. It warns when it
// finds another instance on FerretDB, which cannot keep several instances'
// writes atomic (see docs/storage.md).
func (d *DB) Maintain(ctx context.Context, every time.Duration) {
	warned := false
	var pruned, swept time.Time
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		now := time.Now().UTC()
		if now.Sub(pruned) >= limitsPruneEvery {
			pruned = now
			if _, err := NewLimitStore(d).Prune(ctx, now); err != nil && ctx.Err() == nil {
				d.log.Warn("limits: prune", "error", err)
			}
			if err := d.prunePresence(ctx, now); err != nil && ctx.Err() == nil {
				d.log.Warn("presence: prune", "error", err)
			}
		}
		if period := now.Truncate(unverifiedSweepEvery); !period.Equal(swept) {
			swept = period // one try an hour here; one sweep an hour in all (the claim)
			if n, err := d.ExpireUnverified(ctx, now); err != nil && !errors.Is(err, ErrConflict) && ctx.Err() == nil {
				d.log.Warn("unverified accounts: expire", "error", err)
			} else if n > 0 {
				d.log.Info("deleted accounts never verified in time", "accounts", n, "after", UnverifiedTTL.String())
			}
		}
		if err := d.Beat(ctx, now); err != nil && ctx.Err() == nil {
			d.log.Warn("instances: heartbeat", "error", err)
		}
		if n, err := d.RepairJournal(ctx, now); err != nil && ctx.Err() == nil {
			d.log.Warn("journal: repair", "error", err)
		} else if n > 0 {
			d.log.Warn("journal: finished order writes that were cut off", "writes", n)
		}
		if !warned && d.SerializesWrites() {
			if n, err := d.OtherInstances(ctx, now); err == nil && n > 0 {
				d.log.Warn("another app instance serves on this FerretDB database: several instances need MongoDB, whose filtered updates are atomic across processes (see docs/storage.md)", "others", n)
				warned = true
			}
		}
		select {
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = d.Leave(lctx)
			cancel()
			return
		case <-t.C:
		}
	}
}
