// Command bench measures the app's hot paths on the embedded database, on
// loopback only. `go run ./bench orders` (make bench-orders) loads 1k, 20k
// and 100k orders and reports p50/p99 of the customer's pages, booking and
// the admin's board; `go run ./bench stats` (make bench-stats) loads 10k,
// 100k and 1M orders and reports p50/p99 of the statistics.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/demo"
	"tozalash/handlers"
	"tozalash/store"
)

func main() {
	usage := "usage: go run ./bench all [seconds a scenario] | load [seconds] | plans [plans] | orders|stats|chat [sizes, e.g. 1000,20000,100000] | baseline (on ADDR)"
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if os.Args[1] == "baseline" { // the suite's yardstick, started by the suite
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := serveBaseline(ctx, os.Getenv("ADDR"))
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		return
	}
	if os.Args[1] == "all" {
		seconds := 15
		if len(os.Args) > 2 {
			fmt.Sscan(os.Args[2], &seconds)
		}
		if err := benchSuite(seconds); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if os.Args[1] == "plans" { // the suite's plans row alone: go run ./bench plans [plans]
		n := suitePlans
		if len(os.Args) > 2 {
			fmt.Sscan(os.Args[2], &n)
		}
		if err := plansAlone(n); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if os.Args[1] == "load" {
		seconds := 60
		if len(os.Args) > 2 {
			fmt.Sscan(os.Args[2], &seconds)
		}
		if err := loadTest(time.Duration(seconds) * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
		return
	}
	var sizes []int
	bench := benchOrders
	switch os.Args[1] {
	case "orders":
		sizes = []int{1_000, 20_000, 100_000}
		fmt.Printf("customers' scenarios: %d clients at once; the admin board: one admin\n\n", concurrency)
	case "stats":
		sizes = []int{10_000, 100_000, 1_000_000}
		bench = benchStats
		fmt.Printf("GET /admin/statistics (JSON), %d clients at once\n\n", concurrency)
	case "chat":
		sizes = []int{1_000}
		bench = benchChat
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if len(os.Args) > 2 {
		sizes = nil
		for _, s := range strings.Split(os.Args[2], ",") {
			var n int
			fmt.Sscan(s, &n)
			sizes = append(sizes, n)
		}
	}
	if os.Args[1] != "chat" {
		fmt.Printf("| orders | scenario | requests | p50 | p99 | max |\n|---|---|---|---|---|---|\n")
	}
	for _, n := range sizes {
		if err := bench(n); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

const (
	customers = 500
	password  = "bench-parol-2026"
)

// concurrency is how many clients send at once (BENCH_CONCURRENCY).
var concurrency = envInt("BENCH_CONCURRENCY", 8)

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil || n < 1 {
		return def
	}
	return n
}

// fixture is a fresh embedded database with the demo catalogue, customers
// and total generated orders, served by the app on a loopback port.
type fixture struct {
	db     *store.DB
	svcs   []store.Service
	users  []store.User  // users[0] is the admin
	orders []store.Order // kept only when asked
	base   string
	bases  []string // with several instances (newFixtureOn): each one's address
	client *http.Client
	close  func()
}

// newFixture loads total orders in chunks (so a million fits in memory) and
// starts the app; keep holds the generated orders in f.orders.
func newFixture(total int, keep bool) (*fixture, error) { return newFixtureOn(total, keep, 0) }

// newFixtureOn is newFixture with instances apps (0: one, on its embedded
// database), each on its own connection to one FerretDB served apart, as
// instances behind a load balancer are; each relays chat events and keeps
// itself registered, as main does.
func newFixtureOn(total int, keep bool, instances int) (*fixture, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tozalash-bench-")
	if err != nil {
		return nil, err
	}
	f := &fixture{}
	var closers []func()
	f.close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	closers = append(closers, func() { os.RemoveAll(dir) })
	opts := store.Options{DataDir: dir, Database: "bench"}
	if instances > 0 {
		emb, err := store.StartEmbedded(filepath.Join(dir, "db"), nil)
		if err != nil {
			f.close()
			return nil, err
		}
		closers = append(closers, emb.Stop)
		opts = store.Options{URI: emb.URI, Database: "bench"}
	}
	db, err := store.Open(ctx, opts)
	if err != nil {
		f.close()
		return nil, err
	}
	f.db = db
	closers = append(closers, func() { db.Close(ctx) })
	if _, err := demo.Seed(ctx, db); err != nil {
		f.close()
		return nil, err
	}
	if _, err := seedCrews(ctx, db, suiteCrews); err != nil { // room for the bookings (see bookingTime)
		f.close()
		return nil, err
	}
	if f.svcs, _, err = store.NewServiceStore(db).List(ctx, store.ServiceFilter{Limit: 100}); err != nil {
		f.close()
		return nil, err
	}

	// Customers share one password hash: the benchmark is not about argon2.
	hash, _ := auth.HashPassword(password)
	users := make([]store.User, customers+1)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := range users {
		users[i] = store.User{ID: primitive.NewObjectID(), Username: fmt.Sprintf("mijoz%04d", i), Email: fmt.Sprintf("mijoz%04d@example.uz", i),
			PasswordHash: hash, Role: store.RoleUser, IsVerified: true, Locale: "uz", CreatedAt: now, UpdatedAt: now}
	}
	users[0].Role, users[0].Username, users[0].Email = store.RoleAdmin, "boss", "boss@example.uz"
	if err := store.NewUserStore(db).ImportUsers(ctx, users); err != nil {
		f.close()
		return nil, err
	}
	f.users = users
	start := time.Now()
	const chunk = 50_000
	for from := 0; from < total; from += chunk {
		orders := make([]store.Order, min(chunk, total-from))
		for j := range orders {
			i := from + j
			u := users[1+rand.IntN(customers)]
			s := f.svcs[rand.IntN(len(f.svcs))]
			status := store.Statuses[rand.IntN(3)]
			created := now.Add(-time.Duration(total-i) * time.Minute)
			o := store.Order{ID: primitive.NewObjectIDFromTimestamp(created), UserID: u.ID, CustomerName: u.Username, ServiceID: s.ID, ServiceName: s.Name.Uz, ServiceNames: s.Name, Status: status, Price: s.Price,
				ScheduledAt: created.Add(48 * time.Hour), Address: fmt.Sprintf("Chilonzor %d-kvartal, %d-uy", 1+i%25, 1+i%80), Phone: fmt.Sprintf("+99890%07d", i),
				IdempotencyKey: fmt.Sprintf("seed-%d", i), CreatedAt: created, UpdatedAt: created,
				History: []store.StatusChange{{Status: store.StatusPending, At: created, ByUserID: u.ID, ByName: u.Username}}}
			if status != store.StatusPending {
				o.History = append(o.History, store.StatusChange{Status: status, At: created.Add(time.Hour), ByUserID: users[0].ID, ByName: "boss"})
			}
			orders[j] = o
		}
		if err := store.NewOrderStore(db).Import(ctx, orders); err != nil {
			f.close()
			return nil, err
		}
		if keep {
			f.orders = append(f.orders, orders...)
		}
	}
	fmt.Fprintf(os.Stderr, "loaded %d orders in %v\n", total, time.Since(start).Round(time.Millisecond))

	log := slog.New(slog.DiscardHandler)
	if os.Getenv("BENCH_LOG") != "" { // the server's own account of each request
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	cfg := handlers.Config{BaseURL: "http://127.0.0.1", JWTSecret: []byte(strings.Repeat("b", 32)),
		AuthRateLimit: 1_000_000, AuthCacheTTL: handlers.DefaultAuthCacheTTL}
	serve := func(db *store.DB) (string, error) {
		app, h, err := handlers.New(db, cfg, log)
		if err != nil {
			return "", err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		go func() { _ = app.Listener(ln) }()
		if instances > 0 {
			life, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); h.RunRelay(life) }()
			go func() { defer wg.Done(); db.Maintain(life, 2*time.Second) }()
			closers = append(closers, func() { stop(); wg.Wait() })
		}
		closers = append(closers, func() { _ = app.Shutdown(); h.Wait() })
		return "http://" + ln.Addr().String(), nil
	}
	for i := 0; i < max(1, instances); i++ {
		if i > 0 {
			if db, err = store.Open(ctx, opts); err != nil {
				f.close()
				return nil, err
			}
			closers = append(closers, func() { db.Close(ctx) })
		}
		base, err := serve(db)
		if err != nil {
			f.close()
			return nil, err
		}
		f.bases = append(f.bases, base)
	}
	f.base = f.bases[0]
	f.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2}, Timeout: 30 * time.Second}
	return f, nil
}

// login signs in and returns the access token.
func (f *fixture) login(email string) (string, error) { return loginAt(f.client, f.base, email) }

// benchStats measures the dashboard's JSON at total orders.
func benchStats(total int) error {
	f, err := newFixture(total, false)
	if err != nil {
		return err
	}
	defer f.close()
	token, err := f.login(f.users[0].Email)
	if err != nil {
		return err
	}
	if err := profile(); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	lat, err := run(f.client, 400, concurrency, func(int) *http.Request { return get(f.base+"/admin/statistics", token, "application/json") })
	if err != nil {
		return err
	}
	fmt.Printf("| %d | GET /admin/statistics (JSON) | %d | %s | %s | %s |\n", total, len(lat), ms(pct(lat, 50)), ms(pct(lat, 99)), ms(lat[len(lat)-1]))
	return nil
}

// profile starts the CPU profile BENCH_CPUPROFILE names, if any: it covers
// the requests, not the loading.
func profile() error {
	path := os.Getenv("BENCH_CPUPROFILE")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return pprof.StartCPUProfile(f)
}

func benchOrders(total int) error {
	f, err := newFixture(total, true)
	if err != nil {
		return err
	}
	defer f.close()
	base, client, users, orders, svcs, login := f.base, f.client, f.users, f.orders, f.svcs, f.login
	adminToken, err := login(users[0].Email)
	if err != nil {
		return err
	}
	tokens := make([]string, 20)
	owned := make([][]primitive.ObjectID, len(tokens))
	for i := range tokens {
		if tokens[i], err = login(users[1+i].Email); err != nil {
			return err
		}
		for _, o := range orders {
			if o.UserID == users[1+i].ID {
				owned[i] = append(owned[i], o.ID)
			}
		}
	}

	var keyN sync.Mutex
	seq := 0
	started := time.Now()
	scenarios := []struct {
		name string
		req  func(w int) *http.Request
	}{
		{"My orders (HTML)", func(w int) *http.Request { return get(base+"/orders", tokens[w%len(tokens)], "text/html") }},
		{"order page (HTML)", func(w int) *http.Request {
			ids := owned[w%len(tokens)]
			if len(ids) == 0 {
				return get(base+"/orders", tokens[w%len(tokens)], "text/html")
			}
			return get(base+"/orders/"+ids[rand.IntN(len(ids))].Hex(), tokens[w%len(tokens)], "text/html")
		}},
		{"booking POST /orders", func(w int) *http.Request {
			keyN.Lock()
			seq++
			k := seq
			keyN.Unlock()
			when := bookingTime(started, k).Format(time.RFC3339)
			body := fmt.Sprintf(`{"serviceId":"%s","scheduledAt":"%s","address":"Yunusobod 4-mavze, %d-uy","phone":"+998901234567","idempotencyKey":"bench-%d-%d"}`, svcs[0].ID.Hex(), when, k, total, k)
			r, _ := http.NewRequest("POST", base+"/orders", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", "application/json")
			r.Header.Set("Authorization", "Bearer "+tokens[k%len(tokens)]) // bookings spread over the customers
			return r
		}},
		{"admin board, first page (HTML)", func(int) *http.Request { return get(base+"/orders", adminToken, "text/html") }},
	}
	if err := profile(); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	only := os.Getenv("BENCH_ONLY")
	for _, sc := range scenarios {
		if only != "" && !strings.Contains(sc.name, only) {
			continue
		}
		n, workers := 400, concurrency
		if strings.HasPrefix(sc.name, "admin") {
			n, workers = 20, 1 // one admin at a desk
		}
		lat, err := run(client, n, workers, sc.req)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		fmt.Printf("| %d | %s | %d | %s | %s | %s |\n", total, sc.name, n, ms(pct(lat, 50)), ms(pct(lat, 99)), ms(lat[len(lat)-1]))
	}
	return nil
}

func get(url, token, accept string) *http.Request {
	r, _ := http.NewRequest("GET", url, nil)
	r.Header.Set("Accept", accept)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// run sends n requests from concurrency workers and returns the sorted
// latencies; any answer but 2xx is an error.
func run(client *http.Client, n, concurrency int, mk func(worker int) *http.Request) ([]time.Duration, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	jobs := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for range jobs {
				req := mk(w)
				t0 := time.Now()
				res, err := client.Do(req)
				d := time.Since(t0)
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode >= 300 {
						err = fmt.Errorf("%s %s: %d", req.Method, req.URL.Path, res.StatusCode)
					}
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, firstErr
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
