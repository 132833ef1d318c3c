package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
)

// Presence: which instances hold a user's open sockets, so that an
// instance without them does not take the user for away. Each instance
// writes only its own documents, one per user: no two processes ever
// update the same document, which FerretDB would not apply atomically.
//
//	presence {_id: "<user>|<instance>", inst, open, left}
const colPresence = "presence"

type presenceDoc struct {
	Open bool      `bson:"open"`
	Left time.Time `bson:"left"`
}

func presenceID(user, instance string) string { return user + "|" + instance }

// Here records that this instance holds a socket of user.
func (d *DB) Here(ctx context.Context, user string, now time.Time) error {
	return translate(d.upsertByID(ctx, colPresence, presenceID(user, d.instance),
		bson.D{{Key: "$set", Value: bson.D{{Key: "inst", Value: d.instance}, {Key: "open", Value: true}}}}))
}

// Gone records that this instance holds no socket of user any more.
func (d *DB) Gone(ctx context.Context, user string, now time.Time) error {
	return translate(d.upsertByID(ctx, colPresence, presenceID(user, d.instance),
		bson.D{{Key: "$set", Value: bson.D{{Key: "inst", Value: d.instance}, {Key: "open", Value: false}, {Key: "left", Value: now}}}}))
}

// HeldElsewhere reports whether one of the instances named in alive, other
// than this one, holds a socket of user, and else when the user's last
// socket on them closed (zero: never, or not known). It reads one document
// by _id per other instance.
func (d *DB) HeldElsewhere(ctx context.Context, user string, alive []string) (bool, time.Time, error) {
	var left time.Time
	for _, inst := range alive {
		if inst == d.instance {
			continue
		}
		var p presenceDoc
		err := d.col(colPresence).FindOne(ctx, bson.D{{Key: "_id", Value: presenceID(user, inst)}}).Decode(&p)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return false, time.Time{}, translate(err)
		}
		if p.Open {
			return true, time.Time{}, nil
		}
		if p.Left.After(left) {
			left = p.Left
		}
	}
	return false, left, nil
}

// AliveInstances names the instances alive now.
func (d *DB) AliveInstances(ctx context.Context, now time.Time) ([]string, error) {
	all, err := d.instances(ctx, now)
	var out []string
	for id, alive := range all {
		if alive {
			out = append(out, id)
		}
	}
	return out, err
}

// prunePresence forgets what instances no longer alive recorded: their
// sockets closed with them.
func (d *DB) prunePresence(ctx context.Context, now time.Time) error {
	alive, err := d.AliveInstances(ctx, now)
	if err != nil {
		return err
	}
	if alive == nil {
		alive = []string{}
	}
	_, err = d.col(colPresence).DeleteMany(ctx, bson.D{{Key: "inst", Value: bson.D{{Key: "$nin", Value: alive}}}})
	return translate(err)
}
