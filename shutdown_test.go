package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"tozalash/views"
)

// builtBinary builds the app once for the tests that run it whole.
var builtBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tozalash-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tozalash")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	return bin, nil
})

// server is the real binary running on a data directory.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *bytes.Buffer
	base string
	exit chan error
}

const loadAdmin, loadPassword = "boss@tozalash.uz", "boshliq-parol-2026"

// startServer starts the binary on dataDir (the embedded database), or on
// the database env names (MONGODB_URI=…).
func startServer(t *testing.T, dataDir, addr string, env ...string) *server {
	t.Helper()
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, logs: &bytes.Buffer{}, base: "http://" + addr, exit: make(chan error, 1)}
	s.cmd = exec.Command(bin)
	s.cmd.Env = append(os.Environ(), "ADDR="+addr, "DATA_DIR="+dataDir, "MONGODB_URI=", "APP_ENV=development",
		"BASE_URL="+s.base, "LOG_LEVEL=warn", "ADMIN_EMAIL="+loadAdmin, "ADMIN_PASSWORD="+loadPassword, "AUTH_RATE_LIMIT=1000")
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exit <- s.cmd.Wait() }()
	t.Cleanup(func() { _ = s.cmd.Process.Kill() })
	waitHealthy(t, s.base, 60*time.Second)
	return s
}

func (s *server) login() string {
	s.t.Helper()
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	if status := s.call("POST", "/auth/login", "", `{"email":"`+loadAdmin+`","password":"`+loadPassword+`"}`, &out); status != 200 {
		s.t.Fatalf("login = %d\n%s", status, s.logs)
	}
	return out.AccessToken
}

// call sends one JSON request and decodes the answer into out.
func (s *server) call(method, path, token, body string, out any) int {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// orders lists every order on the admin's board, by id.
func (s *server) orders(token string) map[string]bool {
	s.t.Helper()
	ids := map[string]bool{}
	before := ""
	for {
		var page struct {
			Items []struct{ ID string }
			Next  string
		}
		if status := s.call("GET", "/orders?limit=100&before="+before, token, "", &page); status != 200 {
			s.t.Fatalf("the board = %d", status)
		}
		for _, it := range page.Items {
			ids[it.ID] = true
		}
		if page.Next == "" {
			return ids
		}
		before = page.Next
	}
}

func (s *server) statistics(token string) int {
	s.t.Helper()
	var st struct{ Orders int }
	if status := s.call("GET", "/admin/statistics", token, "", &st); status != 200 {
		s.t.Fatalf("statistics = %d", status)
	}
	return st.Orders
}

// bookingLoad books from clients at once until stop closes, and returns
// the ids answered 201 and how many requests failed some other way.
func bookingLoad(base, token, service string, clients int, stop <-chan struct{}) (made map[string]bool, failed int) {
	// Each request asks for the next half hour of the demo crews' days
	// (08:00–19:00, demo.WorkingWeek; Sundays left out,
	// as a company's day off would be) from the day after
	// tomorrow on: three crews take some of them, the others are 409s.
	var next atomic.Int64
	when := func() string {
		k := int(next.Add(1) - 1)
		day := time.Now().In(views.Tashkent).AddDate(0, 0, 2)
		for n := 0; ; day = day.AddDate(0, 0, 1) {
			if day.Weekday() == time.Sunday {
				continue
			}
			if n == k/16 {
				break
			}
			n++
		}
		return time.Date(day.Year(), day.Month(), day.Day(), 8, 30*(k%16), 0, 0, views.Tashkent).Format(time.RFC3339)
	}
	var mu sync.Mutex
	made = map[string]bool{}
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 20 * time.Second}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"serviceId":"%s","scheduledAt":"%s","address":"Yunusobod %d-uy","phone":"+998901234567","idempotencyKey":"load-%d-%d"}`,
					service, when(), i, c, i)
				req, _ := http.NewRequest("POST", base+"/orders", strings.NewReader(body))
				req.Header.Set("Accept", "application/json")
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := client.Do(req)
				var out struct{ ID string }
				status := 0
				if err == nil {
					status = res.StatusCode
					_ = json.NewDecoder(res.Body).Decode(&out)
					res.Body.Close()
				}
				mu.Lock()
				if status == 201 {
					made[out.ID] = true
				} else {
					failed++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond) // the server is gone: do not spin
				}
			}
		}()
	}
	wg.Wait()
	return made, failed
}

// loadResult is what a booking load got: the ids answered 201 and how many
// requests failed some other way.
type loadResult struct {
	made   map[string]bool
	failed int
}

// startLoad has 50 clients book the first demo service as token until the
// returned stop is called, which waits for them.
func startLoad(t *testing.T, s *server, token string) (stop func() loadResult) {
	service := firstService(t, s)
	done := make(chan struct{})
	loaded := make(chan loadResult, 1)
	go func() { m, f := bookingLoad(s.base, token, service, 50, done); loaded <- loadResult{m, f} }()
	return func() loadResult { close(done); return <-loaded }
}

// keptEvery checks that every order answered 201 is on the board, and
// returns the board's orders.
func (s *server) keptEvery(token string, made map[string]bool) map[string]bool {
	s.t.Helper()
	there := s.orders(token)
	for id := range made {
		if !there[id] {
			s.t.Errorf("order %s was answered 201 and is gone", id)
		}
	}
	return there
}

func firstService(t *testing.T, s *server) string {
	var page struct{ Items []struct{ ID string } }
	if status := s.call("GET", "/services?limit=1", "", "", &page); status != 200 || len(page.Items) == 0 {
		t.Fatalf("services = %d", status)
	}
	return page.Items[0].ID
}

// SIGTERM while 50 clients book: the server stops taking connections,
// finishes what it took, closes the chat sockets with 1001 and exits 0
// within 15 s. After a restart every order answered 201 is there, and no
// other.
func TestSIGTERMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dataDir, addr := t.TempDir(), freeAddr(t)
	s := startServer(t, dataDir, addr)
	token := s.login()

	h := http.Header{"Origin": {s.base}, "Authorization": {"Bearer " + token}}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.base, "http")+"/chat/ws?format=json", h)
	if err != nil {
		t.Fatal(err)
	}
	wsClosed := make(chan int, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					wsClosed <- ce.Code
				} else {
					wsClosed <- -1
				}
				return
			}
		}
	}()

	stopLoad := startLoad(t, s, token)
	time.Sleep(1500 * time.Millisecond)
	began := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exit:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, s.logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15 s after SIGTERM\n%s", s.logs)
	}
	took := time.Since(began)
	r := stopLoad()
	select {
	case code := <-wsClosed:
		if code != websocket.CloseGoingAway {
			t.Errorf("the chat socket closed with %d, want 1001", code)
		}
	case <-time.After(5 * time.Second):
		t.Error("the chat socket was not closed")
	}
	if len(r.made) == 0 {
		t.Fatalf("no booking succeeded before the signal\n%s", s.logs)
	}

	again := startServer(t, dataDir, addr)
	token = again.login()
	there := again.keptEvery(token, r.made)
	if len(there) != len(r.made) {
		t.Errorf("%d orders in the database, %d answered 201 (%d requests failed)", len(there), len(r.made), r.failed)
	}
	if n := again.statistics(token); n != len(there) {
		t.Errorf("the statistics count %d orders of %d", n, len(there))
	}
	t.Logf("%d bookings answered 201, %d refused or cut off; stopped in %v", len(r.made), r.failed, took.Round(time.Millisecond))
}

// kill -9 while 50 clients book: after a restart the database opens, every
// order answered 201 is there, and the statistics count what is there (the
// start finishes the cut-off writes from the journal).
func TestKillUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dataDir, addr := t.TempDir(), freeAddr(t)
	s := startServer(t, dataDir, addr)
	token := s.login()
	stopLoad := startLoad(t, s, token)
	time.Sleep(1500 * time.Millisecond)
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exit
	r := stopLoad()
	if len(r.made) == 0 {
		t.Fatalf("no booking succeeded before the kill\n%s", s.logs)
	}

	again := startServer(t, dataDir, addr)
	token = again.login()
	there := again.keptEvery(token, r.made)
	if n := again.statistics(token); n != len(there) {
		t.Errorf("the statistics count %d orders, the database holds %d", n, len(there))
	}
	t.Logf("%d bookings answered 201 before the kill, %d in the database", len(r.made), len(there))
}
