package telegram_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tozalash/telegram"
	"tozalash/telegram/telegramtest"
)

const token = "123456:AAH-secret_token"

func setup(t *testing.T) (*telegramtest.Server, *telegram.Client) {
	t.Helper()
	srv := telegramtest.New(t, token)
	// The trailing slash is trimmed.
	return srv, telegram.New(srv.URL+"/", token, nil)
}

func apiError(t *testing.T, err error) *telegram.Error {
	t.Helper()
	var e *telegram.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want a *telegram.Error", err, err)
	}
	return e
}

func TestSendMessage(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	if err := c.SendMessage(ctx, 42, "Salom, <b>Ali</b> https://example.com"); err != nil {
		t.Fatal(err)
	}
	got := srv.Sent()
	if len(got) != 1 || got[0].ChatID != 42 || got[0].Text != "Salom, <b>Ali</b> https://example.com" {
		t.Fatalf("sent %+v", got)
	}
	if m := srv.WaitFor(42, "Ali", time.Second); m.ChatID != 42 {
		t.Fatalf("WaitFor = %+v", m)
	}
	srv.Reset()
	if got := srv.Sent(); len(got) != 0 {
		t.Fatalf("after Reset, sent %+v", got)
	}
}

// The request's JSON, as the Bot API names it.
func TestRequestBodies(t *testing.T) {
	var mu sync.Mutex // the handler's goroutine writes, the test reads
	var paths []string
	var bodies []map[string]any
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Errorf("body: %v", err)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" || r.Method != http.MethodPost {
			t.Errorf("%s with Content-Type %q", r.Method, ct)
		}
		mu.Lock()
		paths, bodies = append(paths, r.URL.Path), append(bodies, b)
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/getUpdates") {
			io.WriteString(w, `{"ok":true,"result":[]}`)
			return
		}
		io.WriteString(w, `{"ok":true,"result":true}`)
	}))
	defer api.Close()
	c := telegram.New(api.URL, token, nil)
	ctx := context.Background()
	if err := c.SendMessage(ctx, 7, "hi"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetUpdates(ctx, 5, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWebhook(ctx, "https://example.com/hook", "s3"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`/bot` + token + `/sendMessage {"chat_id":7,"link_preview_options":{"is_disabled":true},"text":"hi"}`,
		`/bot` + token + `/getUpdates {"allowed_updates":["message"],"offset":5,"timeout":3}`,
		`/bot` + token + `/setWebhook {"allowed_updates":["message"],"secret_token":"s3","url":"https://example.com/hook"}`,
		`/bot` + token + `/deleteWebhook {}`,
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != len(want) {
		t.Fatalf("%d requests, want %d", len(bodies), len(want))
	}
	for i, b := range bodies {
		j, _ := json.Marshal(b) // map keys sorted
		if got := paths[i] + " " + string(j); got != want[i] {
			t.Errorf("request %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
}

func TestTooManyRequests(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	srv.FailNext(429, 5)
	err := c.SendMessage(ctx, 42, "one")
	e := apiError(t, err)
	if e.Code != 429 || e.RetryAfter != 5*time.Second {
		t.Fatalf("error %+v", e)
	}
	if got, want := err.Error(), "telegram: 429 Too Many Requests: retry after 5"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if d, ok := telegram.RetryAfter(fmt.Errorf("outbox: %w", err)); !ok || d != 5*time.Second {
		t.Errorf("RetryAfter = %v, %v", d, ok)
	}
	if telegram.Blocked(err) {
		t.Error("a 429 is Blocked")
	}
	// Only the next one failed.
	if err := c.SendMessage(ctx, 42, "two"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Sent(); len(got) != 1 || got[0].Text != "two" {
		t.Fatalf("sent %+v", got)
	}
	// A 429 without retry_after gives no wait.
	srv.FailNext(429, 0)
	err = c.SendMessage(ctx, 42, "three")
	if e := apiError(t, err); e.Code != 429 {
		t.Fatalf("error %+v", e)
	}
	if _, ok := telegram.RetryAfter(err); ok {
		t.Error("RetryAfter true without retry_after")
	}
}

func TestBlocked(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	srv.Block(7)
	err := c.SendMessage(ctx, 7, "hi")
	if e := apiError(t, err); e.Code != 403 || !strings.Contains(e.Description, "blocked") {
		t.Fatalf("error %+v", e)
	}
	if !telegram.Blocked(fmt.Errorf("wrapped: %w", err)) {
		t.Error("not Blocked")
	}
	if _, ok := telegram.RetryAfter(err); ok {
		t.Error("a 403 has RetryAfter")
	}
	// Other chats still get theirs.
	if err := c.SendMessage(ctx, 8, "hi"); err != nil {
		t.Fatal(err)
	}
	srv.Unblock(7)
	if err := c.SendMessage(ctx, 7, "again"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Sent(); len(got) != 2 || got[0].ChatID != 8 || got[1].ChatID != 7 {
		t.Fatalf("sent %+v", got)
	}
	if telegram.Blocked(nil) || telegram.Blocked(errors.New("403")) {
		t.Error("Blocked of a non-API error")
	}
}

func TestWrongToken(t *testing.T) {
	srv, _ := setup(t)
	wrong := "999:wrong-token"
	c := telegram.New(srv.URL, wrong, nil)
	err := c.SendMessage(context.Background(), 42, "hi")
	if e := apiError(t, err); e.Code != 401 || e.Description != "Unauthorized" {
		t.Fatalf("error %+v", e)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("the token is in %q", err)
	}
	if got := srv.Sent(); len(got) != 0 {
		t.Fatalf("sent %+v", got)
	}
}

// A transport error (net/http's names the URL) does not show the token.
func TestTransportErrorHidesToken(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	c := telegram.New(down.URL, token, nil)
	err := c.SendMessage(context.Background(), 42, "hi")
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	if strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "<token>") {
		t.Errorf("error %q", err)
	}
	var e *telegram.Error
	if errors.As(err, &e) {
		t.Errorf("a transport error is an API error: %+v", e)
	}
}

func TestNotJSON(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer api.Close()
	err := telegram.New(api.URL, token, nil).SendMessage(context.Background(), 1, "hi")
	if e := apiError(t, err); e.Code != 502 {
		t.Fatalf("error %+v", e)
	}
}

func TestGetUpdates(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	ali := telegramtest.User{ID: 42, FirstName: "Ali", Username: "ali", LanguageCode: "uz"}
	for i, text := range []string{"/start", "salom", "rahmat"} {
		if id := srv.PushUpdate(telegramtest.TextMessage(42, ali, text)); id != int64(i+1) {
			t.Fatalf("update_id %d, want %d", id, i+1)
		}
	}
	ups, err := c.GetUpdates(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if texts(ups) != "1:/start 2:salom 3:rahmat" {
		t.Fatalf("updates %s", texts(ups))
	}
	m := ups[0].Message
	if m.MessageID == 0 || m.Date == 0 || m.Chat != (telegram.Chat{ID: 42, Type: "private"}) ||
		m.From == nil || *m.From != (telegram.User{ID: 42, FirstName: "Ali", Username: "ali", LanguageCode: "uz"}) {
		t.Fatalf("message %+v from %+v", m, m.From)
	}
	ups, err = c.GetUpdates(ctx, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if texts(ups) != "3:rahmat" {
		t.Fatalf("from offset 3: %s", texts(ups))
	}
	// Offset 3 confirmed 1 and 2: they are gone.
	ups, err = c.GetUpdates(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if texts(ups) != "3:rahmat" {
		t.Fatalf("after confirming: %s", texts(ups))
	}
	ups, err = c.GetUpdates(ctx, 4, 0)
	if err != nil || len(ups) != 0 {
		t.Fatalf("nothing new: %s, %v", texts(ups), err)
	}
	if n := srv.Polls(); n != 4 {
		t.Errorf("Polls = %d, want 4", n)
	}
}

// A long poll returns with the update pushed while it waits.
func TestLongPoll(t *testing.T) {
	srv, c := setup(t)
	before := srv.Polls()
	pushed := make(chan int64, 1)
	go func() {
		srv.WaitPolls(before+1, 5*time.Second)
		pushed <- srv.PushUpdate(telegramtest.TextMessage(42, telegramtest.User{ID: 42, FirstName: "Ali"}, "salom"))
	}()
	ups, err := c.GetUpdates(context.Background(), 0, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	id := <-pushed
	if len(ups) != 1 || ups[0].UpdateID != id || ups[0].Message.Text != "salom" {
		t.Fatalf("updates %s, want %d:salom", texts(ups), id)
	}
}

// The client's own timeout, shorter than the poll, does not cut it.
func TestLongPollOutlivesClientTimeout(t *testing.T) {
	srv := telegramtest.New(t, token)
	c := telegram.New(srv.URL, token, &http.Client{Timeout: 50 * time.Millisecond})
	ups, err := c.GetUpdates(context.Background(), 0, time.Second)
	if err != nil || len(ups) != 0 {
		t.Fatalf("updates %s, err %v", texts(ups), err)
	}
}

// Cancelling the context ends a long poll, with an error that says so.
func TestLongPollCancel(t *testing.T) {
	srv, c := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		srv.WaitPolls(1, 5*time.Second)
		cancel()
	}()
	_, err := c.GetUpdates(ctx, 0, 30*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("the token is in %q", err)
	}
}

func TestWebhook(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	if err := c.SetWebhook(ctx, "https://example.com/tg", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if u, s := srv.Webhook(); u != "https://example.com/tg" || s != "s3cret" {
		t.Fatalf("webhook %q %q", u, s)
	}
	_, err := c.GetUpdates(ctx, 0, 0)
	if e := apiError(t, err); e.Code != 409 || !strings.Contains(e.Description, "webhook is active") {
		t.Fatalf("error %+v", e)
	}
	if err := c.DeleteWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	if u, s := srv.Webhook(); u != "" || s != "" {
		t.Fatalf("webhook %q %q after delete", u, s)
	}
	if _, err := c.GetUpdates(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
}

func texts(ups []telegram.Update) string {
	var b strings.Builder
	for i, u := range ups {
		if i > 0 {
			b.WriteByte(' ')
		}
		text := "<no message>"
		if u.Message != nil {
			text = u.Message.Text
		}
		fmt.Fprintf(&b, "%d:%s", u.UpdateID, text)
	}
	return b.String()
}
