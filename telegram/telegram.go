// Package telegram is a minimal client of the Telegram Bot API
// (https://core.telegram.org/bots/api).
//
// It is written by hand rather than taken from a library: the app needs four
// methods (sendMessage, getUpdates, setWebhook, deleteWebhook), wants no
// goroutines of a library's own (the app runs its own poll loop and outbox
// worker), and needs full control of the 429 (retry after) and 403 (blocked)
// answers, which decide what its durable outbox does with a message.
package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// pollMargin is how much longer than its timeout a long poll may take: the
// server answers at the timeout, plus the network's time.
const pollMargin = 10 * time.Second

// maxAnswer bounds what is read of an answer (100 updates of long texts fit).
const maxAnswer = 16 << 20

// Client calls the Bot API for one bot. It is safe for concurrent use.
type Client struct {
	apiURL string
	token  string
	hc     *http.Client
}

// New returns a client of the API at apiURL ("https://api.telegram.org") for
// the bot's token. A nil hc means a client with a 60 s timeout; long polls
// get longer than hc's timeout when they need it.
func New(apiURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{apiURL: strings.TrimRight(apiURL, "/"), token: token, hc: hc}
}

// Update is one incoming update; only messages are asked for.
type Update struct {
	UpdateID int64    `json:"update_id"`
	Message  *Message `json:"message,omitempty"`
}

// Message is a message; only the fields the app reads.
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

// Chat is the chat a message belongs to; Type is "private" for a user's
// chat with the bot.
type Chat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

// Error is an ok:false answer of the API, or an answer that was not JSON
// (Code is then the HTTP status).
type Error struct {
	Code        int
	Description string
	// RetryAfter is parameters.retry_after of a 429: how long to wait.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("telegram: %d %s", e.Code, e.Description)
}

// RetryAfter reports how long to wait when err is a 429 that says so.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.Code == http.StatusTooManyRequests && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}

// Blocked reports whether err is a 403: the user blocked the bot, or the
// chat is gone. Sending to that chat again will not succeed.
func Blocked(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == http.StatusForbidden
}

// SendMessage sends text to the chat as plain text (no parse_mode: the text
// is never markup), without link previews.
func (c *Client) SendMessage(ctx context.Context, chatID int64, text string) error {
	type previews struct {
		IsDisabled bool `json:"is_disabled"`
	}
	return c.call(ctx, c.hc, "sendMessage", struct {
		ChatID             int64    `json:"chat_id"`
		Text               string   `json:"text"`
		LinkPreviewOptions previews `json:"link_preview_options"`
	}{chatID, text, previews{true}}, nil)
}

// GetUpdates long-polls for messages with update_id >= offset (confirming
// those below), waiting up to timeout for one to arrive.
func (c *Client) GetUpdates(ctx context.Context, offset int64, timeout time.Duration) ([]Update, error) {
	if timeout < 0 {
		timeout = 0
	}
	// The request must outlive the server's wait; ctx bounds it instead of
	// a client timeout that may be shorter.
	need := timeout + pollMargin
	hc := c.hc
	if hc.Timeout > 0 && hc.Timeout < need {
		long := *hc
		long.Timeout = 0
		hc = &long
	}
	ctx, cancel := context.WithTimeout(ctx, need)
	defer cancel()
	var updates []Update
	err := c.call(ctx, hc, "getUpdates", struct {
		Offset         int64    `json:"offset"`
		Timeout        int64    `json:"timeout"`
		AllowedUpdates []string `json:"allowed_updates"`
	}{offset, int64(timeout / time.Second), []string{"message"}}, &updates)
	return updates, err
}

// SetWebhook has Telegram post updates to url, with the secret in the
// X-Telegram-Bot-Api-Secret-Token header.
func (c *Client) SetWebhook(ctx context.Context, url, secret string) error {
	return c.call(ctx, c.hc, "setWebhook", struct {
		URL            string   `json:"url"`
		SecretToken    string   `json:"secret_token,omitempty"`
		AllowedUpdates []string `json:"allowed_updates"`
	}{url, secret, []string{"message"}}, nil)
}

// DeleteWebhook removes the webhook, so that getUpdates works again.
func (c *Client) DeleteWebhook(ctx context.Context) error {
	return c.call(ctx, c.hc, "deleteWebhook", struct{}{}, nil)
}

// call posts params as JSON to the method and decodes the result into
// result (when not nil).
func (c *Client) call(ctx context.Context, hc *http.Client, method string, params, result any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("telegram: %s: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.apiURL+"/bot"+c.token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return c.redact(fmt.Errorf("telegram: %s: %w", method, err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return c.redact(fmt.Errorf("telegram: %s: %w", method, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return c.redact(fmt.Errorf("telegram: %s: %w", method, err))
	}
	var ans struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		// A proxy's error page, say: the status is all there is to go by.
		return &Error{Code: resp.StatusCode, Description: http.StatusText(resp.StatusCode) + " (answer not JSON)"}
	}
	if !ans.OK {
		e := &Error{Code: ans.ErrorCode, Description: ans.Description,
			RetryAfter: time.Duration(ans.Parameters.RetryAfter) * time.Second}
		if e.Code == 0 {
			e.Code = resp.StatusCode
		}
		return e
	}
	if result != nil {
		if err := json.Unmarshal(ans.Result, result); err != nil {
			return fmt.Errorf("telegram: %s: result: %w", method, err)
		}
	}
	return nil
}

// redact keeps the token out of a transport error: net/http's *url.Error
// carries the request's URL, whose path holds the token, into logs.
func (c *Client) redact(err error) error {
	if c.token == "" {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) { // made for this request alone: ours to change
		ue.URL = strings.ReplaceAll(ue.URL, c.token, "<token>")
	}
	return redacted{err, c.token}
}

// redacted is an error whose message has the token replaced, still
// unwrapping to the original (context.Canceled stays detectable).
type redacted struct {
	err   error
	token string
}

func (r redacted) Error() string { return strings.ReplaceAll(r.err.Error(), r.token, "<token>") }
func (r redacted) Unwrap() error { return r.err }
