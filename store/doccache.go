package store

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/event"
	"go.mongodb.org/mongo-driver/mongo"
)

// docCache keeps the hot documents in memory for at most cacheTTL, as the
// raw BSON the database answered with, by collection and _id, on every
// database alike.
//
// What this process writes it sees at once: the driver's command monitor
// sees every write it sends, and a write command drops the documents its
// filters name (or, with a filter that names no _id, the whole collection)
// once the database has answered it. A reader takes its entry before it
// asks the database and fills it only if no write dropped the entry in the
// meantime, so a stale answer is never kept. What another instance writes
// it sees within cacheTTL, the bound every cache of the app keeps (#16).
type docCache struct {
	mu      sync.Mutex
	cols    map[string]map[string]*cacheEntry // by collection, then id key
	bytes   int
	pending map[int64][]cacheKey // writes in flight, by request id
	max     int                  // the budget, in bytes
	// swept is when expired answers were last dropped: an answer past
	// cacheTTL is never served again, so it need not wait for the budget
	// to push it out (the order pages of a busy minute held 64 MB of
	// them, and the heap's target grew with it).
	swept time.Time
}

// The collections the cache serves: those the signed-in pages, the board
// and the statistics read.
// Addresses are read on every booking form and profile; the settings on
// every price quote (their frequency discounts); the days' reservations
// on every availability question.
var cachedCollections = map[string]bool{colOrders: true, colCustomerOrders: true, colOrderPages: true, colCounters: true, colAddresses: true, colSettings: true, colScheduleDays: true, colReviewTallies: true,
	// the profile shows the calendar feed's URL at every view (#24)
	colCalendarFeedOwners: true,
	// every chat message reads its conversation twice (the sender's
	// membership, then the change) and its sender's inbox head
	colConversations: true, colChatInbox: true}

const (
	cacheMaxBytes = 64 << 20
	// cacheTTL bounds how long a document is served without asking the
	// database: how late another instance's write may be seen here.
	cacheTTL = time.Second
	// cacheRefreshAfter is the age from which a reader of a fresh answer
	// also has it asked again, in the background: a document read all
	// the time is renewed before it expires, so its readers never wait
	// for the database (measured: the month of free times stalled each
	// second while its 31 day documents were read again).
	cacheRefreshAfter = cacheTTL * 85 / 100
)

type cacheEntry struct {
	raw     bson.Raw // nil: the document does not exist
	filled  time.Time
	dropped bool
	size    int // counted in the budget: the key, the entry, raw
	// decoded is raw decoded by findShared, once for every reader of this
	// answer (not counted in the budget: it goes with the entry).
	decoded any
	// ready is closed once the entry is filled or dropped: the readers
	// that come while one asks the database wait for its answer, rather
	// than all ask at once when a hot document's answer expires.
	ready       chan struct{}
	readyClosed bool
	refreshing  bool // a reader is asking the database again in the background
}

// freshAt reports whether the entry holds an answer a reader may be
// served at now.
func (e *cacheEntry) freshAt(now time.Time) bool {
	return !e.filled.IsZero() && now.Sub(e.filled) < cacheTTL
}

// settleLocked wakes the readers waiting for e.
func (e *cacheEntry) settleLocked() {
	if e.ready != nil && !e.readyClosed {
		close(e.ready)
		e.readyClosed = true
	}
}

// entryCost is what an entry costs beside its document: a look-up of an id
// that does not exist is kept too, and must count.
const entryCost = 160

// cacheKey names one document, or with all set, every document of col.
type cacheKey struct {
	col string
	id  string
	all bool
}

func newDocCache() *docCache {
	return &docCache{cols: map[string]map[string]*cacheEntry{}, pending: map[int64][]cacheKey{}, max: cacheMaxBytes}
}

// idKey is the cache's name of an _id: a string or an ObjectID, the two
// kinds of _id the app uses.
func idKey(id any) (string, bool) {
	switch v := id.(type) {
	case string:
		return "s" + v, true
	case primitive.ObjectID:
		return "o" + string(v[:]), true
	}
	return "", false
}

func rawIDKey(v bson.RawValue) (string, bool) {
	switch v.Type {
	case bsontype.String:
		return "s" + v.StringValue(), true
	case bsontype.ObjectID:
		oid := v.ObjectID()
		return "o" + string(oid[:]), true
	}
	return "", false
}

// entry returns the document's entry, adding an empty one, and, when it
// holds an answer still fresh, that answer; when another reader is asking
// the database for it, wait is closed once that reader has its answer.
// refresh says the answer is fresh but ageing, and this caller is the one
// to ask the database again (see renew).
func (c *docCache) entry(col, key string, now time.Time) (e *cacheEntry, raw bson.Raw, fresh, refresh bool, wait <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.cols[col]
	if m == nil {
		m = map[string]*cacheEntry{}
		c.cols[col] = m
	}
	e = m[key]
	switch {
	case e == nil:
	case e.filled.IsZero():
		return e, nil, false, false, e.ready // another reader is asking the database
	case e.freshAt(now):
		refresh = now.Sub(e.filled) >= cacheRefreshAfter && !e.refreshing
		e.refreshing = e.refreshing || refresh
		return e, e.raw, true, refresh, nil
	default:
		c.dropLocked(col, key, e)
	}
	e = &cacheEntry{size: entryCost + len(key), ready: make(chan struct{})}
	m[key] = e
	c.bytes += e.size
	c.sweepLocked(now)
	c.shrinkLocked(e)
	return e, nil, false, false, nil
}

// sweepLocked drops, once a cacheTTL at most, the answers too old to be
// served; those a reader is renewing stay (renew keeps or replaces them).
func (c *docCache) sweepLocked(now time.Time) {
	if now.Sub(c.swept) < cacheTTL {
		return
	}
	c.swept = now
	for col, m := range c.cols {
		for k, e := range m {
			if !e.filled.IsZero() && !e.refreshing && !e.freshAt(now) {
				c.dropLocked(col, k, e)
			}
		}
	}
}

// renew keeps raw, read again from the database from asked on, as the
// answer of entry e's document, unless a write dropped e since. The same
// bytes renew e itself, so that its decoding (findShared) stays shared
// and whatever was computed from it stays valid; other bytes take e's
// place as a new entry.
func (c *docCache) renew(col, key string, e *cacheEntry, raw bson.Raw, asked time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refreshing = false
	if e.dropped || c.cols[col][key] != e {
		return
	}
	if bytes.Equal(raw, e.raw) {
		e.filled = asked
		return
	}
	c.dropLocked(col, key, e)
	n := &cacheEntry{raw: raw, filled: asked, size: entryCost + len(key) + len(raw), ready: make(chan struct{})}
	n.settleLocked()
	c.cols[col][key] = n
	c.bytes += n.size
	c.shrinkLocked(n)
}

// fill keeps raw in e, unless a write dropped e since it was taken, or
// another reader filled it first.
func (c *docCache) fill(e *cacheEntry, raw bson.Raw, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer e.settleLocked()
	if e.dropped || !e.filled.IsZero() {
		return
	}
	e.raw, e.filled = raw, now
	e.size += len(raw)
	c.bytes += len(raw)
	c.shrinkLocked(e)
}

// forget drops e after its look-up failed, so it does not stay unfilled.
func (c *docCache) forget(col, key string, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !e.dropped {
		c.dropLocked(col, key, e)
	}
}

// shrinkLocked drops entries at random (Go's map order), never keep, until
// the cache is within its budget.
func (c *docCache) shrinkLocked(keep *cacheEntry) {
	for col, m := range c.cols {
		for k, old := range m {
			if c.bytes <= c.max {
				return
			}
			if old != keep {
				c.dropLocked(col, k, old)
			}
		}
	}
}

func (c *docCache) dropLocked(col, key string, e *cacheEntry) {
	e.settleLocked()
	e.dropped = true
	c.bytes -= e.size
	if c.cols[col][key] == e {
		delete(c.cols[col], key)
	}
}

// drop forgets the documents keys name.
func (c *docCache) drop(keys []cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		m := c.cols[k.col]
		if k.all {
			for id, e := range m {
				c.dropLocked(k.col, id, e)
			}
			continue
		}
		if e := m[k.id]; e != nil {
			c.dropLocked(k.col, k.id, e)
		}
	}
}

// written lists what a write command may change: the _ids its filters (or
// new documents) name, or the whole collection.
func written(cmd bson.Raw) []cacheKey {
	first, err := cmd.IndexErr(0)
	if err != nil {
		return nil
	}
	name := first.Key()
	col, ok := first.Value().StringValueOK()
	if !ok || !cachedCollections[col] {
		if name == "dropDatabase" {
			keys := make([]cacheKey, 0, len(cachedCollections))
			for col := range cachedCollections {
				keys = append(keys, cacheKey{col: col, all: true})
			}
			return keys
		}
		return nil
	}
	var keys []cacheKey
	byFilter := func(filter bson.RawValue) {
		doc, ok := filter.DocumentOK()
		if !ok {
			keys = append(keys, cacheKey{col: col, all: true})
			return
		}
		id, err := doc.LookupErr("_id")
		if err != nil {
			keys = append(keys, cacheKey{col: col, all: true})
			return
		}
		k, ok := rawIDKey(id)
		if !ok {
			keys = append(keys, cacheKey{col: col, all: true})
			return
		}
		keys = append(keys, cacheKey{col: col, id: k})
	}
	each := func(array, field string) {
		arr, ok := cmd.Lookup(array).ArrayOK()
		if !ok {
			keys = append(keys, cacheKey{col: col, all: true})
			return
		}
		vals, _ := arr.Values()
		for _, v := range vals {
			if field == "" {
				doc, _ := v.DocumentOK()
				byFilter(bson.RawValue{Type: bsontype.EmbeddedDocument, Value: doc})
				continue
			}
			doc, _ := v.DocumentOK()
			byFilter(doc.Lookup(field))
		}
	}
	switch name {
	case "insert":
		each("documents", "")
	case "update":
		each("updates", "q")
	case "delete":
		each("deletes", "q")
	case "findAndModify":
		byFilter(cmd.Lookup("query"))
	case "drop", "renameCollection", "aggregate":
		// aggregate may end in $out or $merge; the app's own read
		// aggregations are rare, and dropping is always safe.
		keys = append(keys, cacheKey{col: col, all: true})
	}
	return keys
}

// monitor wraps the command monitor so the cache drops what every write
// changes, once the database has answered it.
func (c *docCache) monitor(next func(context.Context, *event.CommandStartedEvent)) *event.CommandMonitor {
	return &event.CommandMonitor{
		Started: func(ctx context.Context, ev *event.CommandStartedEvent) {
			next(ctx, ev)
			switch ev.CommandName {
			case "insert", "update", "delete", "findAndModify", "drop", "dropDatabase", "renameCollection", "aggregate":
			default:
				return
			}
			if keys := written(ev.Command); len(keys) > 0 {
				c.mu.Lock()
				c.pending[ev.RequestID] = keys
				c.mu.Unlock()
			}
		},
		Succeeded: func(_ context.Context, ev *event.CommandSucceededEvent) { c.answered(ev.RequestID, false) },
		Failed:    func(_ context.Context, ev *event.CommandFailedEvent) { c.answered(ev.RequestID, true) },
	}
}

func (c *docCache) answered(requestID int64, failed bool) {
	c.mu.Lock()
	keys, ok := c.pending[requestID]
	delete(c.pending, requestID)
	c.mu.Unlock()
	if !ok {
		return
	}
	c.drop(keys)
	if failed {
		// A write that timed out on this side may still be applied by the
		// database a moment later.
		time.AfterFunc(5*time.Second, func() { c.drop(keys) })
	}
}

// findByID decodes the document of col with id into v: from memory when the
// cache holds it, else by one _id look-up. ErrNotFound when there is none.
func (d *DB) findByID(ctx context.Context, col string, id any, v any) error {
	key, ok := idKey(id)
	if d.cache == nil || !cachedCollections[col] || !ok {
		return d.findByIDFresh(ctx, col, id, v)
	}
	_, raw, err := d.load(ctx, col, id, key)
	if err != nil {
		return err
	}
	return bson.Unmarshal(raw, v)
}

// findByIDFresh is findByID from the database itself, past the cache.
func (d *DB) findByIDFresh(ctx context.Context, col string, id any, v any) error {
	return translate(d.col(col).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(v))
}

// findShared returns the document of col with id as decode makes it from
// the raw BSON, decoded once for each answer the cache keeps: every reader
// of that answer gets the same value, which none may change. ErrNotFound
// when there is none.
func (d *DB) findShared(ctx context.Context, col string, id any, decode func(bson.Raw) (any, error)) (any, error) {
	key, ok := idKey(id)
	if d.cache == nil || !cachedCollections[col] || !ok {
		raw, err := d.col(col).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if err != nil {
			return nil, translate(err)
		}
		return decode(raw)
	}
	e, raw, err := d.load(ctx, col, id, key)
	if err != nil {
		return nil, err
	}
	c := d.cache
	c.mu.Lock()
	// The entry holds this very answer (another reader may have filled it
	// with its own, or a write dropped it): then its decoding is shared.
	same := !e.filled.IsZero() && len(e.raw) == len(raw) && &e.raw[0] == &raw[0]
	v := e.decoded
	c.mu.Unlock()
	if same && v != nil {
		return v, nil
	}
	if v, err = decode(raw); err != nil {
		return nil, err
	}
	if same {
		c.mu.Lock()
		if e.decoded == nil {
			e.decoded = v
		}
		v = e.decoded
		c.mu.Unlock()
	}
	return v, nil
}

// cachedFresh reports whether the cache holds an answer for the document
// of col with id that it would serve now (a reader would not ask the
// database): for a caller choosing how to read many at once.
func (d *DB) cachedFresh(col string, id any) bool {
	key, ok := idKey(id)
	if d.cache == nil || !cachedCollections[col] || !ok {
		return false
	}
	now := d.now()
	c := d.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cols[col][key]
	return e != nil && e.freshAt(now)
}

// load returns the entry of the document and its raw BSON, asking the
// database when the cache has no fresh answer; ErrNotFound when there is
// no such document.
func (d *DB) load(ctx context.Context, col string, id any, key string) (*cacheEntry, bson.Raw, error) {
	now := d.now()
	e, raw, fresh, refresh, wait := d.cache.entry(col, key, now)
	for wait != nil {
		select {
		case <-wait:
			now = d.now() // fresh is as of now, not of when the wait began
			e, raw, fresh, refresh, wait = d.cache.entry(col, key, now)
		case <-time.After(cacheTTL):
			// The reader asking has not answered in a second (stuck, or
			// gone without a word): ask for itself, and fill e for the
			// others waiting.
			wait = nil
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	if refresh {
		go d.renew(context.WithoutCancel(ctx), col, id, key, e)
	}
	if !fresh {
		r, err := d.col(col).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			r = nil
		case err != nil:
			d.cache.forget(col, key, e)
			return nil, nil, translate(err)
		}
		d.cache.fill(e, r, now)
		raw = r
	}
	if raw == nil {
		return nil, nil, ErrNotFound
	}
	return e, raw, nil
}

// renew asks the database again for the document of entry e, whose answer
// is ageing, and keeps what it answers (docCache.renew). A failure leaves
// e to expire as it would have.
func (d *DB) renew(ctx context.Context, col string, id any, key string, e *cacheEntry) {
	ctx, cancel := context.WithTimeout(ctx, cacheTTL)
	defer cancel()
	asked := d.now()
	raw, err := d.col(col).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		raw, err = nil, nil
	}
	if err != nil {
		d.cache.mu.Lock()
		e.refreshing = false
		d.cache.mu.Unlock()
		return
	}
	d.cache.renew(col, key, e, raw, asked)
}
