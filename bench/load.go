package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"tozalash/views"
)

// loadSize is the data under the load test: the 200 customers who use it
// and a little history around them.
var loadSize = dataSize{users: 201, services: 12, orders: 2_000, conversations: 20, messages: 1_000, crews: loadCrews}

const loadUsers = 200

// loadCrews work round the clock: room for a minute of bookings (a few
// thousand visits) at free times over the booking horizon.
const loadCrews = 60

// loadTest is `make loadtest`: 200 simulated customers browse the
// catalogue, sign in, book (a week's free times, then one of them), open
// their orders and write to support, while
// an admin works the order board, for d. Afterwards every order answered
// 201 and every message answered 201 must be in the database. It fails on
// any 5xx (but a login's 503 busy, the refusal by design of more password
// hashes than the server ends in time), any request that got no answer, and
// any lost write, and prints p50/p99 per route.
//
// INSTANCES=n runs n instances of the app on one database (FerretDB served
// from this process, reached by MONGODB_URI), each customer on one of
// them in turn, as behind a load balancer; unset, the one app runs on its
// embedded database.
func loadTest(d time.Duration) error {
	instances := envInt("INSTANCES", 0)
	var run *appRun
	var err error
	if instances > 0 {
		run, err = runInstances("tozalash-load-", loadSize, instances)
	} else {
		run, err = runOnData("tozalash-load-", loadSize)
	}
	if err != nil {
		return err
	}
	defer run.stop()
	data, site := run.data, run.site
	sites := run.sites
	if len(sites) == 0 {
		sites = []string{site}
	}
	rec := newRecorder()
	ledger := &writeLedger{messages: map[string]map[string]string{}}
	deadline := time.Now().Add(d)
	fmt.Fprintf(os.Stderr, "%d customers and an admin for %v…\n", loadUsers, d)

	var wg sync.WaitGroup
	for i := 0; i < loadUsers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &loadClient{site: sites[i%len(sites)], rec: rec, http: &http.Client{Timeout: 30 * time.Second}}
			c.customer(data.customers[i].Email, data.service.Hex(), deadline, ledger, i)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &loadClient{site: site, rec: rec, http: &http.Client{Timeout: 30 * time.Second}}
		c.admin(data.admin.Email, deadline, ledger)
	}()
	wg.Wait()

	// Every acknowledged write is there.
	check := &loadClient{site: site, rec: newRecorder(), http: &http.Client{Timeout: 30 * time.Second}}
	adminToken := check.login(data.admin.Email)
	if adminToken == "" {
		return fmt.Errorf("the admin cannot sign in to check the writes: %s", check.loginRefusal)
	}
	lost := 0
	for _, id := range ledger.orders {
		if status, _ := check.call("GET", "/orders/"+id, adminToken, "", "check"); status != 200 {
			lost++
			fmt.Fprintf(os.Stderr, "lost: order %s answered 201, now %d\n", id, status)
		}
	}
	messages := 0
	for conv, byID := range ledger.messages {
		token := ledger.tokens[conv]
		seen := map[string]bool{}
		before := ""
		for {
			var page struct {
				Items []struct{ ID string }
				Next  string
			}
			status, body := check.call("GET", "/chat/conversations/"+conv+"/messages?before="+before, token, "", "check")
			if status != 200 || json.Unmarshal(body, &page) != nil {
				return fmt.Errorf("reading conversation %s back: %d", conv, status)
			}
			for _, m := range page.Items {
				seen[m.ID] = true
			}
			if page.Next == "" {
				break
			}
			before = page.Next
		}
		for id := range byID {
			messages++
			if !seen[id] {
				lost++
				fmt.Fprintf(os.Stderr, "lost: message %s in %s answered 201, not in the history\n", id, conv)
			}
		}
	}

	where := "one instance on its embedded database"
	if instances > 0 {
		where = fmt.Sprintf("%d instances on one FerretDB (served by the load generator's process), customers spread over them", instances)
	}
	var rss []string
	for _, app := range append([]*process{run.app}, run.apps[min(1, len(run.apps)):]...) {
		rss = append(rss, fmt.Sprint(app.peakRSS()/1024))
	}
	fmt.Printf("# Load test\n\n%d customers and an admin, %v, %s, on %d cores, %s. %d orders and %d messages answered 201, %d of them lost. Peak RSS of each instance: %s MB.\n\n",
		loadUsers, d, time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), where, len(ledger.orders), messages, lost, strings.Join(rss, ", "))
	failures := rec.print(os.Stdout)
	if failures > 0 || lost > 0 {
		return fmt.Errorf("%d server errors or unanswered requests, %d lost writes", failures, lost)
	}
	return nil
}

// writeLedger keeps what the server acknowledged.
type writeLedger struct {
	mu       sync.Mutex
	orders   []string
	messages map[string]map[string]string // conversation → message id → body
	tokens   map[string]string            // conversation → a member's token
}

func (l *writeLedger) order(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.orders = append(l.orders, id)
}

func (l *writeLedger) message(conv, id, body, token string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.messages[conv] == nil {
		l.messages[conv] = map[string]string{}
	}
	if l.tokens == nil {
		l.tokens = map[string]string{}
	}
	l.messages[conv][id] = body
	l.tokens[conv] = token
}

func (l *writeLedger) someOrder() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.orders) == 0 {
		return ""
	}
	return l.orders[rand.IntN(len(l.orders))]
}

type loadClient struct {
	site string
	rec  *recorder
	http *http.Client
	// loginRefusal is the last answer login gave up on, for the report.
	loginRefusal string
}

// call sends one request and records its time under route; JSON unless
// the route's name says HTML.
func (c *loadClient) call(method, path, token, body, route string) (int, []byte) {
	status, b, _ := c.send(method, path, token, body, route)
	return status, b
}

// send is call that also returns the answer's headers. A 503 busy (more
// password hashes asked for than the server ends in time, refused at once
// by design) is recorded apart, under route + refusedBusy, and is no
// server error.
func (c *loadClient) send(method, path, token, body, route string) (int, []byte, http.Header) {
	req, _ := http.NewRequest(method, c.site+path, strings.NewReader(body))
	if strings.HasSuffix(route, "(HTML)") {
		req.Header.Set("Accept", "text/html")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	res, err := c.http.Do(req)
	if err != nil {
		c.rec.add(route, 0, time.Since(start))
		return 0, nil, nil
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if isBusy(res.StatusCode, b) {
		c.rec.refused(route+refusedBusy, time.Since(start))
	} else {
		c.rec.add(route, res.StatusCode, time.Since(start))
	}
	return res.StatusCode, b, res.Header
}

// refusedBusy names the refusals of a route apart from its answers.
const refusedBusy = " — refused busy (503)"

// isBusy reports the app's answer to a hash it cannot do in time.
func isBusy(status int, body []byte) bool {
	var e struct{ Error struct{ Code string } }
	return status == http.StatusServiceUnavailable && json.Unmarshal(body, &e) == nil && e.Error.Code == "busy"
}

// login signs in, trying again after a second when it fails, and after
// the Retry-After (and up to a second more, as people do not come back on
// the same second) when the server is busy hashing.
func (c *loadClient) login(email string) string {
	var out struct{ AccessToken string }
	for failed, refused := 0, 0; failed < 5 && refused < 60; {
		status, b, h := c.send("POST", "/auth/login", "", `{"email":"`+email+`","password":"`+password+`"}`, "POST /auth/login")
		if status == 200 && json.Unmarshal(b, &out) == nil {
			return out.AccessToken
		}
		wait := time.Second
		if isBusy(status, b) {
			refused++
			if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			wait += time.Duration(rand.Int64N(int64(time.Second)))
		} else {
			failed++
		}
		c.loginRefusal = fmt.Sprintf("%d %s", status, b)
		time.Sleep(wait)
	}
	return ""
}

func think() { time.Sleep(time.Duration(200+rand.IntN(600)) * time.Millisecond) }

// customer is one visitor's session: browse, sign in, then book, look and
// write to support until the deadline.
func (c *loadClient) customer(email, service string, deadline time.Time, ledger *writeLedger, n int) {
	c.call("GET", "/", "", "", "GET / (HTML)")
	think()
	c.call("GET", "/services", "", "", "GET /services")
	c.call("GET", "/services/"+service, "", "", "GET /services/:id (HTML)")
	token := c.login(email)
	if token == "" {
		return
	}
	_, b := c.call("POST", "/chat/conversations", token, `{"support":true}`, "POST /chat/conversations")
	var conv struct{ ID string }
	_ = json.Unmarshal(b, &conv)
	for k := 0; time.Now().Before(deadline); k++ {
		think()
		o := c.book(token, service, n, k, ledger)
		think()
		c.call("GET", "/orders", token, "", "GET /orders (HTML)")
		if o.ID != "" {
			c.call("GET", "/orders/"+o.ID, token, "", "GET /orders/:id (HTML)")
		}
		if conv.ID != "" {
			think()
			text := fmt.Sprintf("Salom! %d-buyurtma haqida savolim bor.", k)
			status, b := c.call("POST", "/chat/conversations/"+conv.ID+"/messages", token, `{"body":"`+text+`"}`, "POST /chat/…/messages")
			var m struct{ ID string }
			if status == 201 && json.Unmarshal(b, &m) == nil {
				ledger.message(conv.ID, m.ID, text, token)
			}
		}
		c.call("GET", "/", "", "", "GET / (HTML)")
	}
}

// book is a booking as the form makes it: the free times of a week
// (GET /availability), then POST /orders at one of them; a 409
// slot_taken (someone took it meanwhile) is tried again once, at one of
// the alternatives it offers. It returns the order made, if any.
func (c *loadClient) book(token, service string, n, k int, ledger *writeLedger) (o struct{ ID string }) {
	// A week from a day of the next seven weeks: past the lead, inside
	// the horizon.
	from := time.Now().In(views.Tashkent).AddDate(0, 0, 1+rand.IntN(50))
	path := fmt.Sprintf("/availability?serviceId=%s&from=%s&to=%s", service, from.Format(time.DateOnly), from.AddDate(0, 0, 6).Format(time.DateOnly))
	status, b := c.call("GET", path, token, "", "GET /availability")
	var free struct {
		Days []struct {
			Date  string
			Times []string
		}
	}
	if status != 200 || json.Unmarshal(b, &free) != nil {
		return o
	}
	var times []time.Time
	for _, d := range free.Days {
		for _, t := range d.Times {
			if at, err := time.ParseInLocation("2006-01-02 15:04", d.Date+" "+t, views.Tashkent); err == nil {
				times = append(times, at)
			}
		}
	}
	if len(times) == 0 {
		return o
	}
	think() // the customer picks a time
	at, route := times[rand.IntN(len(times))], "POST /orders"
	for try := 0; try < 2; try++ {
		body := fmt.Sprintf(`{"serviceId":"%s","scheduledAt":"%s","address":"Yunusobod %d-uy","phone":"+998901234567","idempotencyKey":"load-%d-%d-%d"}`,
			service, at.Format(time.RFC3339), k, n, k, try)
		status, b := c.call("POST", "/orders", token, body, route)
		if status == 201 && json.Unmarshal(b, &o) == nil {
			ledger.order(o.ID)
			return o
		}
		var taken struct {
			Error struct {
				Code           string
				AlternativesAt []time.Time
			}
		}
		if status != http.StatusConflict || json.Unmarshal(b, &taken) != nil || taken.Error.Code != "slot_taken" || len(taken.Error.AlternativesAt) == 0 {
			return o
		}
		at, route = taken.Error.AlternativesAt[rand.IntN(len(taken.Error.AlternativesAt))], "POST /orders, an alternative after a 409"
	}
	return o
}

// admin works the board: the first page, the statistics, and a status
// change now and then.
func (c *loadClient) admin(email string, deadline time.Time, ledger *writeLedger) {
	token := c.login(email)
	if token == "" {
		return
	}
	for time.Now().Before(deadline) {
		c.call("GET", "/orders", token, "", "GET /orders, admin board (HTML)")
		c.call("GET", "/admin/statistics", token, "", "GET /admin/statistics")
		if id := ledger.someOrder(); id != "" {
			// 200, or 409 when the order has left PENDING already. (Not
			// COMPLETED: the orders are for the days to come, and a visit is not
			// completed before it starts.)
			c.call("PATCH", "/orders/"+id, token, `{"status":"CANCELLED","reason":"Mijoz so'radi"}`, "PATCH /orders/:id")
		}
		think()
	}
}

// recorder keeps every request's status and time by route.
type recorder struct {
	mu     sync.Mutex
	routes map[string]*routeStats
}

type routeStats struct {
	times    []time.Duration
	statuses map[int]int
	refused  bool // refusals for load, by design: no failures
}

func newRecorder() *recorder { return &recorder{routes: map[string]*routeStats{}} }

func (r *recorder) add(route string, status int, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.routes[route]
	if s == nil {
		s = &routeStats{statuses: map[int]int{}}
		r.routes[route] = s
	}
	s.times = append(s.times, took)
	s.statuses[status]++
}

// refused records a refusal for load (a 503 busy) under route.
func (r *recorder) refused(route string, took time.Duration) {
	r.add(route, http.StatusServiceUnavailable, took)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routes[route].refused = true
}

// print writes the table and returns the count of 5xx and unanswered
// requests.
func (r *recorder) print(w io.Writer) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.routes))
	for n := range r.routes {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "| route | requests | statuses | 5xx or no answer | p50 | p99 |\n|---|---|---|---|---|---|")
	failures := 0
	for _, n := range names {
		s := r.routes[n]
		sort.Slice(s.times, func(i, j int) bool { return s.times[i] < s.times[j] })
		bad := 0
		var codes []string
		for code, k := range s.statuses {
			if code == 0 || (code >= 500 && !s.refused) {
				bad += k
			}
			codes = append(codes, fmt.Sprintf("%d×%d", k, code))
		}
		sort.Strings(codes)
		failures += bad
		fmt.Fprintf(w, "| %s | %d | %s | %d | %s | %s |\n", n, len(s.times), strings.Join(codes, " "), bad, ms(pct(s.times, 50)), ms(pct(s.times, 99)))
	}
	return failures
}
