package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/demo"
	"tozalash/store"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHealthy(t *testing.T, base string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if res, err := http.Get(base + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not become healthy within %v", base, within)
}

func countServices(t *testing.T, base string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/services?limit=100", nil)
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page struct{ Items []json.RawMessage }
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return len(page.Items)
}

// run serves until its context ends, returns nil, and what it wrote is there
// on the next start (which inserts no second demo catalogue).
func TestRunServesAndStopsCleanly(t *testing.T) {
	dataDir := t.TempDir()
	addr := freeAddr(t)
	env := envOf(map[string]string{"ADDR": addr, "DATA_DIR": dataDir, "LOG_LEVEL": "warn"})
	base := "http://" + addr
	for start := 1; start <= 2; start++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, nil, env) }()
		waitHealthy(t, base, 30*time.Second)
		if n := countServices(t, base); n != len(demo.Catalogue) {
			t.Errorf("start %d: %d services, want %d", start, n, len(demo.Catalogue))
		}
		// What run adds to /metrics beside the handlers' own.
		if res, err := http.Get(base + "/metrics"); err != nil {
			t.Error(err)
		} else {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			for _, name := range []string{"tozalash_outbox_sent_total "} {
				if !strings.Contains(string(body), name) {
					t.Errorf("start %d: /metrics lacks %s", start, name)
				}
			}
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("start %d: run = %v", start, err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("start %d: run did not stop", start)
		}
		if _, err := http.Get(base + "/health/live"); err == nil {
			t.Fatalf("start %d: still serving after the stop", start)
		}
	}
}

func TestCreateAdmin(t *testing.T) {
	dataDir := t.TempDir()
	env := envOf(map[string]string{"DATA_DIR": dataDir, "LOG_LEVEL": "error"})
	ctx := context.Background()
	if err := run(ctx, []string{"create-admin", "--email", "Boss@Tozalash.uz", "--password", "yaxshi-parol-2026"}, env); err != nil {
		t.Fatal(err)
	}
	err := run(ctx, []string{"create-admin", "--email", "boss@tozalash.uz", "--password", "yaxshi-parol-2026", "--username", "other"}, env)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second admin with the same email: %v", err)
	}
	var ue usageError
	for _, args := range [][]string{
		{"create-admin", "--email", "not-an-email", "--password", "yaxshi-parol-2026"},
		{"create-admin", "--email", "a@b.uz", "--password", "short"},
		{"create-admin", "--email", "a@b.uz", "--password", "yaxshi-parol-2026", "--username", "Bad Name"},
		{"create-admin", "--email", "a@b.uz", "--password", "password123"},
		{"create-admin", "--email", "tozalash@b.uz", "--password", "tozalash2026"},
		{"create-admin", "--email", "аdmin@b.uz", "--password", "yaxshi-parol-2026"}, // a Cyrillic а
		{"create-admin"},
		{"no-such-command"},
	} {
		if err := run(ctx, args, env); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}

	db, err := store.Open(ctx, store.Options{DataDir: dataDir, Database: "tozalash"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	u, err := store.NewUserStore(db).GetByEmail(ctx, "boss@tozalash.uz")
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != store.RoleAdmin || !u.IsVerified || u.Username != "boss" || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Errorf("admin = %+v", u)
	}
}

// The real binary: SIGTERM stops it with exit code 0, and the data is there
// on the next start.
func TestBinaryStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "tozalash")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dataDir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	for start := 1; start <= 2; start++ {
		var logs bytes.Buffer
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "ADDR="+addr, "DATA_DIR="+dataDir, "MONGODB_URI=", "APP_ENV=development")
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitHealthy(t, base, 30*time.Second)
		if n := countServices(t, base); n != len(demo.Catalogue) {
			t.Errorf("start %d: %d services", start, n)
		}
		sig := syscall.SIGTERM
		if start == 2 {
			sig = syscall.SIGINT
		}
		_ = cmd.Process.Signal(sig)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("start %d: exit after %v: %v\n%s", start, sig, err, logs.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("start %d: still running 15 s after %v\n%s", start, sig, logs.String())
		}
		if !strings.Contains(logs.String(), "shutting down") {
			t.Errorf("start %d: no shutdown in the log:\n%s", start, logs.String())
		}
	}
}

func TestInvalidConfigExitsWithCode2(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary")
	}
	if os.Getenv("TOZALASH_MAIN") == "1" {
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInvalidConfigExitsWithCode2$")
	cmd.Env = append(os.Environ(), "TOZALASH_MAIN=1", "APP_ENV=staging")
	var out bytes.Buffer
	cmd.Stderr = &out
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(out.String(), "APP_ENV") {
		t.Fatalf("exit = %v, stderr %q; want code 2 naming APP_ENV", err, out.String())
	}
}

// A weak ADMIN_PASSWORD stops the start, naming the variable and why,
// before anything serves.
func TestWeakAdminPasswordStopsTheStart(t *testing.T) {
	env := envOf(map[string]string{"ADDR": freeAddr(t), "DATA_DIR": t.TempDir(), "LOG_LEVEL": "error",
		"ADMIN_EMAIL": "boss@tozalash.uz", "ADMIN_PASSWORD": "tozalash2026"})
	err := run(context.Background(), nil, env)
	var ce *configError
	if !errors.As(err, &ce) || ce.name != "ADMIN_PASSWORD" || !strings.Contains(err.Error(), "company") {
		t.Fatalf("start with a weak ADMIN_PASSWORD: %v, want a config error naming ADMIN_PASSWORD and why", err)
	}
}

// ADMIN_EMAIL and ADMIN_PASSWORD make the first admin at start, once.
func TestFirstAdminFromTheEnvironment(t *testing.T) {
	addr := freeAddr(t)
	env := envOf(map[string]string{"ADDR": addr, "DATA_DIR": t.TempDir(), "LOG_LEVEL": "error",
		"ADMIN_EMAIL": "Boss@Tozalash.uz", "ADMIN_PASSWORD": "boshliq-parol-2026"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env) }()
	defer func() { cancel(); <-done }()
	base := "http://" + addr
	waitHealthy(t, base, 30*time.Second)
	req, _ := http.NewRequest("POST", base+"/auth/login", strings.NewReader(`{"email":"boss@tozalash.uz","password":"boshliq-parol-2026"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		User struct {
			Role       string `json:"role"`
			IsVerified bool   `json:"isVerified"`
		} `json:"user"`
		AccessToken string `json:"accessToken"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("admin login = %d %v", res.StatusCode, err)
	}
	if out.User.Role != "ADMIN" || !out.User.IsVerified || out.AccessToken == "" {
		t.Errorf("admin = %+v", out)
	}
	req, _ = http.NewRequest("GET", base+"/users", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+out.AccessToken)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("admin GET /users = %v %v", res.StatusCode, err)
	}
}

// `tozalash stats reconcile` puts broken counters right, and a start on a
// database without counters (an older version's) computes them.
func TestStatsReconcile(t *testing.T) {
	dataDir := t.TempDir()
	env := envOf(map[string]string{"DATA_DIR": dataDir, "LOG_LEVEL": "error"})
	ctx := context.Background()
	statsOf := func() *store.Statistics {
		t.Helper()
		db, err := store.Open(ctx, store.Options{DataDir: dataDir, Database: "tozalash"})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close(ctx)
		st, err := db.Statistics(ctx, time.Now(), 1)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	db, err := store.Open(ctx, store.Options{DataDir: dataDir, Database: "tozalash"})
	if err != nil {
		t.Fatal(err)
	}
	// Accounts written as an older version did: no counters at all.
	for _, name := range []string{"aziz", "laylo", "otabek"} {
		if _, err := db.InsertRaw(ctx, "users", store.User{ID: primitive.NewObjectID(), Username: name, Email: name + "@example.uz", Role: store.RoleUser}); err != nil {
			t.Fatal(err)
		}
	}
	if missing, err := db.CountersMissing(ctx); err != nil || !missing {
		t.Fatalf("counters missing = %v %v", missing, err)
	}
	db.Close(ctx)

	addr := freeAddr(t)
	srv := envOf(map[string]string{"ADDR": addr, "DATA_DIR": dataDir, "LOG_LEVEL": "error"})
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(sctx, nil, srv) }()
	waitHealthy(t, "http://"+addr, 30*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The three accounts (the demo's customers come with `seed` only).
	if st := statsOf(); st.Users != 3 || st.Services != int64(len(demo.Catalogue)) {
		t.Errorf("after the first start: %d users, %d services", st.Users, st.Services)
	}

	db, err = store.Open(ctx, store.Options{DataDir: dataDir, Database: "tozalash"})
	if err != nil {
		t.Fatal(err)
	}
	store.NewCounterStore(db).Add(ctx, "users", 40) // broken
	db.Close(ctx)
	if err := run(ctx, []string{"stats", "reconcile"}, env); err != nil {
		t.Fatal(err)
	}
	if st := statsOf(); st.Users != 3 {
		t.Errorf("after stats reconcile: %d users", st.Users)
	}
	var ue usageError
	if err := run(ctx, []string{"stats"}, env); !errors.As(err, &ue) {
		t.Errorf("stats alone: %v, want a usage error", err)
	}
}

// backup FILE writes the archive atomically; restore FILE loads it into an
// empty database and reconciles the counters; into a database that holds
// anything it is refused.
func TestBackupRestoreCommands(t *testing.T) {
	ctx := context.Background()
	first, second := t.TempDir(), t.TempDir()
	env1 := envOf(map[string]string{"DATA_DIR": first, "LOG_LEVEL": "error"})
	env2 := envOf(map[string]string{"DATA_DIR": second, "LOG_LEVEL": "error"})
	if err := run(ctx, []string{"seed"}, env1); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, store.Options{DataDir: first, Database: "tozalash"})
	if err != nil {
		t.Fatal(err)
	}
	seeded, err := db.Statistics(ctx, time.Now(), 1) // the demo's customers and visits
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{Username: "aziz", Email: "aziz@example.uz", Role: store.RoleUser}
	if err := store.NewUserStore(db).Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	o := &store.Order{UserID: u.ID, ServiceID: primitive.NewObjectID(), Price: 150_000, Address: "Yunusobod 4",
		ScheduledAt: time.Now().Add(24 * time.Hour).UTC().Truncate(time.Millisecond), IdempotencyKey: "k1"}
	if err := store.NewOrderStore(db).Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	db.Close(ctx)

	file := filepath.Join(t.TempDir(), "tozalash.tar.gz")
	if err := run(ctx, []string{"backup", file}, env1); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the backup: %v %v", fi, err)
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary file is left: %v", err)
	}

	if err := run(ctx, []string{"restore", file}, env2); err != nil {
		t.Fatal(err)
	}
	// A second seed finds the catalogue's mark restored: no second catalogue.
	if err := run(ctx, []string{"seed"}, env2); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(ctx, store.Options{DataDir: second, Database: "tozalash"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.Statistics(ctx, time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Users != seeded.Users+1 || st.Services != int64(len(demo.Catalogue)) || st.Orders.N != seeded.Orders.N+1 || st.Orders.ByStatus[store.StatusPending] != seeded.Orders.ByStatus[store.StatusPending]+1 {
		t.Errorf("after restore: %d users, %d services, orders %+v", st.Users, st.Services, st.Orders)
	}
	list, _, err := store.NewOrderStore(db).ForCustomer(ctx, u.ID, primitive.NilObjectID, 10)
	if err != nil || len(list) != 1 || list[0].ID != o.ID {
		t.Errorf("the customer's orders after restore: %+v %v", list, err)
	}
	if got, err := store.NewUserStore(db).GetByEmail(ctx, "aziz@example.uz"); err != nil || got.ID != u.ID {
		t.Errorf("sign-in look-up after restore: %v %v", got, err)
	}
	db.Close(ctx)

	if err := run(ctx, []string{"restore", file}, env1); !errors.Is(err, store.ErrConflict) {
		t.Errorf("restore into the database it came from = %v, want a conflict", err)
	}
	var ue usageError
	for _, args := range [][]string{{"backup"}, {"restore"}, {"backup", "a", "b"}, {"restore", ""}} {
		if err := run(ctx, args, env1); !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if err := run(ctx, []string{"restore", filepath.Join(t.TempDir(), "none.tar.gz")}, env2); err == nil {
		t.Error("restore of a missing file succeeded")
	}
}
