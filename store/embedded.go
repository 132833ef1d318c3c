package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	_ "modernc.org/sqlite" // the driver FerretDB itself uses, to add our index
)

// Embedded is a FerretDB running inside this process on loopback. It
// holds dir's lock file (see LockFile) until Stop.
type Embedded struct {
	URI    string
	dir    string
	cancel context.CancelFunc
	done   chan struct{} // closed when the server returned
	logs   chan struct{} // closed when the checkpoints stopped
	lock   *dirLock
	log    *slog.Logger // where a failure is logged

	stopping atomic.Bool           // Stop was called: Run's return is no failure
	failed   atomic.Pointer[error] // why the server stopped without Stop

	// writes and limits are the write locks of the process that owns the
	// files (see DB.writeMu), shared by every handle on this server: two
	// handles (the tests' second "instance") serialize as one process does.
	writes *writeLock
	limits chan struct{}
}

// StartEmbedded starts FerretDB with its SQLite handler storing files in dir,
// listening on a free loopback port. A nil logger keeps it quiet.
func StartEmbedded(dir string, logger *slog.Logger) (*Embedded, error) {
	return StartEmbeddedAt(dir, "127.0.0.1:0", logger)
}

// StartEmbeddedAt is StartEmbedded on the given loopback address: a test
// stops the database and starts it again where the app's driver looks.
func StartEmbeddedAt(dir, addr string, logger *slog.Logger) (*Embedded, error) {
	return startEmbedded(dir, addr, logger, nil)
}

// startEmbedded starts the server; dbLog gets FerretDB's own log (nil:
// none), log the server's failure (nil: none). A directory another
// process (or another Embedded of this one) holds is a *LockedError.
func startEmbedded(dir, addr string, dbLog, log *slog.Logger) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if dbLog == nil {
		dbLog = slog.New(slog.DiscardHandler)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lock, err := lockDir(abs)
	if err != nil {
		return nil, err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/?" + sqliteURLPragmas,
		Logger:    dbLog,
	})
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("embedded database: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{URI: f.MongoDBURI(), dir: abs, cancel: cancel, done: make(chan struct{}), logs: make(chan struct{}), lock: lock, log: log,
		writes: newWriteLock(), limits: make(chan struct{}, 1)}
	go func() {
		defer close(e.done)
		e.ran(func() error { return f.Run(ctx) })
	}()
	go func() {
		defer close(e.logs)
		e.checkpointLoop(ctx)
	}()
	return e, nil
}

// ran runs the server until it returns, and records a return that Stop did
// not ask for (an error, a panic, or none at all) as the server's failure:
// logged at error level, and answered by Err, so /health reports the
// database unavailable instead of the process going on in silence.
func (e *Embedded) ran(run func() error) {
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return run()
	}()
	if e.stopping.Load() {
		return
	}
	if err == nil {
		err = errors.New("stopped by itself")
	}
	err = fmt.Errorf("embedded database: %w", err)
	e.failed.Store(&err)
	e.log.Error("the embedded database failed", slog.Any("error", err))
}

// Err is why the server stopped without Stop, or nil while it runs (and
// after Stop). A nil Embedded has no error.
func (e *Embedded) Err() error {
	if e == nil {
		return nil
	}
	if p := e.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Stop shuts the embedded database down, waits for its files to close and
// lets go of the directory's lock.
func (e *Embedded) Stop() {
	if e == nil {
		return
	}
	e.stopping.Store(true)
	e.cancel()
	<-e.done
	<-e.logs // no checkpoint touches the files once another process may own them
	e.lock.release()
}

// indexIDs gives every collection table of database name an SQLite index on
// the very expression FerretDB 1.24 filters by for an {_id: …} query,
// `_ferretdb_sjson->'$._id'`. FerretDB's own unique _id index is written as
// `_ferretdb_sjson->"_id"`, which SQLite does not match to that expression,
// so without ours every _id look-up, update and delete parses every row of
// the table (measured: 18 ms for one look-up among 20k half-KB documents,
// 0.35 ms with the index). The index is invisible to FerretDB's metadata and
// goes with its table when the collection is dropped.
func (e *Embedded) indexIDs(ctx context.Context, name string) error {
	file := filepath.Join(e.dir, name+".sqlite")
	if _, err := os.Stat(file); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"_tz_id", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index %s: %w", t, err)
		}
	}
	return nil
}

// createCollections makes sure every collection the app uses exists, so that
// indexIDs reaches them all: FerretDB would otherwise create one lazily, on
// its first insert, without our index.
func (d *DB) createCollections(ctx context.Context) error {
	for _, name := range collections {
		err := d.db.CreateCollection(ctx, name)
		var ce mongo.CommandError
		if err != nil && !(errors.As(err, &ce) && ce.Code == 48) { // NamespaceExists
			return fmt.Errorf("create %s: %w", name, err)
		}
	}
	return nil
}

// tuneEmbedded creates the collections and their _id indexes; it does
// nothing on a database that is not the embedded one.
func (d *DB) tuneEmbedded(ctx context.Context) error {
	if d.embedded == nil {
		return nil
	}
	if err := d.createCollections(ctx); err != nil {
		return err
	}
	return d.embedded.indexIDs(ctx, d.db.Name())
}

// IDLookupPlans returns, for each collection, how the database plans an _id
// look-up (FerretDB answers explain with SQLite's query plan). Tests use it
// to prove no look-up scans.
func (d *DB) IDLookupPlans(ctx context.Context) (map[string]string, error) {
	plans := map[string]string{}
	for _, name := range collections {
		var res bson.M
		cmd := bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: name},
			{Key: "filter", Value: bson.D{{Key: "_id", Value: primitive.NewObjectID()}}}}}}
		if err := d.db.RunCommand(ctx, cmd).Decode(&res); err != nil {
			return nil, fmt.Errorf("explain %s: %w", name, err)
		}
		plans[name] = fmt.Sprint(res["queryPlanner"])
	}
	return plans, nil
}
