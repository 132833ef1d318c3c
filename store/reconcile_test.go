package store_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// snapshot is what Reconcile writes, sorted by _id.
func snapshot(t *testing.T, db *store.DB) string {
	t.Helper()
	out := ""
	for _, col := range []string{"counters", "customerOrders", "orderPages", "userKeys", "orders"} {
		docs, err := db.RawFind(context.Background(), col)
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(docs, func(i, j int) bool { return fmt.Sprint(docs[i]["_id"]) < fmt.Sprint(docs[j]["_id"]) })
		if col == "userKeys" {
			for _, d := range docs {
				delete(d, "at") // when a key was made
			}
		}
		out += fmt.Sprintf("%s %v\n", col, docs)
	}
	return out
}

// allOrders walks the board to its end.
func allOrders(t *testing.T, orders *store.OrderStore, f store.OrderFilter) map[primitive.ObjectID]bool {
	t.Helper()
	seen := map[primitive.ObjectID]bool{}
	f.Limit = 100
	for {
		items, next, err := orders.List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			seen[it.ID] = true
		}
		if next.IsZero() {
			return seen
		}
		f.Before = next
	}
}

// Reconcile repairs in place what a crash could leave (a key, a row and a
// head missing, a key and a row left over, counters off, a count of a day
// without orders), numbers only up, and a second run changes nothing.
func TestReconcileRepairsInPlaceOnce(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	db := storetest.OpenNamed(t, name)
	raw := storetest.Client(t).Database(name)
	orders := store.NewOrderStore(db)
	users := store.NewUserStore(db)
	svc := newService("Gilam", 120000)
	if err := store.NewServiceStore(db).Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	alice, bob := account(t, db, "alice"), account(t, db, "bob")
	var made []*store.Order
	for i, uid := range []primitive.ObjectID{alice, alice, alice, bob, bob} {
		o := newOrder(uid, svc.ID, fmt.Sprint("k", i))
		if err := orders.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		made = append(made, o)
	}
	if _, err := db.Reconcile(ctx); err != nil { // what the writes left is what a reconcile leaves
		t.Fatal(err)
	}
	want := snapshot(t, db)

	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	byID := func(id any) bson.D { return bson.D{{Key: "_id", Value: id}} }
	must(raw.Collection("counters").UpdateOne(ctx, byID("users"), bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 40}}}}))
	must(raw.Collection("counters").UpdateOne(ctx, byID("orders"), bson.D{{Key: "$inc", Value: bson.D{{Key: "status.PENDING", Value: 3}}}}))
	month := "orders:" + time.Now().In(store.Tashkent).Format("2006-01")
	must(raw.Collection("counters").UpdateOne(ctx, byID(month), bson.D{{Key: "$set", Value: bson.D{{Key: "days.1999-01-01.PENDING", Value: 7}}}}))
	must(raw.Collection("orderPages").UpdateMany(ctx, bson.D{}, bson.D{{Key: "$unset", Value: bson.D{{Key: "rows." + made[0].ID.Hex(), Value: ""}}}}))
	must(raw.Collection("customerOrders").UpdateOne(ctx, byID(alice.Hex()), bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 1}}}}))
	ghostRow := bson.D{{Key: "_id", Value: primitive.NewObjectID()}, {Key: "u", Value: bob}}
	must(raw.Collection("customerOrders").UpdateOne(ctx, byID(bob.Hex()+":0"), bson.D{{Key: "$set", Value: bson.D{{Key: "rows." + primitive.NewObjectID().Hex(), Value: ghostRow}}}}))
	must(raw.Collection("userKeys").DeleteOne(ctx, byID("email:alice@example.uz")))
	must(raw.Collection("userKeys").InsertOne(ctx, bson.D{{Key: "_id", Value: "email:ghost@example.uz"},
		{Key: "userId", Value: primitive.NewObjectID()}, {Key: "at", Value: time.Now().Add(-time.Hour)}}))
	if snapshot(t, db) == want {
		t.Fatal("the damage did not take")
	}

	if _, err := db.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, db); got != want {
		t.Errorf("after the reconcile:\n%s\nwant\n%s", got, want)
	}
	if _, err := users.GetByEmail(ctx, "alice@example.uz"); err != nil {
		t.Errorf("alice's sign-in look-up: %v", err)
	}
	if _, err := db.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, db); got != want {
		t.Errorf("a second reconcile changed:\n%s\nwant\n%s", got, want)
	}
	// The head went back up with the reconcile: the next number is new.
	o := newOrder(alice, svc.ID, "after")
	if err := orders.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	if o.CustomerSeq != 4 {
		t.Errorf("alice's next order is number %d, want 4", o.CustomerSeq)
	}
}

// While another instance serves on the database (a second handle, as a
// second process on MONGODB_URI is), a reconcile takes nothing away from
// it even for a moment: every account signs in, every customer's list and
// the board show every order; bookings and signups made meanwhile go
// through and are in the lists afterwards. (Numbers and counters written
// by both at once rest on MongoDB's atomic updates, which FerretDB does
// not give across processes: see docs/storage.md.)
func TestReconcileWhileAnotherInstanceServes(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	maint, serving := storetest.OpenNamed(t, name), storetest.OpenNamed(t, name)
	orders, users := store.NewOrderStore(serving), store.NewUserStore(serving)
	svc := newService("Gilam", 120000)
	if err := store.NewServiceStore(serving).Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	customers := []primitive.ObjectID{account(t, serving, "c0"), account(t, serving, "c1"), account(t, serving, "c2")}
	for i := 0; i < 8; i++ {
		for c, uid := range customers {
			if err := orders.Create(ctx, newOrder(uid, svc.ID, fmt.Sprint(c, "-", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	booker := account(t, serving, "booker")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failures atomic.Int64
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 5 {
			t.Errorf(format, args...)
		}
	}
	// readers
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for c := range customers {
					if _, err := users.GetByEmail(ctx, fmt.Sprintf("c%d@example.uz", c)); err != nil {
						fail("c%d signs in: %v", c, err)
					}
					items, _, err := orders.ForCustomer(ctx, customers[c], primitive.NilObjectID, 100)
					if err != nil || len(items) != 8 {
						fail("c%d's list: %d orders, %v; want 8", c, len(items), err)
					}
				}
				if n := len(allOrders(t, orders, store.OrderFilter{UserIDs: customers})); n != 24 {
					fail("the board shows %d of the customers' 24 orders", n)
				}
			}
		}()
	}
	// a writer: signups and bookings
	var signups, bookings atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u := &store.User{Username: fmt.Sprint("new", i), Email: fmt.Sprintf("new%d@example.uz", i)}
			if err := users.Create(ctx, u); err != nil {
				fail("signup during a reconcile: %v", err)
			} else {
				signups.Add(1)
			}
			if err := orders.Create(ctx, newOrder(booker, svc.ID, fmt.Sprint("b", i))); err != nil {
				fail("booking during a reconcile: %v", err)
			} else {
				bookings.Add(1)
			}
		}
	}()
	for i := 0; i < 3; i++ {
		if _, err := maint.Reconcile(ctx); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if signups.Load() == 0 || bookings.Load() == 0 {
		t.Fatalf("nothing raced the reconciles: %d signups, %d bookings", signups.Load(), bookings.Load())
	}
	// Quiet now: one more, and everything is where it belongs. Read where
	// it was written: the serving instance's document cache may keep a
	// page it read just before for up to its second (seen once in CI: a
	// row the race had dropped, put back by this reconcile, not yet seen
	// there).
	if _, err := maint.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	orders, users = store.NewOrderStore(maint), store.NewUserStore(maint)
	items, _, err := orders.ForCustomer(ctx, booker, primitive.NilObjectID, 100)
	if err != nil || int64(len(items)) != min(bookings.Load(), 100) {
		t.Errorf("the booker's list: %d orders %v, want %d", len(items), err, bookings.Load())
	}
	if n := len(allOrders(t, orders, store.OrderFilter{})); int64(n) != 24+bookings.Load() {
		t.Errorf("the board shows %d orders, want %d", n, 24+bookings.Load())
	}
	for i := int64(0); i < signups.Load(); i++ {
		if _, err := users.GetByEmail(ctx, fmt.Sprintf("new%d@example.uz", i)); err != nil {
			t.Errorf("new%d signs in: %v", i, err)
		}
	}
	st, err := maint.Statistics(ctx, time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Users != 4+signups.Load() || st.Orders.N != 24+bookings.Load() {
		t.Errorf("after a quiet reconcile: %d users, %d orders; want %d, %d", st.Users, st.Orders.N, 4+signups.Load(), 24+bookings.Load())
	}
}
