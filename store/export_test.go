package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/mongo"
)

// FailEmbedded records err as the failure of db's embedded server, as its
// Run returning unasked would, while the server itself goes on answering:
// a test shows that the record, not a failed ping, is what reports it.
func FailEmbedded(db *DB, err error) { db.embedded.ran(func() error { return err }) }

// SetLeaseTTL shortens how long a lease outlives its holder, for a test.
func SetLeaseTTL(d time.Duration) (restore func()) {
	old := leaseTTL
	leaseTTL = d
	return func() { leaseTTL = old }
}

// PrunePresence runs what Maintain runs once a minute.
func PrunePresence(db *DB, now time.Time) error { return db.prunePresence(context.Background(), now) }

// SetCustomerRows writes rows in their customers' lists, each at its
// CustomerSeq, in one command as a booking group does (reprojectMany).
func SetCustomerRows(ctx context.Context, db *DB, rows []OrderSummary) error {
	var models []mongo.WriteModel
	for _, r := range rows {
		models = append(models, customerPages(r.UserID).setModels([]int64{r.CustomerSeq}, []OrderSummary{r})...)
	}
	return db.bulkUpsert(ctx, colCustomerOrders, models)
}
