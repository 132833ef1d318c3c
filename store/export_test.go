package store

import (
	"context"
	"time"
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

// SetCustomerRow writes row at seq in its customer's list, as a booking
// group does for each booking.
func SetCustomerRow(ctx context.Context, db *DB, seq int64, row OrderSummary) error {
	return customerPages(row.UserID).set(ctx, db, seq, row)
}
