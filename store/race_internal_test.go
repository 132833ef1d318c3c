package store

import (
	"context"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
)

// One group of bookings by 150 customers updates 150 list documents. The
// embedded database held a read open for each update of one command that
// found its document, and waited, at the hundredth, for a connection it
// held itself: the command never ended, nor did any query behind it.
func TestManyListDocumentsInOneWrite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, Options{DataDir: t.TempDir(), Database: "bulk"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var models []mongo.WriteModel
	for i := 0; i < 150; i++ {
		models = append(models, mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: "list" + strconv.Itoa(i)}}).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: i}}}}).SetUpsert(true))
	}
	for _, what := range []string{"made", "updated"} {
		if err := db.bulkUpsert(ctx, colCustomerOrders, models); err != nil {
			t.Fatalf("150 documents %s in one write: %v", what, err)
		}
	}
	n, err := db.col(colCustomerOrders).CountDocuments(ctx, bson.D{})
	if err != nil || n != 150 {
		t.Fatalf("%d list documents (%v), want 150", n, err)
	}
}
