package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"tozalash/handlers"
	"tozalash/store"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// When the embedded FerretDB stops without being asked, the failure is
// logged at error level and /health answers 503, though the driver's
// connection would still ping; a Stop asked for is no failure.
func TestEmbeddedFailureFailsHealth(t *testing.T) {
	ctx := context.Background()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	db, err := store.Open(ctx, store.Options{DataDir: t.TempDir(), Database: "tozalash", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	app, _, err := handlers.New(db, handlers.Config{BaseURL: "http://localhost:3000", JWTSecret: bytes.Repeat([]byte("k"), 32)}, log)
	if err != nil {
		t.Fatal(err)
	}
	health := func() (int, string) {
		t.Helper()
		res, err := app.Test(httptest.NewRequest("GET", "/health", nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	if status, body := health(); status != 200 {
		t.Fatalf("health before = %d %s", status, body)
	}
	store.FailEmbedded(db, errors.New("disk I/O error"))
	if status, body := health(); status != 503 || !strings.Contains(body, `"database":"unavailable"`) {
		t.Errorf("health after the failure = %d %s", status, body)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "disk I/O error") {
		t.Errorf("the failure is not logged at error level:\n%s", logs.String())
	}
}

// A server that Stop stopped reports no failure, so one started again
// where the driver looks serves again.
func TestEmbeddedStopIsNoFailure(t *testing.T) {
	e, err := store.StartEmbedded(filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Stop()
	if err := e.Err(); err != nil {
		t.Errorf("after Stop: %v", err)
	}
}
