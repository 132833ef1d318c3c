package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
)

// The crews and the closures are few and read on every availability
// question, so they live together in one document, settings
// {_id: "schedule", crews, closures, v}: read by _id through the document
// cache (another instance's change is seen within a second), and written
// as a compare-and-set on v, which only one of two writers wins (MongoDB;
// the embedded database under its write lock).
const settingsSchedule = "schedule"

// MaxCrews and MaxClosures bound the schedule document.
const (
	MaxCrews    = 200
	MaxClosures = 2000
)

type scheduleDoc struct {
	Crews    []Crew    `bson:"crews"`
	Closures []Closure `bson:"closures"`
	V        int64     `bson:"v"`
	// answer numbers the cache's answer this was decoded from (see
	// DB.answerSerial): the same number, the same crews and closures.
	answer uint64
	// byName are the crews by name, sorted once for each answer (the
	// dashboard and every availability question list them).
	byName []Crew
}

// ScheduleStore keeps the crews, the closures and the visits' reservations.
type ScheduleStore struct {
	db       *DB
	settings *SettingsStore
}

// NewScheduleStore returns the schedule of db.
func NewScheduleStore(db *DB) *ScheduleStore {
	return &ScheduleStore{db: db, settings: NewSettingsStore(db)}
}

// doc returns the crews and closures, decoded once for each answer of
// the document cache; the lists are copies (callers sort them), their
// crews shared: callers must not change them.
func (s *ScheduleStore) doc(ctx context.Context) (*scheduleDoc, error) {
	d, err := s.shared(ctx)
	if err != nil {
		return nil, err
	}
	return &scheduleDoc{Crews: append([]Crew(nil), d.Crews...), Closures: append([]Closure(nil), d.Closures...), V: d.V, answer: d.answer}, nil
}

// shared is the schedule document as decoded for the cache's answer,
// which nobody may change.
func (s *ScheduleStore) shared(ctx context.Context) (*scheduleDoc, error) {
	v, err := s.db.findShared(ctx, colSettings, settingsSchedule, func(raw bson.Raw) (any, error) {
		d := scheduleDoc{answer: s.db.answerSerial.Add(1)}
		if err := bson.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
		for i := range d.Crews {
			d.Crews[i].prepare()
		}
		d.byName = append([]Crew(nil), d.Crews...)
		sort.SliceStable(d.byName, func(i, j int) bool { return strings.ToLower(d.byName[i].Name) < strings.ToLower(d.byName[j].Name) })
		return &d, nil
	})
	if errors.Is(err, ErrNotFound) {
		return &scheduleDoc{}, nil
	} else if err != nil {
		return nil, err
	}
	return v.(*scheduleDoc), nil
}

// Crews lists the crews, by name: the list is the caller's, the crews
// shared (callers must not change them).
func (s *ScheduleStore) Crews(ctx context.Context) ([]Crew, error) {
	d, err := s.shared(ctx)
	if err != nil {
		return nil, err
	}
	return append([]Crew(nil), d.byName...), nil
}

// Crew returns one crew.
func (s *ScheduleStore) Crew(ctx context.Context, id primitive.ObjectID) (*Crew, error) {
	d, err := s.doc(ctx)
	if err != nil {
		return nil, err
	}
	for i := range d.Crews {
		if d.Crews[i].ID == id {
			return &d.Crews[i], nil
		}
	}
	return nil, ErrNotFound
}

// CrewsOf lists the crews cleaner userID is a member of, by name. Read
// on every request of a cleaner: one removed from a crew loses its visits
// at their next request (within the document cache's second on another
// instance).
func (s *ScheduleStore) CrewsOf(ctx context.Context, userID primitive.ObjectID) ([]Crew, error) {
	all, err := s.Crews(ctx)
	if err != nil {
		return nil, err
	}
	var mine []Crew
	for _, c := range all {
		if c.HasMember(userID) {
			mine = append(mine, c)
		}
	}
	return mine, nil
}

// HasMember reports whether the cleaner with account userID is in c.
func (c *Crew) HasMember(userID primitive.ObjectID) bool {
	for _, id := range c.MemberIDs {
		if id == userID {
			return true
		}
	}
	return false
}

// Closures lists the closures, by date.
func (s *ScheduleStore) Closures(ctx context.Context) ([]Closure, error) {
	d, err := s.doc(ctx)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(d.Closures, func(i, j int) bool { return d.Closures[i].Date < d.Closures[j].Date })
	return d.Closures, nil
}

// change applies fn to the schedule document, as a compare-and-set on its
// version, trying again when another writer came first. The read, fn and
// the write are one db.write: on FerretDB, whose writes one process
// serializes, the first try wins; on MongoDB every lost try is another
// writer's win, so a writer tries as often as there may be others.
func (s *ScheduleStore) change(ctx context.Context, fn func(d *scheduleDoc) error) error {
	for range changeAttempts {
		var done bool
		err := s.db.write(func() error {
			var d scheduleDoc
			err := s.db.col(colSettings).FindOne(ctx, bson.D{{Key: "_id", Value: settingsSchedule}}).Decode(&d)
			fresh := errors.Is(err, mongo.ErrNoDocuments)
			if err != nil && !fresh {
				return translate(err)
			}
			if err := fn(&d); err != nil {
				return err
			}
			if d.Crews == nil {
				d.Crews = []Crew{}
			}
			if d.Closures == nil {
				d.Closures = []Closure{}
			}
			old := d.V
			d.V++
			if fresh {
				_, err := s.db.col(colSettings).InsertOne(ctx, bson.D{{Key: "_id", Value: settingsSchedule}, {Key: "crews", Value: d.Crews}, {Key: "closures", Value: d.Closures}, {Key: "v", Value: d.V}})
				if isDuplicate(err) {
					return nil
				}
				done = err == nil
				return translate(err)
			}
			done, err = s.db.updateIf(ctx, colSettings, settingsSchedule, bson.D{{Key: "v", Value: old}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "crews", Value: d.Crews}, {Key: "closures", Value: d.Closures}, {Key: "v", Value: d.V}}}})
			return err
		})
		if err != nil || done {
			return err
		}
	}
	return fmt.Errorf("%w: the schedule kept changing", ErrConflict)
}

// changeAttempts bounds change's tries: more than the admins who could
// be saving crews and closures at one moment.
const changeAttempts = 100

// checkCrew reports the first problem of c.
func checkCrew(c *Crew) error {
	c.Name = strings.TrimSpace(c.Name)
	if n := len([]rune(c.Name)); n < 1 || n > 60 {
		return fmt.Errorf("%w: name: 1 to 60 characters", ErrInvalid)
	}
	if len(c.Members) > 20 {
		return fmt.Errorf("%w: members: at most 20", ErrInvalid)
	}
	for i, m := range c.Members {
		c.Members[i] = strings.TrimSpace(m)
		if n := len([]rune(c.Members[i])); n < 1 || n > 60 {
			return fmt.Errorf("%w: members: each 1 to 60 characters", ErrInvalid)
		}
	}
	if c.Hours == nil {
		c.Hours = WeekHours{}
	}
	if err := c.Hours.Check(); err != nil {
		return fmt.Errorf("hours: %w", err)
	}
	if c.Members == nil {
		c.Members = []string{}
	}
	if c.MemberIDs == nil {
		c.MemberIDs = []primitive.ObjectID{}
	}
	if c.ServiceIDs == nil {
		c.ServiceIDs = []primitive.ObjectID{}
	}
	return nil
}

// CreateCrew adds crew c (its ID is made here).
func (s *ScheduleStore) CreateCrew(ctx context.Context, c *Crew) error {
	if err := checkCrew(c); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	c.ID, c.CreatedAt, c.UpdatedAt = primitive.NewObjectID(), now, now
	return s.change(ctx, func(d *scheduleDoc) error {
		if len(d.Crews) >= MaxCrews {
			return fmt.Errorf("%w: at most %d crews", ErrInvalid, MaxCrews)
		}
		d.Crews = append(d.Crews, *c)
		return nil
	})
}

// UpdateCrew replaces crew c's details (name, members, services, hours,
// active), keeping its id and creation time.
func (s *ScheduleStore) UpdateCrew(ctx context.Context, c *Crew) error {
	if err := checkCrew(c); err != nil {
		return err
	}
	return s.change(ctx, func(d *scheduleDoc) error {
		for i := range d.Crews {
			if d.Crews[i].ID == c.ID {
				c.CreatedAt = d.Crews[i].CreatedAt
				c.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
				d.Crews[i] = *c
				return nil
			}
		}
		return ErrNotFound
	})
}

// AddMember puts the cleaner with account userID, called name, into crew
// id: its account among MemberIDs and its name among Members (the names
// the crews' pages show), once each.
func (s *ScheduleStore) AddMember(ctx context.Context, id, userID primitive.ObjectID, name string) error {
	return s.change(ctx, func(d *scheduleDoc) error {
		for i := range d.Crews {
			c := &d.Crews[i]
			if c.ID != id {
				continue
			}
			if c.HasMember(userID) {
				return nil
			}
			if len(c.Members) >= 20 {
				return fmt.Errorf("%w: at most 20 members", ErrInvalid)
			}
			c.MemberIDs = append(c.MemberIDs, userID)
			c.Members = append(c.Members, name)
			c.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
			return nil
		}
		return ErrNotFound
	})
}

// DeleteCrew removes crew id. A crew with visits to come cannot go
// (ErrConflict): they must be moved or reassigned first. A booking that
// lands between the check and the delete is not lost: its crew gone, it
// is among the Stranded visits the crews' page lists.
func (s *ScheduleStore) DeleteCrew(ctx context.Context, id primitive.ObjectID, now time.Time) error {
	upcoming, err := s.CrewVisits(ctx, id, now)
	if err != nil {
		return err
	}
	if len(upcoming) > 0 {
		return fmt.Errorf("%w: the crew has %d visits to come", ErrConflict, len(upcoming))
	}
	return s.change(ctx, func(d *scheduleDoc) error {
		for i := range d.Crews {
			if d.Crews[i].ID == id {
				d.Crews = append(d.Crews[:i], d.Crews[i+1:]...)
				return nil
			}
		}
		return ErrNotFound
	})
}

// CreateClosure adds closure c (its ID is made here).
func (s *ScheduleStore) CreateClosure(ctx context.Context, c *Closure) error {
	c.Reason = strings.TrimSpace(c.Reason)
	if err := c.Check(); err != nil {
		return err
	}
	if len([]rune(c.Reason)) > 200 {
		return fmt.Errorf("%w: reason: at most 200 characters", ErrInvalid)
	}
	c.ID, c.CreatedAt = primitive.NewObjectID(), time.Now().UTC().Truncate(time.Millisecond)
	return s.change(ctx, func(d *scheduleDoc) error {
		if len(d.Closures) >= MaxClosures {
			return fmt.Errorf("%w: at most %d closures", ErrInvalid, MaxClosures)
		}
		if !c.CrewID.IsZero() {
			found := false
			for _, cr := range d.Crews {
				found = found || cr.ID == c.CrewID
			}
			if !found {
				return fmt.Errorf("%w: crew", ErrNotFound)
			}
		}
		d.Closures = append(d.Closures, *c)
		return nil
	})
}

// DeleteClosure removes closure id.
func (s *ScheduleStore) DeleteClosure(ctx context.Context, id primitive.ObjectID) error {
	return s.change(ctx, func(d *scheduleDoc) error {
		for i := range d.Closures {
			if d.Closures[i].ID == id {
				d.Closures = append(d.Closures[:i], d.Closures[i+1:]...)
				return nil
			}
		}
		return ErrNotFound
	})
}

// Rules are the company's schedule rules (the defaults until set).
func (s *ScheduleStore) Rules(ctx context.Context) (ScheduleRules, error) {
	st, err := s.settings.Get(ctx)
	if err != nil {
		return ScheduleRules{}, err
	}
	return st.ScheduleRules(), nil
}

// Load returns the schedule of the local dates from first to last, with
// the day before first (whose last visits may reach past midnight) and
// the day after last (whose first ones a visit's buffer may reach).
func (s *ScheduleStore) Load(ctx context.Context, first, last string) (*Schedule, error) {
	d, err := s.doc(ctx)
	if err != nil {
		return nil, err
	}
	rules, err := s.Rules(ctx)
	if err != nil {
		return nil, err
	}
	from, err1 := time.ParseInLocation(time.DateOnly, first, Tashkent)
	to, err2 := time.ParseInLocation(time.DateOnly, last, Tashkent)
	if err1 != nil || err2 != nil || to.Before(from) || to.Sub(from) > (MaxHorizonDays+1)*24*time.Hour {
		return nil, fmt.Errorf("%w: dates", ErrInvalid)
	}
	n := int(to.Sub(from)/(24*time.Hour)) + 3 // Tashkent's days are 24 hours
	sc := &Schedule{Crews: d.Crews, Closures: d.Closures, Rules: rules, Booked: make(map[string][]Reservation, n), byCrew: make(map[string]map[primitive.ObjectID][]Reservation, n),
		days: make(map[string]*bookedDay, n), crews: d.answer, memo: s.db.dayTimes}
	for day := from.AddDate(0, 0, -1); !day.After(to.AddDate(0, 0, 1)); day = day.AddDate(0, 0, 1) {
		date := day.Format(time.DateOnly)
		b, err := s.bookedDay(ctx, date)
		if err != nil {
			return nil, err
		}
		sc.Booked[date], sc.byCrew[date], sc.days[date] = b.all, b.byCrew, b
	}
	return sc, nil
}

// LoadAround is Load of at's day and the days after it, for a check of at
// and its alternatives.
func (s *ScheduleStore) LoadAround(ctx context.Context, at time.Time, daysAfter int) (*Schedule, error) {
	return s.Load(ctx, LocalDate(at), LocalDate(at.AddDate(0, 0, daysAfter)))
}

// Stranded are the visits to come whose crew no longer works for them: the
// crew is gone or inactive, or its hours or a closure no longer cover the
// visit. Saving hours or a closure never moves a booked visit; the admin
// sees these and decides (move, reassign, cancel with a reason).
func (s *ScheduleStore) Stranded(ctx context.Context, now time.Time) ([]Reservation, error) {
	rules, err := s.Rules(ctx)
	if err != nil {
		return nil, err
	}
	first, last := LocalDate(now), LocalDate(now.AddDate(0, 0, rules.HorizonDays))
	sc, err := s.Load(ctx, first, last)
	if err != nil {
		return nil, err
	}
	crews := make(map[primitive.ObjectID]*Crew, len(sc.Crews))
	for i := range sc.Crews {
		crews[sc.Crews[i].ID] = &sc.Crews[i]
	}
	var out []Reservation
	for day := now.In(Tashkent); LocalDate(day) <= last; day = day.AddDate(0, 0, 1) {
		for _, r := range sc.Booked[LocalDate(day)] {
			if !r.From.After(now) {
				continue // begun or past: too late to move
			}
			c := crews[r.CrewID]
			if c == nil || !c.Active || !sc.works(c, r.From, int(r.EndsAt.Sub(r.From)/time.Minute)) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}
