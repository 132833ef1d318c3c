package store_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"tozalash/store"
)

// A directory has one embedded server at a time, in this process too; Stop
// lets go of it.
func TestEmbeddedLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	e, err := store.StartEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.StartEmbedded(dir, nil); !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), filepath.Join(dir, store.LockFile)) {
		t.Errorf("a second start on the directory = %v, want ErrLocked naming the lock file", err)
	}
	e.Stop()
	again, err := store.StartEmbedded(dir, nil)
	if err != nil {
		t.Fatalf("a start after Stop: %v", err)
	}
	again.Stop()
}
