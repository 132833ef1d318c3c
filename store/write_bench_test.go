package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

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

// BenchmarkBookingOwnWrites is what no group of bookings can share, one
// write after the other as SQLite runs them: the booking's row in its
// customer's list (a document of that customer's, so each booking in a
// group writes its own) and its email's delivery record (recorded as each
// email is sent, so that a crash never sends one twice). One second over
// its time is the most bookings a second the embedded database could take
// on this machine with every other write shared by the groups and nothing
// else to do (go test -bench BookingOwnWrites ./store; make bench reports
// it beside booking's row).
func BenchmarkBookingOwnWrites(b *testing.B) {
	ctx := context.Background()
	db := storetest.Open(b)
	outbox := store.NewOutboxStore(db)
	service := primitive.NewObjectID()
	customers := make([]primitive.ObjectID, 200)
	for i := range customers {
		customers[i] = primitive.NewObjectID()
	}
	// Each customer's newest page half full, as a list's newest page is
	// on average.
	const filled = 10
	for _, c := range customers {
		for seq := int64(1); seq <= filled; seq++ {
			if err := store.SetCustomerRow(ctx, db, seq, benchRow(c, service, seq)); err != nil {
				b.Fatal(err)
			}
		}
	}
	now := time.Now().UTC()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := customers[i%len(customers)]
		seq := filled + 1 + int64(i/len(customers))
		if err := store.SetCustomerRow(ctx, db, seq, benchRow(c, service, seq)); err != nil {
			b.Fatal(err)
		}
		sent := store.Email{ID: primitive.NewObjectID(), To: fmt.Sprintf("mijoz%04d@example.uz", i%len(customers)), Subject: "Buyurtma #1042 qabul qilindi",
			Status: store.EmailPending, NextAttemptAt: now, CreatedAt: now}
		if err := outbox.RecordSent(ctx, &sent, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "bookings/s")
}

func benchRow(customer, service primitive.ObjectID, seq int64) store.OrderSummary {
	at := time.Now().UTC().Truncate(time.Millisecond)
	return store.OrderSummary{ID: primitive.NewObjectID(), UserID: customer, CustomerName: "mijoz", ServiceID: service, ServiceName: "Umumiy tozalash",
		ServiceNames: store.Texts{Uz: "Umumiy tozalash", Ru: "Генеральная уборка", En: "Deep cleaning"}, Status: store.StatusPending, Price: 450_000,
		ScheduledAt: at.Add(48 * time.Hour), Address: "Yunusobod 4-mavze, 12-uy", Phone: "+998901234567", Seq: 20_000 + seq, CustomerSeq: seq, UpdatedAt: at, MadeAt: at}
}
