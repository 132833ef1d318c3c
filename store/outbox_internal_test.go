package store

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/event"
)

// A batch of sent emails leaves the queue in one delete of one statement
// for the emails and one for their claims: each statement is a write of
// its own on the embedded database, which makes them one at a time.
func TestClearTakesABatchOutInOneWriteEach(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := testServer()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	statements := map[string][]int{} // by collection: each delete command's statements
	opts := Options{URI: e.URI, Database: "outboxclear", Embedded: e, OnCommand: func(ev *event.CommandStartedEvent) {
		if ev.CommandName != "delete" {
			return
		}
		col, _ := ev.Command.Lookup("delete").StringValueOK()
		deletes, _ := ev.Command.Lookup("deletes").ArrayOK()
		values, _ := deletes.Values()
		mu.Lock()
		statements[col] = append(statements[col], len(values))
		mu.Unlock()
	}}
	if os.Getenv("TOZALASH_TEST_DB") == "shared" {
		opts.Embedded = nil
	}
	db, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.db.Drop(context.Background()); db.Close(context.Background()) })
	outbox := NewOutboxStore(db)
	var emails []*Email
	for _, to := range []string{"a@example.uz", "b@example.uz", "c@example.uz"} {
		m := &Email{To: to, Subject: "Buyurtma", Text: "salom"}
		if err := outbox.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		emails = append(emails, m)
	}
	now := time.Now().UTC()
	claims, err := outbox.ClaimNew(ctx, emails, now, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range emails {
		if claims[i] == nil {
			t.Fatalf("email %d not claimed", i)
		}
		if err := outbox.RecordSent(ctx, m, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	statements = map[string][]int{}
	mu.Unlock()
	if err := outbox.Clear(ctx, emails, claims); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := statements
	mu.Unlock()
	if len(got[colOutbox]) != 1 || got[colOutbox][0] != 1 || len(got[colClaims]) != 1 || got[colClaims][0] != 1 {
		t.Errorf("Clear of three emails sent deletes of %v statements; want one delete of one statement for each of %s and %s", got, colOutbox, colClaims)
	}
	var ids []primitive.ObjectID
	var claimIDs []string
	for i, m := range emails {
		ids = append(ids, m.ID)
		claimIDs = append(claimIDs, claims[i].ids...)
	}
	for col, filter := range map[string]bson.D{
		colOutbox:     {{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		colClaims:     {{Key: "_id", Value: bson.D{{Key: "$in", Value: claimIDs}}}},
		colOutboxSent: {{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
	} {
		n, err := db.col(col).CountDocuments(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int64{colOutboxSent: 3}[col]; n != want {
			t.Errorf("%s holds %d of the batch's documents after Clear; want %d", col, n, want)
		}
	}
}

// A claim refused at its first cell holds nothing to give back, and
// answers at once, however long the booking groups hold the write lock.
func TestRefusedClaimDoesNotWaitForTheWriteLock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openForTest(t, "refusedclaim")
	if db.writeMu == nil {
		t.Skip("no write lock on this database")
	}
	schedule := NewScheduleStore(db)
	crew := []*Crew{{ID: primitive.NewObjectID()}}
	at := time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)
	rules := DefaultScheduleRules()
	if _, err := schedule.Reserve(ctx, crew, primitive.NewObjectID(), at, 120, rules); err != nil {
		t.Fatal(err)
	}
	db.writeMu.lock(false)
	defer db.writeMu.unlock()
	refused := make(chan error, 1)
	go func() {
		_, err := schedule.Reserve(ctx, crew, primitive.NewObjectID(), at, 120, rules)
		refused <- err
	}()
	select {
	case err := <-refused:
		if err != ErrSlotTaken {
			t.Errorf("a second booking of the crew's time = %v; want ErrSlotTaken", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a claim refused at its first cell waited for the write lock")
	}
}
