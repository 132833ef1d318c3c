package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// LockFile is the file in the embedded database's directory that its one
// process holds locked (flock, exclusive) from start to stop: the embedded
// database has one writer, enforced. It holds that process's pid. The
// kernel lets go of the lock when the process dies, however it dies, so a
// crash never leaves the directory locked.
const LockFile = "LOCK"

// ErrLocked is the error of a start on a directory another process holds.
var ErrLocked = errors.New("the embedded database is in use")

// LockedError says who holds the lock.
type LockedError struct {
	Path string // the lock file
	PID  int    // the holder, as it wrote itself in the file; 0 if unknown
}

func (e *LockedError) Error() string {
	by := "another process"
	if e.PID > 0 {
		by = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("%s is locked by %s: another tozalash is running on this DATA_DIR; stop it first", e.Path, by)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// dirLock is a held lock file.
type dirLock struct {
	f    *os.File
	once sync.Once
}

// lockDir takes the lock of dir, or says who holds it.
func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			buf := make([]byte, 32)
			n, _ := f.ReadAt(buf, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
			return nil, &LockedError{Path: path, PID: pid}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

// release lets go of the lock (once; a nil lock is none).
func (l *dirLock) release() {
	if l == nil {
		return
	}
	l.once.Do(func() {
		_ = l.f.Truncate(0)
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		_ = l.f.Close()
	})
}
