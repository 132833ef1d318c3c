package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Two-factor state changes. Each is one update filtered on the state it
// expects, so concurrent requests cannot both win.

// SetPendingTOTP stores a new (encrypted) secret while 2FA is off.
func (s *UserStore) SetPendingTOTP(ctx context.Context, id primitive.ObjectID, sealedSecret string) error {
	return s.updateWhere(ctx, bson.D{{Key: "_id", Value: id}, {Key: "twoFactor.enabled", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "twoFactor.secret", Value: sealedSecret}, {Key: "twoFactor.lastStep", Value: int64(0)}}}}, ErrConflict)
}

// EnableTOTP turns 2FA on with the code of step (which is then used up) and
// the hashes of fresh recovery codes.
func (s *UserStore) EnableTOTP(ctx context.Context, id primitive.ObjectID, step int64, recoveryHashes []string) error {
	return s.updateWhere(ctx, bson.D{{Key: "_id", Value: id}, {Key: "twoFactor.enabled", Value: false}, {Key: "twoFactor.lastStep", Value: bson.D{{Key: "$lt", Value: step}}}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "twoFactor.enabled", Value: true}, {Key: "twoFactor.lastStep", Value: step},
			{Key: "recoveryCodes", Value: recoveryHashes}, {Key: "updatedAt", Value: now()},
		}}}, ErrConflict)
}

// UseTOTPStep records that the code of step was used; a step not after the
// last one is ErrConflict: that code was used already.
func (s *UserStore) UseTOTPStep(ctx context.Context, id primitive.ObjectID, step int64) error {
	return s.updateWhere(ctx, bson.D{{Key: "_id", Value: id}, {Key: "twoFactor.enabled", Value: true}, {Key: "twoFactor.lastStep", Value: bson.D{{Key: "$lt", Value: step}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "twoFactor.lastStep", Value: step}}}}, ErrConflict)
}

// UseRecoveryCode removes one recovery code; a code not there (never, or
// used) is ErrNotFound.
func (s *UserStore) UseRecoveryCode(ctx context.Context, id primitive.ObjectID, hash string) error {
	return s.updateWhere(ctx, bson.D{{Key: "_id", Value: id}, {Key: "twoFactor.enabled", Value: true}, {Key: "recoveryCodes", Value: hash}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "recoveryCodes", Value: hash}}}}, ErrNotFound)
}

// SetRecoveryCodes replaces the recovery codes: the old set stops working.
func (s *UserStore) SetRecoveryCodes(ctx context.Context, id primitive.ObjectID, hashes []string) error {
	return s.updateWhere(ctx, bson.D{{Key: "_id", Value: id}, {Key: "twoFactor.enabled", Value: true}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "recoveryCodes", Value: hashes}, {Key: "updatedAt", Value: now()}}}}, ErrConflict)
}

// DisableTOTP turns 2FA off and forgets the secret and the recovery codes.
func (s *UserStore) DisableTOTP(ctx context.Context, id primitive.ObjectID) error {
	return s.updateWhere(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "twoFactor", Value: TwoFactor{}}, {Key: "recoveryCodes", Value: []string{}}, {Key: "updatedAt", Value: now()},
		}}}, ErrNotFound)
}

func (s *UserStore) updateWhere(ctx context.Context, filter, update bson.D, unmatched error) error {
	return s.db.write(func() error {
		res, err := s.db.col(colUsers).UpdateOne(ctx, filter, update)
		if err != nil {
			return translate(err)
		}
		if res.MatchedCount == 0 {
			return unmatched
		}
		return nil
	})
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
