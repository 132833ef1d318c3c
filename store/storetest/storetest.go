// Package storetest gives tests a real database: one embedded FerretDB per
// test binary, and a fresh database of it for each test.
package storetest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"tozalash/store"
)

var (
	once     sync.Once
	embedded *store.Embedded
	dir      string
	startErr error
	seq      atomic.Int64
)

// Main runs the tests of a package and then stops the shared database and
// removes its files. Call it from TestMain: os.Exit(storetest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if embedded != nil {
		embedded.Stop()
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
	return code
}

// URI starts the shared embedded database on first use and returns its URI.
func URI(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		dir, startErr = os.MkdirTemp("", "tozalash-db-")
		if startErr == nil {
			embedded, startErr = store.StartEmbedded(dir, nil)
		}
	})
	if startErr != nil {
		t.Fatalf("embedded database: %v", startErr)
	}
	return embedded.URI
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_]`)

// DBName returns a database name no other test of this binary uses.
func DBName(t testing.TB) string {
	name := unsafeChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d_%s", seq.Add(1), name)
}

// Open returns a fresh, empty database for this test, dropped when it ends.
func Open(t testing.TB) *store.DB {
	t.Helper()
	return open(t, DBName(t), true)
}

// OpenNamed opens the named database of the shared server, so that a test can
// open the same database twice (a restart).
func OpenNamed(t testing.TB, name string) *store.DB {
	t.Helper()
	return open(t, name, false)
}

// Client connects straight to the shared embedded server, for a test that
// looks at or changes a database behind the store's back.
func Client(t testing.TB) *mongo.Client {
	t.Helper()
	ctx := context.Background()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(URI(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(ctx) })
	return client
}

// OpenSoleNamed opens the named database as its one writer, as the app
// does (the document cache, the lists written behind, the outbox queue in
// memory): for a test that closes it and opens it again.
func OpenSoleNamed(t testing.TB, name string) *store.DB {
	t.Helper()
	return open(t, name, true)
}

// open opens the named database; soleWriter lets the store keep documents
// in memory, right only when no other handle writes to it.
func open(t testing.TB, name string, soleWriter bool) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uri := URI(t) // starts embedded
	db, err := store.Open(ctx, store.Options{URI: uri, Embedded: embedded, Database: name, SoleWriter: soleWriter})
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
		_ = db.Close(ctx)
	})
	return db
}
