package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// Each delivery is recorded before the next email goes out, so a crash
// never leaves a delivered email to be sent again: when the sender is
// handed an email, every one it was handed before is recorded sent.
func TestWorkerRecordsEachDeliveryAsItHappens(t *testing.T) {
	db := storetest.Open(t)
	outbox := store.NewOutboxStore(db)
	smtp := mailtest.Start(t)
	rec := &recordChecker{t: t, outbox: outbox, next: mail.NewSMTP(smtp.Host, smtp.Port, "", "", "t@localhost")}
	w := mail.NewWorker(outbox, rec, slog.New(slog.DiscardHandler))
	const n = 30
	for i := 0; i < n; i++ {
		queue(t, outbox, "burst@example.uz")
	}
	w.SendDue(context.Background())
	if got := smtp.Count("burst@example.uz"); got != n {
		t.Fatalf("%d of %d delivered", got, n)
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

// recordChecker checks, at each send, that the emails sent before are
// recorded as sent, then hands the email on.
type recordChecker struct {
	t      *testing.T
	outbox *store.OutboxStore
	next   mail.Sender
	before []*store.Email
}

func (r *recordChecker) Send(ctx context.Context, e *store.Email) error {
	for _, p := range r.before {
		if got, err := r.outbox.Get(ctx, p.ID); err != nil || got.Status != store.EmailSent {
			r.t.Errorf("email %s was delivered but is not recorded sent: %+v, %v", p.ID.Hex(), got, err)
		}
	}
	r.before = append(r.before, e)
	return r.next.Send(ctx, e)
}

// A claim is the one right to send an email's attempt: a second worker,
// here on another handle of the database as another instance would be, is
// refused while the lease lasts, takes it over once the lease has expired
// (its owner died), and claims outlive a restart of the app.
func TestClaimsAreExclusiveDurableAndExpire(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	db := storetest.OpenNamed(t, name)
	outbox, other := store.NewOutboxStore(db), store.NewOutboxStore(storetest.OpenNamed(t, name))
	claimed := queue(t, outbox, "claimed@example.uz")
	later := queue(t, outbox, "later@example.uz")
	queue(t, outbox, "plain@example.uz")
	now := time.Now().UTC()
	due, err := outbox.Due(ctx, now, 10)
	if err != nil || len(due) != 3 {
		t.Fatalf("due: %d, %v", len(due), err)
	}
	for i := range due {
		switch due[i].ID {
		case claimed.ID:
			if _, err := outbox.Claim(ctx, &due[i], now, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			e := due[i]
			if _, err := other.Claim(ctx, &e, now.Add(time.Minute), now.Add(time.Hour)); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("a second claim within the lease: %v", err)
			}
		case later.ID:
			c, err := outbox.Claim(ctx, &due[i], now, now.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if err := outbox.MarkAttemptFailed(ctx, &due[i], c, "421 try later", now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if due, _ := outbox.Due(ctx, now, 10); len(due) != 2 {
		t.Fatalf("due after a failed try: %+v, want the claimed and the plain one", due)
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	outbox = store.NewOutboxStore(storetest.OpenNamed(t, name))
	e := *claimed
	if _, err := outbox.Claim(ctx, &e, now.Add(time.Minute), now.Add(time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a claim after the restart, within the lease: %v", err)
	}
	// The lease is over: its owner is taken to be dead. One of two takes over.
	won := 0
	for _, o := range []*store.OutboxStore{outbox, other} {
		e := *claimed
		if _, err := o.Claim(ctx, &e, now.Add(2*time.Hour), now.Add(3*time.Hour)); err == nil {
			won++
		} else if !errors.Is(err, store.ErrConflict) {
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Errorf("%d workers took over the expired claim, want 1", won)
	}
	if due, _ := outbox.Due(ctx, now.Add(2*time.Hour), 10); len(due) != 3 {
		t.Errorf("the email tried later is not due later: %d due", len(due))
	}
}

// Two instances' workers racing over the same queue send each email once.
func TestTwoInstancesSendEachEmailOnce(t *testing.T) {
	name := storetest.DBName(t)
	a, b := store.NewOutboxStore(storetest.OpenNamed(t, name)), store.NewOutboxStore(storetest.OpenNamed(t, name))
	for i := range 40 {
		queue(t, a, fmt.Sprintf("c%d@example.uz", i))
	}
	var sender countingSender
	var wg sync.WaitGroup
	for _, o := range []*store.OutboxStore{a, b, a, b} {
		w := mail.NewWorker(o, &sender, slog.New(slog.DiscardHandler))
		wg.Add(1)
		go func() { defer wg.Done(); w.SendDue(context.Background()) }()
	}
	wg.Wait()
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if len(sender.to) != 40 {
		t.Errorf("%d distinct addresses sent to, want 40", len(sender.to))
	}
	for to, n := range sender.to {
		if n != 1 {
			t.Errorf("%s got %d emails", to, n)
		}
	}
}

type countingSender struct {
	mu sync.Mutex
	to map[string]int
}

func (s *countingSender) Send(_ context.Context, e *store.Email) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.to == nil {
		s.to = map[string]int{}
	}
	s.to[e.To]++
	return nil
}

// An email the regular look (Due) sent before its hint came is not sent
// again by the hint.
func TestAHintAfterTheSendSendsNothing(t *testing.T) {
	outbox := store.NewOutboxStore(storetest.Open(t))
	var sender countingSender
	w := mail.NewWorker(outbox, &sender, slog.New(slog.DiscardHandler))
	queue(t, outbox, "once@example.uz")
	ctx := context.Background()
	hints := outbox.Hinted(10) // taken aside, as if not yet seen
	now := time.Now().UTC()
	e, c, err := claimDue(t, outbox, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.Send(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := outbox.MarkSent(ctx, e, c, now); err != nil {
		t.Fatal(err)
	}
	claims, err := outbox.ClaimNew(ctx, hints, now.Add(time.Hour))
	if err != nil || len(claims) != 1 || claims[0] != nil {
		t.Errorf("the hint of a sent email claimed: %v, %v", claims, err)
	}
	w.SendDue(ctx)
	if n := sender.to["once@example.uz"]; n != 1 {
		t.Errorf("%d emails, want 1", n)
	}
}

// A message the regular look (Due) tried before its hint came, and that
// Telegram throttled (429: its attempts stay 0), is not sent by the hint
// before retry_after (a race seen once in the Telegram test).
func TestAHintAfterA429WaitsForRetryAfter(t *testing.T) {
	outbox := store.NewOutboxStore(storetest.Open(t))
	var sender countingSender
	w := mail.NewWorker(outbox, &sender, slog.New(slog.DiscardHandler))
	queue(t, outbox, "held@example.uz") // its hint waits in the channel
	ctx := context.Background()
	now := time.Now().UTC()
	e, c, err := claimDue(t, outbox, now)
	if err != nil {
		t.Fatal(err)
	}
	// A minute: shorter than the worker's lease, so a claim the hint kept
	// would still hold it below.
	if err := outbox.MarkThrottled(ctx, e, c, "429 Too Many Requests: retry after 60", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	w.SendDue(ctx) // the hint first, then the regular look
	if n := sender.to["held@example.uz"]; n != 0 {
		t.Errorf("sent %d times before retry_after", n)
	}
	// The hint let it go: the regular look takes it once it is due.
	if _, _, err := claimDue(t, outbox, now.Add(time.Minute+time.Second)); err != nil {
		t.Errorf("claimed after retry_after: %v; want it free", err)
	}
}

// claimDue claims the one email due at at, as the regular look does.
func claimDue(t *testing.T, outbox *store.OutboxStore, at time.Time) (*store.Email, *store.Claim, error) {
	t.Helper()
	due, err := outbox.Due(context.Background(), at, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due at %v: %v, %v", at, due, err)
	}
	c, err := outbox.Claim(context.Background(), &due[0], at, at.Add(time.Hour))
	return &due[0], c, err
}

// An attachment arrives as its own part, with its type, its file name and
// its bytes intact (a booking's .ics, #24), beside the text and HTML.
func TestWorkerSendsAttachments(t *testing.T) {
	outbox := store.NewOutboxStore(storetest.Open(t))
	smtp := mailtest.Start(t)
	w := mail.NewWorker(outbox, mail.NewSMTP(smtp.Host, smtp.Port, "", "", "Tozalash <no-reply@localhost>"), slog.New(slog.DiscardHandler))
	ics := "BEGIN:VCALENDAR\r\nSUMMARY:Общая уборка o‘g‘il\r\nEND:VCALENDAR\r\n"
	e := &store.Email{To: "ilova@example.uz", Subject: "Buyurtma", HTML: "<p>Salom</p>", Text: "Salom",
		Attachments: []store.Attachment{{Name: "tozalash-7.ics", ContentType: "text/calendar; charset=utf-8; method=PUBLISH", Content: ics}}}
	if err := outbox.Enqueue(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	w.SendDue(context.Background())
	m := smtp.WaitFor("ilova@example.uz", 5*time.Second)
	if m.Text != "Salom" || m.HTML != "<p>Salom</p>" {
		t.Errorf("the text parts: %q %q", m.Text, m.HTML)
	}
	if len(m.Attachments) != 1 {
		t.Fatalf("attachments: %+v", m.Attachments)
	}
	a := m.Attachments[0]
	if a.Filename != "tozalash-7.ics" || a.ContentType != "text/calendar" || a.Params["method"] != "PUBLISH" || a.Params["charset"] != "utf-8" || a.Content != ics {
		t.Errorf("attachment %+v", a)
	}
	sent, _ := outbox.Get(context.Background(), e.ID)
	if sent.Status != store.EmailSent || sent.Attachments != nil {
		t.Errorf("the sent copy keeps %d attachments (status %s)", len(sent.Attachments), sent.Status)
	}
}
