package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"tozalash/ics"
)

// createQueue commits bookings in groups (commitQueue). A booking writes
// the order and five documents around it (the totals, which number it,
// the customer's list head, the day's count and a row in each list); the
// totals, the day and the board's page are the same few documents for
// every booking, so bookings that arrive together share those writes. Its
// commits take the write lock as a booking's (writeForBooking). A
// caller whose request runs out of time returns while the commit goes on:
// its booking may still be made, and a retry with the same idempotency key
// finds it.
type createQueue = commitQueue[*createReq]

type createReq struct {
	o       *Order
	mail    *Email // queued with the order, if any
	mailErr error  // the order was made, its email not queued
	groupMember
}

// createBatch writes a group of new orders, journaled (see journal.go):
// one $inc of the totals hands out the Seqs and each customer's head the
// CustomerSeqs; the journal entry names the orders; they are inserted, and
// those the database took (not a repeated idempotency key) are counted
// and listed, their emails queued, and the entry deleted. Numbers of
// orders not made stay unused, which the lists allow.
func (s *OrderStore) createBatch(ctx context.Context, group []*createReq) {
	fail := func(err error) {
		for _, r := range group {
			if r.err == nil {
				r.err = err
			}
		}
	}
	n := int64(len(group))
	last, err := s.reserveSeqs(ctx, n)
	if err != nil {
		fail(err)
		return
	}
	for i, r := range group {
		r.o.Seq = last - n + 1 + int64(i)
	}
	// The customers' heads, one $inc each for all their orders here.
	var customers []primitive.ObjectID
	byCustomer := map[primitive.ObjectID][]*createReq{}
	for _, r := range group {
		if _, ok := byCustomer[r.o.UserID]; !ok {
			customers = append(customers, r.o.UserID)
		}
		byCustomer[r.o.UserID] = append(byCustomer[r.o.UserID], r)
	}
	for _, c := range customers {
		mine := byCustomer[c]
		last, err := s.nextCustomerSeq(ctx, c, int64(len(mine)))
		if err != nil {
			fail(err)
			return
		}
		for j, r := range mine {
			r.o.CustomerSeq = last - int64(len(mine)) + 1 + int64(j)
		}
	}
	j := &journalEntry{ID: primitive.NewObjectID(), Kind: journalBook}
	docs := make([]any, len(group))
	for i, r := range group {
		r.o.Booking = j.ID
		docs[i] = r.o
		j.Orders = append(j.Orders, r.o.ID)
	}
	if err := s.db.begin(ctx, j); err != nil {
		fail(err)
		return
	}
	if s.cut("journaled") {
		fail(errCut)
		return
	}
	_, err = s.db.col(colOrders).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bulk mongo.BulkWriteException
	switch {
	case err == nil:
	case errors.As(err, &bulk) && bulk.WriteConcernError == nil:
		for _, we := range bulk.WriteErrors {
			if we.Index >= 0 && we.Index < len(group) {
				group[we.Index].err = translate(we)
			}
		}
	default:
		fail(translate(err)) // the journal's repair settles what was made
		return
	}
	if s.cut("written") {
		fail(errCut)
		return
	}
	var made []*createReq
	var orders []*Order
	for _, r := range group {
		if r.err == nil {
			made, orders = append(made, r), append(orders, r.o)
		}
	}
	counters, err := s.settleBooked(ctx, j, orders)
	if err != nil {
		fail(err) // the journal's repair settles what was made
		return
	}
	if s.cut("settled") {
		fail(errCut)
		return
	}
	// The orders are made, counted and listed whatever becomes of this.
	if err := s.queueEmails(ctx, made); err != nil {
		for _, r := range made {
			r.mailErr = err
		}
	}
	if err := s.db.finish(ctx, j.ID, counters...); err != nil {
		s.db.log.Warn("orders: closing the journal of a booking group", "error", err)
	}
}

// seqAttempts bounds reserveSeqs' tries: each one that loses moves the
// totals on by n, past the numbers another instance holds.
const seqAttempts = 20

// reserveSeqs hands out n consecutive order numbers and returns the last.
// The $inc of the totals proposes them (atomic on MongoDB), and each is
// claimed by inserting {_id: "<n>"} into orderNumbers, whose unique _id
// holds on every database: a range someone else holds (a $inc lost on
// FerretDB across processes) is left, and the next is tried. Numbers left
// this way, or held by a booking that failed, stay unused, which the lists
// allow; a customer sees gaps, never a number twice.
func (s *OrderStore) reserveSeqs(ctx context.Context, n int64) (int64, error) {
	for range seqAttempts {
		var t OrderTotals
		err := s.db.findAndUpsertByID(ctx, colCounters, counterOrders, bson.D{{Key: "$inc", Value: bson.D{{Key: "seq", Value: n}}}}, true, &t)
		if err != nil {
			return 0, err
		}
		docs := make([]any, n)
		for i := range n {
			docs[i] = bson.D{{Key: "_id", Value: strconv.FormatInt(t.Seq-n+1+i, 10)}}
		}
		_, err = s.db.col(colOrderNumbers).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		if err == nil {
			return t.Seq, nil
		}
		if !errors.Is(translate(err), ErrConflict) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("%w: no free order numbers after %d tries", ErrConflict, seqAttempts)
}

// settleBooked counts new orders (as made: PENDING) in the totals and
// their days, once per op, and sets their rows in both lists. It returns
// the counter documents it marked.
func (s *OrderStore) settleBooked(ctx context.Context, j *journalEntry, made []*Order) ([]string, error) {
	if len(made) == 0 {
		return nil, nil
	}
	mark := j.ID.Hex()
	inc := bson.D{{Key: "n", Value: int64(len(made))}, {Key: "status." + StatusPending, Value: int64(len(made))}}
	services := map[string]int64{}
	var keys []string
	byMonth := map[string]map[string]int64{}
	var months []string
	for _, o := range made {
		k := "services." + o.ServiceID.Hex()
		if _, ok := services[k]; !ok {
			keys = append(keys, k)
		}
		services[k]++
		day := o.CreatedAt.In(Tashkent)
		m := monthCounter(day)
		if byMonth[m] == nil {
			byMonth[m] = map[string]int64{}
			months = append(months, m)
		}
		byMonth[m]["days."+day.Format(time.DateOnly)+"."+StatusPending]++
	}
	for _, k := range keys {
		inc = append(inc, bson.E{Key: k, Value: services[k]})
	}
	if err := s.db.countOnce(ctx, counterOrders, mark, j.fresh, inc); err != nil {
		return nil, err
	}
	for _, m := range months {
		var dinc bson.D
		for k, v := range byMonth[m] {
			dinc = append(dinc, bson.E{Key: k, Value: v})
		}
		if err := s.db.countOnce(ctx, m, mark, j.fresh, dinc); err != nil {
			return nil, err
		}
	}
	if s.cut("counted") {
		return nil, errCut
	}
	// New orders hold no cells they give up: only their days' entries.
	if err := setDayVisits(ctx, s.db, made); err != nil {
		return nil, err
	}
	if err := s.reprojectMany(ctx, made); err != nil {
		return nil, err
	}
	return append([]string{counterOrders}, months...), nil
}

// queueEmails puts the made orders' emails into the outbox, in one insert,
// else one by one. Each email's id is made from its order's, so an insert
// whose answer was lost, tried again, queues it once.
func (s *OrderStore) queueEmails(ctx context.Context, made []*createReq) error {
	var docs []any
	for _, r := range made {
		if r.mail != nil {
			r.mail.Numbered(r.o.Seq)
			r.mail.prepare(r.o.CreatedAt)
			r.mail.ID = keyedID("booking|" + r.o.ID.Hex())
			docs = append(docs, r.mail)
		}
	}
	err := s.db.insertAbsent(ctx, colOutbox, docs)
	if err != nil {
		var errs []error
		for _, d := range docs {
			errs = append(errs, s.db.insertAbsent(ctx, colOutbox, []any{d}))
		}
		err = errors.Join(errs...)
	}
	for _, r := range made {
		if r.mail != nil {
			s.db.hint(r.mail)
		}
	}
	return err
}

// OrderNumberMark stands for the order's number in a booking's email,
// which is written before the booking group hands the number out; the
// group puts the number in its place (see Numbered).
const OrderNumberMark = "{order-number}"

// Numbered writes order number n where the email has OrderNumberMark
// (once: a second call finds no mark).
func (e *Email) Numbered(n int64) {
	no := "#" + strconv.FormatInt(n, 10)
	e.Subject = strings.ReplaceAll(e.Subject, OrderNumberMark, no)
	e.Text = strings.ReplaceAll(e.Text, OrderNumberMark, no)
	e.HTML = strings.ReplaceAll(e.HTML, OrderNumberMark, no)
	for i, a := range e.Attachments {
		if strings.Contains(ics.Unfold(a.Content), OrderNumberMark) {
			// The number may sit across a folded line: unfolded, written
			// in, folded again (ics.Refold).
			e.Attachments[i].Content = ics.Refold(strings.ReplaceAll(ics.Unfold(a.Content), OrderNumberMark, no))
		}
	}
}

// reprojectMany writes the made orders' rows into both lists, one update
// per list document.
func (s *OrderStore) reprojectMany(ctx context.Context, made []*Order) error {
	seqs := make([]int64, len(made))
	rows := make([]OrderSummary, len(made))
	byCustomer := map[primitive.ObjectID][]int{}
	var customers []primitive.ObjectID
	for i, r := range made {
		seqs[i], rows[i] = r.Seq, r.Summary()
		if _, ok := byCustomer[r.UserID]; !ok {
			customers = append(customers, r.UserID)
		}
		byCustomer[r.UserID] = append(byCustomer[r.UserID], i)
	}
	// Every customer's rows in one command, and the board's in another.
	var lists []mongo.WriteModel
	for _, c := range customers {
		var cs []int64
		var cr []OrderSummary
		for _, i := range byCustomer[c] {
			cs, cr = append(cs, made[i].CustomerSeq), append(cr, rows[i])
		}
		lists = append(lists, customerPages(c).setModels(cs, cr)...)
	}
	if err := s.db.bulkUpsert(ctx, colCustomerOrders, lists); err != nil {
		return err
	}
	return boardPages.setMany(ctx, s.db, seqs, rows)
}
