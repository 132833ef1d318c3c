package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// colAddresses holds each customer's saved addresses: one document a user,
// {_id: userId, items: [Address…], v}, so that a user's list is one _id
// look-up and its maximum is checked in the same write that adds.
const colAddresses = "addresses"

// MaxAddresses is how many addresses one account may keep.
const MaxAddresses = 10

// ErrTooMany is an address beyond MaxAddresses.
var ErrTooMany = errors.New("too many addresses")

// Address is a place a customer has cleaned, saved to be picked at booking.
type Address struct {
	ID        primitive.ObjectID `bson:"id" json:"id"`
	Label     string             `bson:"label" json:"label"` // "Uy", "Ish"…
	Address   string             `bson:"address" json:"address"`
	Entrance  string             `bson:"entrance" json:"entrance"`
	Floor     string             `bson:"floor" json:"floor"`
	Apartment string             `bson:"apartment" json:"apartment"`
	Landmark  string             `bson:"landmark" json:"landmark"`
	CreatedAt time.Time          `bson:"createdAt" json:"createdAt"`
}

type addressBook struct {
	UserID primitive.ObjectID `bson:"_id"`
	Items  []Address          `bson:"items"`
	V      int64              `bson:"v"` // bumped by every write: the condition of the next
}

// AddressStore keeps saved addresses.
type AddressStore struct{ db *DB }

// NewAddressStore returns the address store of db.
func NewAddressStore(db *DB) *AddressStore { return &AddressStore{db: db} }

// List returns the user's addresses, oldest first.
// It is served from the hot documents' cache (this instance's writes at
// once, another's within a second).
func (s *AddressStore) List(ctx context.Context, userID primitive.ObjectID) ([]Address, error) {
	var b addressBook
	err := s.db.findByID(ctx, colAddresses, userID, &b)
	if errors.Is(err, ErrNotFound) || (err == nil && b.Items == nil) {
		return []Address{}, nil
	}
	if err != nil {
		return nil, err
	}
	return b.Items, nil
}

// book reads the user's book from the database itself: a write is
// conditional on what it read.
func (s *AddressStore) book(ctx context.Context, userID primitive.ObjectID) (*addressBook, error) {
	var b addressBook
	err := s.db.col(colAddresses).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&b)
	if errors.Is(translate(err), ErrNotFound) {
		return &addressBook{UserID: userID, Items: []Address{}}, nil
	}
	if err != nil {
		return nil, translate(err)
	}
	if b.Items == nil {
		b.Items = []Address{}
	}
	return &b, nil
}

// change reads the user's book, lets fn change its items and writes them
// back if nobody wrote in between (version v), trying again otherwise:
// instances sharing the database never lose each other's writes, and the
// maximum holds.
func (s *AddressStore) change(ctx context.Context, userID primitive.ObjectID, fn func(items []Address) ([]Address, error)) error {
	for try := 0; ; try++ {
		done := false
		err := s.db.write(func() error {
			b, err := s.book(ctx, userID)
			if err != nil {
				return err
			}
			items, err := fn(append([]Address(nil), b.Items...))
			if err != nil {
				return err
			}
			set := bson.D{{Key: "$set", Value: bson.D{{Key: "items", Value: items}, {Key: "v", Value: b.V + 1}}}}
			if b.V == 0 {
				// The first write: an insert, which a racer's insert makes a conflict.
				_, err := s.db.col(colAddresses).UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}, {Key: "v", Value: bson.D{{Key: "$exists", Value: false}}}}, set, options.Update().SetUpsert(true))
				if err = translate(err); errors.Is(err, ErrConflict) {
					return nil // try again
				}
				done = err == nil
				return err
			}
			ok, err := s.db.updateIf(ctx, colAddresses, userID, bson.D{{Key: "v", Value: b.V}}, set)
			done = ok
			return err
		})
		if err != nil || done {
			return err
		}
		if try == 20 {
			return ErrConflict
		}
	}
}

// Add saves a new address of the user; beyond MaxAddresses it is
// ErrTooMany and nothing is written.
func (s *AddressStore) Add(ctx context.Context, userID primitive.ObjectID, a Address) (*Address, error) {
	a.ID = primitive.NewObjectID()
	a.CreatedAt = now()
	err := s.change(ctx, userID, func(items []Address) ([]Address, error) {
		if len(items) >= MaxAddresses {
			return nil, ErrTooMany
		}
		return append(items, a), nil
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// Update replaces the fields of the user's address id; an address that is
// not the user's is ErrNotFound.
func (s *AddressStore) Update(ctx context.Context, userID, id primitive.ObjectID, a Address) (*Address, error) {
	err := s.change(ctx, userID, func(items []Address) ([]Address, error) {
		for i := range items {
			if items[i].ID == id {
				a.ID, a.CreatedAt = id, items[i].CreatedAt
				items[i] = a
				return items, nil
			}
		}
		return nil, ErrNotFound
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// Delete removes the user's address id; one that is not the user's is
// ErrNotFound.
func (s *AddressStore) Delete(ctx context.Context, userID, id primitive.ObjectID) error {
	return s.change(ctx, userID, func(items []Address) ([]Address, error) {
		for i := range items {
			if items[i].ID == id {
				return append(items[:i], items[i+1:]...), nil
			}
		}
		return nil, ErrNotFound
	})
}

// DeleteForUser removes every address of a user (the account is deleted).
func (s *AddressStore) DeleteForUser(ctx context.Context, userID primitive.ObjectID) error {
	return s.db.write(func() error {
		_, err := s.db.col(colAddresses).DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}})
		return translate(err)
	})
}
