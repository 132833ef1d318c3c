package store_test

import (
	"context"
	"testing"

	"tozalash/store"
	"tozalash/store/storetest"
)

// BenchmarkSmallestWrite is the floor under every write on the embedded
// database: an $inc of a one-field document, by _id (go test -bench
// SmallestWrite ./store). Booking's figures in bench/RESULTS.md are
// multiples of it.
func BenchmarkSmallestWrite(b *testing.B) {
	ctx := context.Background()
	counters := store.NewCounterStore(storetest.Open(b))
	for i := 0; i < b.N; i++ {
		if err := counters.Add(ctx, "floor", 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSmallestRead is an _id look-up of the same document, past the
// cache: what the cache saves a read.
func BenchmarkSmallestRead(b *testing.B) {
	ctx := context.Background()
	db := storetest.OpenNamed(b, storetest.DBName(b)) // not the sole writer: no cache
	counters := store.NewCounterStore(db)
	if err := counters.Add(ctx, "floor", 1); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := counters.Get(ctx, "floor"); err != nil {
			b.Fatal(err)
		}
	}
}
