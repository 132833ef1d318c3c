package store

import (
	"context"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
)

// One group of bookings by 150 customers updates 150 list documents. The
// embedded database held a read open for each update of one command that
// found its document, and waited, at the hundredth, for a connection it
// held itself: the command never ended, nor did any query behind it.
func TestManyListDocumentsInOneWrite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, Options{DataDir: t.TempDir(), Database: "bulk"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var models []mongo.WriteModel
	for i := 0; i < 150; i++ {
		models = append(models, mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: "list" + strconv.Itoa(i)}}).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: i}}}}).SetUpsert(true))
	}
	for _, what := range []string{"made", "updated"} {
		if err := db.bulkUpsert(ctx, colCustomerOrders, models); err != nil {
			t.Fatalf("150 documents %s in one write: %v", what, err)
		}
	}
	n, err := db.col(colCustomerOrders).CountDocuments(ctx, bson.D{})
	if err != nil || n != 150 {
		t.Fatalf("%d list documents (%v), want 150", n, err)
	}
}

// Writes that need no serializing answer while another write holds the
// write lock (a booking group's commit under load): an admin's look at the
// board (a read to them), a new session (a login).
func TestWritesThatNeedNoLockDoNotWaitForIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openForTest(t, "nolock")
	if db.writeMu == nil {
		t.Fatal("the embedded database has no write lock to hold")
	}
	settings, admin := NewSettingsStore(db), primitive.NewObjectID()
	if first, err := settings.LookAtBoard(ctx, admin); err != nil || !first.IsZero() {
		t.Fatalf("the first look = %v, %v; want never", first, err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, w := range []struct {
		name  string
		write func() error
	}{
		{"a look at the board", func() error { _, err := settings.LookAtBoard(ctx, admin); return err }},
		{"a new session", func() error {
			return NewSessionStore(db).Create(ctx, &Session{ID: primitive.NewObjectID(), UserID: admin, RefreshHash: "h", UsedHashes: []string{},
				CreatedAt: now, RotatedAt: now, ExpiresAt: now.Add(time.Hour)})
		}},
	} {
		db.writeMu.lock(false)
		done := make(chan error, 1)
		go func() { done <- w.write() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", w.name, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s waited for the write lock", w.name)
		}
		db.writeMu.unlock()
	}
}
