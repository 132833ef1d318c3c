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

// The customers' lists and the board are written behind the orders: a
// reader of this process sees every booking, status change and delete at
// once; the database gets them when the loop (or a flush) writes them; a
// clean close writes them all.
func TestListsWrittenBehind(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	db := storetest.OpenSoleNamed(t, name)
	orders := store.NewOrderStore(db)
	alice := account(t, db, "alice")
	svc := primitive.NewObjectID()
	const n = 45 // more than two pages of a customer's list, and of the board
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := orders.Create(ctx, newOrder(alice, svc, fmt.Sprintf("k%d", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if db.ListsWaiting() == 0 {
		t.Fatal("no list document waits: the lists were written with the bookings")
	}
	// Another handle, which sees only the database, does not have them yet.
	other := store.NewOrderStore(storetest.OpenNamed(t, name))
	if items, _, err := other.ForCustomer(ctx, alice, primitive.NilObjectID, 100); err != nil || len(items) == n {
		t.Fatalf("the database alone lists %d of %d before the flush (%v)", len(items), n, err)
	}

	mine := func() []store.OrderSummary {
		t.Helper()
		items, _, err := orders.ForCustomer(ctx, alice, primitive.NilObjectID, 100)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	items := mine()
	if len(items) != n {
		t.Fatalf("alice sees %d of her %d orders", len(items), n)
	}
	// Newest first: by the customer's numbers, which follow the commits.
	last := int64(n + 1)
	for i, it := range items {
		o, err := orders.Get(ctx, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.CustomerSeq >= last {
			t.Fatalf("not newest first at %d: number %d after %d", i, o.CustomerSeq, last)
		}
		last = o.CustomerSeq
	}
	// A change and a delete while the rows wait.
	changed, gone := items[3].ID, items[10].ID
	if _, err := orders.Transition(ctx, changed, store.StatusCancelled, store.StatusChange{ByUserID: alice, Reason: "plans changed"}); err != nil {
		t.Fatal(err)
	}
	if err := orders.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	check := func(who string, list func() ([]store.OrderSummary, error)) {
		t.Helper()
		items, err := list()
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != n-1 {
			t.Errorf("%s: %d orders listed, want %d", who, len(items), n-1)
		}
		for _, it := range items {
			if it.ID == gone {
				t.Errorf("%s: the deleted order is listed", who)
			}
			if it.ID == changed && it.Status != store.StatusCancelled {
				t.Errorf("%s: the cancelled order is listed %s", who, it.Status)
			}
		}
	}
	check("alice, while waiting", func() ([]store.OrderSummary, error) {
		items, _, err := orders.ForCustomer(ctx, alice, primitive.NilObjectID, 100)
		return items, err
	})
	check("the board, while waiting", func() ([]store.OrderSummary, error) {
		items, _, err := orders.List(ctx, store.OrderFilter{Limit: 100})
		return items, err
	})
	// Paging through the waiting rows.
	first, next, err := orders.ForCustomer(ctx, alice, primitive.NilObjectID, 20)
	if err != nil || len(first) != 20 || next.IsZero() {
		t.Fatalf("first page: %d items, next %v, %v", len(first), next, err)
	}
	rest, _, err := orders.ForCustomer(ctx, alice, next, 100)
	if err != nil || len(first)+len(rest) != n-1 {
		t.Fatalf("the pages hold %d+%d, want %d (%v)", len(first), len(rest), n-1, err)
	}

	if err := db.FlushLists(ctx); err != nil {
		t.Fatal(err)
	}
	if w := db.ListsWaiting(); w != 0 {
		t.Errorf("%d documents still wait after the flush", w)
	}
	check("the database alone, after the flush", func() ([]store.OrderSummary, error) {
		items, _, err := other.ForCustomer(ctx, alice, primitive.NilObjectID, 100)
		return items, err
	})
	check("the board in the database, after the flush", func() ([]store.OrderSummary, error) {
		items, _, err := other.List(ctx, store.OrderFilter{Limit: 100})
		return items, err
	})

	// Bookings after the flush wait again; a clean close writes them.
	if err := orders.Create(ctx, newOrder(alice, svc, "after")); err != nil {
		t.Fatal(err)
	}
	if db.ListsWaiting() == 0 {
		t.Fatal("the new booking's rows do not wait")
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	items, _, err = other.ForCustomer(ctx, alice, primitive.NilObjectID, 100)
	if err != nil || len(items) != n {
		t.Errorf("after a clean close the database lists %d, want %d (%v)", len(items), n, err)
	}
}

// Numbers handed out ahead of the database stay unique under concurrent
// bookings of the same customers, across flushes by the loop, and a
// recount of the database afterwards agrees with them.
func TestListsBehindUnderConcurrentBookings(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	orders := store.NewOrderStore(db)
	users := []primitive.ObjectID{account(t, db, "a"), account(t, db, "b"), account(t, db, "c")}
	svc := primitive.NewObjectID()
	var wg sync.WaitGroup
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				u := users[(w+i)%len(users)]
				if err := orders.Create(ctx, newOrder(u, svc, fmt.Sprintf("w%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					if err := db.FlushLists(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	total := 0
	for _, u := range users {
		items, _, err := orders.ForCustomer(ctx, u, primitive.NilObjectID, 100)
		if err != nil {
			t.Fatal(err)
		}
		nums := map[int64]bool{}
		for _, it := range items {
			o, err := orders.Get(ctx, it.ID)
			if err != nil {
				t.Fatal(err)
			}
			if nums[o.CustomerSeq] || seen[o.Seq] {
				t.Errorf("number given twice: customer %d, board %d", o.CustomerSeq, o.Seq)
			}
			nums[o.CustomerSeq], seen[o.Seq] = true, true
		}
		total += len(items)
	}
	if total != 12*15 {
		t.Errorf("the lists hold %d orders, want %d", total, 12*15)
	}
	rep, err := db.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Orders != 12*15 || rep.Renumbered != 0 {
		t.Errorf("the recount: %+v", rep)
	}
	after := 0
	for _, u := range users {
		items, _, err := orders.ForCustomer(ctx, u, primitive.NilObjectID, 100)
		if err != nil {
			t.Fatal(err)
		}
		after += len(items)
	}
	if after != total {
		t.Errorf("after the recount the lists hold %d, before %d", after, total)
	}
}
