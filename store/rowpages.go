package store

import (
	"context"
	"errors"
	"sort"
	"strconv"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// rowPages is a list of order rows kept size rows to a document, by a
// sequence number that grows with every order: {_id: prefix + seq/size,
// rows: {orderHex: row}}. Reading the newest rows is a few _id look-ups of
// small documents, however long the list; a row is set or removed with a
// dotted path, atomically, on MongoDB and FerretDB alike. Two lists use it:
// the board (every order, by Order.Seq) and each customer's "My orders" (by
// Order.CustomerSeq).
type rowPages struct {
	col    string
	prefix string
	size   int64
}

var boardPages = rowPages{col: colOrderPages, size: 25}

// customerPages is the list of one customer's orders; its head document,
// {_id: userHex, n}, numbers them.
func customerPages(userID primitive.ObjectID) rowPages {
	return rowPages{col: colCustomerOrders, prefix: userID.Hex() + ":", size: 20}
}

// id is the _id of the document holding seq: a string, because FerretDB
// looks up only a string or ObjectID _id by index and scans for any other.
func (p rowPages) id(seq int64) string { return p.prefix + strconv.FormatInt(seq/p.size, 10) }

type rowPage struct {
	Rows map[string]packedRow `bson:"rows"`
}

// packedRow is a row as a list document stores it: packed (see pack).
type packedRow struct{ OrderSummary }

func (r packedRow) MarshalBSONValue() (bsontype.Type, []byte, error) { return pack(r.OrderSummary) }

func (r *packedRow) UnmarshalBSONValue(t bsontype.Type, data []byte) error {
	return unpack(t, data, &r.OrderSummary, "a list's row")
}

// set writes row at seq.
func (p rowPages) set(ctx context.Context, db *DB, seq int64, row OrderSummary) error {
	_, err := db.col(p.col).UpdateOne(ctx, bson.D{{Key: "_id", Value: p.id(seq)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "rows." + row.ID.Hex(), Value: packedRow{row}}}}}, options.Update().SetUpsert(true))
	return err
}

// unset removes the row of order id at seq.
func (p rowPages) unset(ctx context.Context, db *DB, seq int64, id primitive.ObjectID) error {
	_, err := db.col(p.col).UpdateOne(ctx, bson.D{{Key: "_id", Value: p.id(seq)}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "rows." + id.Hex(), Value: ""}}}})
	return err
}

// setMany writes rows, each at its seq, one update per document.
func (p rowPages) setMany(ctx context.Context, db *DB, seqs []int64, rows []OrderSummary) error {
	return db.bulkUpsert(ctx, p.col, p.setModels(seqs, rows))
}

// setModels are the updates that write rows, each at its seq: one per
// document.
func (p rowPages) setModels(seqs []int64, rows []OrderSummary) []mongo.WriteModel {
	byDoc := map[string]bson.D{}
	var ids []string
	for i, r := range rows {
		id := p.id(seqs[i])
		if _, ok := byDoc[id]; !ok {
			ids = append(ids, id)
		}
		byDoc[id] = append(byDoc[id], bson.E{Key: "rows." + r.ID.Hex(), Value: packedRow{r}})
	}
	models := make([]mongo.WriteModel, len(ids))
	for i, id := range ids {
		models[i] = mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: id}}).
			SetUpdate(bson.D{{Key: "$set", Value: byDoc[id]}}).SetUpsert(true)
	}
	return models
}

// read returns the rows of the document holding seq, decoded once for
// each answer of the document cache (every page of My orders and the
// board reads a few of them) and shared: the caller must not change the
// map (a row copied out of it is the caller's).
func (p rowPages) read(ctx context.Context, db *DB, seq int64) (map[string]OrderSummary, error) {
	v, err := db.findShared(ctx, p.col, p.id(seq), func(raw bson.Raw) (any, error) {
		var doc rowPage
		if err := bson.Unmarshal(raw, &doc); err != nil {
			return nil, err
		}
		rows := make(map[string]OrderSummary, len(doc.Rows))
		for k, r := range doc.Rows {
			r.CreatedAt = r.ID.Timestamp().UTC()
			rows[k] = r.OrderSummary
		}
		return rows, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return v.(map[string]OrderSummary), nil
}

// newest returns a page of the rows matching f (f.Before aside), newest
// first: those numbered from and below, reading the documents back until
// the page is full. "Newest" is by number, which is the order the orders
// were made in, so no document beyond the page is read.
func (p rowPages) newest(ctx context.Context, db *DB, from int64, f OrderFilter) ([]OrderSummary, primitive.ObjectID, error) {
	rows := []OrderSummary{}
	for k := from / p.size; k >= 0 && len(rows) <= f.Limit && from > 0; k-- {
		doc, err := p.read(ctx, db, k*p.size)
		if err != nil {
			return nil, primitive.NilObjectID, err
		}
		for _, r := range doc {
			if p.seqOf(&r) <= from && f.match(&r) {
				rows = append(rows, r)
			}
		}
	}
	p.sortNewest(rows)
	var next primitive.ObjectID
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		next = rows[f.Limit-1].ID
	}
	return rows, next, nil
}

// each calls fn with every row matching f, a document at a time from the
// newest, newest first within it, and done after each document.
func (p rowPages) each(ctx context.Context, db *DB, from int64, f OrderFilter, fn func(OrderSummary) error, done func() error) error {
	for k := from / p.size; k >= 0; k-- {
		doc, err := p.read(ctx, db, k*p.size)
		if err != nil {
			return err
		}
		rows := make([]OrderSummary, 0, len(doc))
		for _, r := range doc {
			if f.match(&r) {
				rows = append(rows, r)
			}
		}
		p.sortNewest(rows)
		for i := range rows {
			if err := fn(rows[i]); err != nil {
				return err
			}
		}
		if err := done(); err != nil {
			return err
		}
	}
	return nil
}

// seqOf is the number of r in this list.
func (p rowPages) seqOf(r *OrderSummary) int64 {
	if p.col == colCustomerOrders {
		return r.CustomerSeq
	}
	return r.Seq
}

func (p rowPages) sortNewest(rows []OrderSummary) {
	sort.Slice(rows, func(i, j int) bool { return p.seqOf(&rows[i]) > p.seqOf(&rows[j]) })
}

// customerHead is the head of a customer's list: how many orders it has
// numbered.
type customerHead struct {
	N int64 `bson:"n"`
}

func (s *OrderStore) customerHead(ctx context.Context, userID primitive.ObjectID) (int64, error) {
	var h customerHead
	err := s.db.findByID(ctx, colCustomerOrders, userID.Hex(), &h)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	return h.N, err
}

// CustomerOrderCount is how many orders the customer has booked, cancelled
// and deleted ones too (a first-order-only promo code is for a customer
// with none): their list's head, one read by _id.
func (s *OrderStore) CustomerOrderCount(ctx context.Context, userID primitive.ObjectID) (int64, error) {
	return s.customerHead(ctx, userID)
}

// nextCustomerSeq numbers a new order of the customer: n after the $inc.
func (s *OrderStore) nextCustomerSeq(ctx context.Context, userID primitive.ObjectID, by int64) (int64, error) {
	var h customerHead
	err := s.db.findAndUpsertByID(ctx, colCustomerOrders, userID.Hex(), bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: by}}}}, true, &h)
	return h.N, err
}
