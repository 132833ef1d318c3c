package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The embedded database's write-ahead logs are emptied by us, not by
// SQLite. Under FerretDB 1.24 SQLite's own automatic checkpoint never
// restarts the log: measured, a database of 280 KB grew a 200 MB log in a
// minute of writes, and past 1,000 pages every commit ran a checkpoint with
// two fsyncs, so the smallest write cost 1.4–1.7 ms. With SQLite's
// checkpoint off and this one truncating the log once a second, it costs
// 0.7 ms (BenchmarkSmallestWrite). A commit is in the log before it is
// acknowledged either way, so a crash of the process loses nothing.
const (
	walCheckpointEvery = time.Second
	// walCheckpointAbove is the log size worth a checkpoint: below it
	// the log is left to grow (a checkpoint holds writers back briefly).
	walCheckpointAbove = 32 << 20
	// walTooLarge is the size at which a log that cannot be emptied (a
	// reader never lets go) is logged as a warning.
	walTooLarge = 256 << 20
	// walCheckpointWait is how long a checkpoint waits for readers to
	// finish, holding new writers back meanwhile.
	walCheckpointWait = 50 // ms
)

// sqliteURLPragmas are FerretDB's SQLite settings beyond its defaults (WAL):
// synchronous=NORMAL, so a commit is written to the log, not synced, before
// it is acknowledged (a crash of the process loses nothing; a power cut may
// lose the last commits; a sync per commit cost ~8 ms a write here); and
// wal_autocheckpoint=0, for checkpoints of our own (checkpointLogs); and
// cache_size=-256, a page cache of 256 KiB a connection instead of 2 MiB:
// FerretDB opens a connection for each command running at once (up to
// 100), each with a cache of its own outside Go's heap, and under 50
// clients they held about 100 MB; the pages come from the system's file
// cache as fast (make bench: the order page's peak RSS 168–197 → 133 MB,
// its rate unchanged).
const sqliteURLPragmas = "_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)&_pragma=cache_size(-256)"

// checkpointLoop empties the logs every walCheckpointEvery until ctx ends.
func (e *Embedded) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(walCheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.checkpointLogs(ctx, walCheckpointAbove)
		}
	}
}

// checkpointLogs copies into their databases, and truncates, the logs of
// every database in the directory that have grown past above bytes. A
// database whose readers hold the log past walCheckpointWait is left for
// the next round.
func (e *Embedded) checkpointLogs(ctx context.Context, above int64) {
	logs, err := filepath.Glob(filepath.Join(e.dir, "*.sqlite-wal"))
	if err != nil {
		return
	}
	for _, wal := range logs {
		st, err := os.Stat(wal)
		if err != nil || st.Size() <= above {
			continue
		}
		err = checkpointLog(ctx, strings.TrimSuffix(wal, "-wal"))
		if err != nil && st.Size() > walTooLarge && e.log != nil {
			e.log.Warn("the embedded database's log cannot be emptied", slog.String("file", wal),
				slog.Int64("bytes", st.Size()), slog.Any("error", err))
		}
	}
}

// checkpointLog checkpoints one database file and truncates its log.
func checkpointLog(ctx context.Context, file string) error {
	if _, err := os.Stat(file); err != nil {
		return err // dropped meanwhile
	}
	// mode=rw: a database dropped between the Stat and here is not made
	// again, empty.
	db, err := sql.Open("sqlite", fmt.Sprintf("file:%s?mode=rw&_pragma=busy_timeout(%d)", file, walCheckpointWait))
	if err != nil {
		return err
	}
	defer db.Close()
	var busy, frames, copied int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied); err != nil {
		return err
	}
	if busy != 0 {
		return fmt.Errorf("busy: %d of %d frames copied", copied, frames)
	}
	return nil
}
