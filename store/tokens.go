package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Purposes of one-time tokens.
const (
	PurposeVerifyEmail   = "verify"
	PurposeResetPassword = "reset"
	PurposeTwoFactor     = "2fa"    // the password step of a login, waiting for the code
	PurposeUnlock        = "unlock" // makes a browser a known one of the account (handlers/device.go)
	PurposeInvite        = "invite" // an admin's invitation of a cleaner: sets the first password (#22)
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
	Attempts  int                `bson:"attempts"` // wrong guesses so far (the 2FA step)
	// CodeHash is the hash of the 6-digit code a verification email carries
	// beside its link (handlers.verifyCodeHash); it dies with the link.
	CodeHash string `bson:"codeHash,omitempty"`
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

// Peek returns the live token of purpose for userID whose hash matches,
// without using it up.
func (s *TokenStore) Peek(ctx context.Context, purpose string, userID primitive.ObjectID, hash string, now time.Time) (*OneTimeToken, error) {
	var t OneTimeToken
	err := s.db.col(colTokens).FindOne(ctx, bson.D{{Key: "_id", Value: tokenID(purpose, userID)}, {Key: "hash", Value: hash}}).Decode(&t)
	if err != nil {
		return nil, translate(err)
	}
	if !now.Before(t.ExpiresAt) {
		return nil, ErrNotFound
	}
	return &t, nil
}

// Fail counts a wrong guess against the token and returns the count; at max
// the token is deleted (the guesser must start over).
func (s *TokenStore) Fail(ctx context.Context, purpose string, userID primitive.ObjectID, hash string, max int) (int, error) {
	var t OneTimeToken
	err := s.db.write(func() error {
		err := s.db.col(colTokens).FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: tokenID(purpose, userID)}, {Key: "hash", Value: hash}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&t)
		if err != nil {
			return err
		}
		if t.Attempts >= max {
			_, err = s.db.col(colTokens).DeleteOne(ctx, bson.D{{Key: "_id", Value: t.ID}})
		}
		return err
	})
	return t.Attempts, translate(err)
}

// Delete removes the token of purpose for userID, if any.
func (s *TokenStore) Delete(ctx context.Context, purpose string, userID primitive.ObjectID) error {
	return s.db.write(func() error {
		_, err := s.db.col(colTokens).DeleteOne(ctx, bson.D{{Key: "_id", Value: tokenID(purpose, userID)}})
		return err
	})
}

// ForgetLinks deletes the emailed links a change of a user's email or
// password leaves behind: the pending reset link (the change is often
// because the mailbox it went to is lost), and a verification link sent
// to another address than email, the one the account has now.
func (s *TokenStore) ForgetLinks(ctx context.Context, userID primitive.ObjectID, email string) error {
	return s.db.write(func() error {
		if _, err := s.db.col(colTokens).DeleteOne(ctx, bson.D{{Key: "_id", Value: tokenID(PurposeResetPassword, userID)}}); err != nil {
			return translate(err)
		}
		var t OneTimeToken
		id := tokenID(PurposeVerifyEmail, userID)
		err := translate(s.db.col(colTokens).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&t))
		if errors.Is(err, ErrNotFound) || (err == nil && t.Email == email) {
			return nil
		}
		if err != nil {
			return err
		}
		// That very link: a newer one, issued meanwhile by another
		// instance, is not this one's to delete. (The embedded database's
		// one process holds the write lock: a filter on _id alone, which
		// it does not have to scan for, is that link.)
		filter := bson.D{{Key: "_id", Value: id}}
		if s.db.filtersItself() {
			filter = append(filter, bson.E{Key: "hash", Value: t.Hash})
		}
		_, err = s.db.col(colTokens).DeleteOne(ctx, filter)
		return translate(err)
	})
}

// Pending returns the live token of purpose for userID, whatever its hash:
// a verification code is checked against it. None, or an expired one, is
// ErrNotFound.
func (s *TokenStore) Pending(ctx context.Context, purpose string, userID primitive.ObjectID, now time.Time) (*OneTimeToken, error) {
	var t OneTimeToken
	if err := s.db.col(colTokens).FindOne(ctx, bson.D{{Key: "_id", Value: tokenID(purpose, userID)}}).Decode(&t); err != nil {
		return nil, translate(err)
	}
	if !now.Before(t.ExpiresAt) {
		return nil, ErrNotFound
	}
	return &t, nil
}
