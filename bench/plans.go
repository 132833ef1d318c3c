package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/demo"
	"tozalash/store"
)

// The plans scenario (#23): suitePlans weekly plans whose visits are made
// up to seven weeks ahead, so that the plans job, at the app's start, has
// one week more of each to make: a visit a plan, on the week's seven days
// at every half hour, on crews round the clock. It measures how long the
// job takes, and the pages' p99 while it runs against the same pages
// after it.
const (
	suitePlans = 10_000
	smokePlans = 300 // a smoke run's
)

// planCrews is the crews for a week of n visits of minutes each: n/7/48
// start together at each half hour of a day, and each holds its crew for
// its minutes and the 30 minutes' buffer; a quarter more, so the week is
// not full.
func planCrews(n, minutes int) int {
	cells := (minutes + 30 + 29) / 30
	return (n+7*48-1)/(7*48)*cells*5/4 + 5
}

// plansData is the scenario's data set.
type plansData struct {
	customer store.User
	plans    int
	crews    int // round the clock
	minutes  int // a visit's
}

// generatePlans fills the embedded database under dataDir with n plans of
// n customers and the crews for their week, then closes it.
func generatePlans(dataDir string, n int) (*plansData, error) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: dataDir, Database: "tozalash"})
	if err != nil {
		return nil, err
	}
	defer db.Close(ctx)
	if _, err := demo.Seed(ctx, db); err != nil {
		return nil, err
	}
	if _, err := store.NewSettingsStore(db).PutFrequencyDiscounts(ctx, demo.FrequencyDiscounts); err != nil {
		return nil, err
	}
	svcs, err := store.NewServiceStore(db).All(ctx)
	if err != nil {
		return nil, err
	}
	// The catalogue's shortest visit, so that a week of n of them fits the
	// crews a company may have (at most 200).
	var svc store.Service
	var q *store.Quote
	for _, s := range svcs {
		sq, err := s.Quote(store.QuoteInput{Rooms: 1, Bathrooms: 1, Area: 30, Frequency: store.FrequencyWeekly}, demo.FrequencyDiscounts, nil)
		if err == nil && (q == nil || sq.DurationMinutes < q.DurationMinutes) {
			svc, q = s, sq
		}
	}
	if q == nil {
		return nil, fmt.Errorf("no demo service prices a small home")
	}
	// A week of n visits, at every half hour: n/7/48 start together.
	if _, err := seedCrews(ctx, db, planCrews(n, q.DurationMinutes)); err != nil {
		return nil, err
	}
	hash, _ := auth.HashPassword(password)
	now := time.Now().UTC().Truncate(time.Millisecond)
	users := make([]store.User, n+1)
	for i := range users {
		users[i] = store.User{ID: primitive.NewObjectID(), Username: fmt.Sprintf("mijoz%05d", i), Email: fmt.Sprintf("mijoz%05d@example.uz", i),
			PasswordHash: hash, Role: store.RoleUser, IsVerified: true, Locale: "uz", CreatedAt: now, UpdatedAt: now}
	}
	users[0].Role, users[0].Username, users[0].Email = store.RoleAdmin, "boss", "boss@example.uz"
	if err := store.NewUserStore(db).ImportUsers(ctx, users); err != nil {
		return nil, err
	}
	today := store.LocalDate(now)
	plans := make([]store.Plan, n)
	for i := range plans {
		u := users[1+i]
		// The first visit seven weeks and a day to eight weeks ahead, the
		// made ones behind it: the job's next week is its next visit.
		anchor := store.AddDays(today, 50+i%7-49)
		slot := (i / 7) % 48
		plans[i] = store.Plan{ID: primitive.NewObjectID(), UserID: u.ID, CustomerName: u.Username, ServiceID: svc.ID, ServiceNames: svc.Name,
			Address: fmt.Sprintf("Yunusobod %d-mavze, %d-uy", 1+i%19, 1+i%60), Phone: fmt.Sprintf("+99890%07d", i),
			Terms: []store.PlanTerms{{From: anchor, Frequency: store.FrequencyWeekly, Anchor: anchor, Time: fmt.Sprintf("%02d:%02d", slot/2, slot%2*30),
				Rooms: 1, Bathrooms: 1, Area: 30, Quote: *q}},
			Through: store.AddDays(today, 49)}
	}
	if err := store.NewPlanStore(db).Import(ctx, plans); err != nil {
		return nil, err
	}
	return &plansData{customer: users[1], plans: n, crews: planCrews(n, q.DurationMinutes), minutes: q.DurationMinutes}, nil
}

// benchPlans starts the app on the plans data set and reports how long its
// plans job took to make a week of visits, and the home page's and My
// orders' p99 at 10 clients while it ran and after it.
func benchPlans(bin, dir string, smoke bool) (string, error) {
	n := suitePlans
	if smoke {
		n = smokePlans
	}
	return benchPlansOf(bin, dir, n)
}

// plansAlone is the plans scenario on its own, with n plans.
func plansAlone(n int) error {
	dir, err := os.MkdirTemp("", "tozalash-plans-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := buildApp(dir)
	if err != nil {
		return err
	}
	line, err := benchPlansOf(bin, dir, n)
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

func benchPlansOf(bin, dir string, n int) (string, error) {
	fmt.Fprintf(os.Stderr, "generating %d plans…\n", n)
	dataDir := filepath.Join(dir, "plans")
	d, err := generatePlans(dataDir, n)
	if err != nil {
		return "", err
	}
	started := time.Now()
	app, addr, err := onFreeAddr(func(addr string) (*process, error) { return startApp(bin, dataDir, addr) })
	if err != nil {
		return "", err
	}
	defer app.stop()
	site := "http://" + addr
	client := &http.Client{Timeout: 30 * time.Second}
	customer, err := loginAt(client, site, d.customer.Email)
	if err != nil {
		return "", err
	}
	// The job's counts, from /metrics (loopback): visits made (moved ones
	// among them) and missed.
	counts := func() (map[string]int64, error) {
		res, err := client.Get(site + "/metrics")
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		out := map[string]int64{}
		for _, line := range strings.Split(string(b), "\n") {
			for _, r := range []string{"made", "moved", "missed"} {
				if rest, ok := strings.CutPrefix(line, `tozalash_plan_visits_total{result="`+r+`"} `); ok {
					f, _ := strconv.ParseFloat(rest, 64)
					out[r] = int64(f)
				}
			}
		}
		return out, nil
	}
	pages := func(t *vegeta.Target) error {
		t.Method, t.URL = "GET", site+"/orders"
		t.Header = http.Header{"Accept": {"text/html"}, "Accept-Encoding": {"identity"}, "Authorization": {"Bearer " + customer}}
		return nil
	}
	// While the job runs: My orders in one-second rounds, until every plan
	// has its visit made or missed.
	var during []time.Duration
	var c map[string]int64
	for {
		during = append(during, latencies(pages, time.Second)...)
		if c, err = counts(); err != nil {
			return "", err
		}
		if c["made"]+c["missed"] >= int64(n) {
			break
		}
		if time.Since(started) > 10*time.Minute {
			return "", fmt.Errorf("the plans job made %d and missed %d of %d visits in 10 minutes", c["made"], c["missed"], n)
		}
	}
	took := time.Since(started)
	after := latencies(pages, 5*time.Second)
	slices.Sort(during)
	slices.Sort(after)
	return fmt.Sprintf("- Plans (#23): the plans job, run at the app's start, made a week more of each of %d weekly plans in %.1f s (from the app's start, within a second): %d visits made (%d of them moved to another time that day or the next), %d missed; %d crews round the clock, visits of %d minutes. My orders at %d views a second meanwhile: p99 %s (%d requests); after it: p99 %s (%d requests).",
		n, took.Seconds(), c["made"], c["moved"], c["missed"], d.crews, d.minutes, pageRate, ms(pct(during, 99)), len(during), ms(pct(after, 99)), len(after)), nil
}

// latencies sends tr at pageRate for d (a steady flow of customers' page
// views, not a flood: a flood would measure how the job and the pages share
// the two cores, not whether the job slows the pages) and returns the
// latencies.
func latencies(tr vegeta.Targeter, d time.Duration) []time.Duration {
	a := vegeta.NewAttacker(vegeta.Workers(10), vegeta.MaxWorkers(50))
	var out []time.Duration
	for r := range a.Attack(tr, vegeta.Rate{Freq: pageRate, Per: time.Second}, d, "plans") {
		if r.Error == "" {
			out = append(out, r.Latency)
		}
	}
	return out
}

// pageRate is the page views a second beside the job: a busy hour's.
const pageRate = 100
