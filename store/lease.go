package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

// A lease lets one process at a time, among all the instances sharing the
// database, run a step: {_id: "lease:<name>", holder, until} in meta,
// taken by inserting it (the unique _id decides between racers), kept
// alive while the step runs and removed after. The others wait for it. A
// holder that died loses it once until has passed, so a crash never leaves
// it held. The instances' clocks are trusted to agree within leaseTTL.
type leaseDoc struct {
	ID     string    `bson:"_id"`
	Holder string    `bson:"holder"`
	Until  time.Time `bson:"until"`
}

// leaseTTL is how long a lease outlives its holder's last renewal.
var leaseTTL = 30 * time.Second

// leasePoll is how often a waiter looks at a lease held by another.
const leasePoll = 100 * time.Millisecond

// newToken is a random id for a lease holder or an instance.
func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Exclusive runs fn while holding the lease name: no other process sharing
// the database runs a step under the same name meanwhile. It waits for a
// lease held by another as long as ctx lets it. The embedded database this
// process started needs none: its lock keeps every other process out (and
// a lease left by a kill -9 would only hold the next start up).
func (d *DB) Exclusive(ctx context.Context, name string, fn func(context.Context) error) error {
	if d.owned {
		return fn(ctx)
	}
	id := "lease:" + name
	holder := newToken()
	for {
		until := time.Now().Add(leaseTTL).UTC().Truncate(time.Millisecond)
		_, err := d.col(colMeta).InsertOne(ctx, leaseDoc{ID: id, Holder: holder, Until: until})
		if err == nil {
			break
		}
		if !isDuplicate(err) {
			return fmt.Errorf("lease %s: %w", name, err)
		}
		var held leaseDoc
		err = d.col(colMeta).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&held)
		if err != nil && !errors.Is(translate(err), ErrNotFound) {
			return fmt.Errorf("lease %s: %w", name, err)
		}
		if err == nil && time.Now().After(held.Until) { // its holder died
			if err := d.write(func() error {
				_, err := d.deleteIf(ctx, colMeta, id, bson.D{{Key: "holder", Value: held.Holder}})
				return err
			}); err != nil {
				return fmt.Errorf("lease %s: %w", name, err)
			}
			d.log.Warn("took over a lease whose holder stopped renewing it", slog.String("lease", name))
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lease %s: %w", name, ctx.Err())
		case <-time.After(leasePoll):
		}
	}
	stop := make(chan struct{})
	renewed := make(chan struct{})
	go func() { // renew while fn runs
		defer close(renewed)
		t := time.NewTicker(leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				until := time.Now().Add(leaseTTL).UTC().Truncate(time.Millisecond)
				_, err := d.col(colMeta).UpdateOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: id}, {Key: "holder", Value: holder}},
					bson.D{{Key: "$set", Value: bson.D{{Key: "until", Value: until}}}})
				if err != nil {
					d.log.Warn("renewing a lease", slog.String("lease", name), slog.Any("error", err))
				}
			}
		}
	}()
	err := fn(ctx)
	close(stop)
	<-renewed
	cx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if derr := d.write(func() error {
		_, err := d.deleteIf(cx, colMeta, id, bson.D{{Key: "holder", Value: holder}})
		return err
	}); derr != nil {
		d.log.Warn("releasing a lease", slog.String("lease", name), slog.Any("error", derr))
	}
	return err
}
