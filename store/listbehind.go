package store

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// listBehind writes the customers' lists ("My orders") behind the orders.
//
// On the embedded database every write costs about as much as a booking's
// whole share of the group commit, and a booking wrote two list documents
// of its customer's (the head and the page). Bookings arriving together
// are mostly of different customers, so the group commit could not share
// those writes. Here they wait in memory, merged by document, and a
// background loop writes each document once a second, however many of
// its customer's bookings came meanwhile.
//
// Nothing is lost to a reader: a read lays the waiting writes over the
// document it reads. Nothing is lost to a crash either: the orders are
// written before the booking is answered, and a start after a run that did
// not stop cleanly rebuilds the lists from them (Reconcile). A clean stop
// writes everything first.
//
// It is used only when this process is the embedded database's one writer
// (as the document cache is). Every waiting write is absolute (a row, the
// removal of a row, the head's number under $max), so it does no harm to
// apply one twice, or to lay it over a document that has it already.
type listBehind struct {
	mu    sync.Mutex
	docs  map[docRef]*listWrite        // what is to be written to each document
	heads map[primitive.ObjectID]int64 // each customer's last number handed out, ahead of the database
	log   *slog.Logger

	stop chan struct{}
	done chan struct{}
}

// docRef names a document of a list: its collection and _id.
type docRef struct{ col, id string }

// listWrite is what waits to be written to one document of a list.
type listWrite struct {
	n     int64               // a head's number, 0 for none
	set   map[string]orderRow // rows to write, by order id (hex)
	unset map[string]bool     // rows to remove
	ver   uint64              // counts the changes, so a flush knows what it wrote
}

// listFlushEvery is how often the waiting writes go to the database.
const listFlushEvery = time.Second

func newListBehind(log *slog.Logger) *listBehind {
	return &listBehind{docs: map[docRef]*listWrite{}, heads: map[primitive.ObjectID]int64{}, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
}

func (b *listBehind) docLocked(id docRef) *listWrite {
	w := b.docs[id]
	if w == nil {
		w = &listWrite{set: map[string]orderRow{}, unset: map[string]bool{}}
		b.docs[id] = w
	}
	w.ver++
	return w
}

func (b *listBehind) setRow(id docRef, row orderRow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.docLocked(id)
	hex := row.ID.Hex()
	w.set[hex] = row
	delete(w.unset, hex)
}

func (b *listBehind) unsetRow(id docRef, order primitive.ObjectID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.docLocked(id)
	hex := order.Hex()
	delete(w.set, hex)
	w.unset[hex] = true
}

// next hands out the customer's next by numbers and returns the last. The
// caller holds the write lock, so no two hand out at once; current reads
// the head as it stands (the database with the waiting writes).
func (b *listBehind) next(customer primitive.ObjectID, by int64, current func() (int64, error)) (int64, error) {
	b.mu.Lock()
	n, ok := b.heads[customer]
	b.mu.Unlock()
	if !ok {
		var err error
		if n, err = current(); err != nil {
			return 0, err
		}
	}
	n += by
	b.mu.Lock()
	defer b.mu.Unlock()
	b.heads[customer] = n
	w := b.docLocked(docRef{colCustomerOrders, customer.Hex()})
	w.n = max(w.n, n)
	return n, nil
}

// waiting returns a copy of what waits for document id, or nil. A reader
// takes it before reading the document: a flush that lands in between
// leaves the document with what the copy holds anyway.
func (b *listBehind) waiting(id docRef) *listWrite {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.docs[id].copy()
}

func (w *listWrite) copy() *listWrite {
	if w == nil {
		return nil
	}
	return &listWrite{n: w.n, set: maps.Clone(w.set), unset: maps.Clone(w.unset), ver: w.ver}
}

// overRows lays w over a page's rows, without touching rows (it may be
// the cache's own).
func (w *listWrite) overRows(rows map[string]orderRow) map[string]orderRow {
	if w == nil || len(w.set)+len(w.unset) == 0 {
		return rows
	}
	out := make(map[string]orderRow, len(rows)+len(w.set))
	for k, r := range rows {
		if !w.unset[k] {
			out[k] = r
		}
	}
	maps.Copy(out, w.set)
	return out
}

// forget drops whatever waits for a customer whose list is being deleted.
func (b *listBehind) forget(customer primitive.ObjectID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.heads, customer)
	prefix := customer.Hex()
	for id := range b.docs {
		if id.col == colCustomerOrders && (id.id == prefix || strings.HasPrefix(id.id, prefix+":")) {
			delete(b.docs, id)
		}
	}
}

// reset drops everything: the lists are being rebuilt from the orders.
func (b *listBehind) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.docs)
	clear(b.heads)
}

// run writes the waiting documents every listFlushEvery until close.
func (b *listBehind) run(d *DB) {
	defer close(b.done)
	t := time.NewTicker(listFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := b.flush(ctx, d, d.behindRound().write); err != nil {
				b.log.Warn("customer lists: writing behind", slog.Any("error", err))
			}
			cancel()
		}
	}
}

// close stops the loop; the caller then flushes.
func (b *listBehind) close() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
		<-b.done
	}
}

// flush writes every waiting document, each through write: the lock taken
// for one document at a time (d.write, or a behind round for the loop,
// which lets requests go first), so bookings wait behind one write, not
// all; nil when the caller holds the lock. A document that fails stays
// waiting.
func (b *listBehind) flush(ctx context.Context, d *DB, write func(context.Context, func() error) error) error {
	b.mu.Lock()
	ids := make([]docRef, 0, len(b.docs))
	for id := range b.docs {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	var first error
	for _, id := range ids {
		one := func() error { return b.flushDoc(ctx, d, id) }
		var err error
		if write == nil {
			err = one()
		} else {
			err = write(ctx, one)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// flushDoc writes what waits for document id; the caller holds the write
// lock.
func (b *listBehind) flushDoc(ctx context.Context, d *DB, id docRef) error {
	b.mu.Lock()
	orig := b.docs[id]
	w := orig.copy()
	b.mu.Unlock()
	if w == nil {
		return nil
	}
	var update bson.D
	if w.n > 0 {
		update = append(update, bson.E{Key: "$max", Value: bson.D{{Key: "n", Value: w.n}}})
	}
	if len(w.set) > 0 {
		set := make(bson.D, 0, len(w.set))
		for hex, r := range w.set {
			set = append(set, bson.E{Key: "rows." + hex, Value: r})
		}
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	if len(w.unset) > 0 {
		unset := make(bson.D, 0, len(w.unset))
		for hex := range w.unset {
			unset = append(unset, bson.E{Key: "rows." + hex, Value: ""})
		}
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	if len(update) > 0 {
		upsert := w.n > 0 || len(w.set) > 0
		if _, err := d.col(id.col).UpdateOne(ctx, bson.D{{Key: "_id", Value: id.id}}, update, options.Update().SetUpsert(upsert)); err != nil {
			return translate(err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur := b.docs[id]; cur == orig && cur.ver == w.ver {
		delete(b.docs, id) // nothing came meanwhile; else it all goes again next time
	}
	return nil
}

// pending counts the documents waiting, for tests.
func (b *listBehind) pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.docs)
}
