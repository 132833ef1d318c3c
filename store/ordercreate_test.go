package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// Bookings that arrive together are committed as a group: every one made
// is numbered once, counted once and listed once, and a repeated
// idempotency key inside a group is refused alone, counted nowhere.
func TestBookingsCommittedTogether(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	orders := store.NewOrderStore(db)
	const customers, each = 4, 12
	users := make([]primitive.ObjectID, customers)
	for i := range users {
		users[i] = account(t, db, fmt.Sprintf("guruh%d", i))
	}
	svc := primitive.NewObjectID()
	var mu sync.Mutex
	made := map[primitive.ObjectID]int{} // per customer
	refused := 0
	var wg sync.WaitGroup
	for c := range users {
		for i := 0; i < each; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Every third booking repeats the key of the one before it.
				key := fmt.Sprintf("k%d", i-i%3/2)
				err := orders.Create(ctx, newOrder(users[c], svc, key))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					made[users[c]]++
				case errors.Is(err, store.ErrConflict):
					refused++
				default:
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	total := 0
	for _, n := range made {
		total += n
	}
	if refused == 0 || total+refused != customers*each {
		t.Fatalf("%d made and %d refused of %d", total, refused, customers*each)
	}
	tt := totals(t, orders)
	if tt.N != int64(total) || tt.ByStatus[store.StatusPending] != int64(total) || tt.ByService[svc.Hex()] != int64(total) {
		t.Errorf("totals %+v, want %d orders", tt, total)
	}
	seqs := map[int64]bool{}
	listed := 0
	for _, u := range users {
		items, _, err := orders.ForCustomer(ctx, u, primitive.NilObjectID, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != made[u] {
			t.Errorf("customer lists %d orders, made %d", len(items), made[u])
		}
		for _, it := range items {
			o, err := orders.Get(ctx, it.ID)
			if err != nil {
				t.Fatal(err)
			}
			if seqs[o.Seq] {
				t.Errorf("Seq %d given twice", o.Seq)
			}
			seqs[o.Seq] = true
			listed++
		}
	}
	board, _, err := orders.List(ctx, store.OrderFilter{Limit: 100})
	if err != nil || len(board) != total || listed != total {
		t.Errorf("the board lists %d, the customers %d, of %d made (%v)", len(board), listed, total, err)
	}
	// A recount finds nothing to correct.
	before := totals(t, orders)
	if _, err := db.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if after := totals(t, orders); after.N != before.N || after.ByStatus[store.StatusPending] != before.ByStatus[store.StatusPending] {
		t.Errorf("the recount changed the totals: %+v → %+v", before, after)
	}
}
