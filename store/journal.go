package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// An order write touches several documents: the order, the totals, its
// month's counts and its rows in two lists. Neither FerretDB nor MongoDB
// without a transaction writes them together, and a process can die
// between any two. So each order write is journaled:
//
//  1. a journal entry says what is about to happen (its _id is the op);
//  2. the documents are written; each counter update carries the op as a
//     mark, {ops.<op>: at}, in the same atomic update, and is skipped when
//     the mark is there already, so it applies once however often it runs;
//     the lists' rows are set by the order's id, which is the same twice;
//  3. the entry is deleted, then the marks.
//
// An entry left behind is the trace of a write that did not finish. Any
// instance repairs it (see RepairJournal) once its writer is known dead:
// it looks at what the order is now and finishes the steps, each of which
// is idempotent. A crash never needs a recount by hand.
//
//	journal  {_id: op, kind, instance, at, orders: [id], order: {…}, to, price}
const colJournal = "journal"

// Journal kinds.
const (
	journalBook   = "book"   // a group of new orders
	journalStatus = "status" // one order's status change
	journalUpdate = "update" // one order's details
	journalDelete = "delete" // one order removed
)

type journalEntry struct {
	ID       primitive.ObjectID   `bson:"_id"`
	Kind     string               `bson:"kind"`
	Instance string               `bson:"instance"`
	At       time.Time            `bson:"at"`
	Orders   []primitive.ObjectID `bson:"orders,omitempty"` // book: the group's orders
	Order    *Order               `bson:"order,omitempty"`  // status, update, delete: the order before
	To       string               `bson:"to,omitempty"`     // status: the new status
	Price    *int64               `bson:"price,omitempty"`  // update: the new price, if it changes

	// fresh is set by begin: the write is new, so no counter can carry its
	// mark yet and countOnce need not look (the repair's entries are not).
	fresh bool
}

// journalStale is how old the entry of a writer that is not known alive
// (a subcommand, a test, an instance from before) must be before it is
// taken for dead: longer than any write may take (commitTimeout).
const journalStale = 3 * commitTimeout

// begin writes the journal entry of op.
func (d *DB) begin(ctx context.Context, j *journalEntry) error {
	if j.ID.IsZero() {
		j.ID = primitive.NewObjectID()
	}
	j.Instance, j.At = d.instance, time.Now().UTC()
	_, err := d.col(colJournal).InsertOne(ctx, j)
	j.fresh = err == nil
	return translate(err)
}

// finish deletes op's entry. Its marks on the counters are no longer
// needed then (nothing can repeat its updates): they are taken off by the
// next update of the same counter (see countOnce), or at once when many wait.
// One left behind by a crash is a few bytes that nothing reads.
func (d *DB) finish(ctx context.Context, op primitive.ObjectID, counters ...string) error {
	if _, err := d.col(colJournal).DeleteOne(ctx, bson.D{{Key: "_id", Value: op}}); err != nil {
		return translate(err)
	}
	for _, c := range counters {
		if marks := d.marks.add(c, "ops."+op.Hex()); marks != nil {
			unset := bson.D{}
			for _, m := range marks {
				unset = append(unset, bson.E{Key: m, Value: ""})
			}
			if _, err := d.col(colCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: c}},
				bson.D{{Key: "$unset", Value: unset}}); err != nil {
				return translate(err)
			}
		}
	}
	return nil
}

// spentMarks are the marks of finished writes still on the counters, by
// counter document, to take off with its next update.
type spentMarks struct {
	mu sync.Mutex
	by map[string][]string
}

// maxSpentMarks is how many may wait on one counter before they are taken
// off on their own.
const maxSpentMarks = 64

// add records mark as spent on counter; when too many wait it hands them
// all back, for the caller to take off now.
func (m *spentMarks) add(counter, mark string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.by == nil {
		m.by = map[string][]string{}
	}
	m.by[counter] = append(m.by[counter], mark)
	if len(m.by[counter]) < maxSpentMarks {
		return nil
	}
	all := m.by[counter]
	delete(m.by, counter)
	return all
}

// take hands back and forgets the marks spent on counter.
func (m *spentMarks) take(counter string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := m.by[counter]
	delete(m.by, counter)
	return all
}

// countOnce applies inc to counter document id, marking it with mark in the
// same update, unless the mark is there already: repeated, it applies once.
// On a database that filters itself the mark's absence is in the filter:
// one atomic update (an upsert that loses the insert race, or meets the
// mark, collides with the document; it is tried again as a plain update,
// which matches only where the mark is not). On the embedded database,
// under the write mutex of its one process, it reads the document by _id
// and checks, unless the write is fresh (begun by this process, which no
// repair touches while it runs). The update also takes off the marks of
// finished writes (see finish). Call it within db.write.
func (d *DB) countOnce(ctx context.Context, id, mark string, fresh bool, inc bson.D) error {
	if len(inc) == 0 {
		return nil
	}
	update := bson.D{{Key: "$inc", Value: inc}, {Key: "$set", Value: bson.D{{Key: "ops." + mark, Value: time.Now().UTC()}}}}
	if spent := d.marks.take(id); len(spent) > 0 {
		unset := bson.D{}
		for _, m := range spent {
			unset = append(unset, bson.E{Key: m, Value: ""})
		}
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	filter := bson.D{{Key: "_id", Value: id}}
	if !d.filtersItself() {
		if !fresh {
			if marked, err := d.hasMark(ctx, id, mark); err != nil || marked {
				return err
			}
		}
		return translate(d.upsertByID(ctx, colCounters, id, update)) // two first bookings may race to make it
	}
	filter = append(filter, bson.E{Key: "ops." + mark, Value: bson.D{{Key: "$exists", Value: false}}})
	_, err := d.col(colCounters).UpdateOne(ctx, filter, update, options.Update().SetUpsert(true))
	if isDuplicate(err) {
		_, err = d.col(colCounters).UpdateOne(ctx, filter, update) // the document exists now
	}
	return translate(err)
}

// hasMark reports whether counter document id carries mark.
func (d *DB) hasMark(ctx context.Context, id, mark string) (bool, error) {
	raw, err := d.col(colCounters).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, translate(err)
	}
	_, err = raw.LookupErr("ops", mark)
	return err == nil, nil
}

// newInstanceID names this process in the journal and the instances list:
// "<host>/<slot>/<pid>/<random>". The slot (the listen address) is what a
// restart keeps: an entry of the same host and slot but another process was
// left by a process that is gone, as two cannot listen on one address.
func newInstanceID(slot string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%s/%d/%s", host, slot, os.Getpid(), primitive.NewObjectID().Hex())
}

// sameSlot reports whether instance ids a and b name the same host and slot.
func sameSlot(a, b string) bool {
	pa, pb := strings.SplitN(a, "/", 3), strings.SplitN(b, "/", 3)
	return len(pa) == 3 && len(pb) == 3 && pa[1] != "" && pa[0] == pb[0] && pa[1] == pb[1]
}

// RepairJournal finishes the order writes that were cut off: those of
// instances gone from the instances list, and those older than
// journalStale of writers that never were in it. It reports how many it
// repaired. Running it twice, or on two instances at once, repairs each
// once (every step is idempotent).
func (d *DB) RepairJournal(ctx context.Context, now time.Time) (int, error) {
	cur, err := d.col(colJournal).Find(ctx, bson.D{})
	if err != nil {
		return 0, err
	}
	var entries []journalEntry
	if err := cur.All(ctx, &entries); err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return 0, nil
	}
	instances, err := d.instances(ctx, now)
	if err != nil {
		return 0, err
	}
	orders := NewOrderStore(d)
	n := 0
	for i := range entries {
		j := &entries[i]
		if d.writerAlive(j, instances, now) {
			continue
		}
		done, err := d.repairOnce(ctx, orders, j, now)
		if err != nil {
			return n, fmt.Errorf("repair %s %s: %w", j.Kind, j.ID.Hex(), err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

// repairLease is how long a repair may take before another instance may
// take it over.
const repairLease = time.Minute

// repairOnce repairs j unless another instance does (a claim on
// "journal.<op>"), and reports whether it did. The entry is read again once
// claimed: a repair that ended meanwhile deleted it, and repeating it from
// the old copy would count twice where its marks were taken off since.
func (d *DB) repairOnce(ctx context.Context, orders *OrderStore, j *journalEntry, now time.Time) (bool, error) {
	c, err := d.claim(ctx, "journal."+j.ID.Hex(), now, now.Add(repairLease))
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer d.release(context.WithoutCancel(ctx), c)
	var cur journalEntry
	err = translate(d.col(colJournal).FindOne(ctx, bson.D{{Key: "_id", Value: j.ID}}).Decode(&cur))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, d.write(func() error { return orders.repair(ctx, &cur) })
}

// writerAlive says whether the writer of j may still be at it.
func (d *DB) writerAlive(j *journalEntry, instances map[string]bool, now time.Time) bool {
	alive, registered := instances[j.Instance]
	switch {
	case j.Instance == d.instance:
		return now.Sub(j.At) < journalStale // ours: in flight, or failed and over
	case sameSlot(j.Instance, d.instance):
		return false // the process before us on this address
	case d.owned:
		return false // the embedded database has one process: the others are gone
	case registered:
		return alive
	default:
		return now.Sub(j.At) < journalStale // a writer that does not register
	}
}

// repair finishes the write of j from what the order is now.
func (s *OrderStore) repair(ctx context.Context, j *journalEntry) error {
	switch j.Kind {
	case journalBook:
		var made []*Order
		for _, id := range j.Orders {
			o, err := s.Get(ctx, id)
			if errors.Is(err, ErrNotFound) {
				continue // never made (a delete waits for its booking's entry to go)
			}
			if err != nil {
				return err
			}
			made = append(made, o)
		}
		counters, err := s.settleBooked(ctx, j, made)
		if err != nil {
			return err
		}
		return s.db.finish(ctx, j.ID, counters...)
	case journalStatus:
		o, err := s.Get(ctx, j.Order.ID)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		if o.hasOp(j.ID) {
			if err := s.settleTransition(ctx, j, o); err != nil {
				return err
			}
		}
	case journalUpdate:
		o, err := s.Get(ctx, j.Order.ID)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		if err := s.settleUpdate(ctx, j, o); err != nil {
			return err
		}
	case journalDelete:
		_, err := s.Get(ctx, j.Order.ID)
		if err == nil {
			break // the delete never happened
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := s.settleDelete(ctx, j); err != nil {
			return err
		}
	}
	return s.db.finish(ctx, j.ID, s.countersOf(j)...)
}

// countersOf names the counter documents a write to one order may have
// marked.
func (s *OrderStore) countersOf(j *journalEntry) []string {
	return []string{counterOrders, monthCounter(j.Order.CreatedAt.In(Tashkent))}
}

// hasOp reports whether the change op is in o's history.
func (o *Order) hasOp(op primitive.ObjectID) bool {
	for _, h := range o.History {
		if h.Op == op {
			return true
		}
	}
	return false
}
