package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Service is one offer of the catalogue. Name and Description are Uzbek, the
// default language; Translations carries the other languages when known.
type Service struct {
	ID              primitive.ObjectID     `bson:"_id" json:"id"`
	Name            string                 `bson:"name" json:"name"`
	Description     string                 `bson:"description" json:"description"`
	Price           int64                  `bson:"price" json:"price"` // so'm
	DurationMinutes int                    `bson:"durationMinutes" json:"durationMinutes"`
	Active          bool                   `bson:"active" json:"active"`
	Translations    map[string]ServiceText `bson:"translations,omitempty" json:"translations,omitempty"`
	CreatedAt       time.Time              `bson:"createdAt" json:"createdAt"`
	UpdatedAt       time.Time              `bson:"updatedAt" json:"updatedAt"`
}

// ServiceText is a service's name and description in one language.
type ServiceText struct {
	Name        string `bson:"name" json:"name"`
	Description string `bson:"description" json:"description"`
}

// Text returns the name and description in lang, falling back to Uzbek.
func (s *Service) Text(lang string) ServiceText {
	if t, ok := s.Translations[lang]; ok && t.Name != "" {
		return t
	}
	return ServiceText{Name: s.Name, Description: s.Description}
}

// ServiceFilter selects a page of the catalogue, newest first.
type ServiceFilter struct {
	IncludeArchived bool
	Before          primitive.ObjectID // zero: from the newest
	Limit           int                // 1–100
}

// ServiceChange is a partial update; nil fields stay as they are.
type ServiceChange struct {
	Name            *string
	Description     *string
	Price           *int64
	DurationMinutes *int
	Active          *bool
}

// ServiceStore keeps the catalogue.
type ServiceStore struct{ db *DB }

// NewServiceStore returns the catalogue store of db.
func NewServiceStore(db *DB) *ServiceStore { return &ServiceStore{db: db} }

// Create inserts s as an active service, filling its id and timestamps.
func (s *ServiceStore) Create(ctx context.Context, svc *Service) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	svc.ID = primitive.NewObjectID()
	svc.Active = true
	svc.CreatedAt, svc.UpdatedAt = now, now
	return s.db.write(func() error {
		_, err := s.db.col(colServices).InsertOne(ctx, svc)
		return translate(err)
	})
}

// Get returns one service; an archived one only when includeArchived.
func (s *ServiceStore) Get(ctx context.Context, id primitive.ObjectID, includeArchived bool) (*Service, error) {
	var svc Service
	if err := s.db.col(colServices).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&svc); err != nil {
		return nil, translate(err)
	}
	if !svc.Active && !includeArchived {
		return nil, ErrNotFound
	}
	return &svc, nil
}

// List returns a page of services newest first, and the cursor of the next
// page (zero on the last one).
func (s *ServiceStore) List(ctx context.Context, f ServiceFilter) ([]Service, primitive.ObjectID, error) {
	filter := bson.D{}
	if !f.IncludeArchived {
		filter = append(filter, bson.E{Key: "active", Value: true})
	}
	return newestPage(ctx, s.db.col(colServices), filter, f.Before, f.Limit, func(s *Service) primitive.ObjectID { return s.ID })
}

// Update applies ch and returns the service as it is afterwards.
func (s *ServiceStore) Update(ctx context.Context, id primitive.ObjectID, ch ServiceChange) (*Service, error) {
	set := bson.D{{Key: "updatedAt", Value: time.Now().UTC().Truncate(time.Millisecond)}}
	set = setIf(set, "name", ch.Name)
	set = setIf(set, "description", ch.Description)
	set = setIf(set, "price", ch.Price)
	set = setIf(set, "durationMinutes", ch.DurationMinutes)
	set = setIf(set, "active", ch.Active)
	var svc Service
	err := s.db.write(func() error {
		return s.db.col(colServices).FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: set}},
			options.FindOneAndUpdate().SetReturnDocument(options.After),
		).Decode(&svc)
	})
	if err != nil {
		return nil, translate(err)
	}
	return &svc, nil
}

// Delete removes a service, or archives it when orders refer to it, so that
// order history never points at nothing. It reports whether it archived.
func (s *ServiceStore) Delete(ctx context.Context, id primitive.ObjectID) (archived bool, err error) {
	err = s.db.write(func() error {
		n, err := s.db.col(colOrders).CountDocuments(ctx, bson.D{{Key: "serviceId", Value: id}}, options.Count().SetLimit(1))
		if err != nil {
			return err
		}
		if n > 0 {
			res, err := s.db.col(colServices).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
				bson.D{{Key: "$set", Value: bson.D{
					{Key: "active", Value: false},
					{Key: "updatedAt", Value: time.Now().UTC().Truncate(time.Millisecond)},
				}}})
			if err != nil {
				return err
			}
			if res.MatchedCount == 0 {
				return ErrNotFound
			}
			archived = true
			return nil
		}
		res, err := s.db.col(colServices).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
		if err != nil {
			return err
		}
		if res.DeletedCount == 0 {
			return ErrNotFound
		}
		return nil
	})
	return archived, translate(err)
}

// Count returns how many services exist, archived included.
func (s *ServiceStore) Count(ctx context.Context) (int64, error) {
	return s.db.col(colServices).CountDocuments(ctx, bson.D{})
}
