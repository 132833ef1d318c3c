package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The embedded database has one writer: while a server runs on a DATA_DIR,
// an offline command and a second server on it exit non-zero, naming the
// lock and its holder; once the server stops, both work.
func TestOneProcessPerDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	first := startServer(t, dataDir, freeAddr(t))
	lockPath := filepath.Join(dataDir, "db", "LOCK")

	secondAddr := freeAddr(t)
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "ADDR="+secondAddr, "DATA_DIR="+dataDir, "MONGODB_URI=", "APP_ENV=development",
			"BASE_URL=http://"+secondAddr, "LOG_LEVEL=warn")
		return cmd
	}
	// refused runs a command that must fail at once because of the lock.
	refused := func(args ...string) {
		t.Helper()
		cmd := command(args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Errorf("%q on a DATA_DIR in use: exit %v, want non-zero\n%s", args, err, out.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("%q on a DATA_DIR in use still runs after 30 s\n%s", args, out.String())
		}
		msg := out.String()
		pid := "process " + strconv.Itoa(first.cmd.Process.Pid)
		if !strings.Contains(msg, lockPath) || !strings.Contains(msg, "another tozalash is running") || !strings.Contains(msg, pid) {
			t.Errorf("%q: the message does not name the lock %s, %s and the reason:\n%s", args, lockPath, pid, msg)
		}
	}
	refused("create-admin", "--email", "second@tozalash.uz", "--password", "ikkinchi-parol-2026")
	refused("serve")
	refused("stats", "reconcile")
	refused("backup", filepath.Join(t.TempDir(), "b.tar.gz"))

	// The first server never noticed.
	if res := first.call("GET", "/health", "", "", nil); res != 200 {
		t.Errorf("the first server's health = %d", res)
	}
	_ = first.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-first.exit:
		if err != nil {
			t.Fatalf("first server: %v\n%s", err, first.logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the first server did not stop")
	}

	// Free again: the command works, and so does a new server.
	if out, err := command("create-admin", "--email", "second@tozalash.uz", "--password", "ikkinchi-parol-2026").CombinedOutput(); err != nil {
		t.Fatalf("create-admin after the stop: %v\n%s", err, out)
	}
	second := command("serve")
	var logs bytes.Buffer
	second.Stdout, second.Stderr = &logs, &logs
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = second.Process.Signal(syscall.SIGTERM); _ = second.Wait() }()
	waitHealthy(t, "http://"+secondAddr, 60*time.Second)
	if b, err := os.ReadFile(lockPath); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(second.Process.Pid) {
		t.Errorf("the lock file holds %q %v, want the server's pid %d", b, err, second.Process.Pid)
	}
}

// A server killed with SIGKILL leaves no lock behind: the kernel lets go
// of it with the process.
func TestLockGoesWithAKilledProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dataDir := t.TempDir()
	s := startServer(t, dataDir, freeAddr(t))
	_ = s.cmd.Process.Kill()
	<-s.exit
	startServer(t, dataDir, freeAddr(t)) // fails the test unless healthy
}
