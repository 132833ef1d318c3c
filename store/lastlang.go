package store

import (
	"context"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// SetLastLang records the language a user last used the site in (they
// switched to it, or came signed in with it chosen); emails to them follow
// it before their profile's. Only a change is written.
func (s *UserStore) SetLastLang(ctx context.Context, id primitive.ObjectID, lang string) error {
	return s.db.write(func() error {
		_, err := s.db.col(colUsers).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "lastLang", Value: bson.D{{Key: "$ne", Value: lang}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "lastLang", Value: lang}}}})
		return translate(err)
	})
}
