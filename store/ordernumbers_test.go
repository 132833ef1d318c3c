package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// #19 item 6: many bookings at once, through two connections to one
// database (as two instances), get distinct numbers, each the one its
// order keeps and the board's filter finds.
func TestConcurrentBookingsGetDistinctNumbers(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	instances := []*store.OrderStore{store.NewOrderStore(db), store.NewOrderStore(storetest.OpenNamed(t, db.Name()))}
	svc := primitive.NewObjectID()
	customers := []primitive.ObjectID{account(t, db, "aziz"), account(t, db, "dilnoza"), account(t, db, "jasur")}
	const n = 60
	made := make([]*store.Order, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := newOrder(customers[i%len(customers)], svc, fmt.Sprintf("num-%d", i))
			errs[i] = instances[i%2].Create(ctx, o)
			made[i] = o
		}()
	}
	wg.Wait()
	seen := map[int64]int{}
	for i, o := range made {
		if errs[i] != nil {
			t.Fatalf("booking %d: %v", i, errs[i])
		}
		stored, err := instances[0].Get(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Seq <= 0 || stored.Seq != o.Seq {
			t.Errorf("booking %d: number %d, stored %d", i, o.Seq, stored.Seq)
		}
		if j, dup := seen[stored.Seq]; dup {
			t.Errorf("bookings %d and %d both got #%d", j, i, stored.Seq)
		}
		seen[stored.Seq] = i
	}
	// The board finds an order by its number, written either way.
	pick := made[n/2]
	for _, q := range []string{fmt.Sprintf("#%d", pick.Seq), fmt.Sprintf("%d", pick.Seq)} {
		rows, _, err := instances[1].List(ctx, store.OrderFilter{Text: q, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range rows {
			found = found || r.ID == pick.ID
			if q[0] == '#' && r.ID != pick.ID {
				t.Errorf("q=%s also found #%d", q, r.Seq)
			}
		}
		if !found {
			t.Errorf("q=%s did not find the order", q)
		}
	}
}
