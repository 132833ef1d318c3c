package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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

// plansData is the scenario's data set.
type plansData struct {
	admin, customer store.User
	plans           int
	orders          int64 // the orders there are before the job runs
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
	// A week of n visits of 3 h 30 min with the buffer, at every half
	// hour: n/7/48 start together, each holding its crew seven half hours.
	if _, err := seedCrews(ctx, db, n/7/48*7+n/100+5); err != nil {
		return nil, err
	}
	if _, err := store.NewSettingsStore(db).PutFrequencyDiscounts(ctx, demo.FrequencyDiscounts); err != nil {
		return nil, err
	}
	svcs, err := store.NewServiceStore(db).All(ctx)
	if err != nil {
		return nil, err
	}
	svc := svcs[0]
	q, err := svc.Quote(store.QuoteInput{Rooms: 2, Bathrooms: 1, Area: 50, Frequency: store.FrequencyWeekly}, demo.FrequencyDiscounts, nil)
	if err != nil {
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
				Rooms: 2, Bathrooms: 1, Area: 50, Quote: *q}},
			Through: store.AddDays(today, 49)}
	}
	if err := store.NewPlanStore(db).Import(ctx, plans); err != nil {
		return nil, err
	}
	t, err := store.NewOrderStore(db).Totals(ctx)
	if err != nil {
		return nil, err
	}
	return &plansData{admin: users[0], customer: users[1], plans: n, orders: t.N}, nil
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
	admin, err := loginAt(client, site, d.admin.Email)
	if err != nil {
		return "", err
	}
	customer, err := loginAt(client, site, d.customer.Email)
	if err != nil {
		return "", err
	}
	made := func() (int64, error) {
		res, err := client.Do(get(site+"/admin/statistics", admin, "application/json"))
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		var st struct{ Orders int64 }
		b, _ := io.ReadAll(res.Body)
		if err := json.Unmarshal(b, &st); err != nil {
			return 0, fmt.Errorf("statistics: %d %s", res.StatusCode, b)
		}
		return st.Orders - d.orders, nil
	}
	pages := func(t *vegeta.Target) error {
		t.Method, t.URL = "GET", site+"/orders"
		t.Header = http.Header{"Accept": {"text/html"}, "Accept-Encoding": {"identity"}, "Authorization": {"Bearer " + customer}}
		return nil
	}
	// While the job runs: My orders in one-second rounds, until every
	// plan has its visit (or the job gave up on some: then it stops
	// making them, and the count stays).
	var during []time.Duration
	var took time.Duration
	var last int64
	still := 0
	for {
		during = append(during, latencies(pages, time.Second)...)
		k, err := made()
		if err != nil {
			return "", err
		}
		if k >= int64(n) || k == last && k > 0 && still >= 5 {
			took = time.Since(started)
			last = k
			break
		}
		if k == last {
			still++
		} else {
			still = 0
		}
		last = k
		if time.Since(started) > 10*time.Minute {
			return "", fmt.Errorf("the plans job made %d of %d visits in 10 minutes", k, n)
		}
	}
	after := latencies(pages, 5*time.Second)
	slices.Sort(during)
	slices.Sort(after)
	return fmt.Sprintf("- Plans (#23): the plans job, run at the app's start, made %d visits of %d weekly plans (a week more of each) in %.1f s, from the start to the last visit counted; %d crews round the clock. My orders at 10 clients meanwhile: p99 %s (%d requests), after it: p99 %s (%d requests).",
		last, n, took.Seconds(), n/7/48*7+n/100+5, ms(pct(during, 99)), len(during), ms(pct(after, 99)), len(after)), nil
}

// latencies attacks tr with 10 clients for d and returns the latencies.
func latencies(tr vegeta.Targeter, d time.Duration) []time.Duration {
	a := vegeta.NewAttacker(vegeta.Workers(10), vegeta.MaxWorkers(10))
	var out []time.Duration
	for r := range a.Attack(tr, vegeta.ConstantPacer{}, d, "plans") {
		if r.Error == "" {
			out = append(out, r.Latency)
		}
	}
	return out
}
