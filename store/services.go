package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Service is one offer of the catalogue. Name and Description are in
// Uzbek (required), Russian and English (each falling back to Uzbek).
type Service struct {
	ID              primitive.ObjectID `bson:"_id" json:"id"`
	Name            Texts              `bson:"name" json:"name"`
	Description     Texts              `bson:"description" json:"description"`
	Price           int64              `bson:"price" json:"price"` // so'm
	DurationMinutes int                `bson:"durationMinutes" json:"durationMinutes"`
	Active          bool               `bson:"active" json:"active"`
	// Pricing and Extras price a visit (see pricing.go); Price and
	// DurationMinutes are then the catalogue's "from" figures.
	Pricing Pricing `bson:"pricing" json:"pricing"`
	Extras  []Extra `bson:"extras" json:"extras"`
	// Checklist is what the crew does on every visit, ticked on the
	// cleaner's phone.
	Checklist []ChecklistItem `bson:"checklist" json:"checklist"`
	CreatedAt time.Time       `bson:"createdAt" json:"createdAt"`
	UpdatedAt time.Time       `bson:"updatedAt" json:"updatedAt"`
	// Rating is the average of its visible reviews (#24), kept by each
	// review's write from the service's tally as of its version RatingV
	// (see ReviewStore.rateService): the catalogue's list shows it with
	// no read of its own.
	Rating  Rating `bson:"rating" json:"rating"`
	RatingV int64  `bson:"ratingV,omitempty" json:"-"`
}

// ServiceText is a service's name and description in one language.
type ServiceText struct {
	Name        string `bson:"name" json:"name"`
	Description string `bson:"description" json:"description"`
}

// Text returns the name and description in lang, each falling back to
// Uzbek.
func (s *Service) Text(lang string) ServiceText {
	return ServiceText{Name: s.Name.In(lang), Description: s.Description.In(lang)}
}

// UnmarshalBSON reads a service, the legacy shape too: name and
// description plain Uzbek strings, with the other languages in
// translations {ru: {name, description}, en: …}, which fill the languages
// the name and description lack.
func (s *Service) UnmarshalBSON(data []byte) error {
	type Plain Service // without this method (exported: the codec fills only exported fields)
	var p struct {
		Plain        `bson:",inline"`
		Translations map[string]ServiceText `bson:"translations,omitempty"`
	}
	if err := bson.Unmarshal(data, &p); err != nil {
		return err
	}
	*s = Service(p.Plain)
	if s.Checklist == nil { // a service of before the checklist: none is a list
		s.Checklist = []ChecklistItem{}
	}
	for lang, t := range p.Translations {
		switch lang {
		case "ru":
			s.Name.Ru, s.Description.Ru = or(s.Name.Ru, t.Name), or(s.Description.Ru, t.Description)
		case "en":
			s.Name.En, s.Description.En = or(s.Name.En, t.Name), or(s.Description.En, t.Description)
		}
	}
	return nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ServiceFilter selects a page of the catalogue, newest first.
type ServiceFilter struct {
	IncludeArchived bool
	Before          primitive.ObjectID // zero: from the newest
	Limit           int                // 1–100
}

// ServiceChange is a partial update; nil fields stay as they are (a name or
// description is replaced in all three languages).
type ServiceChange struct {
	Name            *Texts
	Description     *Texts
	Price           *int64
	DurationMinutes *int
	Active          *bool
	// Pricing replaces the pricing, and with it Price and DurationMinutes
	// (they follow it: see FromFigures); Extras replaces the list of
	// extras, in its order.
	Pricing *Pricing
	Extras  *[]Extra
	// Checklist replaces the visit checklist, in its order (an empty list
	// clears it).
	Checklist *[]ChecklistItem
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
	if svc.Extras == nil {
		svc.Extras = []Extra{}
	}
	if svc.Checklist == nil {
		svc.Checklist = []ChecklistItem{}
	}
	if err := svc.followPricing(); err != nil {
		return err
	}
	return s.db.write(func() error {
		if _, err := s.db.col(colServices).InsertOne(ctx, svc); err != nil {
			return translate(err)
		}
		return s.db.changedServices(ctx, 1)
	})
}

// Get returns one service; an archived one only when includeArchived. It
// reads the catalogue in memory.
func (s *ServiceStore) Get(ctx context.Context, id primitive.ObjectID, includeArchived bool) (*Service, error) {
	all, err := s.db.allServices(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].ID == id {
			if !all[i].Active && !includeArchived {
				return nil, ErrNotFound
			}
			svc := all[i]
			return &svc, nil
		}
	}
	return nil, ErrNotFound
}

// Version says which catalogue this instance shows: it changes with every
// write to the services (checked against the database at most once a
// second), so what was made of the catalogue can be kept until it does.
func (s *ServiceStore) Version(ctx context.Context) (int64, error) {
	if _, err := s.db.allServices(ctx); err != nil {
		return 0, err
	}
	s.db.catalog.mu.Lock()
	defer s.db.catalog.mu.Unlock()
	return s.db.catalog.version, nil
}

// All returns every service, archived ones too, newest first, from the
// catalogue in memory.
func (s *ServiceStore) All(ctx context.Context) ([]Service, error) {
	all, err := s.db.allServices(ctx)
	if err != nil {
		return nil, err
	}
	return append([]Service(nil), all...), nil
}

// List returns a page of services newest first, and the cursor of the next
// page (zero on the last one), from the catalogue in memory.
func (s *ServiceStore) List(ctx context.Context, f ServiceFilter) ([]Service, primitive.ObjectID, error) {
	if f.Limit < 1 || f.Limit > 100 {
		return nil, primitive.NilObjectID, fmt.Errorf("%w: limit %d", ErrInvalid, f.Limit)
	}
	all, err := s.db.allServices(ctx)
	if err != nil {
		return nil, primitive.NilObjectID, err
	}
	page := make([]Service, 0, min(f.Limit+1, len(all)))
	for _, svc := range all {
		if (svc.Active || f.IncludeArchived) && (f.Before.IsZero() || svc.ID.Hex() < f.Before.Hex()) {
			page = append(page, svc)
		}
		if len(page) > f.Limit {
			break
		}
	}
	var next primitive.ObjectID
	if len(page) > f.Limit {
		page = page[:f.Limit]
		next = page[f.Limit-1].ID
	}
	return page, next, nil
}

// Update applies ch and returns the service as it is afterwards.
func (s *ServiceStore) Update(ctx context.Context, id primitive.ObjectID, ch ServiceChange) (*Service, error) {
	if ch.Pricing != nil && *ch.Pricing != (Pricing{}) {
		// The pricing's figures win over a price sent with it.
		priced := Service{Pricing: *ch.Pricing}
		if err := priced.followPricing(); err != nil {
			return nil, err
		}
		ch.Price, ch.DurationMinutes = &priced.Price, &priced.DurationMinutes
	}
	set := bson.D{{Key: "updatedAt", Value: time.Now().UTC().Truncate(time.Millisecond)}}
	set = setIf(set, "name", ch.Name)
	set = setIf(set, "description", ch.Description)
	set = setIf(set, "price", ch.Price)
	set = setIf(set, "durationMinutes", ch.DurationMinutes)
	set = setIf(set, "active", ch.Active)
	if ch.Pricing != nil {
		set = append(set, bson.E{Key: "pricing", Value: *ch.Pricing})
	}
	if ch.Extras != nil {
		extras := *ch.Extras
		if extras == nil {
			extras = []Extra{}
		}
		set = append(set, bson.E{Key: "extras", Value: extras})
	}
	if ch.Checklist != nil {
		items := *ch.Checklist
		if items == nil {
			items = []ChecklistItem{}
		}
		set = append(set, bson.E{Key: "checklist", Value: items})
	}
	if ch == (ServiceChange{}) {
		return s.Get(ctx, id, true) // nothing to change: nothing written
	}
	update := bson.D{{Key: "$set", Value: set}}
	if ch.Name != nil || ch.Description != nil {
		// A legacy document's translations are folded into the new shape:
		// the name and description written whole, they go.
		if ch.Name == nil || ch.Description == nil {
			cur, err := s.Get(ctx, id, true)
			if err != nil {
				return nil, err
			}
			if ch.Name == nil {
				set = append(set, bson.E{Key: "name", Value: cur.Name})
			}
			if ch.Description == nil {
				set = append(set, bson.E{Key: "description", Value: cur.Description})
			}
			update[0].Value = set
		}
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "translations", Value: ""}}})
	}
	var svc Service
	err := s.db.write(func() error {
		var before Service
		err := s.db.col(colServices).FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: id}},
			update,
		).Decode(&before)
		if err != nil {
			return err
		}
		if ch.Active != nil && *ch.Active != before.Active { // archived or brought back
			if err := s.db.changedServices(ctx, map[bool]int64{true: 1, false: -1}[*ch.Active]); err != nil {
				return err
			}
		} else if err := s.db.changedServices(ctx, 0); err != nil {
			return err
		}
		return s.db.col(colServices).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&svc)
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
		// The orders' counters know how many orders name the service, so
		// this costs no scan of the orders.
		totals, err := readTotals(ctx, s.db)
		if err != nil {
			return err
		}
		// What was there comes back from the write itself (not from the
		// cache, which may be a second old): of two racers on MongoDB only
		// the one that changed it counts the change.
		var before Service
		if totals.ByService[id.Hex()] > 0 {
			err = s.db.col(colServices).FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}},
				bson.D{{Key: "$set", Value: bson.D{
					{Key: "active", Value: false},
					{Key: "updatedAt", Value: time.Now().UTC().Truncate(time.Millisecond)},
				}}}).Decode(&before)
			archived = true
		} else {
			err = s.db.col(colServices).FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&before)
		}
		if err != nil {
			return err
		}
		if before.Active {
			return s.db.changedServices(ctx, -1)
		}
		return s.db.changedServices(ctx, 0)
	})
	return archived, translate(err)
}

// Count returns how many services exist, archived included.
func (s *ServiceStore) Count(ctx context.Context) (int64, error) {
	return s.db.col(colServices).CountDocuments(ctx, bson.D{})
}
