package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// userKeys finds an account by email or username with an _id look-up: the
// embedded database answers a filter on users.email by reading every
// account, which every login, signup and reset would pay. One document per
// key, {_id: "email:<email>" | "username:<name>", userId, at}; the unique
// indexes on users stay the last word.
const colUserKeys = "userKeys"

func emailKey(email string) string   { return "email:" + strings.ToLower(email) }
func usernameKey(name string) string { return "username:" + name }

type userKey struct {
	ID     string             `bson:"_id"`
	UserID primitive.ObjectID `bson:"userId"`
	At     time.Time          `bson:"at"`
}

// keyGrace is how old a key without its account must be to count as left
// over (by a crash between the writes) rather than a signup in progress.
const keyGrace = time.Minute

// claimKeys takes keys for owner; one held by another live account (or a
// signup in progress) is ErrConflict, and the keys claimed so far go back.
// The caller holds the write lock.
func (s *UserStore) claimKeys(ctx context.Context, owner primitive.ObjectID, keys ...string) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i, key := range keys {
		_, err := s.db.col(colUserKeys).InsertOne(ctx, userKey{ID: key, UserID: owner, At: now})
		if err = translate(err); err == nil {
			continue
		} else if !errors.Is(err, ErrConflict) {
			s.releaseKeys(ctx, owner, keys[:i]...)
			return err
		}
		var held userKey
		if err := s.db.col(colUserKeys).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&held); err != nil {
			s.releaseKeys(ctx, owner, keys[:i]...)
			return translate(err)
		}
		_, gerr := s.Get(ctx, held.UserID)
		if held.UserID == owner || errors.Is(gerr, ErrNotFound) && now.Sub(held.At) > keyGrace {
			if _, err := s.db.col(colUserKeys).ReplaceOne(ctx, bson.D{{Key: "_id", Value: key}}, userKey{ID: key, UserID: owner, At: now}); err != nil {
				s.releaseKeys(ctx, owner, keys[:i]...)
				return err
			}
			continue
		}
		s.releaseKeys(ctx, owner, keys[:i]...)
		return ErrConflict
	}
	return nil
}

// releaseKeys gives back keys that owner holds.
func (s *UserStore) releaseKeys(ctx context.Context, owner primitive.ObjectID, keys ...string) {
	for _, key := range keys {
		var held userKey
		if s.db.col(colUserKeys).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&held) == nil && held.UserID == owner {
			_, _ = s.db.col(colUserKeys).DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
		}
	}
}

// byKey returns the account key names, if it still answers to it.
func (s *UserStore) byKey(ctx context.Context, key string, answers func(*User) bool) (*User, error) {
	var k userKey
	if err := s.db.col(colUserKeys).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&k); err != nil {
		return nil, translate(err)
	}
	u, err := s.Get(ctx, k.UserID)
	if err != nil {
		return nil, err
	}
	if !answers(u) {
		return nil, ErrNotFound
	}
	return u, nil
}

// rebuildUserKeys writes the keys of every account, streaming them: at
// first start of a database made before keys (once, marked in meta) and
// in Reconcile. The caller holds the write lock.
func (d *DB) rebuildUserKeys(ctx context.Context) error {
	if _, err := d.col(colUserKeys).DeleteMany(ctx, bson.D{}); err != nil {
		return err
	}
	cur, err := d.col(colUsers).Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "email", Value: 1}, {Key: "username", Value: 1}}))
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var batch []any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := d.col(colUserKeys).InsertMany(ctx, batch)
		batch = batch[:0]
		return translate(err)
	}
	for cur.Next(ctx) {
		var u User
		if err := cur.Decode(&u); err != nil {
			return err
		}
		batch = append(batch, userKey{ID: emailKey(u.Email), UserID: u.ID, At: now}, userKey{ID: usernameKey(u.Username), UserID: u.ID, At: now})
		if len(batch) >= 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return err
	}
	return flush()
}

// ensureUserKeys builds the keys once for a database that predates them.
func (d *DB) ensureUserKeys(ctx context.Context) error {
	first, err := d.MarkOnce(ctx, "userKeys:v1")
	if err != nil || !first {
		return err
	}
	return d.write(func() error { return d.rebuildUserKeys(ctx) })
}
