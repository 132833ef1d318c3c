package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"golang.org/x/sync/errgroup"
)

// Reviews (#24): a customer rates a completed visit 1–5 with an optional
// comment, once per order, changeable for ReviewChangeWindow.
//
//	reviews       {_id: orderId, serviceId, crewId, userId, firstName, rating, comment, createdAt, updatedAt, hidden, hiddenReason, hiddenAt, hiddenBy}
//	reviewTallies {_id: "service:<hex>" | "crew:<hex>", v, rows: {orderHex: ReviewRow}}
//
// The review's _id is its order's: "once per order" is the unique _id, on
// every database and across instances, with no index of our own. A tally
// holds one row per review of its service (or crew), set by the review's
// id with a dotted path, so writing a row again is harmless and two
// reviews never undo each other; v grows with every write, and the page
// cache keys a service's page by it. Everything the service page, the
// public list and the dashboard show is read from tallies by _id: the
// embedded database would decode the whole reviews collection for any
// other filter.
const (
	colReviews       = "reviews"
	colReviewTallies = "reviewTallies"
)

// ReviewChangeWindow is how long after the first review its author may
// change it.
const ReviewChangeWindow = 7 * 24 * time.Hour

// ErrReviewLocked is a change of a review past ReviewChangeWindow.
var ErrReviewLocked = fmt.Errorf("%w: review can no longer be changed", ErrConflict)

// Review is a customer's rating of one completed visit.
type Review struct {
	ID           primitive.ObjectID `bson:"_id" json:"orderId"` // the order's id
	ServiceID    primitive.ObjectID `bson:"serviceId" json:"serviceId"`
	CrewID       primitive.ObjectID `bson:"crewId,omitempty" json:"crewId,omitempty"`
	UserID       primitive.ObjectID `bson:"userId" json:"-"`
	FirstName    string             `bson:"firstName" json:"firstName"` // all a public page shows of who wrote it
	Rating       int                `bson:"rating" json:"rating"`
	Comment      string             `bson:"comment" json:"comment"`
	CreatedAt    time.Time          `bson:"createdAt" json:"createdAt"`
	UpdatedAt    time.Time          `bson:"updatedAt" json:"updatedAt"`
	Hidden       bool               `bson:"hidden" json:"hidden"`
	HiddenReason string             `bson:"hiddenReason,omitempty" json:"hiddenReason,omitempty"`
	HiddenAt     time.Time          `bson:"hiddenAt,omitempty" json:"hiddenAt,omitempty"`
	HiddenBy     string             `bson:"hiddenBy,omitempty" json:"hiddenBy,omitempty"`
}

// Changeable reports whether the review may still be changed at now.
func (r *Review) Changeable(now time.Time) bool {
	return now.Before(r.CreatedAt.Add(ReviewChangeWindow))
}

// ReviewRow is a review as a tally holds it.
type ReviewRow struct {
	OrderID   string    `bson:"orderId" json:"orderId"`
	Rating    int       `bson:"rating" json:"rating"`
	FirstName string    `bson:"firstName" json:"firstName"`
	Comment   string    `bson:"comment" json:"comment"`
	At        time.Time `bson:"at" json:"createdAt"` // the first review's time: the list's order
	Hidden    bool      `bson:"hidden" json:"hidden,omitempty"`
	Reason    string    `bson:"reason,omitempty" json:"hiddenReason,omitempty"`
	ServiceID string    `bson:"serviceId" json:"serviceId,omitempty"`
	CrewName  string    `bson:"crewName,omitempty" json:"-"`
}

func (r *Review) row(crewName string) ReviewRow {
	return ReviewRow{OrderID: r.ID.Hex(), Rating: r.Rating, FirstName: r.FirstName, Comment: r.Comment, At: r.CreatedAt,
		Hidden: r.Hidden, Reason: r.HiddenReason, ServiceID: r.ServiceID.Hex(), CrewName: crewName}
}

// Rating is the average of the visible reviews, to one decimal.
type Rating struct {
	Average float64 `json:"average"`
	Count   int     `json:"count"`
}

// Tally is the reviews of one service or crew.
type Tally struct {
	V    int64                `bson:"v"`
	Rows map[string]ReviewRow `bson:"rows"`
}

// Rating is the average and count of the rows not hidden.
func (t *Tally) Rating() Rating {
	var sum, n int
	for _, r := range t.Rows {
		if !r.Hidden {
			sum += r.Rating
			n++
		}
	}
	if n == 0 {
		return Rating{}
	}
	return Rating{Average: math.Round(float64(sum)/float64(n)*10) / 10, Count: n}
}

// Newest is the rows newest first, the hidden ones only when withHidden.
func (t *Tally) Newest(withHidden bool) []ReviewRow {
	out := make([]ReviewRow, 0, len(t.Rows))
	for _, r := range t.Rows {
		if withHidden || !r.Hidden {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.After(out[j].At)
		}
		return out[i].OrderID > out[j].OrderID
	})
	return out
}

func serviceTally(id primitive.ObjectID) string { return "service:" + id.Hex() }
func crewTally(id primitive.ObjectID) string    { return "crew:" + id.Hex() }

// FirstName is the first word of a customer's name, else their username:
// what public pages show of who wrote a review.
func FirstName(u *User) string {
	if f := strings.Fields(u.Name); len(f) > 0 {
		return f[0]
	}
	return u.Username
}

// ReviewStore keeps the reviews and their tallies.
type ReviewStore struct{ db *DB }

func NewReviewStore(db *DB) *ReviewStore { return &ReviewStore{db: db} }

// Get reads the review of order id.
func (s *ReviewStore) Get(ctx context.Context, orderID primitive.ObjectID) (*Review, error) {
	var r Review
	if err := s.db.findByID(ctx, colReviews, orderID, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Create stores the review of a completed order, and its rows in the
// tallies. A second review of the order is ErrConflict; that refusal also
// writes the stored review's rows again, so a create whose tallies a crash
// cut short is completed by its retry.
func (s *ReviewStore) Create(ctx context.Context, r *Review, crewName string) error {
	return s.db.write(func() error {
		_, err := s.db.col(colReviews).InsertOne(ctx, r)
		if err = translate(err); errors.Is(err, ErrConflict) {
			if stored, gerr := s.Get(ctx, r.ID); gerr == nil {
				if terr := s.setRows(ctx, stored, crewName); terr != nil {
					return terr
				}
			}
			return fmt.Errorf("%w: the order has a review", ErrConflict)
		}
		if err != nil {
			return err
		}
		return s.setRows(ctx, r, crewName)
	})
}

// Change sets the rating and comment of the review of order id, while
// within ReviewChangeWindow of its creation at now (else ErrReviewLocked).
func (s *ReviewStore) Change(ctx context.Context, orderID primitive.ObjectID, rating int, comment string, now time.Time, crewName string) (*Review, error) {
	var out *Review
	err := s.db.write(func() error {
		r, err := s.Get(ctx, orderID)
		if err != nil {
			return err
		}
		if !r.Changeable(now) {
			return ErrReviewLocked
		}
		r.Rating, r.Comment, r.UpdatedAt = rating, comment, now.UTC()
		if err := s.update(ctx, r); err != nil {
			return err
		}
		out = r
		return s.setRows(ctx, r, crewName)
	})
	return out, err
}

// Hide hides (or shows again) the review of order id, with the admin's
// reason: a hidden review leaves the public pages and the averages, and
// stays in the admin's lists with its reason.
func (s *ReviewStore) Hide(ctx context.Context, orderID primitive.ObjectID, hidden bool, reason, by string, now time.Time, crewName string) (*Review, error) {
	var out *Review
	err := s.db.write(func() error {
		r, err := s.Get(ctx, orderID)
		if err != nil {
			return err
		}
		r.Hidden, r.HiddenReason, r.HiddenBy, r.HiddenAt = hidden, reason, by, now.UTC()
		if !hidden {
			r.HiddenReason, r.HiddenBy, r.HiddenAt = "", "", time.Time{}
		}
		if err := s.update(ctx, r); err != nil {
			return err
		}
		out = r
		return s.setRows(ctx, r, crewName)
	})
	return out, err
}

// update writes the review's changeable fields by _id.
func (s *ReviewStore) update(ctx context.Context, r *Review) error {
	set := bson.D{{Key: "rating", Value: r.Rating}, {Key: "comment", Value: r.Comment}, {Key: "updatedAt", Value: r.UpdatedAt},
		{Key: "hidden", Value: r.Hidden}, {Key: "hiddenReason", Value: r.HiddenReason}, {Key: "hiddenAt", Value: r.HiddenAt}, {Key: "hiddenBy", Value: r.HiddenBy}}
	_, err := s.db.col(colReviews).UpdateOne(ctx, bson.D{{Key: "_id", Value: r.ID}}, bson.D{{Key: "$set", Value: set}})
	return translate(err)
}

// setRows writes the review's row into its service's and its crew's
// tallies, moving each one's version.
func (s *ReviewStore) setRows(ctx context.Context, r *Review, crewName string) error {
	ids := []string{serviceTally(r.ServiceID)}
	if !r.CrewID.IsZero() {
		ids = append(ids, crewTally(r.CrewID))
	}
	for _, id := range ids {
		update := bson.D{{Key: "$set", Value: bson.D{{Key: "rows." + r.ID.Hex(), Value: r.row(crewName)}}},
			{Key: "$inc", Value: bson.D{{Key: "v", Value: 1}}}}
		if err := translate(s.db.upsertByID(ctx, colReviewTallies, id, update)); err != nil {
			return err
		}
	}
	return s.rateService(ctx, r.ServiceID)
}

// rateService writes the service's rating as its tally stands now (read
// afresh, after this write's row), unless a write that saw a later tally
// wrote it already: each review's write keeps the catalogue's rating, and
// two of them at once end with the later tally's. Within db.write.
func (s *ReviewStore) rateService(ctx context.Context, service primitive.ObjectID) error {
	var t Tally
	err := s.db.col(colReviewTallies).FindOne(ctx, bson.D{{Key: "_id", Value: serviceTally(service)}}).Decode(&t)
	if err != nil {
		return translate(err)
	}
	older := bson.D{{Key: "ratingV", Value: bson.D{{Key: "$not", Value: bson.D{{Key: "$gte", Value: t.V}}}}}}
	if !s.db.filtersItself() {
		var cur Service
		err := translate(s.db.col(colServices).FindOne(ctx, bson.D{{Key: "_id", Value: service}}).Decode(&cur))
		if errors.Is(err, ErrNotFound) {
			return nil // no such service (gone): nothing shows its rating
		}
		if err != nil {
			return err
		}
		if cur.RatingV >= t.V {
			return nil
		}
		older = nil // checked: the embedded database's one process writes under the lock
	}
	res, err := s.db.col(colServices).UpdateOne(ctx, append(bson.D{{Key: "_id", Value: service}}, older...),
		bson.D{{Key: "$set", Value: bson.D{{Key: "rating", Value: t.Rating()}, {Key: "ratingV", Value: t.V}}}})
	if err != nil {
		return translate(err)
	}
	if res.ModifiedCount == 0 {
		return nil
	}
	return s.db.changedServices(ctx, 0) // the catalogue shows it
}

// ServiceTally reads the reviews of a service: one _id look-up (an empty
// tally when it has none). The tally is shared (see tally).
func (s *ReviewStore) ServiceTally(ctx context.Context, serviceID primitive.ObjectID) (*Tally, error) {
	return s.tally(ctx, serviceTally(serviceID))
}

// CrewTally reads the reviews of a crew, shared (see tally).
func (s *ReviewStore) CrewTally(ctx context.Context, crewID primitive.ObjectID) (*Tally, error) {
	return s.tally(ctx, crewTally(crewID))
}

// Tallies reads the tallies of services and of crews, in their orders
// (shared, see tally). The dashboard reads every one: when the cache has
// them (a busy dashboard) one after another, and when it has not (one
// admin's look a second finds every entry expired: about seventy reads
// under mixed load) eight at a time (readAtOnce). Either reads them right.
func (s *ReviewStore) Tallies(ctx context.Context, services, crews []primitive.ObjectID) (ofServices, ofCrews []*Tally, err error) {
	ids := make([]string, 0, len(services)+len(crews))
	for _, id := range services {
		ids = append(ids, serviceTally(id))
	}
	for _, id := range crews {
		ids = append(ids, crewTally(id))
	}
	all := make([]*Tally, len(ids))
	if s.readAtOnce(ids) {
		const runs = 8
		g, gctx := errgroup.WithContext(ctx)
		for r := range min(runs, len(ids)) {
			g.Go(func() error {
				for i := r; i < len(ids); i += runs {
					t, err := s.tally(gctx, ids[i])
					if err != nil {
						return err
					}
					all[i] = t
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, nil, err
		}
	} else {
		for i, id := range ids {
			if all[i], err = s.tally(ctx, id); err != nil {
				return nil, nil, err
			}
		}
	}
	return all[:len(services)], all[len(services):], nil
}

// readAtOnce tells whether Tallies reads ids at once: when the first or the
// last is not in the cache. The dashboard's reads fill them together, so
// they expire together; the first (a service's) may be kept fresh by the
// service's public page while the crews' expire, and the last (a crew's,
// which only the dashboard reads) tells those.
func (s *ReviewStore) readAtOnce(ids []string) bool {
	return len(ids) > 1 && (!s.db.cachedFresh(colReviewTallies, ids[0]) || !s.db.cachedFresh(colReviewTallies, ids[len(ids)-1]))
}

// tally reads tally id, decoded once for each answer of the document
// cache and shared: the dashboard reads every crew's and service's on each
// request. Callers must not change it.
func (s *ReviewStore) tally(ctx context.Context, id string) (*Tally, error) {
	v, err := s.db.findShared(ctx, colReviewTallies, id, func(raw bson.Raw) (any, error) {
		var t Tally
		if err := bson.Unmarshal(raw, &t); err != nil {
			return nil, err
		}
		if t.Rows == nil {
			t.Rows = map[string]ReviewRow{}
		}
		return &t, nil
	})
	if errors.Is(err, ErrNotFound) {
		return noReviews, nil
	}
	if err != nil {
		return nil, err
	}
	return v.(*Tally), nil
}

// noReviews is the tally of a service or crew without reviews. Nobody
// changes it.
var noReviews = &Tally{Rows: map[string]ReviewRow{}}
