// Package telegramtest is a fake Telegram Bot API server for tests: a real
// HTTP server speaking the API's JSON, which records what the bot sends,
// queues updates for its long polls, and can be told to fail the way
// Telegram does (429 with retry_after, 403 for a blocked user).
//
// Its types are its own, not package telegram's: a JSON name wrong on the
// client's side shows up as a test failure instead of being shared.
package telegramtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// Sent is one message the bot sent.
type Sent struct {
	ChatID int64
	Text   string
}

// Update is one update given to getUpdates.
type Update struct {
	UpdateID int64    `json:"update_id"`
	Message  *Message `json:"message,omitempty"`
}

// Message is a message, with the fields package telegram reads.
type Message struct {
	MessageID int64  `json:"message_id"`
	From      *User  `json:"from,omitempty"`
	Chat      Chat   `json:"chat"`
	Text      string `json:"text,omitempty"`
	Date      int64  `json:"date"`
}

// User is a Telegram user or bot.
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

// Chat is a message's chat; "private" for a user's chat with the bot.
type Chat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

// TextMessage is a text message from the user in a private chat.
func TextMessage(chatID int64, from User, text string) Message {
	return Message{From: &from, Chat: Chat{ID: chatID, Type: "private"}, Text: text, Date: time.Now().Unix()}
}

// bot is the fake's own account, the sender of what the bot sends.
var bot = User{ID: 1, IsBot: true, FirstName: "Test bot", Username: "test_bot"}

// Server is the fake Bot API.
type Server struct {
	// URL is the API's base URL, to give the client.
	URL string

	t     testing.TB
	token string
	srv   *httptest.Server
	done  chan struct{} // closed at the end: pending long polls answer

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change: wakes waiters
	sent       []Sent
	fail       *failure
	blocked    map[int64]bool
	updates    []Update
	lastUpdate int64
	lastMsg    int64
	polls      int
	hookURL    string
	hookSecret string
}

type failure struct{ code, retryAfter int }

// New starts the server for the bot's token until the test ends.
func New(t testing.TB, token string) *Server {
	t.Helper()
	s := &Server{t: t, token: token, done: make(chan struct{}), changed: make(chan struct{}), blocked: map[int64]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL
	t.Cleanup(func() {
		// Long polls answer first: httptest's Close waits for them.
		close(s.done)
		s.srv.Close()
	})
	return s
}

// notify wakes the waiters; s.mu is held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Sent returns what the bot has sent so far.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// Reset forgets what was sent.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = nil
}

// WaitFor returns the first message sent to the chat containing substr that
// arrives within timeout, counting those sent before.
func (s *Server) WaitFor(chatID int64, substr string, timeout time.Duration) Sent {
	s.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		sent, changed := append([]Sent(nil), s.sent...), s.changed
		s.mu.Unlock()
		for _, m := range sent {
			if m.ChatID == chatID && strings.Contains(m.Text, substr) {
				return m
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			s.t.Fatalf("no message to chat %d with %q within %v; sent: %+v", chatID, substr, timeout, sent)
		}
	}
}

// FailNext makes the next sendMessage (that one only) fail with code, and
// with parameters.retry_after when retryAfter is not 0.
func (s *Server) FailNext(code int, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = &failure{code, retryAfter}
}

// Block makes every sendMessage to the chat fail with 403, as when the user
// has blocked the bot, until Unblock.
func (s *Server) Block(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[chatID] = true
}

// Unblock lets messages to the chat through again.
func (s *Server) Unblock(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blocked, chatID)
}

// PushUpdate queues the message for getUpdates and returns its update_id
// (1, 2, …). A zero MessageID is given one.
func (s *Server) PushUpdate(m Message) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.MessageID == 0 {
		s.lastMsg++
		m.MessageID = s.lastMsg
	}
	s.lastUpdate++
	s.updates = append(s.updates, Update{UpdateID: s.lastUpdate, Message: &m})
	s.notify()
	return s.lastUpdate
}

// Polls counts the getUpdates calls.
func (s *Server) Polls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls
}

// WaitPolls waits until there have been n getUpdates calls: once it
// returns, the n-th poll has looked at the queue, so an update pushed next
// is one that poll waited for (or the next poll finds).
func (s *Server) WaitPolls(n int, timeout time.Duration) {
	s.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		polls, changed := s.polls, s.changed
		s.mu.Unlock()
		if polls >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			s.t.Fatalf("%d getUpdates calls within %v, want %d", polls, timeout, n)
		}
	}
}

// Webhook returns the webhook set, or "" when none is.
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hookURL, s.hookSecret
}

// answer writes {"ok":true,"result":result}.
func answer(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		OK     bool `json:"ok"`
		Result any  `json:"result"`
	}{true, result})
}

// fail writes an ok:false answer with the matching HTTP status.
func fail(w http.ResponseWriter, code int, description string, retryAfter int) {
	type params struct {
		RetryAfter int `json:"retry_after"`
	}
	a := struct {
		OK          bool    `json:"ok"`
		ErrorCode   int     `json:"error_code"`
		Description string  `json:"description"`
		Parameters  *params `json:"parameters,omitempty"`
	}{false, code, description, nil}
	if retryAfter != 0 {
		a.Parameters = &params{retryAfter}
	}
	status := code
	if status < 100 || status > 599 {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	token, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if !ok || !strings.HasPrefix(r.URL.Path, "/bot") {
		fail(w, http.StatusNotFound, "Not Found", 0)
		return
	}
	if token != s.token {
		fail(w, http.StatusUnauthorized, "Unauthorized", 0)
		return
	}
	var params map[string]json.RawMessage
	// No body is no parameters (a GET, as the API allows).
	if err := json.NewDecoder(r.Body).Decode(&params); err != nil && err != io.EOF {
		fail(w, http.StatusBadRequest, "Bad Request: can't parse JSON: "+err.Error(), 0)
		return
	}
	// The API's method names are case-insensitive.
	switch strings.ToLower(method) {
	case "sendmessage":
		s.sendMessage(w, params)
	case "getupdates":
		s.getUpdates(w, r, params)
	case "setwebhook":
		var url, secret string
		_ = json.Unmarshal(params["url"], &url)
		_ = json.Unmarshal(params["secret_token"], &secret)
		s.mu.Lock()
		s.hookURL, s.hookSecret = url, secret
		s.notify()
		s.mu.Unlock()
		answer(w, true)
	case "deletewebhook":
		s.mu.Lock()
		s.hookURL, s.hookSecret = "", ""
		s.notify()
		s.mu.Unlock()
		answer(w, true)
	default:
		fail(w, http.StatusNotFound, "Not Found", 0)
	}
}

func (s *Server) sendMessage(w http.ResponseWriter, params map[string]json.RawMessage) {
	chatID, err := chatID(params["chat_id"])
	if err != nil {
		fail(w, http.StatusBadRequest, "Bad Request: chat not found", 0)
		return
	}
	var text string
	_ = json.Unmarshal(params["text"], &text)
	switch n := len(utf16.Encode([]rune(text))); {
	case strings.TrimSpace(text) == "":
		fail(w, http.StatusBadRequest, "Bad Request: message text is empty", 0)
		return
	case n > 4096:
		fail(w, http.StatusBadRequest, "Bad Request: message is too long", 0)
		return
	}
	s.mu.Lock()
	if f := s.fail; f != nil {
		s.fail = nil
		s.mu.Unlock()
		fail(w, f.code, description(f.code, f.retryAfter), f.retryAfter)
		return
	}
	if s.blocked[chatID] {
		s.mu.Unlock()
		fail(w, http.StatusForbidden, "Forbidden: bot was blocked by the user", 0)
		return
	}
	s.lastMsg++
	m := Message{MessageID: s.lastMsg, From: &bot, Chat: Chat{ID: chatID, Type: "private"}, Text: text, Date: time.Now().Unix()}
	s.sent = append(s.sent, Sent{ChatID: chatID, Text: text})
	s.notify()
	s.mu.Unlock()
	answer(w, m)
}

// chatID reads chat_id, a number or a string of one.
func chatID(raw json.RawMessage) (int64, error) {
	var id int64
	if err := json.Unmarshal(raw, &id); err == nil {
		return id, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return 0, err
	}
	return strconv.ParseInt(str, 10, 64)
}

// description is what Telegram says along with the code.
func description(code, retryAfter int) string {
	switch code {
	case http.StatusTooManyRequests:
		if retryAfter != 0 {
			return fmt.Sprintf("Too Many Requests: retry after %d", retryAfter)
		}
		return "Too Many Requests"
	case http.StatusForbidden:
		return "Forbidden: bot was blocked by the user"
	case http.StatusBadRequest:
		return "Bad Request: chat not found"
	}
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Internal Server Error"
}

func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, params map[string]json.RawMessage) {
	var offset, timeout int64
	limit := 100
	_ = json.Unmarshal(params["offset"], &offset)
	_ = json.Unmarshal(params["timeout"], &timeout)
	_ = json.Unmarshal(params["limit"], &limit)
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	wait := time.NewTimer(time.Duration(max(timeout, 0)) * time.Second)
	defer wait.Stop()
	s.mu.Lock()
	s.polls++
	s.notify()
	s.mu.Unlock()
	for {
		s.mu.Lock()
		if s.hookURL != "" {
			s.mu.Unlock()
			fail(w, http.StatusConflict, "Conflict: can't use getUpdates method while webhook is active", 0)
			return
		}
		s.confirm(offset)
		var ups []Update
		for _, u := range s.updates {
			if u.UpdateID >= offset && len(ups) < limit {
				ups = append(ups, u)
			}
		}
		changed := s.changed
		s.mu.Unlock()
		if len(ups) > 0 {
			answer(w, ups)
			return
		}
		// No second look at the timeout: an update the wait missed is a
		// bug a test should see as an empty answer.
		select {
		case <-changed:
		case <-wait.C:
			answer(w, []Update{})
			return
		case <-s.done:
			answer(w, []Update{})
			return
		case <-r.Context().Done():
			return
		}
	}
}

// confirm drops the updates below offset, as Telegram forgets confirmed
// updates; a negative offset keeps the last -offset ones. s.mu is held.
func (s *Server) confirm(offset int64) {
	n := 0
	switch {
	case offset > 0:
		for n < len(s.updates) && s.updates[n].UpdateID < offset {
			n++
		}
	case offset < 0:
		n = max(len(s.updates)+int(offset), 0)
	}
	s.updates = s.updates[n:]
}
