package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/event"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/store/storetest"
)

// Logins beyond what the hashing ends within its budget answer 503 at once,
// before any database work, with Retry-After, as JSON or as a page in the user's language; they count
// neither against the IP nor the account, and the admitted ones go on to
// their answers when the hashing frees.
func TestLoginBeyondTheHashBudgetIsRefusedAtOnce(t *testing.T) {
	// One worker, a hash assumed to take 10 s, a budget of 30 s: three
	// logins may wait or hash at once. Every hash waits at the gate until it
	// opens.
	gate := make(chan struct{})
	hasher := auth.NewHasher(1, auth.WithEstimate(10*time.Second), auth.WithBudget(30*time.Second), auth.WithGate(func() { <-gate }))
	// The commands a request sends, not those of the app's background loops
	// (the mail worker's and the events feed's polls), which on a loaded
	// machine fell in every one of five refusals (seen once in CI).
	var requestCommands atomic.Int64
	background := map[string]bool{"outbox": true, "outboxSent": true, "claims": true, "events": true, "counters": true, "instances": true, "journal": true}
	db := storetest.OpenWatching(t, func(e *event.CommandStartedEvent) {
		if col, err := e.Command.LookupErr(e.CommandName); err == nil {
			if name, ok := col.StringValueOK(); ok && background[name] {
				return
			}
		}
		requestCommands.Add(1)
	})
	a := newTestAppWith(t, db, Config{AuthRateLimit: 4, Hasher: hasher, Now: newLimitClock().Now})
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(open) // before the app shuts down, should the test stop early
	pw, err := auth.HashPassword("toza-uy-2026")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.h.users.Create(context.Background(), &store.User{Username: "navbat", Email: "navbat@example.uz", PasswordHash: pw, Role: store.RoleUser, IsVerified: true, Locale: "uz"}); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	a.h.log = slog.New(slog.NewTextHandler(&logs, nil))
	b := a.browser() // one client IP for every try
	login := func(password string) response {
		return b.send("POST", "/auth/login", "json", `{"email":"navbat@example.uz","password":"`+password+`"}`, map[string]string{"Accept": "application/json"})
	}

	// Three wrong guesses fill the queue: 3 of the 4 tries of the IP and of
	// the account.
	guesses := make(chan int, 3)
	for i := 0; i < 3; i++ {
		go func() { guesses <- login("wrong-password").status }()
	}
	for deadline := time.Now().Add(30 * time.Second); ; runtime.Gosched() {
		if hasher.Hashing() == 3 { // admitted, and done with their database work
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the three logins never reached the hashing")
		}
	}

	// With the gate shut, any answer now is one that did not wait for a hash.
	// It read and counted nothing either: the fewest commands over the
	// refusals is none.
	fewest := int64(1 << 30)
	for i := 0; i < 5; i++ { // five: another background loop's command may still fall in a few
		before := requestCommands.Load()
		r := login("toza-uy-2026")
		fewest = min(fewest, requestCommands.Load()-before)
		var body struct {
			Error apiError `json:"error"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != 503 || body.Error.Code != "busy" ||
			body.Error.Message != a.h.catalog.Locale("uz").T("error.busy.message") {
			t.Fatalf("a JSON login beyond the queue = %d %s, want 503 busy", r.status, clip(r.body))
		}
		// Three hashes of 10 s on one worker.
		if got := r.header.Get("Retry-After"); got != "30" {
			t.Errorf("Retry-After %q, want 30", got)
		}
	}
	if fewest != 0 {
		t.Errorf("a login refused for the hashing's load sent %d database commands, want none", fewest)
	}
	// A refusal by design is no fault for ops to be woken by: a warning,
	// never an error, and one line a second, not one a refusal (the clock
	// of this app stands still: one line for them all).
	if out := logs.String(); strings.Contains(out, "level=ERROR") || strings.Count(out, "level=WARN msg=\"requests refused for load\" count=1 path=/auth/login") != 1 ||
		strings.Contains(out, "status=503") {
		t.Errorf("the refusals' log lines, want one warning:\n%s", out)
	}
	form := url.Values{"email": {"navbat@example.uz"}, "password": {"toza-uy-2026"}, csrfField: {b.csrf()}}
	r := b.send("POST", "/auth/login", "form", form.Encode(), acceptLang("ru"))
	if msg := a.h.catalog.Locale("ru").T("error.busy.message"); r.status != 503 || !strings.Contains(r.body, msg) || r.header.Get("Retry-After") != "30" {
		t.Errorf("a login form beyond the queue = %d (Retry-After %q), want 503 saying %q: %s", r.status, r.header.Get("Retry-After"), msg, clip(r.body))
	}
	if n, _, _ := hasher.Load(); n != 3 {
		t.Errorf("%d hashes admitted after the refusals, want the same 3", n)
	}

	open()
	for i := 0; i < 3; i++ {
		if s := <-guesses; s != 401 {
			t.Errorf("an admitted guess answered %d, want 401", s)
		}
	}
	// The refused tries were given back: this is the 4th of the IP and of the
	// account, and it may sign in; a 5th is over the IP's limit.
	if r := login("toza-uy-2026"); r.status != 200 {
		t.Errorf("the right password after the refusals = %d %s, want 200", r.status, clip(r.body))
	}
	if r := b.send("POST", "/auth/login", "json", `{"email":"navbat@example.uz","password":"toza-uy-2026"}`,
		map[string]string{"Accept": "application/json", "X-Csrf-Token": b.csrf()}); r.status != 429 { // signed in: cookies, so CSRF
		t.Errorf("a 5th try from the IP = %d, want 429", r.status)
	}
}

// A client already refused for its per-IP limit gets its 429 before it
// takes a place at the hashing: while the hashing is full, it still hears
// 429 (not 503), and its flood holds no place another client waits for.
func TestRefusedClientTakesNoHashPlace(t *testing.T) {
	hasher := auth.NewHasher(1, auth.WithEstimate(10*time.Second), auth.WithBudget(30*time.Second))
	a := newTestAppWith(t, storetest.Open(t), Config{AuthRateLimit: 1, Hasher: hasher, TrustedProxies: []string{"127.0.0.1"}, Now: newLimitClock().Now})
	from := func(ip, path, body string) response {
		return a.browser().send("POST", path, "json", body, map[string]string{"Accept": "application/json", "X-Forwarded-For": ip})
	}
	// 198.51.100.7 spends its one auth POST of the minute, then is refused.
	forgot := `{"email":"kimdir@example.uz"}`
	if r := from("198.51.100.7", "/auth/password/forgot", forgot); r.status != 202 {
		t.Fatalf("the first POST = %d %s", r.status, clip(r.body))
	}
	if r := from("198.51.100.7", "/auth/password/forgot", forgot); r.status != 429 {
		t.Fatalf("the second POST = %d %s, want 429", r.status, clip(r.body))
	}
	// The hashing is full.
	var held []*auth.Place
	for {
		p, err := hasher.Reserve()
		if err != nil {
			break
		}
		held = append(held, p)
	}
	defer func() {
		for _, p := range held {
			p.Release()
		}
	}()
	login := `{"email":"kimdir@example.uz","password":"toza-uy-2026"}`
	before, _, _ := hasher.Load()
	if r := from("198.51.100.7", "/auth/login", login); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Errorf("the refused client's login while the hashing is full = %d (Retry-After %q), want 429", r.status, r.header.Get("Retry-After"))
	}
	if r := from("198.51.100.8", "/auth/login", login); r.status != 503 {
		t.Errorf("another client's login while the hashing is full = %d, want 503", r.status)
	}
	if after, _, _ := hasher.Load(); after != before {
		t.Errorf("%d places taken after the refusals, want the same %d", after, before)
	}
}
