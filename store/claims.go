package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

// Claims share work that one instance must do alone (send an email's
// attempt, repair a cut-off write). A claim is a document whose _id names
// the work and a take-over count, "<work>.<n>": the _id index refuses a
// second insert on every database, across processes too (FerretDB
// included, which applies no filtered update atomically across processes),
// so one worker owns each claim. It lasts until its lease ends; a worker
// that finds it expired (its owner died) takes the next one, n+1, which
// again only one can. The owner releases it when the work is recorded.
//
//	claims  {_id: "<work>.<n>", until}
type claimDoc struct {
	ID    string    `bson:"_id"`
	Until time.Time `bson:"until"`
}

// Claim is a worker's hold on one piece of work.
type Claim struct {
	Until     time.Time
	ids       []string // this claim's and the expired ones it took over from
	takenOver bool     // from an owner whose lease ran out
}

// maxTakeovers bounds the walk over expired claims of one piece of work.
const maxTakeovers = 20

// claim takes work until until, or answers ErrConflict when another
// worker's lease on it runs at now.
func (d *DB) claim(ctx context.Context, work string, now, until time.Time) (*Claim, error) {
	c := &Claim{Until: until}
	claims := d.col(colClaims)
	for n := 0; ; n++ {
		if n == maxTakeovers {
			return nil, fmt.Errorf("%w: %s: %d expired claims", ErrConflict, work, n)
		}
		id := work + "." + strconv.Itoa(n)
		c.ids = append(c.ids, id)
		_, err := claims.InsertOne(ctx, claimDoc{ID: id, Until: until})
		if err == nil {
			c.takenOver = n > 0
			return c, nil
		}
		if err = translate(err); !isConflict(err) {
			return nil, err
		}
		var held claimDoc
		err = translate(claims.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&held))
		if errors.Is(err, ErrNotFound) {
			return nil, ErrConflict // released this moment: the work is recorded
		}
		if err != nil {
			return nil, err
		}
		if held.Until.After(now) {
			return nil, ErrConflict // its owner is at it
		}
	}
}

// release deletes c's claim documents, by _id.
func (d *DB) release(ctx context.Context, c *Claim) {
	for _, id := range c.ids {
		_, _ = d.col(colClaims).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	}
}

// claimPeriod claims work for the whole period of length every that now
// falls in (periods start on multiples of every, Unix time, the same on
// every instance): of all the instances that ask during it, one gets it and
// the others get ErrConflict. The claim is never released, since a release
// would let another instance do the work again in the same period: it
// simply ends with its period, and the next period's work has another
// name. The previous period's claim is deleted then.
//
//	claims  {_id: "<work>@<period start, unix seconds>.0", until: <period end>}
func (d *DB) claimPeriod(ctx context.Context, work string, every time.Duration, now time.Time) error {
	secs := int64(every / time.Second)
	start := now.Unix() - now.Unix()%secs
	name := func(start int64) string { return work + "@" + strconv.FormatInt(start, 10) }
	if _, err := d.claim(ctx, name(start), now, time.Unix(start+secs, 0).UTC()); err != nil {
		return err
	}
	_, _ = d.col(colClaims).DeleteOne(ctx, bson.D{{Key: "_id", Value: name(start-secs) + ".0"}})
	return nil
}

// ClaimRun claims the run of periodic work for the interval every that now
// falls in: of the instances sharing the database one gets it, the others
// ErrConflict (see claimPeriod).
func (d *DB) ClaimRun(ctx context.Context, work string, every time.Duration, now time.Time) error {
	return d.claimPeriod(ctx, work, every, now)
}
