package store

import "time"

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
