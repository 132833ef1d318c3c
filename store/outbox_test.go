package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

func enqueueOutbox(t *testing.T, outbox *store.OutboxStore, to string) *store.Email {
	t.Helper()
	e := &store.Email{To: to, Subject: "Salom " + to, HTML: "<p>Salom</p>", Text: "Salom: http://localhost:3000/auth/verify?token=abc"}
	if err := outbox.Enqueue(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // distinct creation times, for "newest first"
	return e
}

// failOutbox records n failed tries of e, the last one final when final.
func failOutbox(t *testing.T, outbox *store.OutboxStore, e *store.Email, n int, final bool) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		// Each try when the one before made it due again.
		at := time.Now().UTC().Add(time.Duration(2*i) * time.Hour).Truncate(time.Millisecond)
		c, err := outbox.Claim(ctx, e, at, at.Add(time.Minute))
		if err != nil {
			t.Fatalf("claim for try %d: %v", i, err)
		}
		next := at.Add(time.Hour)
		if i == n && final {
			next = time.Time{}
		}
		if err := outbox.MarkAttemptFailed(ctx, e, c, "dial tcp: connection refused", next); err != nil {
			t.Fatal(err)
		}
	}
}

// sendOutbox claims e and records it delivered.
func sendOutbox(t *testing.T, outbox *store.OutboxStore, e *store.Email) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	c, err := outbox.Claim(ctx, e, now, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.MarkSent(ctx, e, c, now); err != nil {
		t.Fatal(err)
	}
}

func emailID(e *store.Email) primitive.ObjectID { return e.ID }

func TestOutboxListProblemsAndCounts(t *testing.T) {
	ctx := context.Background()
	outbox := store.NewOutboxStore(storetest.Open(t))

	empty, err := outbox.ListProblems(ctx, 10, primitive.NilObjectID)
	if err != nil || empty.Failed == nil || empty.Retrying == nil || len(empty.Failed)+len(empty.Retrying) != 0 {
		t.Fatalf("empty outbox: %+v %v", empty, err)
	}

	fresh := enqueueOutbox(t, outbox, "fresh@example.uz")       // pending, never tried
	retrying := enqueueOutbox(t, outbox, "retrying@example.uz") // failed twice, due again later
	failOutbox(t, outbox, retrying, 2, false)
	older := enqueueOutbox(t, outbox, "older@example.uz") // given up on
	failOutbox(t, outbox, older, 5, true)
	newer := enqueueOutbox(t, outbox, "newer@example.uz") // given up on, later
	failOutbox(t, outbox, newer, 5, true)
	sent := enqueueOutbox(t, outbox, "sent@example.uz") // delivered: out of the queue
	sendOutbox(t, outbox, sent)

	p, err := outbox.ListProblems(ctx, 10, primitive.NilObjectID)
	if err != nil {
		t.Fatal(err)
	}
	if got := idsOf(p.Failed, emailID); len(got) != 2 || got[0] != newer.ID || got[1] != older.ID {
		t.Errorf("failed = %v, want newest first [%s %s]", got, newer.ID.Hex(), older.ID.Hex())
	}
	if got := idsOf(p.Retrying, emailID); len(got) != 1 || got[0] != retrying.ID {
		t.Errorf("retrying = %v, want [%s] (not the fresh %s)", got, retrying.ID.Hex(), fresh.ID.Hex())
	}
	for _, e := range append(append([]store.Email{}, p.Failed...), p.Retrying...) {
		if e.HTML != "" || e.Text != "" {
			t.Errorf("%s came with its bodies", e.To)
		}
		if e.Subject == "" || e.To == "" || e.LastError != "dial tcp: connection refused" || e.CreatedAt.IsZero() {
			t.Errorf("row lacks a field: %+v", e)
		}
	}
	if len(p.Failed) == 2 && (p.Failed[0].Status != store.EmailFailed || p.Failed[0].Attempts != 5) {
		t.Errorf("failed row: %+v", p.Failed[0])
	}
	if len(p.Retrying) == 1 {
		r := p.Retrying[0]
		if r.Status != store.EmailPending || r.Attempts != 2 || r.NextAttemptAt.Before(time.Now().Add(50*time.Minute)) {
			t.Errorf("retrying row: status %s, attempts %d, next %v", r.Status, r.Attempts, r.NextAttemptAt)
		}
	}

	one, err := outbox.ListProblems(ctx, 1, primitive.NilObjectID)
	if err != nil || len(one.Failed) != 1 || one.Failed[0].ID != newer.ID || one.FailedNext != newer.ID {
		t.Fatalf("limit 1: %+v %v", one, err)
	}
	// The next page of the failed: the older one, and no page after it.
	two, err := outbox.ListProblems(ctx, 1, one.FailedNext)
	if err != nil || len(two.Failed) != 1 || two.Failed[0].ID != older.ID || !two.FailedNext.IsZero() {
		t.Errorf("the second page: %+v %v", two, err)
	}
	if _, err := outbox.ListProblems(ctx, 0, primitive.NilObjectID); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("limit 0 = %v, want ErrInvalid", err)
	}

	c, err := outbox.Counts(ctx)
	if err != nil || c != (store.OutboxCounts{Failed: 2, Pending: 2}) {
		t.Errorf("counts = %+v %v, want 2 failed and 2 pending", c, err)
	}
}

func TestOutboxRetry(t *testing.T) {
	ctx := context.Background()
	outbox := store.NewOutboxStore(storetest.Open(t))
	failed := enqueueOutbox(t, outbox, "failed@example.uz")
	failOutbox(t, outbox, failed, 5, true)
	pending := enqueueOutbox(t, outbox, "pending@example.uz")
	failOutbox(t, outbox, pending, 1, false)
	sent := enqueueOutbox(t, outbox, "sent@example.uz")
	sendOutbox(t, outbox, sent)

	before := time.Now().UTC().Add(-time.Second)
	e, err := outbox.Retry(ctx, failed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != store.EmailPending || e.Attempts != 0 || e.LastError != "" || e.PreviousError != "dial tcp: connection refused" ||
		e.NextAttemptAt.Before(before) || e.NextAttemptAt.After(time.Now().Add(time.Second)) || e.HTML != "" {
		t.Errorf("after retry: %+v", e)
	}
	// The bodies stay in the queue: they are what the worker sends.
	if got, err := outbox.Get(ctx, failed.ID); err != nil || got.HTML != failed.HTML || got.Text != failed.Text || got.To != failed.To {
		t.Errorf("stored after retry: %+v %v", got, err)
	}
	due, err := outbox.Due(ctx, time.Now().UTC(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids := idsOf(due, emailID); len(ids) != 1 || ids[0] != failed.ID {
		t.Errorf("due after retry = %v, want only the retried email (the other is due in an hour)", ids)
	}
	if c, _ := outbox.Counts(ctx); c != (store.OutboxCounts{Failed: 0, Pending: 2}) {
		t.Errorf("counts after retry = %+v", c)
	}
	// Back with zero attempts and no failure since: no longer a problem.
	if p, _ := outbox.ListProblems(ctx, 10, primitive.NilObjectID); len(p.Failed) != 0 || len(p.Retrying) != 1 || p.Retrying[0].ID != pending.ID {
		t.Errorf("problems after retry: %+v", p)
	}

	for name, id := range map[string]primitive.ObjectID{"retried already": failed.ID, "pending": pending.ID, "sent": sent.ID} {
		if _, err := outbox.Retry(ctx, id); !errors.Is(err, store.ErrConflict) {
			t.Errorf("retry of a %s email = %v, want ErrConflict", name, err)
		}
	}
	if _, err := outbox.Retry(ctx, primitive.NewObjectID()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retry of an unknown id = %v, want ErrNotFound", err)
	}
	if got, _ := outbox.Get(ctx, pending.ID); got.Status != store.EmailPending || got.Attempts != 1 {
		t.Errorf("a refused retry changed the email: %+v", got)
	}
}

// Two admins pressing "retry" at once queue the email once.
func TestOutboxRetryConcurrently(t *testing.T) {
	ctx := context.Background()
	outbox := store.NewOutboxStore(storetest.Open(t))
	e := enqueueOutbox(t, outbox, "twice@example.uz")
	failOutbox(t, outbox, e, 5, true)
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string]int{}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := outbox.Retry(ctx, e.ID)
			key := "ok"
			if errors.Is(err, store.ErrConflict) {
				key = "conflict"
			} else if err != nil {
				key = err.Error()
			}
			mu.Lock()
			results[key]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if results["ok"] != 1 || results["conflict"] != 7 {
		t.Errorf("8 concurrent retries: %v, want 1 ok and 7 conflicts", results)
	}
}

// An email recorded as sent whose removal from the queue failed (the
// worker died between the two writes, its claim left behind) is not sent
// again: once the claim's lease is over, the worker that takes it over
// finds the delivery and takes the email out of the queue.
func TestOutboxClaimSkipsWhatWasRecordedSent(t *testing.T) {
	ctx := context.Background()
	client := storetest.Client(t)
	name := storetest.DBName(t)
	outbox := store.NewOutboxStore(storetest.OpenNamed(t, name))
	sent := &store.Email{To: "sent@example.uz", Subject: "s", HTML: "<p>s</p>", Text: "s"}
	if err := outbox.Enqueue(ctx, sent); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	e := *sent
	if _, err := outbox.Claim(ctx, &e, now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The first of the two writes of a delivery, alone.
	if _, err := client.Database(name).Collection("outboxSent").InsertOne(ctx, bson.D{{Key: "_id", Value: sent.ID}, {Key: "to", Value: sent.To}, {Key: "status", Value: store.EmailSent}}); err != nil {
		t.Fatal(err)
	}
	other := store.NewOutboxStore(storetest.OpenNamed(t, name))
	later := now.Add(2 * time.Minute)
	due, err := other.Due(ctx, later, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due: %+v, %v", due, err)
	}
	if _, err := other.Claim(ctx, &due[0], later, later.Add(time.Minute)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a claim of a delivered email: %v, want a conflict", err)
	}
	if due, _ := other.Due(ctx, later, 10); len(due) != 0 {
		t.Errorf("the delivered email is still due: %+v", due)
	}
}

// An email given up on keeps its recipient, subject and status for the
// admin's page, and loses its one-time links; one still to be tried keeps
// them, as it must send them.
func TestOutboxFailedEmailLosesItsLinks(t *testing.T) {
	ctx := context.Background()
	outbox := store.NewOutboxStore(storetest.Open(t))
	retrying := enqueueOutbox(t, outbox, "keyin@example.uz")
	failOutbox(t, outbox, retrying, 2, false)
	failed := enqueueOutbox(t, outbox, "yetmadi@example.uz")
	failOutbox(t, outbox, failed, 5, true)
	got, err := outbox.Get(ctx, retrying.ID)
	if err != nil || !strings.Contains(got.Text, "token=abc") {
		t.Errorf("an email to try again = %+v, %v: want its link", got, err)
	}
	got, err = outbox.Get(ctx, failed.ID)
	if err != nil || got.Status != store.EmailFailed || got.To != "yetmadi@example.uz" || got.Subject != "Salom yetmadi@example.uz" ||
		got.Text != "Salom: http://localhost:3000/auth/verify?token=REMOVED" {
		t.Errorf("a failed email = %+v, %v", got, err)
	}
}
