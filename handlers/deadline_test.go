package handlers

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"tozalash/demo"
	"tozalash/store"
)

// blackHole is a TCP proxy to a database that can be frozen: while frozen
// it holds back every command the app sends but the server monitor's
// hello, so the database still looks up to the driver (its heartbeats are
// answered) and takes the queries, but answers none of them: a server
// stuck behind a lock, or a network path that drops one connection's
// packets. Only a deadline of the app's own ends such a request. (Held
// back altogether, hellos too, the driver's monitor would find the server
// gone within a heartbeat or two, and fail the requests itself.)
type blackHole struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	frozen bool
	thawed chan struct{} // closed when the proxy forwards again
	held   atomic.Int64  // commands held back while frozen
	conns  []net.Conn
}

func startBlackHole(t *testing.T, target string) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackHole{ln: ln, target: target, thawed: make(chan struct{})}
	close(p.thawed)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *blackHole) addr() string { return p.ln.Addr().String() }

func (p *blackHole) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.requests(c, up)
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// requests forwards the app's messages to the database one by one,
// holding back every command but hello while the proxy is frozen.
func (p *blackHole) requests(src, dst net.Conn) {
	defer dst.Close()
	r := bufio.NewReader(src)
	for {
		var hdr [16]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(hdr[:4]))
		if n < 16 || n > 48<<20 {
			return
		}
		msg := make([]byte, n)
		copy(msg, hdr[:])
		if _, err := io.ReadFull(r, msg[16:]); err != nil {
			return
		}
		switch commandName(msg) {
		case "hello", "isMaster", "ismaster":
		default:
			p.mu.Lock()
			frozen, thawed := p.frozen, p.thawed
			p.mu.Unlock()
			if frozen {
				p.held.Add(1)
				<-thawed
			}
		}
		if _, err := dst.Write(msg); err != nil {
			return
		}
	}
}

// commandName is the command an OP_MSG carries (the first key of its body
// section), or "" for any other message (the handshake's OP_QUERY).
func commandName(msg []byte) string {
	const opMsg = 2013
	if len(msg) < 26 || binary.LittleEndian.Uint32(msg[12:16]) != opMsg || msg[20] != 0 {
		return ""
	}
	l := int(binary.LittleEndian.Uint32(msg[21:25]))
	if l < 5 || 21+l > len(msg) {
		return ""
	}
	elems, err := bson.Raw(msg[21 : 21+l]).Elements()
	if err != nil || len(elems) == 0 {
		return ""
	}
	return elems[0].Key()
}

func (p *blackHole) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen, p.thawed = true, make(chan struct{})
	p.held.Store(0)
}

func (p *blackHole) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thawed)
	}
}

func (p *blackHole) isFrozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen
}

func (p *blackHole) close() {
	p.thaw()
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// A database that stops answering (it takes the queries and says nothing,
// while its heartbeats still look fine) costs a booking, a login and a
// page a 503 with Retry-After within the 10 s of the design, not a hang;
// and the app serves again once the database answers.
func TestDatabaseFrozen(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the request deadline")
	}
	emb, err := store.StartEmbedded(filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Stop()
	hole := startBlackHole(t, strings.TrimSuffix(strings.TrimPrefix(emb.URI, "mongodb://"), "/"))
	ctx := context.Background()
	// As the app opens it (main.openDB): the default timeouts.
	db, err := store.Open(ctx, store.Options{URI: "mongodb://" + hole.addr() + "/", Database: "frozen"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { hole.thaw(); db.Close(ctx) }()
	if _, err := demo.Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	a := newTestAppWith(t, db, Config{})
	alice, _ := a.signupVerified("alice", "alice@example.uz", "toza-uy-2026")
	svc := demoServices(t, a)[0]
	booking := func(key string) string {
		return `{"serviceId":"` + svc.ID.Hex() + `","scheduledAt":"` + slot(2, 11, 0) + `","address":"Chilonzor 9-kvartal, 12-uy","phone":"+998901234567","idempotencyKey":"` + key + `"}`
	}
	if r := a.api(alice).do("POST", "/orders", booking("before")); r.status != 201 {
		t.Fatalf("booking before the freeze: %d %s", r.status, clip(r.body))
	}

	hole.freeze()
	type call struct {
		name     string
		req      request
		contains string
	}
	calls := []call{
		{"booking", request{method: "POST", path: "/orders", body: booking("frozen"), contentType: "application/json",
			headers: map[string]string{"Authorization": "Bearer " + alice, "Accept": "application/json"}}, `"code":"unavailable"`},
		{"login", request{method: "POST", path: "/auth/login", body: `{"email":"alice@example.uz","password":"toza-uy-2026"}`,
			contentType: "application/json", headers: asJSON}, `"code":"unavailable"`},
		{"page", request{path: "/orders", headers: map[string]string{"Authorization": "Bearer " + alice}},
			"Xizmat vaqtincha ishlamayapti"}, // alice's language: the error page, not a 500
	}
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest(c.req.method, c.req.path, strings.NewReader(c.req.body))
			if c.req.method == "" {
				req = httptest.NewRequest("GET", c.req.path, nil)
			}
			if c.req.contentType != "" {
				req.Header.Set("Content-Type", c.req.contentType)
			}
			for k, v := range c.req.headers {
				req.Header.Set(k, v)
			}
			res, err := a.app.Test(req, 10_000) // the design's bound: no answer within it is an error
			if err != nil {
				t.Errorf("%s with the database frozen: %v", c.name, err)
				return
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if !hole.isFrozen() {
				t.Errorf("%s: the proxy was released before the answer", c.name)
			}
			if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || !strings.Contains(string(body), c.contains) {
				t.Errorf("%s with the database frozen: %d (Retry-After %q) %s", c.name, res.StatusCode, res.Header.Get("Retry-After"), clip(string(body)))
			}
		}()
	}
	wg.Wait()
	if hole.held.Load() == 0 {
		t.Error("nothing reached the frozen database: the test proves nothing")
	}

	hole.thaw()
	deadline := time.Now().Add(30 * time.Second)
	for a.do(request{path: "/health"}).status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the app did not find the database again")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The booking made while frozen may have been made after all; its key
	// answers it either way (201, or 200 for the one made).
	if r := a.api(alice).do("POST", "/orders", booking("frozen")); r.status != 201 && r.status != 200 {
		t.Errorf("the frozen booking again: %d %s", r.status, clip(r.body))
	}
	if r := a.api(alice).do("POST", "/orders", booking("after")); r.status != 201 {
		t.Errorf("booking after the freeze: %d %s", r.status, clip(r.body))
	}
}
