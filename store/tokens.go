package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Purposes of one-time tokens.
const (
	PurposeVerifyEmail   = "verify"
	PurposeResetPassword = "reset"
)

// OneTimeToken is an emailed link's secret, stored hashed. There is one per
// user and purpose (the _id), so issuing a new one invalidates the old link.
type OneTimeToken struct {
	ID        string             `bson:"_id"` // purpose:userId
	UserID    primitive.ObjectID `bson:"userId"`
	Purpose   string             `bson:"purpose"`
	Hash      string             `bson:"hash"`
	Email     string             `bson:"email"` // the address the link went to
	ExpiresAt time.Time          `bson:"expiresAt"`
}

// TokenStore keeps one-time tokens.
type TokenStore struct{ db *DB }

// NewTokenStore returns the one-time token store of db.
func NewTokenStore(db *DB) *TokenStore { return &TokenStore{db: db} }

func tokenID(purpose string, userID primitive.ObjectID) string { return purpose + ":" + userID.Hex() }

// Issue stores the token of purpose for a user, replacing any earlier one.
func (s *TokenStore) Issue(ctx context.Context, t OneTimeToken) error {
	t.ID = tokenID(t.Purpose, t.UserID)
	return s.db.write(func() error {
		_, err := s.db.col(colTokens).ReplaceOne(ctx, bson.D{{Key: "_id", Value: t.ID}}, t, options.Replace().SetUpsert(true))
		return translate(err)
	})
}

// Consume deletes and returns the token of purpose for userID when its hash
// matches and it has not expired: a link works once. Anything else is
// ErrNotFound.
func (s *TokenStore) Consume(ctx context.Context, purpose string, userID primitive.ObjectID, hash string, now time.Time) (*OneTimeToken, error) {
	var t OneTimeToken
	err := s.db.write(func() error {
		return s.db.col(colTokens).FindOneAndDelete(ctx, bson.D{
			{Key: "_id", Value: tokenID(purpose, userID)},
			{Key: "hash", Value: hash},
		}).Decode(&t)
	})
	if err != nil {
		return nil, translate(err)
	}
	if !now.Before(t.ExpiresAt) {
		return nil, ErrNotFound
	}
	return &t, nil
}
