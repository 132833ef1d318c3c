package store

import (
	"context"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// ByIDs returns the orders of ids that exist, by id, in one query: an
// export reads a page of the board's rows and then their whole orders
// (notes, history), a page at a time.
func (s *OrderStore) ByIDs(ctx context.Context, ids []primitive.ObjectID) (map[primitive.ObjectID]*Order, error) {
	out := make(map[primitive.ObjectID]*Order, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cur, err := s.db.col(colOrders).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, translate(err)
	}
	var list []Order
	if err := cur.All(ctx, &list); err != nil {
		return nil, translate(err)
	}
	for i := range list {
		out[list[i].ID] = &list[i]
	}
	return out, nil
}
