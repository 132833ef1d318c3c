package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Session is one login: a family of refresh tokens, rotated on every use.
// Only hashes of the tokens are stored.
type Session struct {
	ID          primitive.ObjectID `bson:"_id"`
	UserID      primitive.ObjectID `bson:"userId"`
	RefreshHash string             `bson:"refreshHash"`
	// UsedHashes are the rotated-out tokens of the family: one presented
	// again means it was stolen, and the whole session is revoked.
	UsedHashes []string   `bson:"usedHashes"`
	CreatedAt  time.Time  `bson:"createdAt"`
	ExpiresAt  time.Time  `bson:"expiresAt"` // absolute: rotation never extends it
	RotatedAt  time.Time  `bson:"rotatedAt"`
	RevokedAt  *time.Time `bson:"revokedAt,omitempty"`
	UserAgent  string     `bson:"userAgent"`
	IP         string     `bson:"ip"`
}

// Active reports whether the session can still be used at now.
func (s *Session) Active(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt)
}

// SessionStore keeps the logins.
type SessionStore struct{ db *DB }

// NewSessionStore returns the session store of db.
func NewSessionStore(db *DB) *SessionStore { return &SessionStore{db: db} }

// Create inserts s; its ID must be set by the caller (it is inside the tokens).
// A new document with a new _id needs no write lock: under load a login
// waited about a second for it behind the bookings and messages.
func (s *SessionStore) Create(ctx context.Context, sess *Session) error {
	_, err := s.db.col(colSessions).InsertOne(ctx, sess)
	return translate(err)
}

// Get returns the session with id, revoked or not.
func (s *SessionStore) Get(ctx context.Context, id primitive.ObjectID) (*Session, error) {
	var sess Session
	if err := s.db.col(colSessions).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&sess); err != nil {
		return nil, translate(err)
	}
	return &sess, nil
}

// Rotate replaces the refresh token oldHash by newHash in one update filtered
// on the old hash, so of two racers presenting the same token one wins and
// the other gets ErrConflict.
func (s *SessionStore) Rotate(ctx context.Context, id primitive.ObjectID, oldHash, newHash string, now time.Time) error {
	return s.db.write(func() error {
		res, err := s.db.col(colSessions).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "refreshHash", Value: oldHash}, {Key: "revokedAt", Value: nil}},
			bson.D{
				{Key: "$set", Value: bson.D{{Key: "refreshHash", Value: newHash}, {Key: "rotatedAt", Value: now}}},
				{Key: "$push", Value: bson.D{{Key: "usedHashes", Value: oldHash}}},
			})
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 {
			return ErrConflict
		}
		return nil
	})
}

// Revoke ends one session.
func (s *SessionStore) Revoke(ctx context.Context, id primitive.ObjectID, now time.Time) error {
	return s.db.write(func() error {
		_, err := s.db.col(colSessions).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "revokedAt", Value: nil}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: now}}}})
		return err
	})
}

// RevokeAll ends every session of a user.
func (s *SessionStore) RevokeAll(ctx context.Context, userID primitive.ObjectID, now time.Time) error {
	return s.db.write(func() error {
		_, err := s.db.col(colSessions).UpdateMany(ctx,
			bson.D{{Key: "userId", Value: userID}, {Key: "revokedAt", Value: nil}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: now}}}})
		return err
	})
}

// RevokeOthers ends every live session of a user but keep (the one making
// a change) and returns the ones it ended: a change of the account's
// security ends the other devices' logins, and this one goes on. A login
// made while it runs is not ended: it came after the change.
func (s *SessionStore) RevokeOthers(ctx context.Context, userID, keep primitive.ObjectID, now time.Time) ([]primitive.ObjectID, error) {
	var ids []primitive.ObjectID
	err := s.db.write(func() error {
		cur, err := s.db.col(colSessions).Find(ctx,
			bson.D{{Key: "userId", Value: userID}, {Key: "revokedAt", Value: nil}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: keep}}}},
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return err
		}
		var live []struct {
			ID primitive.ObjectID `bson:"_id"`
		}
		if err := cur.All(ctx, &live); err != nil {
			return err
		}
		for _, l := range live {
			ids = append(ids, l.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		_, err = s.db.col(colSessions).UpdateMany(ctx,
			bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "revokedAt", Value: nil}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: now}}}})
		return err
	})
	return ids, translate(err)
}

// Prune deletes the sessions that can never be used again: expired, or
// revoked more than a day ago. On the embedded database every session
// look-up reads the whole collection, so it must not grow with every login
// ever made.
func (s *SessionStore) Prune(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.db.write(func() error {
		res, err := s.db.col(colSessions).DeleteMany(ctx, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: now}}}},
			bson.D{{Key: "revokedAt", Value: bson.D{{Key: "$lt", Value: now.Add(-24 * time.Hour)}}}},
		}}})
		if err == nil {
			n = res.DeletedCount
		}
		return err
	})
	return n, err
}
