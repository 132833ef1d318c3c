// Package store holds the domain types and their MongoDB implementation.
// It knows nothing of HTTP or HTML.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/event"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// The errors every store method returns; handlers map them to HTTP statuses.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
	// ErrBadTransition is a status step the graph does not allow from the
	// order's status (see CanMove); it is a conflict too.
	ErrBadTransition = fmt.Errorf("%w: bad transition", ErrConflict)
)

// Collection names, the data contract of DESIGN.md.
const (
	colUsers    = "users"
	colServices = "services"
	colOrders   = "orders"
	colCounters = "counters"
	colMeta     = "meta"
	colSessions = "sessions"
	colTokens   = "tokens"
	colOutbox   = "outbox"
	// colOutboxSent keeps the delivered emails (without their bodies).
	colOutboxSent = "outboxSent"
	// colClaims holds the claims on work one instance does (see claim).
	colClaims = "claims"
	// colOrderNumbers holds one document per order number handed out
	// ({_id: "<n>"}): its unique _id makes a number go to one booking even
	// where a $inc of the totals is lost (FerretDB across processes).
	colOrderNumbers = "orderNumbers"
	// colSettings holds the company's settings and each admin's "last
	// seen" of the board (see SettingsStore).
	colSettings = "settings"
	// colOrderPages holds the board's lean rows of the orders, by Seq.
	colOrderPages = "orderPages"
	// colCustomerOrders holds one document per customer with all their orders.
	colCustomerOrders = "customerOrders"
	// colCrewTime holds the crews' reserved half hours, one document each
	// (see reservations.go).
	colCrewTime = "crewTime"
	// colScheduleDays holds one document a local date with its visits'
	// reservations, for the schedule's pages.
	colScheduleDays = "scheduleDays"
)

// collections are all the collections the app uses.
var collections = []string{colUsers, colServices, colOrders, colCounters, colMeta,
	colSessions, colTokens, colOutbox, colOrderPages, colCustomerOrders, colEvents, colPresence,
	colConversations, colMessages, colChatInbox, colChatNotices, colOutboxSent, colClaims, colUserKeys, colJournal, colInstances, colLimits, colOrderNumbers, colSettings, colAddresses, colPromoCodes, colPromoUses, colCrewTime, colScheduleDays, colPlans, colPlanLists, colReviews, colReviewTallies, colCalendarFeeds, colCalendarFeedOwners, colTelegramTokens, colTelegramChats, colTelegramUpdates}

// Options says which database to open.
type Options struct {
	URI      string // empty: start FerretDB embedded under DataDir
	Database string
	DataDir  string
	Logger   *slog.Logger
	// DBLogger receives the embedded database's own log; nil keeps it quiet.
	DBLogger *slog.Logger
	// Embedded is the embedded server behind URI, when a caller started it
	// (tests share one): Open then adds the _id indexes it needs.
	Embedded *Embedded
	// Timeout bounds server selection, so a dead database fails a request
	// instead of hanging it. Default 3 s: a request waits at most that for a
	// database that is gone, then answers 503.
	Timeout time.Duration
	// Slot names where this instance serves (its listen address), kept
	// across its restarts; see newInstanceID.
	Slot string
	// Now is the clock of the document cache (see docCache); tests set it.
	Now func() time.Time
	// OnCommand, when set, sees every command sent to the database (tests
	// record the queries the store issues, to check their indexes).
	OnCommand func(*event.CommandStartedEvent)
}

// DB is an open database: the driver handle plus the write path.
type DB struct {
	client   *mongo.Client
	db       *mongo.Database
	embedded *Embedded // the embedded server behind db, if any
	owned    bool      // Close stops embedded
	log      *slog.Logger

	// writeMu serializes the writes that read, check or count when the
	// database is FerretDB, which does not apply single-document updates
	// atomically under concurrency, in the order writeLock gives turns (a
	// new document under a new _id, a $max of one field, need it not). It
	// is nil on MongoDB, whose own single-document atomicity is relied upon.
	writeMu *writeLock
	// limitsMu does the same for the rate limits' counts alone (see
	// limitWrite); nil on MongoDB.
	limitsMu chan struct{}

	catalog catalog // the services, in memory, checked against the database each second

	instance string     // this process's name in the journal and the instances list
	marks    spentMarks // journal marks to take off the counters (see finish)

	cache    *docCache     // hot documents, for at most a second (see docCache)
	dayTimes *dayTimesMemo // the days' free times, while what they came from holds
	// answerSerial numbers the cache's answers as findShared decodes them,
	// so that what was computed from one can tell it is still current.
	answerSerial atomic.Uint64
	mailHints    chan *Email      // emails queued here, for this process's worker (see hint)
	now          func() time.Time // the cache's clock

	commands atomic.Int64 // database commands sent, for tests and benchmarks
}

// Commands counts the commands sent to the database so far: a test takes
// the difference over one request to count its round trips.
func (d *DB) Commands() int64 { return d.commands.Load() }

// Open connects to opts.URI, or starts the embedded database when it is empty,
// and declares the indexes.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Second
	}
	d := &DB{log: opts.Logger, embedded: opts.Embedded, instance: newInstanceID(opts.Slot)}
	uri := opts.URI
	if uri == "" {
		e, err := startEmbedded(filepath.Join(opts.DataDir, "db"), "127.0.0.1:0", opts.DBLogger, opts.Logger)
		if err != nil {
			return nil, err
		}
		d.embedded, d.owned = e, true
		uri = e.URI
	}
	count := func(_ context.Context, e *event.CommandStartedEvent) {
		d.commands.Add(1)
		if opts.OnCommand != nil {
			opts.OnCommand(e)
		}
	}
	d.now = opts.Now
	if d.now == nil {
		d.now = time.Now
	}
	d.cache = newDocCache()
	d.dayTimes = newDayTimesMemo()
	d.mailHints = make(chan *Email, hintBuffer)
	monitor := d.cache.monitor(count)
	client, err := mongo.Connect(ctx, options.Client().
		ApplyURI(uri).
		SetServerSelectionTimeout(opts.Timeout).
		SetConnectTimeout(opts.Timeout).
		SetAppName("tozalash").
		SetMonitor(monitor))
	if err != nil {
		if d.owned {
			d.embedded.Stop()
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	d.client = client
	d.db = client.Database(opts.Database)

	ferret, err := isFerretDB(ctx, d.db)
	if err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("buildInfo: %w", err)
	}
	switch {
	case ferret && d.embedded != nil:
		d.writeMu, d.limitsMu = d.embedded.writes, d.embedded.limits
	case ferret:
		d.writeMu = newWriteLock()
		d.limitsMu = make(chan struct{}, 1)
	}
	if err := d.ensureIndexes(ctx); err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("indexes: %w", err)
	}
	if err := d.tuneEmbedded(ctx); err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("embedded _id indexes: %w", err)
	}
	if err := d.ensureUserKeys(ctx); err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("user keys: %w", err)
	}
	if err := d.ensureChatInboxes(ctx); err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("chat inboxes: %w", err)
	}
	return d, nil
}

func isFerretDB(ctx context.Context, db *mongo.Database) (bool, error) {
	var info bson.M
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, err
	}
	_, ok := info["ferretdbVersion"]
	return ok, nil
}

// Close disconnects and stops the embedded database, if any.
func (d *DB) Close(ctx context.Context) error {
	err := d.client.Disconnect(ctx)
	if d.owned {
		d.embedded.Stop()
	}
	return err
}

// Ping answers whether the database responds within ctx; an embedded
// database that failed (see Embedded.Err) does not.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.embedded.Err(); err != nil {
		return err
	}
	return d.db.RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err()
}

// SerializesWrites reports whether writes go through the FerretDB mutex.
func (d *DB) SerializesWrites() bool { return d.writeMu != nil }

// catchesStaleReads reports whether a read-modify-write may start from the
// document cache: on MongoDB, where the write's condition on the version
// refuses a stale read, and where this handle is the only writer. Not on
// FerretDB reached by URI, nor on an embedded server other handles share
// (the tests' instances): there several caches may hold a document and no
// condition is sent (it would scan).
func (d *DB) catchesStaleReads() bool { return d.writeMu == nil || d.onlyWriter() }

// onlyWriter reports whether this handle is its database's only writer:
// an embedded database it started (a second serve on its DATA_DIR is
// refused), so the document cache sees every write at once.
func (d *DB) onlyWriter() bool { return d.owned }

// write runs one logical write. On FerretDB it holds the write mutex, so a
// conditional update or an $inc behaves as atomically as on MongoDB.
func (d *DB) write(fn func() error) error { return d.writeAs(false, fn) }

// writeForBooking is write for a booking group's commit or a claim's
// give-back, which wait for the lock only so long behind other writes (see
// writeLock).
func (d *DB) writeForBooking(fn func() error) error { return d.writeAs(true, fn) }

func (d *DB) writeAs(booking bool, fn func() error) error {
	if d.writeMu != nil {
		d.writeMu.lock(booking)
		defer d.writeMu.unlock()
	}
	return fn()
}

func (d *DB) col(name string) *mongo.Collection { return d.db.Collection(name) }

// updateIf applies update to the document id of col if it still has the
// fields of cond, and reports whether it did. On a database reached by URI
// (MongoDB in production, FerretDB in the tests' shared profile) cond is
// part of the filter: one atomic update on MongoDB. The embedded database
// pushes down only a bare _id filter and would decode the whole collection
// for any other, so there, under the write mutex that serializes every
// write of its one process, it reads by _id, checks cond and updates by
// _id: the same outcome, without the scan (measured: each claim of a queued
// email had read the whole queue). Call it within db.write.
func (d *DB) updateIf(ctx context.Context, col string, id any, cond, update bson.D) (bool, error) {
	if d.filtersItself() {
		res, err := d.col(col).UpdateOne(ctx, append(bson.D{{Key: "_id", Value: id}}, cond...), update)
		if err != nil {
			return false, translate(err)
		}
		return res.MatchedCount == 1, nil
	}
	if ok, err := d.hasFields(ctx, col, id, cond); !ok || err != nil {
		return false, err
	}
	_, err := d.col(col).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update)
	return err == nil, translate(err)
}

// filtersItself reports whether the database applies a filter on other
// fields than _id itself (any reached by URI: MongoDB, or FerretDB in the
// tests' shared profile), atomically on MongoDB. The embedded database
// would decode the whole collection for it: there the store reads by _id
// and checks (hasFields), under the write mutex of its one process.
func (d *DB) filtersItself() bool { return d.embedded == nil }

// hasFields reads the document id of col by _id and reports whether it
// exists and has the fields of cond.
func (d *DB) hasFields(ctx context.Context, col string, id any, cond bson.D) (bool, error) {
	raw, err := d.col(col).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, translate(err)
	}
	for _, c := range cond {
		want, err := bson.Marshal(bson.D{c})
		if err != nil {
			return false, err
		}
		if !bson.Raw(want).Lookup(c.Key).Equal(raw.Lookup(c.Key)) {
			return false, nil
		}
	}
	return true, nil
}

// index is one declared index; real MongoDB uses them all, FerretDB's SQLite
// handler keeps the unique ones honest.
type index struct {
	collection string
	keys       bson.D
	unique     bool
}

// indexes are the indexes the store's queries need on MongoDB, each named
// with a query it serves; storetest checks both ways after every test binary (queries.go).
var indexes = []index{
	{colUsers, bson.D{{Key: "email", Value: 1}}, true},
	{colUsers, bson.D{{Key: "username", Value: 1}}, true},
	{colUsers, bson.D{{Key: "role", Value: 1}}, false},                                      // is there an admin
	{colUsers, bson.D{{Key: "expiresAt", Value: 1}}, false},                                 // accounts never verified in time
	{colUsers, bson.D{{Key: "phone", Value: 1}, {Key: "_id", Value: 1}}, false},             // the admin's booking finds a customer by phone
	{colServices, bson.D{{Key: "active", Value: 1}}, false},                                 // a recount of the active services
	{colOrders, bson.D{{Key: "userId", Value: 1}, {Key: "idempotencyKey", Value: 1}}, true}, // a repeated booking
	{colSessions, bson.D{{Key: "userId", Value: 1}, {Key: "revokedAt", Value: 1}}, false},   // revoke a user's sessions
	{colSessions, bson.D{{Key: "expiresAt", Value: 1}}, false},                              // prune: expired
	{colSessions, bson.D{{Key: "revokedAt", Value: 1}}, false},                              // prune: revoked long ago
	{colOutbox, bson.D{{Key: "status", Value: 1}, {Key: "nextAttemptAt", Value: 1}}, false}, // due mail; counts
	{colOutbox, bson.D{{Key: "status", Value: 1}, {Key: "attempts", Value: 1}}, false},      // the admin's outbox page: retried mail
	{colChatNotices, bson.D{{Key: "userId", Value: 1}}, false},                              // a deleted account's notices
	{colChatNotices, bson.D{{Key: "due", Value: 1}}, false},                                 // notices due
	{colLimits, bson.D{{Key: "until", Value: 1}}, false},                                    // prune: windows past
	{colPresence, bson.D{{Key: "inst", Value: 1}}, false},                                   // prune: records of dead instances
	{colPromoCodes, bson.D{{Key: "code", Value: 1}}, true},                                  // one code, one discount
	{colPromoUses, bson.D{{Key: "orderId", Value: 1}}, false},                               // a failed booking gives its uses back
	{colPromoUses, bson.D{{Key: "codeId", Value: 1}}, false},                                // a code's uses
	{colPlans, bson.D{{Key: "status", Value: 1}}, false},                                    // the plans to extend and count
	{colUsers, bson.D{{Key: "telegram.chatId", Value: 1}}, false},                           // /stop: every account sending to a chat
	{colTelegramTokens, bson.D{{Key: "expiresAt", Value: 1}}, false},                        // prune: connect links expired
	{colTelegramUpdates, bson.D{{Key: "at", Value: 1}}, false},                              // prune: updates handled long ago
}

// DeclaredIndex is one index the store declares, for tests.
type DeclaredIndex struct {
	Collection string
	Keys       []string
	Unique     bool
}

// DeclaredIndexes lists the indexes Open declares on MongoDB.
func DeclaredIndexes() []DeclaredIndex {
	out := make([]DeclaredIndex, len(indexes))
	for i, ix := range indexes {
		out[i] = DeclaredIndex{Collection: ix.collection, Unique: ix.unique}
		for _, k := range ix.keys {
			out[i].Keys = append(out[i].Keys, k.Key)
		}
	}
	return out
}

func (d *DB) ensureIndexes(ctx context.Context) error {
	if d.embedded != nil {
		if err := d.dropUnusedIndexes(ctx); err != nil {
			return err
		}
	}
	for _, ix := range indexes {
		if d.embedded != nil && !ix.unique {
			continue // see dropUnusedIndexes
		}
		if err := d.createIndex(ctx, ix); err != nil { // see createIndex for racers
			return fmt.Errorf("%s %v: %w", ix.collection, ix.keys, err)
		}
	}
	return nil
}

// dropUnusedIndexes drops the embedded database's indexes that are neither
// _id's nor unique. Its SQLite handler asks SQLite by nothing but _id, so
// such an index serves no query there, while every insert and update pays
// for it: each is an expression index, a JSON extraction of the whole
// document per key (an order had eleven). Measured at 50 clients booking:
// 11.6 % of the server's CPU in SQLite's JSON extraction. The unique ones
// stay: they keep rules (one order per idempotency key, one account per
// email). MongoDB gets them all.
func (d *DB) dropUnusedIndexes(ctx context.Context) error {
	for _, name := range collections {
		specs, err := d.col(name).Indexes().ListSpecifications(ctx)
		if err != nil {
			return fmt.Errorf("%s indexes: %w", name, err)
		}
		for _, s := range specs {
			if s.Name == "_id_" || (s.Unique != nil && *s.Unique) {
				continue
			}
			if _, err := d.col(name).Indexes().DropOne(ctx, s.Name); err != nil {
				return fmt.Errorf("%s: drop %s: %w", name, s.Name, err)
			}
		}
	}
	return nil
}

// ParseID turns a hex id from a URL or a body into an ObjectID; anything else
// is ErrInvalid, never a server error.
func ParseID(s string) (primitive.ObjectID, error) {
	id, err := primitive.ObjectIDFromHex(s)
	if err != nil {
		return id, fmt.Errorf("%w: id %q", ErrInvalid, truncate(s, 40))
	}
	return id, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// translate maps driver errors to the store's own.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return ErrNotFound
	case mongo.IsDuplicateKeyError(err),
		// FerretDB v1 reports a unique index broken by findAndModify as an
		// InternalError carrying SQLite's message.
		strings.Contains(err.Error(), "UNIQUE constraint failed"):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

func isConflict(err error) bool { return errors.Is(err, ErrConflict) }

// Drop deletes the whole database; tests use it to clean up.
func (d *DB) Drop(ctx context.Context) error {
	return d.db.Drop(ctx)
}

// InsertRaw writes a document as it is; tests and the seed use it to lay
// down data whose own store comes later.
func (d *DB) InsertRaw(ctx context.Context, collection string, doc any) (any, error) {
	var id any
	err := d.write(func() error {
		res, err := d.col(collection).InsertOne(ctx, doc)
		if err == nil {
			id = res.InsertedID
		}
		return translate(err)
	})
	return id, err
}

// RawFind returns every document of a collection as it is; tests use it to
// look at what is stored.
func (d *DB) RawFind(ctx context.Context, collection string) ([]bson.M, error) {
	cur, err := d.col(collection).Find(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	var out []bson.M
	err = cur.All(ctx, &out)
	return out, err
}

// newestPage finds a page of documents newest first (by _id) and cuts it:
// the items and the cursor of the next page, zero on the last. It asks for
// one more than limit to know whether there is a next page.
func newestPage[T any](ctx context.Context, c *mongo.Collection, filter bson.D, before primitive.ObjectID, limit int, id func(*T) primitive.ObjectID) ([]T, primitive.ObjectID, error) {
	if limit < 1 || limit > 100 {
		return nil, primitive.NilObjectID, fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	}
	if !before.IsZero() {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: before}}})
	}
	cur, err := c.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit+1)))
	if err != nil {
		return nil, primitive.NilObjectID, err
	}
	items := make([]T, 0, limit+1)
	if err := cur.All(ctx, &items); err != nil {
		return nil, primitive.NilObjectID, err
	}
	var next primitive.ObjectID
	if len(items) > limit {
		items = items[:limit]
		next = id(&items[limit-1])
	}
	return items, next, nil
}

// setIf adds key to a partial update's $set when v is given (not nil).
func setIf[T any](set bson.D, key string, v *T) bson.D {
	if v == nil {
		return set
	}
	return append(set, bson.E{Key: key, Value: *v})
}
