package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"tozalash/mail/mailtest"
	"tozalash/store/storetest"
)

// kill -9 in the middle of a working day on a MONGODB_URI deployment (a
// FerretDB process of its own): 50 clients book while an admin edits and
// deletes orders and the confirmation emails go out. After a restart on
// the same database every order answered 201 and not deleted is on the
// board, the statistics and the lists agree with a recount, and each
// booking's email arrived once (but for one a worker held at the kill,
// whose claim keeps it until its lease ends, never twice).
func TestKillMidWayOnASharedDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	uri := storetest.StartFerretDB(t)
	smtp := mailtest.Start(t)
	env := []string{"MONGODB_URI=" + uri, "SMTP_HOST=" + smtp.Host, "SMTP_PORT=" + strconv.Itoa(smtp.Port)}
	addr := freeAddr(t)
	s := startServer(t, t.TempDir(), addr, env...)
	token := s.login()
	stopLoad := startLoad(t, s, token)
	stopChanges, firstDelete := s.changeOrders(token)
	select { // mid-way: some bookings, an edit and a delete made
	case <-firstDelete:
	case <-time.After(30 * time.Second):
		t.Fatalf("no delete answered within 30 s\n%s", s.logs)
	}
	time.Sleep(500 * time.Millisecond) // the load goes on a little while
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exit
	r := stopLoad()
	deleted, tried := stopChanges()
	if len(r.made) == 0 || len(deleted) == 0 {
		t.Fatalf("%d bookings and %d deletes answered before the kill\n%s", len(r.made), len(deleted), s.logs)
	}

	again := startServer(t, t.TempDir(), addr, env...)
	token = again.login()
	there := again.orders(token)
	for id := range r.made {
		if !there[id] && !tried[id] {
			t.Errorf("order %s was answered 201 and is gone", id)
		}
	}
	for id := range deleted {
		if there[id] {
			t.Errorf("order %s was deleted (204) and is back", id)
		}
	}
	before := again.statistics(token)
	if before != len(there) {
		t.Errorf("the statistics count %d orders, the board shows %d", before, len(there))
	}
	// A recount (what `stats reconcile` does) changes nothing.
	bin, _ := builtBinary()
	cmd := exec.Command(bin, "stats", "reconcile")
	cmd.Env = append(again.cmd.Env, "LOG_LEVEL=error")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stats reconcile: %v\n%s", err, out)
	}
	if after, board := again.statistics(token), again.orders(token); after != before || len(board) != len(there) {
		t.Errorf("a recount changed the orders: statistics %d → %d, board %d → %d", before, after, len(there), len(board))
	}

	// Each booking's email, once: the survivors' workers send what was due.
	sent := func() map[string]int {
		n := map[string]int{}
		for _, m := range smtp.Messages() {
			if i := strings.Index(m.Text, "/orders/"); i >= 0 && len(m.Text) >= i+8+24 {
				n[m.Text[i+8:i+8+24]]++
			}
		}
		return n
	}
	// Those the dead instance's worker had claimed wait for their lease to
	// end (10 minutes): they must still be in the outbox, claimed.
	held := heldEmails(t, uri)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var missing []string
		for id := range r.made {
			if sent()[id] == 0 && !held[bookingEmailID(id)] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged bookings have had no email after 60 s, and no claim holds it: %v", len(missing), missing)
		}
		time.Sleep(200 * time.Millisecond) // the worker sends on its own time
	}
	for id, n := range sent() {
		if n > 1 {
			t.Errorf("order %s: %d emails", id, n)
		}
	}
	t.Logf("%d bookings answered 201 before the kill, %d deleted, %d on the board, %d emails, %d held by the dead worker's claims", len(r.made), len(deleted), len(there), len(smtp.Messages()), len(held))
}

// bookingEmailID is the id of an order's booking email (see store's
// queueEmails: made from the order's id).
func bookingEmailID(order string) string {
	sum := sha256.Sum256([]byte("booking|" + order))
	return hex.EncodeToString(sum[:12])
}

// heldEmails are the emails under a claim in the database at uri, by id.
func heldEmails(t *testing.T, uri string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	cur, err := client.Database("tozalash").Collection("claims").Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	for _, d := range docs {
		email, _, _ := strings.Cut(d.ID, ".")
		held[email] = true
	}
	return held
}

// changeOrders has an admin edit and delete the newest orders until the
// returned stop, which answers the ids whose delete was answered 204, and
// those it tried to delete (one may be cut off by the kill).
func (s *server) changeOrders(token string) (stop func() (deleted, tried map[string]bool), firstDelete <-chan struct{}) {
	done, first := make(chan struct{}), make(chan struct{})
	result := make(chan [2]map[string]bool, 1)
	go func() {
		deleted, tried := map[string]bool{}, map[string]bool{}
		client := &http.Client{Timeout: 10 * time.Second}
		do := func(method, path, body string) int {
			req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := client.Do(req)
			if err != nil {
				return 0
			}
			res.Body.Close()
			return res.StatusCode
		}
		var mu sync.Mutex
		for i := 0; ; i++ {
			select {
			case <-done:
				result <- [2]map[string]bool{deleted, tried}
				return
			default:
			}
			var page struct{ Items []struct{ ID string } }
			if status := s.callQuiet("GET", "/orders?limit=5", token, &page); status != 200 || len(page.Items) == 0 {
				time.Sleep(20 * time.Millisecond) // nothing booked yet, or the server is gone
				continue
			}
			id := page.Items[len(page.Items)-1].ID
			if i%2 == 0 {
				do("PATCH", "/orders/"+id, fmt.Sprintf(`{"notes":"call first %d"}`, i))
			} else {
				mu.Lock()
				tried[id] = true
				mu.Unlock()
				if do("DELETE", "/orders/"+id, "") == 204 {
					mu.Lock()
					if len(deleted) == 0 {
						close(first)
					}
					deleted[id] = true
					mu.Unlock()
				}
			}
		}
	}()
	return func() (map[string]bool, map[string]bool) { close(done); r := <-result; return r[0], r[1] }, first
}

// callQuiet is call for a goroutine, where the server may be gone: a failed
// request is status 0.
func (s *server) callQuiet(method, path, token string, out any) int {
	req, _ := http.NewRequest(method, s.base+path, nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}
