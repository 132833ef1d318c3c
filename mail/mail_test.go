package mail_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"tozalash/mail"
	"tozalash/mail/mailtest"
	"tozalash/store"
	"tozalash/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func queue(t *testing.T, outbox *store.OutboxStore, to string) *store.Email {
	t.Helper()
	e := &store.Email{To: to, Subject: "Salom", HTML: "<p>Salom</p>", Text: "Salom: http://localhost:3000/auth/verify?token=abc"}
	if err := outbox.Enqueue(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestWorkerDeliversWithBothParts(t *testing.T) {
	outbox := store.NewOutboxStore(storetest.Open(t))
	smtp := mailtest.Start(t)
	w := mail.NewWorker(outbox, mail.NewSMTP(smtp.Host, smtp.Port, "", "", "Tozalash <no-reply@localhost>"), slog.New(slog.DiscardHandler))
	e := queue(t, outbox, "mijoz@example.uz")
	w.SendDue(context.Background())
	m := smtp.WaitFor("mijoz@example.uz", 5*time.Second)
	if m.Subject != "Salom" || m.HTML != "<p>Salom</p>" || !strings.Contains(m.Text, "token=abc") || m.From != "no-reply@localhost" {
		t.Errorf("received %+v", m)
	}
	got, _ := outbox.Get(context.Background(), e.ID)
	if got.Status != store.EmailSent || got.SentAt == nil || got.Attempts != 1 {
		t.Errorf("outbox after delivery: %+v", got)
	}
	w.SendDue(context.Background())
	if n := smtp.Count("mijoz@example.uz"); n != 1 {
		t.Errorf("delivered %d times", n)
	}
}

type failing struct{}

func (failing) Send(context.Context, *store.Email) error { return errors.New("connection refused") }

func TestWorkerGivesUpAfterFiveTries(t *testing.T) {
	outbox := store.NewOutboxStore(storetest.Open(t))
	w := mail.NewWorker(outbox, failing{}, slog.New(slog.DiscardHandler))
	w.Backoff = func(int) time.Duration { return 0 }
	e := queue(t, outbox, "x@example.uz")
	// With no backoff every try is due at once: five, then it stops.
	for round := 0; round < 2; round++ {
		w.SendDue(context.Background())
		got, _ := outbox.Get(context.Background(), e.ID)
		if got.Status != store.EmailFailed || got.Attempts != 5 || got.LastError != "connection refused" {
			t.Fatalf("round %d: status %s, attempts %d, error %q", round, got.Status, got.Attempts, got.LastError)
		}
	}
}

// Two workers (two app instances) never send one email twice.
func TestTwoWorkersSendOnce(t *testing.T) {
	db := storetest.Open(t)
	outbox := store.NewOutboxStore(db)
	smtp := mailtest.Start(t)
	for i := 0; i < 10; i++ {
		queue(t, outbox, "many@example.uz")
	}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		w := mail.NewWorker(outbox, mail.NewSMTP(smtp.Host, smtp.Port, "", "", "t@localhost"), slog.New(slog.DiscardHandler))
		wg.Add(1)
		go func() { defer wg.Done(); w.SendDue(context.Background()) }()
	}
	wg.Wait()
	if n := smtp.Count("many@example.uz"); n != 10 {
		t.Errorf("10 emails delivered %d times", n)
	}
}

func TestLogSenderShowsTheLinks(t *testing.T) {
	var buf bytes.Buffer
	s := mail.Log{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	_ = s.Send(context.Background(), &store.Email{To: "dev@example.uz", Subject: "Tasdiqlang", Text: "Link: http://localhost:3000/auth/verify?token=xyz\n"})
	out := buf.String()
	for _, want := range []string{"to=dev@example.uz", "subject=Tasdiqlang", "http://localhost:3000/auth/verify?token=xyz"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q: %s", want, out)
		}
	}
}

// A burst of mail costs the database a few writes, not four per email: the
// queue is known in memory (the look for due mail and the claims read and
// write nothing) and deliveries are recorded a batch at a time.
func TestWorkerRecordsDeliveriesInBatches(t *testing.T) {
	db := storetest.Open(t)
	outbox := store.NewOutboxStore(db)
	smtp := mailtest.Start(t)
	w := mail.NewWorker(outbox, mail.NewSMTP(smtp.Host, smtp.Port, "", "", "t@localhost"), slog.New(slog.DiscardHandler))
	const n = 120
	for i := 0; i < n; i++ {
		queue(t, outbox, "burst@example.uz")
	}
	before := db.Commands()
	w.SendDue(context.Background())
	commands := db.Commands() - before
	if got := smtp.Count("burst@example.uz"); got != n {
		t.Fatalf("%d of %d delivered", got, n)
	}
	if commands > n/2 {
		t.Errorf("sending %d emails took %d database commands, want at most %d", n, commands, n/2)
	}
	counts, err := outbox.Counts(context.Background())
	if err != nil || counts.Pending != 0 {
		t.Errorf("after the burst: %+v, %v", counts, err)
	}
	w.SendDue(context.Background())
	if got := smtp.Count("burst@example.uz"); got != n {
		t.Errorf("a second pass delivered again: %d", got)
	}
}

// The queue in memory is read back from the database on start: what was
// due is due again (a claim held only in memory died with the process, as
// a lease expires), and what waits for a later try still waits.
func TestOutboxQueueSurvivesARestart(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	db := storetest.OpenSoleNamed(t, name)
	outbox := store.NewOutboxStore(db)
	claimed := queue(t, outbox, "claimed@example.uz")
	later := queue(t, outbox, "later@example.uz")
	queue(t, outbox, "plain@example.uz")
	due, err := outbox.Due(ctx, time.Now().UTC(), 10)
	if err != nil || len(due) != 3 {
		t.Fatalf("due: %d, %v", len(due), err)
	}
	for i := range due {
		switch due[i].ID {
		case claimed.ID:
			if err := outbox.Claim(ctx, &due[i], time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := outbox.Claim(ctx, &due[i], time.Now().Add(time.Hour)); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("a second claim: %v", err)
			}
		case later.ID:
			if err := outbox.MarkAttemptFailed(ctx, later.ID, "421 try later", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if due, _ := outbox.Due(ctx, time.Now().UTC(), 10); len(due) != 1 || due[0].To != "plain@example.uz" {
		t.Fatalf("due before the restart: %+v", due)
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	outbox = store.NewOutboxStore(storetest.OpenSoleNamed(t, name))
	due, err = outbox.Due(ctx, time.Now().UTC(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, e := range due {
		to = append(to, e.To)
		if e.HTML != "<p>Salom</p>" {
			t.Errorf("%s came back without its body: %q", e.To, e.HTML)
		}
	}
	if len(due) != 2 || !strings.Contains(strings.Join(to, " "), "claimed@") || !strings.Contains(strings.Join(to, " "), "plain@") {
		t.Errorf("due after the restart: %v", to)
	}
	if due, _ := outbox.Due(ctx, time.Now().Add(2*time.Hour), 10); len(due) != 3 {
		t.Errorf("the email tried later is not due later: %d due", len(due))
	}
}
