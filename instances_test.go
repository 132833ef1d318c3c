package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"tozalash/demo"
	"tozalash/store"
)

// instance is the real binary serving against MONGODB_URI.
type instance struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	base string
	exit chan error
}

// startInstances starts n servers on uri at the same moment: each has its
// own ADDR and DATA_DIR, and they share the JWT key, as a deployment does.
func startInstances(t *testing.T, uri string, n int) []*instance {
	t.Helper()
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*instance, n)
	for i := range out {
		addr := freeAddr(t)
		in := &instance{logs: &bytes.Buffer{}, base: "http://" + addr, exit: make(chan error, 1)}
		in.cmd = exec.Command(bin, "serve")
		in.cmd.Env = append(os.Environ(), "ADDR="+addr, "DATA_DIR="+t.TempDir(), "MONGODB_URI="+uri, "MONGODB_DB=tozalash",
			"APP_ENV=development", "BASE_URL="+in.base, "LOG_LEVEL=warn", "JWT_SECRET="+strings.Repeat("k", 40),
			"ADMIN_EMAIL="+loadAdmin, "ADMIN_PASSWORD="+loadPassword)
		in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
		out[i] = in
	}
	for _, in := range out { // as close together as exec allows
		if err := in.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { in.exit <- in.cmd.Wait() }()
	}
	t.Cleanup(func() {
		for _, in := range out {
			_ = in.cmd.Process.Kill()
		}
	})
	return out
}

// healthy waits until the instance answers /health with 200, or fails the
// test with its log if it exits or takes too long.
func (in *instance) healthy(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case err := <-in.exit:
			in.exit <- err
			t.Fatalf("%s exited: %v\n%s", in.base, err, in.logs.String())
		default:
		}
		if res, err := http.Get(in.base + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not healthy within %v\n%s", in.base, within, in.logs.String())
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.exit:
		in.exit <- err
		if err != nil {
			t.Errorf("%s: exit %v\n%s", in.base, err, in.logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("%s: still running 20 s after SIGTERM", in.base)
	}
}

// Three instances started at once on an empty database (one external
// FerretDB) all serve, and the database holds what one start makes: the
// indexes, one admin, one demo catalogue, counters that agree. It is a
// race, so it is run a few times, each on a fresh database.
func TestInstancesStartTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	for round := 1; round <= 3; round++ {
		t.Run(fmt.Sprint("round ", round), func(t *testing.T) {
			emb, err := store.StartEmbedded(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer emb.Stop()
			ins := startInstances(t, emb.URI, 3)
			for _, in := range ins {
				in.healthy(t, 60*time.Second)
			}
			ctx := context.Background()
			client, err := mongo.Connect(ctx, options.Client().ApplyURI(emb.URI))
			if err != nil {
				t.Fatal(err)
			}
			defer client.Disconnect(ctx)
			db := client.Database("tozalash")
			count := func(col string, filter bson.D) int64 {
				t.Helper()
				n, err := db.Collection(col).CountDocuments(ctx, filter)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := count("users", bson.D{{Key: "role", Value: "ADMIN"}}); n != 1 {
				t.Errorf("%d admins, want 1", n)
			}
			if n := count("users", bson.D{}); n != 1 {
				t.Errorf("%d accounts, want 1", n)
			}
			if n := count("services", bson.D{}); n != int64(len(demo.Catalogue)) {
				t.Errorf("%d services, want %d", n, len(demo.Catalogue))
			}
			for _, s := range demo.Catalogue {
				if n := count("services", bson.D{{Key: "name.uz", Value: s.Name.Uz}}); n != 1 {
					t.Errorf("%d copies of %q", n, s.Name.Uz)
				}
			}
			if n := count("userKeys", bson.D{}); n != 2 {
				t.Errorf("%d user keys, want 2 (the admin's email and username)", n)
			}
			var users, services struct {
				N int64 `bson:"n"`
			}
			if err := db.Collection("counters").FindOne(ctx, bson.D{{Key: "_id", Value: "users"}}).Decode(&users); err != nil || users.N != 1 {
				t.Errorf("users counter = %d %v, want 1", users.N, err)
			}
			if err := db.Collection("counters").FindOne(ctx, bson.D{{Key: "_id", Value: "services"}}).Decode(&services); err != nil || services.N != int64(len(demo.Catalogue)) {
				t.Errorf("services counter = %d %v, want %d", services.N, err, len(demo.Catalogue))
			}
			specs, err := db.Collection("users").Indexes().ListSpecifications(ctx)
			if err != nil {
				t.Fatal(err)
			}
			unique := 0
			for _, s := range specs {
				if s.Unique != nil && *s.Unique {
					unique++
				}
			}
			if unique != 2 {
				t.Errorf("users has %d unique indexes, want 2 (email, username): %v", unique, specs)
			}
			// The admin signs in on every instance.
			for _, in := range ins {
				s := &server{t: t, base: in.base, logs: in.logs}
				if s.login() == "" {
					t.Errorf("%s: no admin login", in.base)
				}
			}
			for _, in := range ins {
				in.stop(t)
			}
			var ee *exec.ExitError
			for _, in := range ins {
				if err := <-in.exit; errors.As(err, &ee) {
					t.Errorf("%s exited %d", in.base, ee.ExitCode())
				}
			}
		})
	}
}
