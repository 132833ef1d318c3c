package store

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Roles a user can have.
const (
	RoleAdmin   = "ADMIN"
	RoleUser    = "USER"
	RoleCleaner = "CLEANER" // works in a crew: sees their crew's visits only
)

// User is an account. Its JSON form never carries a hash or a secret.
type User struct {
	ID       primitive.ObjectID `bson:"_id" json:"id"`
	Username string             `bson:"username" json:"username"`
	// Name is how the person is called ("Dilnoza Karimova"); Phone is the
	// number the crew calls. Both are optional and offered on bookings.
	Name          string    `bson:"name,omitempty" json:"name"`
	Phone         string    `bson:"phone,omitempty" json:"phone"`
	Email         string    `bson:"email" json:"email"`
	PendingEmail  string    `bson:"pendingEmail,omitempty" json:"pendingEmail,omitempty"` // asked for, not confirmed yet: the account keeps Email until its link is opened
	PasswordHash  string    `bson:"passwordHash" json:"-"`
	Role          string    `bson:"role" json:"role"`
	IsVerified    bool      `bson:"isVerified" json:"isVerified"`
	TwoFactor     TwoFactor `bson:"twoFactor" json:"-"`
	RecoveryCodes []string  `bson:"recoveryCodes,omitempty" json:"-"`
	TokenVersion  int       `bson:"tokenVersion" json:"-"`
	Locale        string    `bson:"locale" json:"locale"`
	LastLang      string    `bson:"lastLang,omitempty" json:"-"` // the language they last used the site in (SetLastLang)
	CreatedAt     time.Time `bson:"createdAt" json:"createdAt"`
	UpdatedAt     time.Time `bson:"updatedAt" json:"updatedAt"`
	// ExpiresAt is when an account that never verified its email is
	// deleted (UnverifiedTTL after sign-up); its first verification
	// removes it for good. An account whose new email awaits verification,
	// or one an admin marked unverified, has none.
	ExpiresAt *time.Time `bson:"expiresAt,omitempty" json:"-"`
	// Telegram is the customer's connected chat with the company's bot,
	// Notify their channels by event (#24; see telegram.go).
	Telegram *TelegramLink `bson:"telegram,omitempty"`
	Notify   NotifyPrefs   `bson:"notify,omitempty"`
}

// UnverifiedTTL is how long a new account may stay unverified: after it the
// account is deleted, with its tokens and sessions, and its email and
// username are free again (see ExpireUnverified). Someone who signs up with
// another person's address first cannot keep it from its owner.
const UnverifiedTTL = 7 * 24 * time.Hour

// TwoFactorEnabled is part of the JSON form of a user.
func (u *User) TwoFactorEnabled() bool { return u.TwoFactor.Enabled }

// FirstName is the first word of Name, or "" without one: what a customer
// sees of the support agent who answers.
func (u *User) FirstName() string {
	if f := strings.Fields(u.Name); len(f) > 0 {
		return f[0]
	}
	return ""
}

// IsAdmin reports whether u has the ADMIN role.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin }

// IsCleaner reports whether u has the CLEANER role.
func (u *User) IsCleaner() bool { return u != nil && u.Role == RoleCleaner }

// TwoFactor is a user's TOTP state; the secret is stored encrypted.
type TwoFactor struct {
	Secret   string `bson:"secret,omitempty"`
	Enabled  bool   `bson:"enabled"`
	LastStep int64  `bson:"lastStep"`
}

// UserFilter selects a page of accounts, newest first.
type UserFilter struct {
	Q      string // part of the username or email, any case
	Before primitive.ObjectID
	Limit  int
}

// UserChange is a partial update; nil fields stay as they are.
type UserChange struct {
	Username     *string
	Email        *string
	PendingEmail *string // "" forgets it
	PasswordHash *string
	Role         *string
	IsVerified   *bool
	Locale       *string
	Name         *string // "" forgets it
	Phone        *string // "" forgets it
	// BumpTokenVersion invalidates every access token issued before.
	BumpTokenVersion bool
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
	if !u.IsVerified && u.Role != RoleCleaner { // an admin made a cleaner's account: it waits for its invitation
		expires := now.Add(UnverifiedTTL)
		u.ExpiresAt = &expires
	}
	if u.Role == "" {
		u.Role = RoleUser
	}
	return s.db.write(func() error {
		keys := []string{emailKey(u.Email), usernameKey(u.Username)}
		if err := s.claimKeys(ctx, u.ID, keys...); err != nil {
			return err
		}
		if _, err := s.db.col(colUsers).InsertOne(ctx, u); err != nil {
			s.releaseKeys(ctx, u.ID, keys...)
			return translate(err)
		}
		return s.db.addCounter(ctx, counterUsers, 1)
	})
}

// Get returns the account with id.
func (s *UserStore) Get(ctx context.Context, id primitive.ObjectID) (*User, error) {
	return s.findOne(ctx, bson.D{{Key: "_id", Value: id}})
}

// GetByEmail finds the account of an email, in any letter case: two _id
// look-ups (see userKeys).
func (s *UserStore) GetByEmail(ctx context.Context, email string) (*User, error) {
	email = strings.ToLower(email)
	return s.byKey(ctx, emailKey(email), func(u *User) bool { return u.Email == email })
}

// GetByUsername finds the account of a username.
func (s *UserStore) GetByUsername(ctx context.Context, username string) (*User, error) {
	return s.byKey(ctx, usernameKey(username), func(u *User) bool { return u.Username == username })
}

func (s *UserStore) findOne(ctx context.Context, filter bson.D) (*User, error) {
	var u User
	if err := s.db.col(colUsers).FindOne(ctx, filter).Decode(&u); err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// List returns a page of accounts newest first and the next cursor.
func (s *UserStore) List(ctx context.Context, f UserFilter) ([]User, primitive.ObjectID, error) {
	filter := bson.D{}
	if q := strings.TrimSpace(f.Q); q != "" {
		// QuoteMeta: the search text is matched literally, never as a pattern.
		re := primitive.Regex{Pattern: regexp.QuoteMeta(strings.ToLower(q)), Options: "i"}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "username", Value: re}},
			bson.D{{Key: "email", Value: re}},
		}})
	}
	return newestPage(ctx, s.db.col(colUsers), filter, f.Before, f.Limit, func(u *User) primitive.ObjectID { return u.ID })
}

// Update applies ch and returns the account as it is afterwards. A taken
// email or username is ErrConflict.
func (s *UserStore) Update(ctx context.Context, id primitive.ObjectID, ch UserChange) (*User, error) {
	set := bson.D{{Key: "updatedAt", Value: time.Now().UTC().Truncate(time.Millisecond)}}
	set = setIf(set, "username", ch.Username)
	if ch.Email != nil {
		set = append(set, bson.E{Key: "email", Value: strings.ToLower(*ch.Email)})
	}
	if ch.PendingEmail != nil {
		set = append(set, bson.E{Key: "pendingEmail", Value: strings.ToLower(*ch.PendingEmail)})
	}
	set = setIf(set, "passwordHash", ch.PasswordHash)
	set = setIf(set, "role", ch.Role)
	set = setIf(set, "isVerified", ch.IsVerified)
	set = setIf(set, "locale", ch.Locale)
	set = setIf(set, "name", ch.Name)
	set = setIf(set, "phone", ch.Phone)
	if ch == (UserChange{}) {
		return s.Get(ctx, id) // nothing to change: nothing written
	}
	update := bson.D{{Key: "$set", Value: set}}
	if ch.BumpTokenVersion {
		update = append(update, bson.E{Key: "$inc", Value: bson.D{{Key: "tokenVersion", Value: 1}}})
	}
	if ch.IsVerified != nil && *ch.IsVerified {
		// Verified once: the account no longer expires, whatever comes.
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "expiresAt", Value: ""}}})
	}
	var u User
	err := s.db.write(func() error {
		// A new email or username takes its key first (a taken one is
		// ErrConflict before anything changes); the old one goes after.
		var claimed []string
		if ch.Email != nil {
			claimed = append(claimed, emailKey(*ch.Email))
		}
		if ch.Username != nil {
			claimed = append(claimed, usernameKey(*ch.Username))
		}
		if err := s.claimKeys(ctx, id, claimed...); err != nil {
			return err
		}
		var before User
		if err := s.db.col(colUsers).FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, update).Decode(&before); err != nil {
			s.releaseKeys(ctx, id, claimed...)
			return err
		}
		if ch.Email != nil && emailKey(before.Email) != emailKey(*ch.Email) {
			s.releaseKeys(ctx, id, emailKey(before.Email))
		}
		if ch.Username != nil && before.Username != *ch.Username {
			s.releaseKeys(ctx, id, usernameKey(before.Username))
		}
		return s.db.col(colUsers).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&u)
	})
	if err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// Delete removes the account with id.
func (s *UserStore) Delete(ctx context.Context, id primitive.ObjectID) error {
	return s.deleteWhere(ctx, id, nil)
}

// deleteWhere removes the account with id if it still has the fields of
// cond (ErrNotFound otherwise), and frees its email and username.
func (s *UserStore) deleteWhere(ctx context.Context, id primitive.ObjectID, cond bson.D) error {
	return s.db.write(func() error {
		filter := bson.D{{Key: "_id", Value: id}}
		if s.db.filtersItself() {
			filter = append(filter, cond...)
		} else if len(cond) == 0 {
			// by _id alone
		} else if ok, err := s.db.hasFields(ctx, colUsers, id, cond); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		var gone User
		if err := s.db.col(colUsers).FindOneAndDelete(ctx, filter).Decode(&gone); err != nil {
			return translate(err)
		}
		s.releaseKeys(ctx, id, emailKey(gone.Email), usernameKey(gone.Username))
		return s.db.addCounter(ctx, counterUsers, -1)
	})
}

// expireBatch bounds the accounts one sweep deletes; the next takes the rest.
const expireBatch = 500

// DeleteExpired deletes the accounts that never verified their email and
// whose ExpiresAt is before now, with their one-time tokens (verification,
// reset, pending login), sessions and chat inbox, and returns how many went.
// An account verified meanwhile stays: each is deleted only if it still
// has the expiry that was read. Run through DB.ExpireUnverified, which
// makes one instance do it.
func (s *UserStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	cur, err := s.db.col(colUsers).Find(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: now}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "expiresAt", Value: 1}}).SetLimit(expireBatch))
	if err != nil {
		return 0, translate(err)
	}
	var due []User
	if err := cur.All(ctx, &due); err != nil {
		return 0, translate(err)
	}
	n := 0
	for _, u := range due {
		err := s.deleteWhere(ctx, u.ID, bson.D{{Key: "isVerified", Value: false}, {Key: "expiresAt", Value: *u.ExpiresAt}})
		if errors.Is(err, ErrNotFound) {
			continue // verified (or deleted) meanwhile
		}
		if err != nil {
			return n, err
		}
		n++
		// The account is gone, so none of these works any more (each use
		// looks the account up); they are deleted so nothing of it stays.
		if err := s.db.write(func() error {
			for _, purpose := range []string{PurposeVerifyEmail, PurposeResetPassword, PurposeTwoFactor, PurposeInvite} {
				if _, err := s.db.col(colTokens).DeleteOne(ctx, bson.D{{Key: "_id", Value: tokenID(purpose, u.ID)}}); err != nil {
					return err
				}
			}
			_, err := s.db.col(colSessions).DeleteMany(ctx, bson.D{{Key: "userId", Value: u.ID}})
			return err
		}); err != nil {
			return n, translate(err)
		}
		if err := NewChatStore(s.db).ForgetUser(ctx, u.ID); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Cleaners returns the CLEANER accounts, by name.
func (s *UserStore) Cleaners(ctx context.Context) ([]User, error) {
	cur, err := s.db.col(colUsers).Find(ctx, bson.D{{Key: "role", Value: RoleCleaner}}, options.Find().SetSort(bson.D{{Key: "name", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	out := []User{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, translate(err)
	}
	return out, nil
}

// AdminExists reports whether any ADMIN account exists.
func (s *UserStore) AdminExists(ctx context.Context) (bool, error) {
	n, err := s.db.col(colUsers).CountDocuments(ctx, bson.D{{Key: "role", Value: RoleAdmin}}, options.Count().SetLimit(1))
	return n > 0, err
}

// MarshalJSON gives the public form of a user: never a hash or a secret.
func (u User) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID               primitive.ObjectID `json:"id"`
		Username         string             `json:"username"`
		Name             string             `json:"name,omitempty"`
		Phone            string             `json:"phone,omitempty"`
		Email            string             `json:"email"`
		Role             string             `json:"role"`
		IsVerified       bool               `json:"isVerified"`
		TwoFactorEnabled bool               `json:"twoFactorEnabled"`
		Locale           string             `json:"locale"`
		CreatedAt        time.Time          `json:"createdAt"`
		UpdatedAt        time.Time          `json:"updatedAt"`
		Telegram         *TelegramLink      `json:"telegram,omitempty"`
	}{u.ID, u.Username, u.Name, u.Phone, u.Email, u.Role, u.IsVerified, u.TwoFactor.Enabled, u.Locale, u.CreatedAt, u.UpdatedAt, u.Telegram})
}

// GetByPhone returns an account with phone (+998XXXXXXXXX), the oldest if
// several share it. Not indexed: the admin's booking for a customer who
// phones in is its only use.
func (s *UserStore) GetByPhone(ctx context.Context, phone string) (*User, error) {
	var u User
	err := s.db.col(colUsers).FindOne(ctx, bson.D{{Key: "phone", Value: phone}}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: 1}})).Decode(&u)
	if err != nil {
		return nil, translate(err)
	}
	return &u, nil
}
