package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/demo"
	"tozalash/store"
	"tozalash/views"
)

// The suite's data: what a busy small company has after a while.
const (
	suiteUsers         = 2000
	suiteServices      = 12
	suiteOrders        = 20_000
	suiteConversations = 200
	suiteMessages      = 50_000
	suiteWorkers       = 50 // clients at once
	suiteCrews         = 100
)

// row is one line of the results table.
type row struct {
	name           string
	rate, p50, p99 float64 // req/s, ms
	note           string
}

// availabilityScenario names the row of the availability data set.
const availabilityScenario = "availability `GET /availability` 30 days JSON (20 crews, 20k visits)"

// benchSuite is `make bench`: it builds the app, fills an embedded
// database, starts the app and the baseline (a bare Fiber handler: this
// bench binary run again as `bench baseline`) as processes, drives every
// hot path with vegeta at suiteWorkers clients, and writes bench/RESULTS.md.
func benchSuite(seconds int) error {
	per := time.Duration(seconds) * time.Second
	run, err := runOnData("tozalash-suite-", suiteSize)
	if err != nil {
		return err
	}
	defer run.stop()
	data, app, site := run.data, run.app, run.site
	// The availability scenario's own data set, served by a second app.
	fmt.Fprintln(os.Stderr, "generating the availability data…")
	avail, err := generateAvailability(filepath.Join(run.dir, "avail"))
	if err != nil {
		return err
	}
	availApp, availAddr, err := onFreeAddr(func(addr string) (*process, error) {
		return startApp(run.bin, filepath.Join(run.dir, "avail"), addr)
	})
	if err != nil {
		return err
	}
	defer availApp.stop()
	availSite := "http://" + availAddr
	self, err := os.Executable() // this bench binary, started again as the baseline
	if err != nil {
		return err
	}
	baseline, baseAddr, err := onFreeAddr(func(addr string) (*process, error) {
		return startProcess(self, []string{"baseline"}, map[string]string{"ADDR": addr})
	})
	if err != nil {
		return err
	}
	defer baseline.stop()
	client := &http.Client{Timeout: 30 * time.Second}
	tokens := make([]string, 60)
	for i := range tokens {
		if tokens[i], err = loginAt(client, site, data.customers[i].Email); err != nil {
			return err
		}
	}
	adminToken, err := loginAt(client, site, data.admin.Email)
	if err != nil {
		return err
	}

	get := func(path, token, accept string) vegeta.Targeter {
		return func(t *vegeta.Target) error {
			t.Method, t.URL = "GET", site+path
			// As the baseline's client: no compression. The kept pages go
			// gzipped to a client that asks, and a browser does; here the
			// load generator would spend the shared cores unzipping them
			// (measured: the home page's rate fell from 0.49 to 0.34 of
			// the baseline's), which measures the client, not the server.
			t.Header = http.Header{"Accept": {accept}, "Accept-Encoding": {"identity"}}
			if token != "" {
				t.Header.Set("Authorization", "Bearer "+token)
			}
			return nil
		}
	}
	// The signed-in customers who have orders: the generator gives some
	// none.
	var withOrders []int
	for i := range tokens {
		if len(data.owned[data.customers[i].ID]) > 0 {
			withOrders = append(withOrders, i)
		}
	}
	if len(withOrders) == 0 {
		return fmt.Errorf("none of the %d signed-in customers has an order", len(tokens))
	}
	var mu sync.Mutex
	n := 0
	started := time.Now()
	today := started.In(views.Tashkent)
	availPath := fmt.Sprintf("/availability?serviceId=%s&%s&from=%s&to=%s", avail.service.Hex(), avail.query,
		today.Format(time.DateOnly), today.AddDate(0, 0, availDays-1).Format(time.DateOnly))
	scenarios := []struct {
		name string
		tr   vegeta.Targeter
		base string
	}{
		{"baseline static page", func(t *vegeta.Target) error { t.Method, t.URL = "GET", "http://"+baseAddr+"/"; return nil }, ""},
		{"home page (catalogue, anonymous, HTML)", get("/", "", "text/html"), "baseline"},
		{"`GET /services` JSON", get("/services", "", "application/json"), "baseline"},
		{"service page (HTML)", get("/services/"+data.service.Hex(), "", "text/html"), "baseline"},
		{"My orders (logged in, HTML, 20 per page)", func(t *vegeta.Target) error {
			return get("/orders", tokens[rand.IntN(len(tokens))], "text/html")(t)
		}, ""},
		{"order page (HTML, with history)", func(t *vegeta.Target) error {
			i := withOrders[rand.IntN(len(withOrders))]
			ids := data.owned[data.customers[i].ID]
			return get("/orders/"+ids[rand.IntN(len(ids))].Hex(), tokens[i], "text/html")(t)
		}, ""},
		{"booking `POST /orders`", func(t *vegeta.Target) error {
			mu.Lock()
			n++
			k := n
			mu.Unlock()
			t.Method, t.URL = "POST", site+"/orders"
			t.Header = http.Header{"Accept": {"application/json"}, "Content-Type": {"application/json"}, "Authorization": {"Bearer " + tokens[k%len(tokens)]}}
			// Each booking its own time, spread over the days and the
			// hours, as many customers' would be (see bookingTime).
			when := bookingTime(started, k).Format(time.RFC3339)
			t.Body = []byte(fmt.Sprintf(`{"serviceId":"%s","scheduledAt":"%s","address":"Yunusobod 4-mavze, %d-uy","phone":"+998901234567","idempotencyKey":"suite-%d"}`, data.service.Hex(), when, k, k))
			return nil
		}, ""},
		{"admin order board, first page", get("/orders", adminToken, "text/html"), ""},
		{"`GET /admin/statistics` (JSON)", get("/admin/statistics", adminToken, "application/json"), ""},
		{"login (password hash bound)", func(t *vegeta.Target) error {
			t.Method, t.URL = "POST", site+"/auth/login"
			t.Header = http.Header{"Accept": {"application/json"}, "Content-Type": {"application/json"}}
			t.Body = []byte(`{"email":"` + data.customers[rand.IntN(len(data.customers))].Email + `","password":"` + password + `"}`)
			return nil
		}, ""},
		// #20 (after the login: the flood below finds its scenarios by
		// place). A partner's JSON, anonymous; the booking form's panel,
		// as a signed-in customer's htmx (a Bearer token stands for the
		// browser's cookies and CSRF token).
		{"quote `POST /quote` JSON (anonymous)", func(t *vegeta.Target) error {
			t.Method, t.URL = "POST", site+"/quote"
			t.Header = http.Header{"Accept": {"application/json"}, "Content-Type": {"application/json"}, "Accept-Encoding": {"identity"}}
			t.Body = []byte(fmt.Sprintf(`{"serviceId":"%s","rooms":%d,"bathrooms":2,"extras":[{"id":"fridge","count":1},{"id":"windows","count":3}],"frequency":"weekly"}`, data.priced.Hex(), 1+rand.IntN(6)))
			return nil
		}, ""},
		{"quote `POST /quote` htmx panel (signed in)", func(t *vegeta.Target) error {
			t.Method, t.URL = "POST", site+"/quote"
			t.Header = http.Header{"HX-Request": {"true"}, "Content-Type": {"application/x-www-form-urlencoded"}, "Accept-Encoding": {"identity"},
				"Authorization": {"Bearer " + tokens[rand.IntN(len(tokens))]}}
			t.Body = []byte(fmt.Sprintf("serviceId=%s&rooms=%d&bathrooms=2&extra_fridge=1&extra_windows=3&frequency=weekly&promoCode=", data.priced.Hex(), 1+rand.IntN(6)))
			return nil
		}, ""},
		// #21: a booking form's free times for a month, anonymous, on the
		// availability data set (its own app).
		{availabilityScenario, func(t *vegeta.Target) error {
			t.Method, t.URL = "GET", availSite+availPath
			t.Header = http.Header{"Accept": {"application/json"}, "Accept-Encoding": {"identity"}}
			return nil
		}, ""},
	}
	var rows []row
	rates := map[string]float64{}
	only := os.Getenv("BENCH_ONLY") // parts of the scenarios' names, "|" between, for a quick look at a few
	picked := func(name string) bool {
		for _, part := range strings.Split(only, "|") {
			if strings.Contains(name, part) {
				return true
			}
		}
		return false
	}
	for _, sc := range scenarios {
		if only != "" && sc.name != "baseline static page" && !picked(sc.name) {
			continue
		}
		m := attack(sc.tr, per, suiteWorkers)
		r := row{name: sc.name, rate: m.Throughput, p50: ms64(m.Latencies.P50), p99: ms64(m.Latencies.P99)}
		// A booking's 409 slot_taken is the schedule's answer to a time
		// another booking took first, not a failure: counted apart.
		success, taken := m.Success, 0
		if strings.HasPrefix(sc.name, "booking") && m.Requests > 0 {
			taken = m.StatusCodes["409"]
			success += float64(taken) / float64(m.Requests)
		}
		if success < 0.999 {
			r.note = fmt.Sprintf("%.1f%% errors (%v)", 100*(1-success), m.StatusCodes)
		}
		if taken > 0 {
			r.note = strings.TrimSpace(r.note + fmt.Sprintf(" %d of %d slot_taken (409), counted apart", taken, m.Requests))
		}
		rates[sc.name] = m.Throughput
		// Each scenario starts with the app idle: the emails the bookings
		// queued are sent before the next one is measured.
		if took, left := waitOutboxDrained(site, 3*time.Minute); took > time.Second {
			r.note = strings.TrimSpace(r.note + fmt.Sprintf(" (their emails took %.0f s more to send%s)", took.Seconds(), left))
		}
		rows = append(rows, r)
		// The server's peak so far, to tell which scenario raised it.
		fmt.Fprintf(os.Stderr, "%-45s %8.0f req/s  p50 %6.1f ms  p99 %6.1f ms  peak RSS %d MB %s\n", r.name, r.rate, r.p50, r.p99, app.peakRSS()/1024, r.note)
	}
	if only != "" && only != "flood" {
		return nil
	}
	// The hash alone, in this process, for the login's overhead.
	hash, _ := auth.HashPassword(password)
	t0 := time.Now()
	for i := 0; i < 20; i++ {
		_, _ = auth.CheckPassword(hash, password)
	}
	hashMs := ms64(time.Since(t0) / 20)
	// A login flood: the home page beside 50 clients logging in.
	floodCtx, stopFlood := context.WithCancel(context.Background())
	go func() {
		a := vegeta.NewAttacker(vegeta.Workers(suiteWorkers), vegeta.MaxWorkers(suiteWorkers))
		for range a.Attack(scenarios[9].tr, vegeta.ConstantPacer{}, 0, "flood") {
			if floodCtx.Err() != nil {
				a.Stop()
			}
		}
	}()
	time.Sleep(time.Second)
	flooded := attack(scenarios[1].tr, per, 10)
	stopFlood()
	time.Sleep(2 * time.Second)              // the queued logins drain
	calm := attack(scenarios[1].tr, per, 10) // the same 10 clients, no flood
	home := calm.Throughput
	fmt.Fprintf(os.Stderr, "after the login flood: peak RSS %d MB\n", app.peakRSS()/1024)
	if only != "" {
		fmt.Fprintf(os.Stderr, "home page at 10 clients beside a login flood: %.0f req/s, %.2f of %.0f without\n", flooded.Throughput, flooded.Throughput/home, home)
		return nil
	}

	fmt.Fprintln(os.Stderr, "chat: 1,000 sockets…")
	chatLine, err := chatAgainst(site, data, 1000, envInt("BENCH_CHAT_RATE", 100), per)
	if err != nil {
		return err
	}
	rss := app.peakRSS()
	fmt.Fprintf(os.Stderr, "after the chat: peak RSS %d MB\n", rss/1024)
	allocs := homeAllocs()
	floor := bookingFloor()
	fmt.Fprintf(os.Stderr, "a booking's own writes alone: %s\n", floor)
	plansLine, err := benchPlans(run.bin, run.dir, seconds < 10)
	if err != nil {
		return err
	}

	base := rates["baseline static page"]
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# Benchmark results\n\n`make bench`, %s, on %s: %d cores (%s), %s, load generator and server on the same machine. %d clients at once, %s a scenario, over loopback; data: %d users, %d services, %d orders with histories, %d conversations with %d messages, %d crews working round the clock (the bookings' times spread over the days and hours); the availability row on a data set of its own, its own app: %d crews round the clock, %d visits booked (nine a crew a day, one six-hour gap), %d days asked for.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), cpuModel(), runtime.Version(), suiteWorkers, per, suiteUsers, suiteServices, suiteOrders, suiteConversations, suiteMessages, suiteCrews, availCrews, availVisits, availDays)
	b.WriteString("| scenario | req/s | p50 | p99 | ratio to baseline req/s |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.0f | %.1f ms | %.1f ms | %.2f |", r.name, r.rate, r.p50, r.p99, r.rate/base)
		if r.note != "" {
			fmt.Fprintf(&b, " %s", r.note)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n%s\n\n%s\n", chatLine, plansLine)
	fmt.Fprintf(&b, "\n- The password hash alone (argon2id, m=19 MiB, t=2, p=1): %.1f ms; a login's p50 above is the whole request at %d clients.\n", hashMs, suiteWorkers)
	fmt.Fprintf(&b, "- Home page at 10 clients beside a flood of %d clients logging in: %.0f req/s, %.2f of its %.0f req/s at 10 clients without the flood (p99 %.1f ms).\n", suiteWorkers, flooded.Throughput, flooded.Throughput/home, home, ms64(flooded.Latencies.P99))
	fmt.Fprintf(&b, "- The server's peak RSS: %d MB.\n- Home page allocations (Go benchmark, `go test -bench HomePage -benchmem ./handlers`): %s.\n", rss/1024, allocs)
	fmt.Fprintf(&b, "- The floor under booking's row: a booking's writes that no group shares, its row in its customer's list and its email's delivery record, each by its own writer as the groups' commits and the mail worker write them, on the embedded database with the suite's apps idle (Go benchmark, `go test -bench BookingOwnWrites ./store`): %s.\n", floor)
	// The findings and the tables measured by hand live in findings.md, so
	// that a run rewrites the table above them and keeps them.
	if findings, err := os.ReadFile(filepath.Join("bench", "findings.md")); err == nil {
		b.WriteString("\n")
		b.Write(findings)
	}
	fmt.Print(b.String())
	if seconds < 10 { // a smoke run: too short to keep
		return nil
	}
	return os.WriteFile(filepath.Join("bench", "RESULTS.md"), []byte(b.String()), 0o644)
}

// waitOutboxDrained waits until the app has sent (or given up on) every
// email it queued, as its /metrics say, and returns how long that took.
func waitOutboxDrained(site string, within time.Duration) (time.Duration, string) {
	start := time.Now()
	for time.Since(start) < within {
		res, err := http.Get(site + "/metrics")
		if err != nil {
			return time.Since(start), ", metrics unreadable"
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		n := map[string]float64{}
		for _, line := range strings.Split(string(body), "\n") {
			for _, name := range []string{"tozalash_outbox_queued_total", "tozalash_outbox_sent_total", "tozalash_outbox_failed_total"} {
				if v, ok := strings.CutPrefix(line, name+" "); ok {
					var f float64
					fmt.Sscan(v, &f)
					n[name] = f
				}
			}
		}
		if n["tozalash_outbox_queued_total"] <= n["tozalash_outbox_sent_total"]+n["tozalash_outbox_failed_total"] {
			return time.Since(start), ""
		}
		time.Sleep(250 * time.Millisecond)
	}
	return time.Since(start), ", and were not all sent then"
}

// appRun is the app's binary running on generated data, in a temporary
// folder that stop removes.
type appRun struct {
	dir, bin, site string
	data           *suiteData
	app            *process
	// With several instances: each one's address (site is the first), and
	// the database they share, served from this process.
	sites    []string
	apps     []*process
	database *store.Embedded
}

// runOnData builds the app, generates size into a new temporary folder and
// starts the app on it.
func runOnData(prefix string, size dataSize) (*appRun, error) {
	r, err := prepareRun(prefix, size)
	if err != nil {
		return nil, err
	}
	var addr string
	if r.app, addr, err = onFreeAddr(func(addr string) (*process, error) { return startApp(r.bin, filepath.Join(r.dir, "data"), addr) }); err != nil {
		r.stop()
		return nil, err
	}
	r.site = "http://" + addr
	return r, nil
}

// prepareRun builds the app and generates size into a new temporary
// folder.
func prepareRun(prefix string, size dataSize) (*appRun, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	r := &appRun{dir: dir}
	if r.bin, err = buildApp(dir); err == nil {
		fmt.Fprintln(os.Stderr, "generating the data…")
		r.data, err = generate(filepath.Join(dir, "data"), size)
	}
	if err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

// runInstances is runOnData with n instances of the app on one database,
// as behind a load balancer: the generated data is served by a FerretDB in
// this process, and each instance reaches it by MONGODB_URI.
func runInstances(prefix string, size dataSize, n int) (*appRun, error) {
	r, err := prepareRun(prefix, size)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*appRun, error) { r.stop(); return nil, err }
	dir := r.dir
	if r.database, err = store.StartEmbedded(filepath.Join(dir, "data", "db"), nil); err != nil {
		return fail(err)
	}
	for i := 0; i < n; i++ {
		app, addr, err := onFreeAddr(func(addr string) (*process, error) {
			return startProcess(r.bin, nil, map[string]string{"ADDR": addr, "DATA_DIR": filepath.Join(dir, fmt.Sprint("instance", i)),
				"MONGODB_URI": r.database.URI, "MONGODB_DB": "tozalash", "BASE_URL": "http://" + addr,
				"JWT_SECRET": strings.Repeat("s", 40), "AUTH_RATE_LIMIT": "100000", "LOG_LEVEL": "error"})
		})
		if err != nil {
			return fail(err)
		}
		r.apps, r.sites = append(r.apps, app), append(r.sites, "http://"+addr)
	}
	r.app, r.site = r.apps[0], r.sites[0]
	return r, nil
}

func (r *appRun) stop() {
	for _, app := range r.apps {
		app.stop()
	}
	if r.app != nil && len(r.apps) == 0 {
		r.app.stop()
	}
	r.database.Stop()
	os.RemoveAll(r.dir)
}

// buildApp builds the app's binary into dir.
func buildApp(dir string) (string, error) {
	bin := filepath.Join(dir, "tozalash")
	fmt.Fprintln(os.Stderr, "building the app…")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	return bin, nil
}

// startApp runs the app on the data under dataDir, listening on addr, with
// the limits on logins out of the way of a load generator on one address.
func startApp(bin, dataDir, addr string) (*process, error) {
	return startProcess(bin, nil, map[string]string{"ADDR": addr, "DATA_DIR": dataDir, "BASE_URL": "http://" + addr,
		"JWT_SECRET": strings.Repeat("s", 40), "AUTH_RATE_LIMIT": "100000", "LOG_LEVEL": "error"})
}

func attack(tr vegeta.Targeter, d time.Duration, workers uint64) vegeta.Metrics {
	a := vegeta.NewAttacker(vegeta.Workers(workers), vegeta.MaxWorkers(workers), vegeta.KeepAlive(true), vegeta.Connections(int(workers)), vegeta.Timeout(30*time.Second))
	var m vegeta.Metrics
	for res := range a.Attack(tr, vegeta.ConstantPacer{}, d, "") {
		m.Add(res)
	}
	m.Close()
	return m
}

func ms64(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has ended
}

// onFreeAddr starts a process with start on a free address, and on
// another when it could not: freeAddr finds a port free a moment before,
// and another program may take it meanwhile (seen: "bind: address already
// in use" failed a load test).
func onFreeAddr(start func(addr string) (*process, error)) (*process, string, error) {
	var err error
	for range 3 {
		addr := freeAddr()
		var p *process
		if p, err = start(addr); err == nil {
			return p, addr, nil
		}
	}
	return nil, "", err
}

// startProcess runs the binary with env and waits until it answers; one
// that ends first (its address taken) did not start, whoever else may
// answer on that address.
func startProcess(bin string, args []string, env map[string]string) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s %v ended before it answered", bin, args)
		default:
		}
		if res, err := http.Get("http://" + env["ADDR"] + "/"); err == nil {
			res.Body.Close()
			return p, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("%s %v did not start", bin, args)
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// peakRSS is the process's high-water mark of resident memory, in KB.
func (p *process) peakRSS() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}

// bookingFloor runs BenchmarkBookingOwnWrites: the most bookings a second
// the embedded database could take here were every other write shared.
func bookingFloor() string {
	cmd := exec.Command("go", "test", "-run", "XXX", "-bench", "BookingOwnWrites", "-benchtime", "2000x", "./store")
	cmd.Env = append(os.Environ(), "TOZALASH_TEST_DB=embedded") // the embedded database's floor, whatever the shell's profile
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "benchmark failed"
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkBookingOwnWrites") || f[3] != "ns/op" {
			continue
		}
		if ns, err := strconv.ParseFloat(f[2], 64); err == nil && ns > 0 {
			return fmt.Sprintf("%.2f ms a booking, so at most %.0f bookings a second", ns/1e6, 1e9/ns)
		}
	}
	return "not found"
}

// homeAllocs runs the home page's Go benchmark and returns its allocations.
func homeAllocs() string {
	out, err := exec.Command("go", "test", "-run", "XXX", "-bench", "HomePage", "-benchmem", "-benchtime", "2000x", "./handlers").CombinedOutput()
	if err != nil {
		return "benchmark failed"
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "BenchmarkHomePage") {
			f := strings.Fields(l)
			if len(f) >= 7 {
				return f[2] + " ns, " + f[4] + " B and " + f[6] + " allocations a request"
			}
		}
	}
	return "not found"
}

func loginAt(c *http.Client, site, email string) (string, error) {
	for try := 1; ; try++ {
		r, _ := http.NewRequest("POST", site+"/auth/login", strings.NewReader(`{"email":"`+email+`","password":"`+password+`"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json")
		res, err := c.Do(r)
		if err != nil {
			return "", err
		}
		var out struct{ AccessToken string }
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		// More logins than the hashing serves in time get 503 at once: wait
		// as told and try again.
		if res.StatusCode == http.StatusServiceUnavailable && try < 10 {
			wait, err := strconv.Atoi(res.Header.Get("Retry-After"))
			if err != nil || wait < 1 {
				wait = 1
			}
			time.Sleep(time.Duration(wait) * time.Second)
			continue
		}
		if err := json.Unmarshal(b, &out); err != nil || out.AccessToken == "" {
			return "", fmt.Errorf("login %s: %d %.200s", email, res.StatusCode, b)
		}
		return out.AccessToken, nil
	}
}

// suiteData is what the generator made that the scenarios need.
type suiteData struct {
	admin     store.User
	customers []store.User
	service   primitive.ObjectID
	priced    primitive.ObjectID // priced by rooms and bathrooms, with extras (#20)
	owned     map[primitive.ObjectID][]primitive.ObjectID
	convs     []string
}

// dataSize is how much the generator makes.
type dataSize struct{ users, services, orders, conversations, messages, crews int }

var suiteSize = dataSize{suiteUsers, suiteServices, suiteOrders, suiteConversations, suiteMessages, suiteCrews}

// generate fills the embedded database under dataDir, then closes it.
func generate(dataDir string, size dataSize) (*suiteData, error) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: dataDir, Database: "tozalash"})
	if err != nil {
		return nil, err
	}
	defer db.Close(ctx)
	if _, err := demo.Seed(ctx, db); err != nil {
		return nil, err
	}
	// Crews enough for the bookings of a run (see bookingTime).
	if _, err := seedCrews(ctx, db, size.crews); err != nil {
		return nil, err
	}
	services := store.NewServiceStore(db)
	var priced primitive.ObjectID
	for i := len(demo.Catalogue); i < size.services; i++ {
		svc := &store.Service{Name: store.Texts{Uz: fmt.Sprintf("Maxsus tozalash %d", i)}, Description: store.Texts{Uz: "Buyurtma asosida tozalash."}, Price: int64(100000 + 25000*i), DurationMinutes: 120}
		if priced.IsZero() { // the quote's: a flat priced by its rooms, bathrooms and extras
			svc.Pricing = store.Pricing{Base: 100_000, PerRoom: 50_000, PerBathroom: 40_000, Minimum: 200_000, BaseMinutes: 60, MinutesPerRoom: 30, MinutesPerBathroom: 20}
			svc.Extras = []store.Extra{
				{ID: "fridge", Name: store.Texts{Uz: "Muzlatgich ichi", Ru: "Внутри холодильника", En: "Inside the fridge"}, Price: 35_000, Minutes: 30, Active: true},
				{ID: "windows", Name: store.Texts{Uz: "Derazalar", Ru: "Окна", En: "Windows"}, Price: 15_000, Minutes: 10, Countable: true, Active: true},
			}
		}
		if err := services.Create(ctx, svc); err != nil {
			return nil, err
		}
		if priced.IsZero() {
			priced = svc.ID
		}
	}
	if _, err := db.InsertRaw(ctx, "settings", map[string]any{"_id": "company", "frequencyDiscounts": store.FrequencyDiscounts{Weekly: 15, Biweekly: 10, Monthly: 5}}); err != nil {
		return nil, err
	}
	svcs, err := services.All(ctx)
	if err != nil {
		return nil, err
	}
	hash, _ := auth.HashPassword(password)
	now := time.Now().UTC().Truncate(time.Millisecond)
	users := make([]store.User, size.users)
	for i := range users {
		users[i] = store.User{ID: primitive.NewObjectID(), Username: fmt.Sprintf("mijoz%04d", i), Email: fmt.Sprintf("mijoz%04d@example.uz", i),
			PasswordHash: hash, Role: store.RoleUser, IsVerified: true, Locale: "uz", CreatedAt: now, UpdatedAt: now}
	}
	users[0].Role, users[0].Username, users[0].Email = store.RoleAdmin, "boss", "boss@example.uz"
	if err := store.NewUserStore(db).ImportUsers(ctx, users); err != nil {
		return nil, err
	}
	d := &suiteData{admin: users[0], customers: users[1:], service: svcs[0].ID, priced: priced, owned: map[primitive.ObjectID][]primitive.ObjectID{}}
	orders := make([]store.Order, size.orders)
	for i := range orders {
		u := users[1+i%60] // the first 60 customers (the ones signed in) hold more, the rest fewer
		if i%3 != 0 {
			u = users[1+rand.IntN(len(users)-1)]
		}
		s := svcs[rand.IntN(len(svcs))]
		status := store.Statuses[rand.IntN(3)]
		created := now.Add(-time.Duration(size.orders-i) * 3 * time.Minute)
		o := store.Order{ID: primitive.NewObjectIDFromTimestamp(created), UserID: u.ID, CustomerName: u.Username, ServiceID: s.ID, ServiceName: s.Name.Uz, ServiceNames: s.Name, Status: status, Price: s.Price,
			ScheduledAt: created.Add(48 * time.Hour), Address: fmt.Sprintf("Chilonzor %d-kvartal, %d-uy", 1+i%25, 1+i%80), Phone: fmt.Sprintf("+99890%07d", i),
			Notes: "Eshik kodi 1234", IdempotencyKey: fmt.Sprintf("seed-%d", i), CreatedAt: created, UpdatedAt: created,
			History: []store.StatusChange{{Status: store.StatusPending, At: created, ByUserID: u.ID, ByName: u.Username}}}
		if status != store.StatusPending {
			o.History = append(o.History, store.StatusChange{Status: status, At: created.Add(time.Hour), ByUserID: users[0].ID, ByName: "boss", Reason: "Mijoz bilan kelishildi"})
		}
		orders[i] = o
		d.owned[u.ID] = append(d.owned[u.ID], o.ID)
	}
	if err := store.NewOrderStore(db).Import(ctx, orders); err != nil {
		return nil, err
	}
	chat := store.NewChatStore(db)
	per := size.messages / size.conversations
	for c := 0; c < size.conversations; c++ {
		a, b := users[1+2*c], users[2+2*c]
		conv := &store.Conversation{ID: store.DirectConversationID(a.ID, b.ID), Kind: store.ChatDirect, Members: []primitive.ObjectID{a.ID, b.ID}}
		msgs := make([]store.Message, per)
		for i := range msgs {
			from := a
			if i%2 == 1 {
				from = b
			}
			msgs[i] = store.Message{ID: primitive.NewObjectID(), SenderID: from.ID, SenderName: from.Username, Body: fmt.Sprintf("Xabar %d: ertaga soat 10 da kelasizmi?", i), CreatedAt: now.Add(-time.Duration(per-i) * time.Minute)}
		}
		if err := chat.Import(ctx, conv, map[string]string{a.ID.Hex(): b.Username, b.ID.Hex(): a.Username}, msgs, nil); err != nil {
			return nil, err
		}
		d.convs = append(d.convs, conv.ID)
	}
	return d, nil
}

// chatAgainst signs in sockets/2 customers and drives the chat of the
// suite's conversations (customers 2c and 2c+1 share conversation c).
func chatAgainst(site string, d *suiteData, sockets, rate int, dur time.Duration) (string, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	tokens := make([]string, sockets/2)
	var wg sync.WaitGroup
	errs := make(chan error, len(tokens))
	sem := make(chan struct{}, 4)
	for i := range tokens {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t, err := loginAt(c, site, d.customers[i].Email)
			if err != nil {
				errs <- err
			}
			tokens[i] = t
		}(i)
	}
	wg.Wait()
	select {
	case err := <-errs:
		return "", err
	default:
	}
	return driveChat([]string{site}, site, tokens, d.convs, 2, rate, dur)
}
