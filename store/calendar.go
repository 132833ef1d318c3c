package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// The private calendar feeds (#24). A feed's URL carries a random secret;
// the database keeps only what cannot give it away:
//
//	calendarFeeds      {_id: sha256 hex of the secret, userId}: the feed's
//	                   request finds its owner by _id
//	calendarFeedOwners {_id: userHex, feed: that hash, sealed}: the user's
//	                   current feed, and the secret sealed with the server's
//	                   key (the profile shows the URL again)
//
// The owner's document says which feed is live: a feed whose hash it no
// longer names (a rotation, two rotations at once) answers nothing, even
// before its own document is deleted.
const (
	colCalendarFeeds      = "calendarFeeds"
	colCalendarFeedOwners = "calendarFeedOwners"
)

// CalendarFeed is a user's current feed.
type CalendarFeed struct {
	UserID primitive.ObjectID `bson:"_id"`
	Hash   string             `bson:"feed"`
	// Sealed is the secret encrypted with the server's key (auth.SecretBox).
	Sealed    string    `bson:"sealed"`
	CreatedAt time.Time `bson:"createdAt"`
}

type calendarFeedKey struct {
	Hash   string             `bson:"_id"`
	UserID primitive.ObjectID `bson:"userId"`
}

// CalendarStore keeps the calendar feeds.
type CalendarStore struct{ db *DB }

// NewCalendarStore returns the calendar feeds of db.
func NewCalendarStore(db *DB) *CalendarStore { return &CalendarStore{db: db} }

// Current is the user's live feed; ErrNotFound when they have none yet.
func (s *CalendarStore) Current(ctx context.Context, userID primitive.ObjectID) (*CalendarFeed, error) {
	var f CalendarFeed
	if err := s.db.findByID(ctx, colCalendarFeedOwners, userID.Hex(), &f); err != nil {
		return nil, err
	}
	f.UserID = userID
	return &f, nil
}

type calendarFeedOwner struct {
	ID        string    `bson:"_id"`
	Hash      string    `bson:"feed"`
	Sealed    string    `bson:"sealed"`
	CreatedAt time.Time `bson:"createdAt"`
}

// Replace makes f the user's live feed: its key first, then the owner's
// document (from then on the old feed answers nothing), then the old key
// is deleted. With onlyIfNone it makes one only when the user has none
// (the first GET /me/calendar), and ErrConflict says another request made
// it first.
func (s *CalendarStore) Replace(ctx context.Context, f CalendarFeed, onlyIfNone bool) error {
	return s.db.write(func() error {
		if _, err := s.db.col(colCalendarFeeds).InsertOne(ctx, calendarFeedKey{Hash: f.Hash, UserID: f.UserID}); err != nil {
			return translate(err)
		}
		owner := calendarFeedOwner{ID: f.UserID.Hex(), Hash: f.Hash, Sealed: f.Sealed, CreatedAt: f.CreatedAt}
		var before calendarFeedOwner
		var err error
		if onlyIfNone {
			_, err = s.db.col(colCalendarFeedOwners).InsertOne(ctx, owner)
		} else {
			err = s.db.col(colCalendarFeedOwners).FindOneAndReplace(ctx, bson.D{{Key: "_id", Value: owner.ID}}, owner,
				options.FindOneAndReplace().SetUpsert(true)).Decode(&before)
			if errors.Is(translate(err), ErrNotFound) {
				err = nil
			}
		}
		if err != nil {
			_, _ = s.db.col(colCalendarFeeds).DeleteOne(ctx, bson.D{{Key: "_id", Value: f.Hash}})
			return translate(err)
		}
		if before.Hash != "" && before.Hash != f.Hash {
			_, err = s.db.col(colCalendarFeeds).DeleteOne(ctx, bson.D{{Key: "_id", Value: before.Hash}})
		}
		return translate(err)
	})
}

// Forget deletes the user's feed (a deleted account): its URL answers
// nothing from then on. None is no error.
func (s *CalendarStore) Forget(ctx context.Context, userID primitive.ObjectID) error {
	return s.db.write(func() error {
		var owner calendarFeedOwner
		err := s.db.col(colCalendarFeedOwners).FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: userID.Hex()}}).Decode(&owner)
		if errors.Is(translate(err), ErrNotFound) {
			return nil
		}
		if err != nil {
			return translate(err)
		}
		_, err = s.db.col(colCalendarFeeds).DeleteOne(ctx, bson.D{{Key: "_id", Value: owner.Hash}})
		return translate(err)
	})
}

// Owner is the user whose live feed has the secret of hash; ErrNotFound
// for any other hash (unknown, or of a feed replaced since).
func (s *CalendarStore) Owner(ctx context.Context, hash string) (primitive.ObjectID, error) {
	var k calendarFeedKey
	if err := s.db.findByID(ctx, colCalendarFeeds, hash, &k); err != nil {
		return primitive.NilObjectID, err
	}
	f, err := s.Current(ctx, k.UserID)
	if errors.Is(err, ErrNotFound) || err == nil && f.Hash != hash {
		return primitive.NilObjectID, ErrNotFound
	}
	if err != nil {
		return primitive.NilObjectID, err
	}
	return k.UserID, nil
}

// CalendarVisits are the rows of the customer's visits scheduled from
// since on, among their latest limit orders (by booking): the feed's
// size is bounded whatever the customer's history, and it reads at most
// limit rows' documents by _id, newest first.
func (s *OrderStore) CalendarVisits(ctx context.Context, userID primitive.ObjectID, since time.Time, limit int) ([]OrderSummary, error) {
	pages := customerPages(userID)
	from, err := s.customerHead(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []OrderSummary
	seen := 0
	for k := from / pages.size; k >= 0 && from > 0 && seen < limit; k-- {
		doc, err := pages.read(ctx, s.db, k*pages.size)
		if err != nil {
			return nil, err
		}
		rows := make([]OrderSummary, 0, len(doc))
		for _, r := range doc {
			rows = append(rows, r)
		}
		pages.sortNewest(rows)
		for _, r := range rows {
			if seen == limit {
				break
			}
			seen++
			if !r.ScheduledAt.Before(since) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}
