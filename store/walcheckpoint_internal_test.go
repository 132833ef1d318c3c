package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The embedded database's log grows with every commit until our
// checkpoint copies it into the database and empties it; what was written
// is still there afterwards, and after a restart.
func TestCheckpointEmptiesTheLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, Options{DataDir: dir, Database: "walt"})
	if err != nil {
		t.Fatal(err)
	}
	counters := NewCounterStore(db)
	for i := 0; i < 400; i++ {
		if err := counters.Add(ctx, "walt", 1); err != nil {
			t.Fatal(err)
		}
	}
	wal := filepath.Join(dir, "db", "walt.sqlite-wal")
	if _, err := os.Stat(wal); err != nil { // where StartEmbedded keeps it
		matches, _ := filepath.Glob(filepath.Join(dir, "*", "walt.sqlite-wal"))
		if len(matches) != 1 {
			t.Fatalf("no log for walt under %s: %v", dir, err)
		}
		wal = matches[0]
	}
	size := func() int64 {
		st, err := os.Stat(wal)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	// SQLite's own checkpoint would have restarted the log at 1,000 pages
	// (4 MB) at most; 400 commits of two pages stay below, so the size
	// shows only that the log is not emptied by itself.
	before := size()
	if before < 400*4096 {
		t.Fatalf("log of %d bytes after 400 commits: writes not logged?", before)
	}
	db.embedded.checkpointLogs(ctx, 0)
	if after := size(); after != 0 {
		t.Fatalf("log %d → %d bytes after a checkpoint, want 0", before, after)
	}
	if n, err := counters.Get(ctx, "walt"); err != nil || n != 400 {
		t.Fatalf("count after the checkpoint = %d, %v; want 400", n, err)
	}
	// A log below the size worth a checkpoint is left alone.
	if err := counters.Add(ctx, "walt", 1); err != nil {
		t.Fatal(err)
	}
	small := size()
	db.embedded.checkpointLogs(ctx, walCheckpointAbove)
	if size() != small {
		t.Fatalf("a log of %d bytes was checkpointed", small)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db.Close(cctx)
	db, err = Open(ctx, Options{DataDir: dir, Database: "walt"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if n, err := NewCounterStore(db).Get(ctx, "walt"); err != nil || n != 401 {
		t.Fatalf("count after a restart = %d, %v; want 401", n, err)
	}
}
