package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Promo codes live in promoCodes ({_id, code, …}, code unique). Each use
// by an order is a document in promoUses whose _id is a numbered slot of
// the code, "<codeId>#<k>", k from 1 to maxUses, and, where customers have
// a limit, one more of the customer's own slots, "<codeId>:<userId>#<k>".
// The unique _id hands each slot to one order on every database (an
// insert is atomic where FerretDB's filtered updates are not across
// processes), so a code's limit holds however many customers book at
// once. A booking that fails after its claim gives its slots back
// (Release); a cancelled order keeps its use.
const (
	colPromoCodes = "promoCodes"
	colPromoUses  = "promoUses"
)

// Promo codes' problems found at the claim, message ids as Problem's.
var (
	ErrPromoExhausted = errors.New("err.promo.exhausted")   // the code's uses are all taken
	ErrPromoUsedByYou = errors.New("err.promo.used_by_you") // the customer's own limit is reached
)

// promoUse is one order's slot of a code.
type promoUse struct {
	ID      string             `bson:"_id"`
	CodeID  primitive.ObjectID `bson:"codeId"`
	OrderID primitive.ObjectID `bson:"orderId"`
	UserID  primitive.ObjectID `bson:"userId"`
	At      time.Time          `bson:"at"`
}

// PromoCodeStore keeps the promo codes and their uses.
type PromoCodeStore struct{ db *DB }

// NewPromoCodeStore returns the promo codes of db.
func NewPromoCodeStore(db *DB) *PromoCodeStore { return &PromoCodeStore{db: db} }

// Create saves a new code; a code another has (whatever its case) is
// ErrConflict.
func (s *PromoCodeStore) Create(ctx context.Context, p *PromoCode) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	p.ID, p.Code, p.CreatedAt, p.UpdatedAt = primitive.NewObjectID(), NormalizeCode(p.Code), now, now
	if p.ServiceIDs == nil {
		p.ServiceIDs = []primitive.ObjectID{}
	}
	return s.db.write(func() error {
		_, err := s.db.col(colPromoCodes).InsertOne(ctx, p)
		return translate(err)
	})
}

// Get returns the code id with its uses.
func (s *PromoCodeStore) Get(ctx context.Context, id primitive.ObjectID) (*PromoCode, error) {
	var p PromoCode
	if err := translate(s.db.col(colPromoCodes).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&p)); err != nil {
		return nil, err
	}
	return &p, s.countUses(ctx, []*PromoCode{&p})
}

// ByCode finds a code as a customer typed it (any case); without its uses,
// which only a claim decides.
func (s *PromoCodeStore) ByCode(ctx context.Context, code string) (*PromoCode, error) {
	var p PromoCode
	err := s.db.col(colPromoCodes).FindOne(ctx, bson.D{{Key: "code", Value: NormalizeCode(code)}}).Decode(&p)
	if err != nil {
		return nil, translate(err)
	}
	return &p, nil
}

// List returns every code, newest first, with its uses. A company has tens
// of codes, not thousands: no pages.
func (s *PromoCodeStore) List(ctx context.Context) ([]*PromoCode, error) {
	cur, err := s.db.col(colPromoCodes).Find(ctx, bson.D{})
	if err != nil {
		return nil, translate(err)
	}
	var all []*PromoCode
	if err := cur.All(ctx, &all); err != nil {
		return nil, translate(err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID.Hex() > all[j].ID.Hex() })
	return all, s.countUses(ctx, all)
}

// Update replaces the code's terms with p's (the code itself may change,
// staying unique) and returns it as saved.
func (s *PromoCodeStore) Update(ctx context.Context, p *PromoCode) (*PromoCode, error) {
	p.Code, p.UpdatedAt = NormalizeCode(p.Code), time.Now().UTC().Truncate(time.Millisecond)
	if p.ServiceIDs == nil {
		p.ServiceIDs = []primitive.ObjectID{}
	}
	err := s.db.write(func() error {
		res, err := s.db.col(colPromoCodes).UpdateOne(ctx, bson.D{{Key: "_id", Value: p.ID}}, bson.D{{Key: "$set", Value: bson.D{
			{Key: "code", Value: p.Code}, {Key: "percentOff", Value: p.PercentOff}, {Key: "amountOff", Value: p.AmountOff},
			{Key: "validFrom", Value: p.ValidFrom}, {Key: "validTo", Value: p.ValidTo},
			{Key: "maxUses", Value: p.MaxUses}, {Key: "maxUsesPerCustomer", Value: p.MaxUsesPerCustomer},
			{Key: "serviceIds", Value: p.ServiceIDs}, {Key: "firstOrderOnly", Value: p.FirstOrderOnly},
			{Key: "active", Value: p.Active}, {Key: "updatedAt", Value: p.UpdatedAt},
		}}})
		if err == nil && res.MatchedCount == 0 {
			return ErrNotFound
		}
		return translate(err)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, p.ID)
}

// countUses fills each code's Uses: its slots taken.
func (s *PromoCodeStore) countUses(ctx context.Context, codes []*PromoCode) error {
	if len(codes) == 0 {
		return nil
	}
	byID := map[primitive.ObjectID]*PromoCode{}
	ids := make([]primitive.ObjectID, len(codes))
	for i, p := range codes {
		byID[p.ID], ids[i] = p, p.ID
	}
	cur, err := s.db.col(colPromoUses).Find(ctx, bson.D{{Key: "codeId", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "codeId", Value: 1}}))
	if err != nil {
		return translate(err)
	}
	var uses []promoUse
	if err := cur.All(ctx, &uses); err != nil {
		return translate(err)
	}
	for _, u := range uses {
		if p := byID[u.CodeID]; p != nil && isTotalSlot(u.ID, p.ID) {
			p.Uses++
		}
	}
	return nil
}

func slotID(prefix string, k int) string { return prefix + "#" + strconv.Itoa(k) }

// isTotalSlot tells a slot of the code's limit ("<codeId>#k") from a
// customer's ("<codeId>:<userId>#k").
func isTotalSlot(id string, code primitive.ObjectID) bool {
	return len(id) > 25 && id[:24] == code.Hex() && id[24] == '#'
}

// Claim takes a use of p for order, booked by user: one of the customer's
// slots where they have a limit, then one of the code's. It is
// ErrPromoUsedByYou or ErrPromoExhausted when none is free, having taken
// nothing.
func (s *PromoCodeStore) Claim(ctx context.Context, p *PromoCode, user, order primitive.ObjectID) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	use := promoUse{CodeID: p.ID, OrderID: order, UserID: user, At: now}
	if p.MaxUsesPerCustomer > 0 {
		got, err := s.takeSlot(ctx, use, p.ID.Hex()+":"+user.Hex(), 1, p.MaxUsesPerCustomer)
		if err != nil {
			return s.giveBack(ctx, order, err)
		}
		if !got {
			return ErrPromoUsedByYou
		}
	}
	hint, err := s.db.counter(ctx, promoHint(p.ID))
	if err != nil {
		return s.giveBack(ctx, order, err)
	}
	limit := p.MaxUses
	if limit == 0 {
		limit = int(^uint(0) >> 1) // no limit: the next free slot
	}
	// From the hint on (a count of the claims made, kept by $inc: behind
	// when a $inc is lost on FerretDB, ahead when a failed booking gave its
	// slot back), then, once, the slots below it.
	start := int(min(max(hint, 0), int64(limit))) + 1
	got, err := s.takeSlot(ctx, use, p.ID.Hex(), start, limit)
	if err == nil && !got {
		got, err = s.takeSlot(ctx, use, p.ID.Hex(), 1, start-1)
	}
	if err != nil {
		return s.giveBack(ctx, order, err)
	}
	if !got {
		return s.giveBack(ctx, order, ErrPromoExhausted)
	}
	if err := s.db.write(func() error { return translate(s.db.addCounter(ctx, promoHint(p.ID), 1)) }); err != nil {
		return s.giveBack(ctx, order, err)
	}
	return nil
}

func promoHint(code primitive.ObjectID) string { return "promo:" + code.Hex() }

// takeSlot inserts use as the first free slot prefix#from … prefix#to and
// reports whether it got one.
func (s *PromoCodeStore) takeSlot(ctx context.Context, use promoUse, prefix string, from, to int) (bool, error) {
	for k := from; k <= to; k++ {
		use.ID = slotID(prefix, k)
		err := s.db.write(func() error {
			_, err := s.db.col(colPromoUses).InsertOne(ctx, use)
			return translate(err)
		})
		if err == nil {
			return true, nil
		}
		if !isConflict(err) {
			return false, err
		}
	}
	return false, nil
}

// giveBack releases what order took and returns err.
func (s *PromoCodeStore) giveBack(ctx context.Context, order primitive.ObjectID, err error) error {
	if rerr := s.Release(ctx, order); rerr != nil {
		return fmt.Errorf("%w (and its claim stays: %v)", err, rerr)
	}
	return err
}

// Release gives back the slots order took: its booking failed, or was a
// retry of one already made.
func (s *PromoCodeStore) Release(ctx context.Context, order primitive.ObjectID) error {
	return s.db.write(func() error {
		_, err := s.db.col(colPromoUses).DeleteMany(ctx, bson.D{{Key: "orderId", Value: order}})
		return translate(err)
	})
}
