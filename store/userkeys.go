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
		holder, gerr := s.Get(ctx, held.UserID)
		// Left over: its account is gone, or no longer answers to it (a
		// crash between a change's writes, or a reconcile that read the
		// account before the change), for longer than a change takes.
		leftOver := errors.Is(gerr, ErrNotFound) || gerr == nil && !answersKey(holder, key)
		if held.UserID == owner || leftOver && now.Sub(held.At) > keyGrace {
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

// answersKey reports whether key is one of u's.
func answersKey(u *User, key string) bool {
	return key == emailKey(u.Email) || key == usernameKey(u.Username)
}

// accountNames is what one account's keys are made of, and which of them
// were found in place (keyEmail, keyUsername).
type accountNames struct {
	email, username string
	found           uint8
}

const (
	keyEmail uint8 = 1 << iota
	keyUsername
)

// loadAccounts reads every account's email and username, by id.
func (d *DB) loadAccounts(ctx context.Context) (map[primitive.ObjectID]accountNames, error) {
	cur, err := d.col(colUsers).Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "email", Value: 1}, {Key: "username", Value: 1}}))
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	accounts := map[primitive.ObjectID]accountNames{}
	for cur.Next(ctx) {
		var u User
		if err := cur.Decode(&u); err != nil {
			return nil, err
		}
		accounts[u.ID] = accountNames{email: strings.ToLower(u.Email), username: u.Username}
	}
	return accounts, cur.Err()
}

// syncUserKeys makes the keys agree with the accounts (read by
// loadAccounts) without ever taking away, even for a moment, a key that
// an account answers to, so it is safe while accounts are being used,
// made and changed, in this process or in another instance: a key left
// over (its account gone or no longer answering to it, for longer than
// keyGrace, checked again as it stands) is removed if it is still the
// same; then every account's missing keys are inserted, a key someone
// else inserted meanwhile left alone. Running it again changes nothing.
// The caller holds the write lock.
func (d *DB) syncUserKeys(ctx context.Context, accounts map[primitive.ObjectID]accountNames) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	cur, err := d.col(colUserKeys).Find(ctx, bson.D{})
	if err != nil {
		return err
	}
	var suspects []userKey
	for cur.Next(ctx) {
		var k userKey
		if err := cur.Decode(&k); err != nil {
			cur.Close(ctx)
			return err
		}
		a, ok := accounts[k.UserID]
		switch {
		case ok && k.ID == emailKey(a.email):
			a.found |= keyEmail
		case ok && k.ID == usernameKey(a.username):
			a.found |= keyUsername
		default:
			suspects = append(suspects, k)
			continue
		}
		accounts[k.UserID] = a
	}
	err = cur.Err()
	cur.Close(ctx)
	if err != nil {
		return err
	}
	users := NewUserStore(d)
	for _, k := range suspects {
		if now.Sub(k.At) <= keyGrace {
			continue // a signup or a change in progress, perhaps
		}
		u, err := users.Get(ctx, k.UserID)
		if err == nil && answersKey(u, k.ID) {
			continue // made or changed after the accounts were read
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if _, err := d.deleteIf(ctx, colUserKeys, k.ID, bson.D{{Key: "userId", Value: k.UserID}, {Key: "at", Value: k.At}}); err != nil {
			return err
		}
	}
	var batch []any
	for id, a := range accounts {
		if a.found&keyEmail == 0 {
			batch = append(batch, userKey{ID: emailKey(a.email), UserID: id, At: now})
		}
		if a.found&keyUsername == 0 {
			batch = append(batch, userKey{ID: usernameKey(a.username), UserID: id, At: now})
		}
		if len(batch) >= 1000 {
			if err := d.insertAbsent(ctx, colUserKeys, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return d.insertAbsent(ctx, colUserKeys, batch)
}

// ensureUserKeys builds the keys once for a database that predates them.
// Instances starting together may all get here; the mark lets one do it,
// and syncUserKeys would do no harm twice.
func (d *DB) ensureUserKeys(ctx context.Context) error {
	first, err := d.MarkOnce(ctx, "userKeys:v1")
	if err != nil || !first {
		return err
	}
	return d.write(func() error {
		accounts, err := d.loadAccounts(ctx)
		if err != nil {
			return err
		}
		return d.syncUserKeys(ctx, accounts)
	})
}
