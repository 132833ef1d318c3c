// Package mail delivers the outbox: a worker takes due messages from the
// outbox collection and sends them, emails over SMTP with gomail and
// Telegram messages through the bot (#24), retrying with backoff;
// requests only ever write to the outbox.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"gopkg.in/gomail.v2"

	"tozalash/store"
	"tozalash/telegram"
)

// Sender delivers one email.
type Sender interface {
	Send(ctx context.Context, e *store.Email) error
}

// SMTP sends through an SMTP server.
type SMTP struct {
	dialer *gomail.Dialer
	from   string
}

// NewSMTP returns a sender for host:port; user and password may be empty.
func NewSMTP(host string, port int, user, password, from string) *SMTP {
	d := gomail.NewDialer(host, port, user, password)
	d.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	return &SMTP{dialer: d, from: from}
}

// Send delivers e with an HTML part and a plain-text alternative.
func (s *SMTP) Send(_ context.Context, e *store.Email) error {
	m := gomail.NewMessage()
	m.SetHeader("From", s.from)
	m.SetHeader("To", e.To)
	m.SetHeader("Subject", e.Subject)
	m.SetHeader("Message-ID", "<"+e.ID.Hex()+"@tozalash>")
	m.SetBody("text/plain", e.Text)
	m.AddAlternative("text/html", e.HTML)
	for _, a := range e.Attachments {
		m.Attach(a.Name, gomail.SetHeader(map[string][]string{"Content-Type": {mime.FormatMediaType(withName(a.ContentType, a.Name))}}),
			gomail.SetCopyFunc(func(w io.Writer) error {
				_, err := io.WriteString(w, a.Content)
				return err
			}))
	}
	return s.dialer.DialAndSend(m)
}

// withName is a media type with its name parameter (gomail would guess
// the type from the name's extension otherwise): some mail readers
// name the file by it rather than by the disposition's filename.
func withName(contentType, name string) (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, params = "application/octet-stream", map[string]string{}
	}
	params["name"] = name
	return mt, params
}

// Channels sends each message of the outbox by its channel: an email by
// Email, a Telegram message by Telegram (#24; nil while Telegram is off,
// when such a message fails for good).
type Channels struct {
	Email, Telegram Sender
}

// Send hands e to its channel's sender.
func (c *Channels) Send(ctx context.Context, e *store.Email) error {
	if e.Channel == store.ChannelTelegram {
		if c.Telegram == nil {
			return permanent{errors.New("Telegram is off (no TELEGRAM_BOT_TOKEN)")}
		}
		return c.Telegram.Send(ctx, e)
	}
	return c.Email.Send(ctx, e)
}

// Telegram sends the outbox's Telegram messages through the bot. A chat
// that blocked the bot (403) is told to Blocked, and the message is not
// tried again; a 429's retry_after is when it is tried again (see attempt).
// A message for a customer goes only while the chat is still theirs
// (Current): one queued before they disconnected, or moved to another
// chat, is not sent.
type Telegram struct {
	Bot     *telegram.Client
	Blocked func(ctx context.Context, chat int64)
	Current func(ctx context.Context, user primitive.ObjectID) (chat int64, err error)
}

// Send sends e's text to its chat.
func (t Telegram) Send(ctx context.Context, e *store.Email) error {
	if !e.UserID.IsZero() && t.Current != nil {
		chat, err := t.Current(ctx, e.UserID)
		if err != nil {
			return err
		}
		if chat != e.ChatID {
			return permanent{errors.New("the customer's Telegram is no longer this chat")}
		}
	}
	err := t.Bot.SendMessage(ctx, e.ChatID, e.Text)
	if telegram.Blocked(err) {
		if t.Blocked != nil {
			t.Blocked(context.WithoutCancel(ctx), e.ChatID)
		}
		return permanent{err}
	}
	return err
}

// permanent is a failure that trying again cannot mend.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Log writes each email to the log instead of sending it: development
// without SMTP_HOST, where the links are what a developer needs.
type Log struct{ Logger *slog.Logger }

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+`)

// Send logs the recipient, the subject and every link of e.
func (l Log) Send(_ context.Context, e *store.Email) error {
	l.Logger.Info("email (SMTP_HOST is empty, so it is logged, not sent)",
		slog.String("to", e.To), slog.String("subject", e.Subject),
		slog.Any("links", linkPattern.FindAllString(e.Text, -1)))
	return nil
}

// Worker sends the outbox.
type Worker struct {
	outbox      *store.OutboxStore
	sender      Sender
	log         *slog.Logger
	wake        chan struct{}
	Poll        time.Duration // how often to look through the whole outbox (retries, other instances' mail)
	MaxAttempts int
	// Backoff is the wait after the n-th failed try (n from 1).
	Backoff func(n int) time.Duration
	// Relink, when set (before Run), gives an email whose one-time links
	// were removed (one given up on and sent again by an admin: see
	// store.RedactLinks) fresh links, in the copy it is handed for this
	// delivery alone: the stored email never holds them. An error fails
	// the try.
	Relink func(ctx context.Context, e *store.Email) error

	sent, failed, retried atomic.Int64
}

// NewWorker returns a worker sending outbox through sender.
func NewWorker(outbox *store.OutboxStore, sender Sender, log *slog.Logger) *Worker {
	return &Worker{
		outbox:      outbox,
		sender:      sender,
		log:         log,
		wake:        make(chan struct{}, 1),
		Poll:        30 * time.Second,
		MaxAttempts: 5,
		Backoff:     func(n int) time.Duration { return time.Duration(1<<(2*n)) * time.Second }, // 4 s, 16 s, 64 s, 256 s
	}
}

// Wake tells the worker that an email was queued; it never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends due emails until ctx ends.
//
// What this process queued it sends at once, by id (the outbox's hints); it
// looks through the whole outbox (Due: retries, other instances' mail, what
// a crash left) every Poll.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	w.SendDue(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
			w.sendHinted(ctx)
		case <-t.C:
			w.SendDue(ctx)
		}
	}
}

// sendHinted sends the emails this process queued since it last looked,
// a batch at a time: one write claims the batch, each delivery is recorded
// as it happens, one write clears the batch.
func (w *Worker) sendHinted(ctx context.Context) {
	for ctx.Err() == nil {
		emails := w.outbox.Hinted(50)
		if len(emails) == 0 {
			return
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		claims, err := w.outbox.ClaimNew(ctx, emails, now.Add(leaseTime))
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("outbox: claim", slog.Any("error", err))
			}
			continue // Due finds them
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		var sent []*store.Email
		var held []*store.Claim
		for i, e := range emails {
			c := claims[i]
			if c == nil {
				continue // another worker's
			}
			if ok := w.attempt(ctx, rctx, e, c, now, false); ok {
				sent, held = append(sent, e), append(held, c)
			}
		}
		if err := w.outbox.Clear(rctx, sent, held); err != nil {
			w.log.Warn("outbox: clear delivered", slog.Int("emails", len(sent)), slog.Any("error", err))
		}
		cancel()
	}
}

// leaseTime is how long a claimed email is left to its worker before
// another may take it over. A send still running sendMargin before the
// lease ends is given up (the worker stops waiting and records a failed
// try), and none starts after that, so a take-over never overlaps a send:
// each email goes out once, whatever the number of instances.
const (
	leaseTime  = 10 * time.Minute
	sendMargin = 2 * time.Minute
)

// SendDue sends every email due now, one claim at a time, and returns when
// none is left.
func (w *Worker) SendDue(ctx context.Context) {
	w.sendHinted(ctx)
	for ctx.Err() == nil {
		due, err := w.outbox.Due(ctx, time.Now().UTC(), 200)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("outbox: read", slog.Any("error", err))
			}
			return
		}
		progress := false
		for i := range due {
			if w.sendOne(ctx, &due[i]) {
				progress = true
			}
		}
		if !progress {
			return // what is due is in other workers' hands
		}
	}
}

// sendOne claims e, sends it and records the outcome; it reports whether
// it tried (false: another worker has it).
func (w *Worker) sendOne(ctx context.Context, e *store.Email) bool {
	now := time.Now().UTC().Truncate(time.Millisecond)
	claim, err := w.outbox.Claim(ctx, e, now, now.Add(leaseTime))
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			w.log.Warn("outbox: claim", slog.Any("error", err))
		}
		return false
	}
	w.deliver(ctx, e, claim, now)
	return true
}

// deliver sends e under claim and records the outcome (see attempt),
// clearing it from the queue when sent.
func (w *Worker) deliver(ctx context.Context, e *store.Email, claim *store.Claim, now time.Time) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	w.attempt(ctx, rctx, e, claim, now, true)
}

// attempt sends e under claim and records the outcome in rctx, even when
// ctx ends meanwhile (a shutdown): a delivery not recorded would be sent
// again. It reports whether e was sent and recorded; with clear, it also
// takes it out of the queue. A claim whose lease is too near its end is
// let go unsent.
func (w *Worker) attempt(ctx, rctx context.Context, e *store.Email, claim *store.Claim, now time.Time, clear bool) bool {
	deadline := claim.Until.Add(-sendMargin)
	if !time.Now().Before(deadline) {
		return false // left to whoever takes the lease over
	}
	out, err := w.relinked(ctx, e)
	if err == nil {
		err = w.send(ctx, out, deadline)
	}
	if err == nil {
		w.sent.Add(1)
		at := time.Now().UTC()
		if clear {
			err = w.outbox.MarkSent(rctx, e, claim, at)
		} else {
			err = w.outbox.RecordSent(rctx, e, at)
		}
		if err != nil {
			w.log.Warn("outbox: record delivery", slog.String("id", e.ID.Hex()), slog.Any("error", err))
			return false
		}
		return true
	}
	if wait, throttled := telegram.RetryAfter(err); throttled {
		// Telegram's "too many requests": again as soon as it allows, and
		// not a failed try.
		w.retried.Add(1)
		if err := w.outbox.MarkThrottled(rctx, e, claim, err.Error(), time.Now().UTC().Add(wait)); err != nil {
			w.log.Warn("outbox: record a throttled try", slog.Any("error", err))
		}
		return false
	}
	n := e.Attempts + 1
	var next time.Time
	var final permanent
	if !errors.As(err, &final) && n < w.MaxAttempts {
		next = now.Add(w.Backoff(n))
	}
	if next.IsZero() {
		w.failed.Add(1)
	} else {
		w.retried.Add(1)
	}
	w.log.Warn("outbox: send failed", slog.String("id", e.ID.Hex()), slog.Int("attempt", n), slog.Bool("final", next.IsZero()), slog.Any("error", err))
	if err := w.outbox.MarkAttemptFailed(rctx, e, claim, err.Error(), next); err != nil {
		w.log.Warn("outbox: record failure", slog.Any("error", err))
	}
	return false
}

// relinked is e as it is sent: with fresh one-time links (Relink) in a
// copy when its own were removed, else e itself.
func (w *Worker) relinked(ctx context.Context, e *store.Email) (*store.Email, error) {
	if w.Relink == nil || !store.LinksRemoved(e) {
		return e, nil
	}
	fresh := *e
	if err := w.Relink(ctx, &fresh); err != nil {
		return nil, fmt.Errorf("fresh links: %w", err)
	}
	return &fresh, nil
}

// errSendTimeout is a send given up because it outlasted its share of the
// lease.
var errSendTimeout = errors.New("send timed out")

// send hands e to the sender and waits for it until deadline at most.
func (w *Worker) send(ctx context.Context, e *store.Email, deadline time.Time) error {
	sctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.sender.Send(sctx, e) }()
	select {
	case err := <-done:
		return err
	case <-sctx.Done():
		return errSendTimeout
	}
}

// Collectors show the worker's counts on /metrics.
func (w *Worker) Collectors() []prometheus.Collector {
	count := func(name, help string, n *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(n.Load()) })
	}
	return []prometheus.Collector{
		count("tozalash_outbox_sent_total", "Emails delivered.", &w.sent),
		count("tozalash_outbox_failed_total", "Emails given up on after the last try (see /admin/outbox).", &w.failed),
		count("tozalash_outbox_retries_total", "Failed tries that will be tried again.", &w.retried),
	}
}
