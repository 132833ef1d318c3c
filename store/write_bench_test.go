package store_test

import (
	"context"
	"fmt"
	"sync"
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

// BenchmarkBookingOwnWrites is what no group of bookings can share: each
// booking's row in its customer's list (a document of that customer's; the
// rows of a group go in one command, as reprojectMany sends them) and its
// email's delivery record (written as each email is sent, so that a crash
// never sends one twice), the first by a writer standing for the groups'
// commits and the second by one standing for the mail worker, side by
// side. (Each customer's list head is a write of its own too, left out: a
// list could keep its head in its newest page.) One second over its time a
// booking is the most bookings a second the embedded database could take on
// this machine were every other write shared and nothing else running (go
// test -bench BookingOwnWrites ./store; make bench reports it beside
// booking's row).
func BenchmarkBookingOwnWrites(b *testing.B) {
	ctx := context.Background()
	db := storetest.Open(b)
	outbox := store.NewOutboxStore(db)
	const (
		customers = 240
		group     = 24 // bookings in a group, as make bench's booking row makes them
		filled    = 10 // rows in each list's newest page before the first booking
	)
	// Each customer's row k (the k-th order) is one order throughout, so a
	// page is written again, never past the 19 rows the lists hold before
	// they turn a page: 10 to 19 rows, whatever b.N.
	rows := make([][]store.OrderSummary, customers)
	service := primitive.NewObjectID()
	var first []store.OrderSummary
	for c := range rows {
		customer := primitive.NewObjectID()
		for seq := int64(1); seq < 20; seq++ {
			rows[c] = append(rows[c], benchRow(customer, service, seq))
		}
		first = append(first, rows[c][:filled]...)
	}
	for len(first) > 0 {
		n := min(len(first), group)
		if err := store.SetCustomerRows(ctx, db, first[:n]); err != nil {
			b.Fatal(err)
		}
		first = first[n:]
	}
	now := time.Now().UTC()
	b.ResetTimer()
	// The groups' commits and the mail worker, side by side, each one
	// write after another as each of them writes.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		pending := make([]store.OrderSummary, 0, group)
		for k := 0; k < b.N; k++ {
			c := k % customers
			pending = append(pending, rows[c][filled+k/customers%(19-filled)])
			if len(pending) == group || k == b.N-1 {
				if err := store.SetCustomerRows(ctx, db, pending); err != nil {
					b.Error(err)
					return
				}
				pending = pending[:0]
			}
		}
	}()
	go func() {
		defer wg.Done()
		for k := 0; k < b.N; k++ {
			sent := store.Email{ID: primitive.NewObjectID(), To: fmt.Sprintf("mijoz%04d@example.uz", k%customers), Subject: "Buyurtma #1042 qabul qilindi",
				Status: store.EmailPending, NextAttemptAt: now, CreatedAt: now}
			if err := outbox.RecordSent(ctx, &sent, now); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "bookings/s")
}

// benchRow is a row as a booking makes it (Order.Summary), of a visit with
// a crew.
func benchRow(customer, service primitive.ObjectID, seq int64) store.OrderSummary {
	at := time.Now().UTC().Truncate(time.Millisecond)
	o := store.Order{ID: primitive.NewObjectID(), UserID: customer, CustomerName: "mijoz", ServiceID: service, ServiceName: "Umumiy tozalash",
		ServiceNames: store.Texts{Uz: "Umumiy tozalash", Ru: "Генеральная уборка", En: "Deep cleaning"}, Status: store.StatusPending, Price: 450_000,
		ScheduledAt: at.Add(48 * time.Hour), EndsAt: at.Add(50 * time.Hour), Address: "Yunusobod 4-mavze, 12-uy", Phone: "+998901234567",
		Seq: 20_000 + seq, CustomerSeq: seq, CreatedAt: at, UpdatedAt: at, CrewID: primitive.NewObjectID(), CrewName: "Brigada 7"}
	return o.Summary()
}
