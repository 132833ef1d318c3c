package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Settings are the company's settings, one document in settings
// ({_id: "company"}): who hears of bookings, cancellations and
// reschedules. NotifyAdminIDs are the admins who opted in (notifyMe).
type Settings struct {
	CompanyNotifyEmail string               `bson:"companyNotifyEmail" json:"companyNotifyEmail"`
	FrequencyDiscounts FrequencyDiscounts   `bson:"frequencyDiscounts" json:"frequencyDiscounts"`
	NotifyAdminIDs     []primitive.ObjectID `bson:"notifyAdminIds" json:"-"`
	// AutoConfirm confirms a new booking as it is made, instead of an
	// admin doing it (off unless an admin turns it on).
	AutoConfirm bool `bson:"autoConfirm" json:"autoConfirm"`
	// Schedule holds the booking rules once an admin saved them (see
	// ScheduleRules for the defaults before).
	Schedule  *ScheduleRules `bson:"schedule,omitempty" json:"-"`
	UpdatedAt time.Time      `bson:"updatedAt" json:"updatedAt"`
}

const settingsCompany = "company"

// SettingsStore keeps the settings and each admin's "last seen" of the
// board ({_id: "seen:<adminId>", at}), in the database so that every
// instance reads the same.
type SettingsStore struct{ db *DB }

// NewSettingsStore returns the settings of db.
func NewSettingsStore(db *DB) *SettingsStore { return &SettingsStore{db: db} }

// Get returns the settings; none saved yet is the zero Settings. Every
// price quote reads them (the frequency discounts): through the document
// cache, at most a second behind another instance's change.
// The settings are decoded once for each answer of the cache, and each
// caller gets its own copy.
func (s *SettingsStore) Get(ctx context.Context) (*Settings, error) {
	v, err := s.db.findShared(ctx, colSettings, settingsCompany, func(raw bson.Raw) (any, error) {
		var st Settings
		return &st, bson.Unmarshal(raw, &st)
	})
	if errors.Is(err, ErrNotFound) {
		return &Settings{}, nil
	}
	if err != nil {
		return nil, err
	}
	st := *v.(*Settings)
	st.NotifyAdminIDs = slices.Clone(st.NotifyAdminIDs)
	if st.Schedule != nil {
		rules := *st.Schedule
		st.Schedule = &rules
	}
	return &st, nil
}

// Put saves the address told of every booking event
// ("" for none), and whether admin opted in (notifyMe): one update.
func (s *SettingsStore) Put(ctx context.Context, email string, admin primitive.ObjectID, notifyMe bool) (*Settings, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "companyNotifyEmail", Value: email}, {Key: "updatedAt", Value: now}}}}
	if notifyMe {
		update = append(update, bson.E{Key: "$addToSet", Value: bson.D{{Key: "notifyAdminIds", Value: admin}}})
	} else {
		update = append(update, bson.E{Key: "$pull", Value: bson.D{{Key: "notifyAdminIds", Value: admin}}})
	}
	err := s.db.write(func() error {
		_, err := s.db.col(colSettings).UpdateOne(ctx, bson.D{{Key: "_id", Value: settingsCompany}}, update, options.Update().SetUpsert(true))
		return translate(err)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx)
}

// Notifies reports whether admin opted in.
func (st *Settings) Notifies(admin primitive.ObjectID) bool {
	for _, id := range st.NotifyAdminIDs {
		if id == admin {
			return true
		}
	}
	return false
}

// LookAtBoard records that admin looks at the board now and returns when
// they looked before (zero: never): one update, which answers the
// document as it was. It does not wait for the write lock: a look at the
// board is a read to the admin, and queued behind the bookings and
// messages it took over a second under load. Two looks of one admin at
// once on FerretDB (no atomic update there) can at worst keep the earlier
// of their times, which marks a few more orders as changed.
func (s *SettingsStore) LookAtBoard(ctx context.Context, admin primitive.ObjectID) (time.Time, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	var before struct {
		At time.Time `bson:"at"`
	}
	err := s.db.findAndUpsertByID(ctx, colSettings, "seen:"+admin.Hex(), bson.D{{Key: "$max", Value: bson.D{{Key: "at", Value: now}}}}, false, &before)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return time.Time{}, nil // the first look
	}
	return before.At, translate(err)
}

// MaxFrequencyDiscount is the largest percent off a regular cleaning: more
// is a typo, not a discount.
const MaxFrequencyDiscount = 50

// PutFrequencyDiscounts saves the percents off a regular cleaning, leaving
// the other settings as they are.
func (s *SettingsStore) PutFrequencyDiscounts(ctx context.Context, d FrequencyDiscounts) (*Settings, error) {
	return s.setCompany(ctx, "frequencyDiscounts", d)
}

// PutAutoConfirm turns the automatic confirmation of new bookings on or
// off, leaving the other settings as they are.
func (s *SettingsStore) PutAutoConfirm(ctx context.Context, on bool) (*Settings, error) {
	return s.setCompany(ctx, "autoConfirm", on)
}

// setCompany sets one field of the company's settings, leaving the others
// as they are, and returns the settings after.
func (s *SettingsStore) setCompany(ctx context.Context, field string, v any) (*Settings, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	update := bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: v}, {Key: "updatedAt", Value: now}}}}
	err := s.db.write(func() error {
		_, err := s.db.col(colSettings).UpdateOne(ctx, bson.D{{Key: "_id", Value: settingsCompany}}, update, options.Update().SetUpsert(true))
		return translate(err)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx)
}

// ScheduleRules are the booking rules: the saved ones, else the defaults.
func (st *Settings) ScheduleRules() ScheduleRules {
	if st.Schedule == nil {
		return DefaultScheduleRules()
	}
	return *st.Schedule
}

// PutScheduleRules saves the booking rules, leaving the other settings as
// they are; rules out of bounds are ErrInvalid.
func (s *SettingsStore) PutScheduleRules(ctx context.Context, r ScheduleRules) (*Settings, error) {
	if field, why := r.Problem(); field != "" {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalid, field, why)
	}
	return s.setCompany(ctx, "schedule", r)
}
