package store

import (
	"context"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Roles a user can have.
const (
	RoleAdmin = "ADMIN"
	RoleUser  = "USER"
)

// User is an account. Its JSON form never carries a hash or a secret.
type User struct {
	ID            primitive.ObjectID `bson:"_id" json:"id"`
	Username      string             `bson:"username" json:"username"`
	Email         string             `bson:"email" json:"email"`
	PasswordHash  string             `bson:"passwordHash" json:"-"`
	Role          string             `bson:"role" json:"role"`
	IsVerified    bool               `bson:"isVerified" json:"isVerified"`
	TwoFactor     TwoFactor          `bson:"twoFactor" json:"-"`
	RecoveryCodes []string           `bson:"recoveryCodes,omitempty" json:"-"`
	TokenVersion  int                `bson:"tokenVersion" json:"-"`
	Locale        string             `bson:"locale" json:"locale"`
	CreatedAt     time.Time          `bson:"createdAt" json:"createdAt"`
	UpdatedAt     time.Time          `bson:"updatedAt" json:"updatedAt"`
}

// TwoFactor is a user's TOTP state; the secret is stored encrypted.
type TwoFactor struct {
	Secret   string `bson:"secret,omitempty"`
	Enabled  bool   `bson:"enabled"`
	LastStep int64  `bson:"lastStep"`
}

// UserStore keeps accounts.
type UserStore struct{ db *DB }

// NewUserStore returns the account store of db.
func NewUserStore(db *DB) *UserStore { return &UserStore{db: db} }

// Create inserts u; a taken email or username is ErrConflict. The email is
// stored lower-cased.
func (s *UserStore) Create(ctx context.Context, u *User) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	u.ID = primitive.NewObjectID()
	u.Email = strings.ToLower(u.Email)
	u.CreatedAt, u.UpdatedAt = now, now
	if u.Role == "" {
		u.Role = RoleUser
	}
	return s.db.write(func() error {
		_, err := s.db.col(colUsers).InsertOne(ctx, u)
		return translate(err)
	})
}

// GetByEmail finds the account of an email, in any letter case.
func (s *UserStore) GetByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	err := s.db.col(colUsers).FindOne(ctx, bson.D{{Key: "email", Value: strings.ToLower(email)}}).Decode(&u)
	if err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// AdminExists reports whether any ADMIN account exists.
func (s *UserStore) AdminExists(ctx context.Context) (bool, error) {
	n, err := s.db.col(colUsers).CountDocuments(ctx, bson.D{{Key: "role", Value: RoleAdmin}}, nil)
	return n > 0, err
}
