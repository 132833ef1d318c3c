package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/event"
)

// testServer is an embedded FerretDB for this package's internal tests
// (storetest, which starts the others' databases, imports this package).
var testServer = sync.OnceValues(func() (*Embedded, error) {
	dir, err := os.MkdirTemp("", "tozalash-internal-")
	if err != nil {
		return nil, err
	}
	return StartEmbedded(dir, nil)
})

// openForTest opens the named database as the test profile does: the
// embedded database's own way, or by URI alone in the shared profile (the
// code path of a MONGODB_URI deployment).
func openForTest(t *testing.T, name string) *DB {
	t.Helper()
	return openWatchingForTest(t, name, nil)
}

// openWatchingForTest is openForTest whose commands are shown to watch
// (nil: none) before they are sent.
func openWatchingForTest(t *testing.T, name string, watch func(*event.CommandStartedEvent)) *DB {
	t.Helper()
	e, err := testServer()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{URI: e.URI, Database: name, Embedded: e, OnCommand: watch}
	if os.Getenv("TOZALASH_TEST_DB") == "shared" {
		opts.Embedded = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.Drop(context.Background())
		_ = db.Close(context.Background())
	})
	return db
}

// A write cut off at any step, as by kill -9, is finished by another
// instance from the journal: afterwards the lists and every counter are
// what a recount makes of the orders there are, and a second repair
// changes nothing.
func TestJournalRepairsWritesCutOffAtEveryStep(t *testing.T) {
	ctx := context.Background()
	steps := map[string][]string{
		"book":       {"journaled", "written", "counted", "settled"},
		"transition": {"journaled", "written", "counted"},
		"update":     {"written"},
		"delete":     {"journaled", "written"},
	}
	for kind, cuts := range steps {
		for _, step := range cuts {
			t.Run(kind+"/"+step, func(t *testing.T) {
				name := fmt.Sprintf("j_%s_%s_%d", kind, step, time.Now().UnixNano()%1e6)
				crashing, survivor := openForTest(t, name), openForTest(t, name)
				orders := NewOrderStore(crashing)
				u := &User{Username: "cut", Email: "cut@example.uz", Role: RoleUser}
				if err := NewUserStore(crashing).Create(ctx, u); err != nil {
					t.Fatal(err)
				}
				customer, service := u.ID, primitive.NewObjectID()
				book := func(key string) *Order {
					o := &Order{UserID: customer, ServiceID: service, Price: 300000, ScheduledAt: time.Now().Add(48 * time.Hour).UTC(), IdempotencyKey: key}
					if err := orders.Create(ctx, o); err != nil {
						t.Fatalf("book %s: %v", key, err)
					}
					return o
				}
				first := book("first")
				second := book("second")
				for _, o := range []*Order{first, second} { // one step from done
					if _, err := orders.Advance(ctx, o.ID, StatusInProgress, StatusChange{}); err != nil {
						t.Fatal(err)
					}
				}
				orders.cutAt = step
				var err error
				switch kind {
				case "book":
					err = orders.Create(ctx, &Order{UserID: customer, ServiceID: service, Price: 250000, ScheduledAt: time.Now().Add(72 * time.Hour).UTC(), IdempotencyKey: "cut"})
				case "transition":
					_, err = orders.Transition(ctx, first.ID, StatusCompleted, StatusChange{ByUserID: customer})
				case "update":
					if _, err = orders.Transition(ctx, first.ID, StatusCompleted, StatusChange{ByUserID: customer}); err == nil {
						t.Fatal("the transition was not cut")
					}
					orders.cutAt = ""
					if _, err := orders.Transition(ctx, second.ID, StatusCompleted, StatusChange{ByUserID: customer}); err != nil {
						t.Fatal(err)
					}
					orders.cutAt = step
					price := int64(400000)
					_, err = orders.Update(ctx, second.ID, OrderChange{Price: &price}, false)
				case "delete":
					err = orders.Delete(ctx, second.ID)
				}
				if !errors.Is(err, errCut) {
					t.Fatalf("the write was not cut off: %v", err)
				}
				// The crashing instance is gone; the survivor repairs at once
				// for an instance it knows dead, else after journalStale.
				later := time.Now().UTC().Add(journalStale + time.Second)
				n, err := survivor.RepairJournal(ctx, later)
				if err != nil {
					t.Fatal(err)
				}
				if kind != "update" && n != 1 || kind == "update" && n != 2 {
					t.Errorf("repaired %d writes", n)
				}
				repaired := snapshot(t, survivor)
				if n, _ := survivor.RepairJournal(ctx, later); n != 0 {
					t.Errorf("a second repair found %d writes", n)
				}
				if _, err := survivor.Reconcile(ctx); err != nil {
					t.Fatal(err)
				}
				recounted := snapshot(t, survivor)
				if !reflect.DeepEqual(repaired, recounted) {
					t.Errorf("after the repair:\n%+v\na recount:\n%+v", repaired, recounted)
				}
			})
		}
	}
}

// stateOf is what a user sees of the orders: the totals, today's counts,
// a customer's list and the board.
type stateOf struct {
	Totals   OrderTotals
	Days     []DayCount
	Lists    map[string][]string
	Journals int
}

func snapshot(t *testing.T, d *DB) stateOf {
	t.Helper()
	ctx := context.Background()
	st, err := d.Statistics(ctx, time.Now(), 3)
	if err != nil {
		t.Fatal(err)
	}
	orders := NewOrderStore(d)
	out := stateOf{Totals: st.Orders, Days: st.PerDay, Lists: map[string][]string{}}
	out.Totals.Seq = 0 // numbers of orders never made stay unused
	for _, m := range []map[string]int64{out.Totals.ByStatus, out.Totals.ByService} {
		for k, v := range m {
			if v == 0 {
				delete(m, k) // a count back at 0 is none
			}
		}
	}
	board, _, err := orders.List(ctx, OrderFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range board {
		out.Lists["board"] = append(out.Lists["board"], o.ID.Hex()+" "+o.Status)
		mine, _, err := orders.ForCustomer(ctx, o.UserID, primitive.NilObjectID, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range mine {
			ids = append(ids, m.ID.Hex()+" "+m.Status+fmt.Sprint(m.Price))
		}
		out.Lists[o.UserID.Hex()] = ids
	}
	raw, err := d.RawFind(ctx, colJournal)
	if err != nil {
		t.Fatal(err)
	}
	out.Journals = len(raw)
	return out
}

// The cut-off writes that later writes overtake, and two instances
// repairing at once: still what a recount makes of the orders.
func TestJournalRepairAfterLaterWritesAndByTwo(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (crashing *OrderStore, survivors []*DB, customer primitive.ObjectID) {
		name := fmt.Sprintf("j2_%d", time.Now().UnixNano()%1e9)
		db := openForTest(t, name)
		u := &User{Username: "later", Email: "later@example.uz", Role: RoleUser}
		if err := NewUserStore(db).Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		return NewOrderStore(db), []*DB{openForTest(t, name), openForTest(t, name)}, u.ID
	}
	book := func(t *testing.T, orders *OrderStore, customer primitive.ObjectID, key string) *Order {
		o := &Order{UserID: customer, ServiceID: primitive.NewObjectID(), Price: 300000, ScheduledAt: time.Now().Add(48 * time.Hour).UTC(), IdempotencyKey: key}
		if err := orders.Create(ctx, o); err != nil {
			t.Fatalf("book %s: %v", key, err)
		}
		return o
	}
	repairBoth := func(t *testing.T, survivors []*DB) int {
		later := time.Now().UTC().Add(journalStale + time.Second)
		var wg sync.WaitGroup
		counts := make([]int, len(survivors))
		for i, d := range survivors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := d.RepairJournal(ctx, later)
				if err != nil {
					t.Error(err)
				}
				counts[i] = n
			}()
		}
		wg.Wait()
		return counts[0] + counts[1]
	}
	same := func(t *testing.T, d *DB) {
		repaired := snapshot(t, d)
		if _, err := d.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if recounted := snapshot(t, d); !reflect.DeepEqual(repaired, recounted) {
			t.Errorf("after the repair:\n%+v\na recount:\n%+v", repaired, recounted)
		}
	}

	t.Run("a price edit cut off, then the order completed", func(t *testing.T) {
		orders, survivors, customer := setup(t)
		o := book(t, orders, customer, "p")
		orders.cutAt = "written"
		price := int64(400000)
		if _, err := orders.Update(ctx, o.ID, OrderChange{Price: &price}, false); !errors.Is(err, errCut) {
			t.Fatalf("not cut: %v", err)
		}
		orders.cutAt = ""
		if _, err := orders.Advance(ctx, o.ID, StatusCompleted, StatusChange{ByUserID: customer}); err != nil {
			t.Fatal(err)
		}
		if n := repairBoth(t, survivors); n != 1 {
			t.Errorf("%d repairs of one write", n)
		}
		if st := snapshot(t, survivors[0]); st.Totals.Revenue != 400000 {
			t.Errorf("revenue %d, want the completed order's 400000", st.Totals.Revenue)
		}
		same(t, survivors[0])
	})
	t.Run("a booking cut off before it was counted, then deleted", func(t *testing.T) {
		orders, survivors, customer := setup(t)
		book(t, orders, customer, "kept")
		orders.cutAt = "written"
		cut := &Order{UserID: customer, ServiceID: primitive.NewObjectID(), Price: 250000, ScheduledAt: time.Now().Add(72 * time.Hour).UTC(), IdempotencyKey: "cut"}
		if err := orders.Create(ctx, cut); !errors.Is(err, errCut) {
			t.Fatalf("not cut: %v", err)
		}
		orders.cutAt = ""
		if err := orders.Delete(ctx, cut.ID); !errors.Is(err, ErrConflict) {
			t.Fatalf("deleting an order whose booking is not recorded yet: %v, want a conflict", err)
		}
		if n := repairBoth(t, survivors); n != 1 {
			t.Errorf("%d repairs of one write", n)
		}
		if err := NewOrderStore(survivors[0]).Delete(ctx, cut.ID); err != nil {
			t.Fatalf("delete once recorded: %v", err)
		}
		if st := snapshot(t, survivors[0]); st.Totals.N != 1 {
			t.Errorf("%d orders counted, want 1", st.Totals.N)
		}
		same(t, survivors[0])
	})
}
