// Package storetest gives tests a real database, in one of two profiles
// chosen by TOZALASH_TEST_DB:
//
//   - "embedded" (the default): one FerretDB embedded in the test binary,
//     opened as the app opens its embedded database;
//   - "shared": one FerretDB in a process of its own (ferretdbd), reached
//     through a URI exactly as the app reaches MongoDB with MONGODB_URI, so
//     the code path under test is the production one.
//
// Either way each test gets a fresh database of it, dropped at the end.
package storetest

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/event"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"tozalash/store"
)

// The profiles' names, the values of TOZALASH_TEST_DB.
const (
	Embedded = "embedded"
	Shared   = "shared"
)

// Profile is the profile this test binary runs in.
func Profile() string {
	if os.Getenv("TOZALASH_TEST_DB") == Shared {
		return Shared
	}
	return Embedded
}

var (
	once        sync.Once
	embedded    *store.Embedded // the embedded profile's server
	server      *exec.Cmd       // the shared profile's server
	serverStdin io.WriteCloser
	uri         string
	dir         string
	startErr    error
	seq         atomic.Int64
)

// Main runs the tests of a package and then stops the database server and
// removes its files. Call it from TestMain: os.Exit(storetest.Main(m)).
func Main(m *testing.M) int {
	return run(m, false)
}

// MainCheckingIndexes is Main for the store's own tests, which issue every
// query the store has: it also fails when a declared index serves none.
func MainCheckingIndexes(m *testing.M) int {
	return run(m, true)
}

// run runs the tests, then checks that every query they made the store
// issue has its index on MongoDB (see checkIndexes).
func run(m *testing.M, unused bool) int {
	code := m.Run()
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		unused = false // only some tests ran: some queries were not made
	}
	if code == 0 && !checkIndexes(os.Stderr, unused) {
		code = 1
	}
	embedded.Stop()
	if server != nil {
		_ = server.Process.Signal(os.Interrupt)
		_ = server.Wait()
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
	return code
}

// URI starts the database server on first use and returns its URI.
func URI(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		dir, startErr = os.MkdirTemp("", "tozalash-db-")
		if startErr != nil {
			return
		}
		if Profile() == Shared {
			uri, startErr = startServer(dir)
			return
		}
		embedded, startErr = store.StartEmbedded(dir, nil)
		if startErr == nil {
			uri = embedded.URI
		}
	})
	if startErr != nil {
		t.Fatalf("test database (%s profile): %v", Profile(), startErr)
	}
	return uri
}

// StartFerretDB starts a FerretDB process of the test's own, as a
// MONGODB_URI deployment's database, and returns its URI; it stops when the
// test ends.
func StartFerretDB(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	cmd, stdin, uri, err := startFerretDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	return uri
}

// startServer starts ferretdbd on a free port: the binary named by
// TOZALASH_TEST_FERRETDB (make test builds it once), or one built here.
func startServer(dir string) (string, error) {
	cmd, stdin, uri, err := startFerretDB(dir)
	server, serverStdin = cmd, stdin
	return uri, err
}

// startFerretDB starts ferretdbd with its files in dir.
func startFerretDB(dir string) (*exec.Cmd, io.WriteCloser, string, error) {
	bin := os.Getenv("TOZALASH_TEST_FERRETDB")
	if bin == "" {
		bin = filepath.Join(dir, "ferretdbd")
		out, err := exec.Command("go", "build", "-o", bin, "tozalash/store/storetest/ferretdbd").CombinedOutput()
		if err != nil {
			return nil, nil, "", fmt.Errorf("build ferretdbd: %v: %s", err, out)
		}
	}
	cmd := exec.Command(bin, "-dir", filepath.Join(dir, "data"), "-addr", "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	// Closed when this process dies, however it dies: ferretdbd then stops.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, "", err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, nil, "", fmt.Errorf("ferretdbd: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return cmd, stdin, strings.TrimSpace(line), nil
}

// EmbeddedOnly skips a test of the embedded database's own tuning (its
// SQLite indexes, for one) in the shared profile, where it does not apply.
func EmbeddedOnly(t testing.TB) {
	t.Helper()
	if Profile() != Embedded {
		t.Skip("tests the embedded database's own tuning")
	}
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

// OpenWatching is Open whose every command is shown to watch before it
// is sent: a test that must act once the app has asked a given question.
func OpenWatching(t testing.TB, watch func(*event.CommandStartedEvent)) *store.DB {
	t.Helper()
	opts := Options(t, DBName(t))
	opts.OnCommand = func(e *event.CommandStartedEvent) {
		recordQuery(e)
		watch(e)
	}
	return openWith(t, opts, true)
}

// OpenNamed opens the named database of the shared server, so that a test can
// open the same database twice (a restart).
func OpenNamed(t testing.TB, name string) *store.DB {
	t.Helper()
	return open(t, name, true)
}

// Client connects straight to the database server, for a test that looks
// at or changes a database behind the store's back.
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

// Options are the store.Options that open the named database in this
// profile: the embedded server (as the app opens its own) or the URI.
func Options(t testing.TB, name string) store.Options {
	u := URI(t)
	if Profile() == Shared {
		return store.Options{URI: u, Database: name, OnCommand: recordQuery}
	}
	return store.Options{URI: u, Embedded: embedded, Database: name, OnCommand: recordQuery}
}

// open opens the named database, dropped when drop says so at the end.
func open(t testing.TB, name string, drop bool) *store.DB {
	t.Helper()
	return openWith(t, Options(t, name), drop)
}

// openWith is open with opts.
func openWith(t testing.TB, opts store.Options, drop bool) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if drop {
			_ = db.Drop(ctx)
		}
		_ = db.Close(ctx)
	})
	return db
}
