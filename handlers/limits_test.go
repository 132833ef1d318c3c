package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tozalash/store"
	"tozalash/store/storetest"
)

// limitClock is the rate limits' clock in a test of a limit: it moves only
// when told, so no window ends in the middle of the test, and a test never
// waits for one to end.
type limitClock struct {
	mu  sync.Mutex
	now time.Time
}

// newLimitClock starts at 20 s into a minute (and a 15-minute window), 30
// minutes into an hour, ahead of the real time: the instances' maintenance
// prunes the limits' windows that ended before the real time, and must not
// prune the test's.
func newLimitClock() *limitClock {
	return &limitClock{now: time.Now().UTC().Truncate(time.Hour).Add(time.Hour + 30*time.Minute + 20*time.Second)}
}

func (c *limitClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *limitClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// twoInstances starts two apps on one database, each with a connection
// of its own, as two instances behind a load balancer without sticky
// sessions (and one mail relay: either may send an email the other
// queued).
func twoInstances(t *testing.T, cfg Config) [2]*testApp {
	first := newTestAppWith(t, storetest.Open(t), cfg)
	return [2]*testApp{first, secondInstance(t, first, cfg)}
}

// One client IP has AUTH_RATE_LIMIT POSTs a minute for all the auth routes
// together, whichever instance each reaches.
func TestAuthLimitIsOneBudgetAcrossInstancesAndRoutes(t *testing.T) {
	clock := newLimitClock()
	apps := twoInstances(t, Config{AuthRateLimit: 6, Now: clock.Now})
	posts := []struct{ path, body string }{
		{"/auth/login", `{"email":"nobody-%d@example.uz","password":"toza-uy-2026"}`},
		{"/auth/signup", `{"username":"yangi%d","email":"yangi-%d@example.uz","password":"toza-uy-2026"}`},
		{"/auth/verify/resend", `{"email":"yangi-%d@example.uz"}`},
		{"/auth/password/forgot", `{"email":"yangi-%d@example.uz"}`},
		{"/auth/password/reset", `{"token":"x.%d","password":"yangi-parol-2026"}`},
		{"/auth/login/2fa", `{"code":"12345%d"}`},
	}
	post := func(i int) response {
		p := posts[i%len(posts)]
		body := strings.ReplaceAll(p.body, "%d", fmt.Sprint(i))
		return apps[i%2].api("").do("POST", p.path, body)
	}
	for i := 0; i < 6; i++ {
		if r := post(i); r.status == 429 || r.status >= 500 {
			t.Fatalf("POST %d (%s on instance %d) = %d %s, within the budget", i+1, posts[i%len(posts)].path, i%2, r.status, clip(r.body))
		}
	}
	// The 7th on any route and either instance is over it, until the six
	// count as five in the sliding minute: 50 s on, at 9:31:10.
	for i := 6; i < 12; i++ {
		r := post(i)
		if r.status != 429 || r.header.Get("Retry-After") != "50" || !strings.Contains(r.body, `"rate_limited"`) {
			t.Errorf("POST %d (%s on instance %d) = %d, Retry-After %q %s; want 429, 50", i+1, posts[i%len(posts)].path, i%2, r.status, r.header.Get("Retry-After"), clip(r.body))
		}
	}
	clock.advance(49 * time.Second)
	if r := post(0); r.status != 429 {
		t.Errorf("a login a second before Retry-After = %d, want 429", r.status)
	}
	clock.advance(time.Second)
	if r := post(0); r.status != 401 {
		t.Errorf("a login after Retry-After = %d, want 401", r.status)
	}
}

// Wrong passwords for one account from many IPs and unknown browsers, half
// on each instance, spend one budget of the account (10 × AUTH_RATE_LIMIT
// an hour): past it, unknown browsers are refused on both, the right
// password too, until Retry-After; a success does not give it back.
func TestLoginFailuresCountAcrossInstances(t *testing.T) {
	clock := newLimitClock()
	apps := twoInstances(t, Config{AuthRateLimit: 2, TrustedProxies: []string{"127.0.0.1"}, Now: clock.Now})
	apps[0].signupVerified("lola", "lola@example.uz", "toza-uy-2026")
	// Each login from a browser of its own and an address of its own.
	login := func(i int, password string) response {
		return apps[i%2].browser().send("POST", "/auth/login", "json", `{"email":"LOLA@example.uz","password":"`+password+`"}`,
			map[string]string{"Accept": "application/json", "X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1)})
	}
	budget := untrustedLoginFactor * 2
	for i := 0; i < budget; i++ {
		if r := login(i, "wrong-password"); r.status != 401 {
			t.Fatalf("failure %d = %d %s", i+1, r.status, clip(r.body))
		}
	}
	var wait int
	for i := budget; i < budget+2; i++ {
		r := login(i, "toza-uy-2026")
		wait, _ = strconv.Atoi(r.header.Get("Retry-After"))
		if r.status != 429 || !strings.Contains(r.body, `"login_locked"`) || wait < 1 {
			t.Errorf("the right password from an unknown browser on instance %d after %d failures = %d (Retry-After %q) %s, want 429 login_locked",
				i%2, budget, r.status, r.header.Get("Retry-After"), clip(r.body))
		}
	}
	clock.advance(time.Duration(wait) * time.Second)
	if r := login(budget+2, "toza-uy-2026"); r.status != 200 {
		t.Errorf("the right password after Retry-After (%d s) = %d %s", wait, r.status, clip(r.body))
	}
}

// A user's chat messages count once whichever instance each reaches.
func TestChatMessagesLimitedAcrossInstances(t *testing.T) {
	clock := newLimitClock()
	f := newChatFixture(t, Config{Now: clock.Now})
	apps := [2]*testApp{f.a, secondInstance(t, f.a, Config{Now: clock.Now})}
	// Only an ADMIN starts a conversation with a user.
	f.promote(t, f.aliceU)
	conv := f.start(t, f.alice, `{"username":"bob"}`) // one write of 20
	send := func(i int) response {
		return apps[i%2].api(f.alice).do("POST", "/chat/conversations/"+conv+"/messages", fmt.Sprintf(`{"body":"xabar %d"}`, i))
	}
	for i := 1; i < chatRate; i++ {
		if r := send(i); r.status != 201 {
			t.Fatalf("message %d on instance %d = %d %s", i, i%2, r.status, clip(r.body))
		}
	}
	var wait int
	for i := chatRate; i < chatRate+2; i++ {
		r := send(i)
		wait, _ = strconv.Atoi(r.header.Get("Retry-After"))
		if r.status != 429 || !strings.Contains(r.body, `"rate_limited"`) || wait < 1 {
			t.Errorf("message %d on instance %d = %d, Retry-After %q %s, want 429", i, i%2, r.status, r.header.Get("Retry-After"), clip(r.body))
		}
	}
	var hist struct{ Items []map[string]any }
	apps[1].api(f.bob).do("GET", "/chat/conversations/"+conv+"/messages", "").json(t, &hist)
	if len(hist.Items) != chatRate-1 {
		t.Errorf("%d messages stored, want %d", len(hist.Items), chatRate-1)
	}
	clock.advance(time.Duration(wait) * time.Second)
	if r := send(0); r.status != 201 {
		t.Errorf("a message after Retry-After (%d s) = %d", wait, r.status)
	}
}

// 50 logins from one IP at once, spread over both instances: exactly
// AUTH_RATE_LIMIT get to the password.
func TestParallelLoginsOverTwoInstancesStayWithinLimit(t *testing.T) {
	apps := twoInstances(t, Config{AuthRateLimit: 10, Now: newLimitClock().Now})
	statuses := make(chan int, 50)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- apps[i%2].api("").do("POST", "/auth/login", fmt.Sprintf(`{"email":"guess-%d@example.uz","password":"toza-uy-2026"}`, i)).status
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[401] != 10 || count[429] != 40 {
		t.Errorf("answers %v, want 10 × 401 and 40 × 429", count)
	}
}

// Verification and reset emails: at most 3 an address in 15 minutes,
// whichever instance each request reaches; the answers stay the same.
func TestEmailsPerAddressLimitedAcrossInstances(t *testing.T) {
	clock := newLimitClock()
	apps := twoInstances(t, Config{Now: clock.Now})
	if r := apps[0].api("").do("POST", "/auth/signup", `{"username":"nodira","email":"nodira@example.uz","password":"toza-uy-2026"}`); r.status != 201 {
		t.Fatalf("signup = %d %s", r.status, clip(r.body))
	}
	for i := 0; i < 5; i++ {
		for _, path := range []string{"/auth/verify/resend", "/auth/password/forgot"} {
			if r := apps[i%2].api("").do("POST", path, `{"email":"Nodira@example.uz"}`); r.status != 202 {
				t.Fatalf("%s %d on instance %d = %d %s", path, i+1, i%2, r.status, clip(r.body))
			}
		}
	}
	sent := func() (verify, reset int) {
		for _, a := range apps {
			a.h.Wait() // the reset links are made after the answer
		}
		outbox := store.NewOutboxStore(apps[0].db)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if c, err := outbox.Counts(context.Background()); err != nil || c.Pending == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the outbox did not empty")
			}
		}
		for _, m := range apps[0].smtp.Messages() { // the relay both send to
			switch {
			case strings.Contains(m.Text, "/auth/password/reset?token="):
				reset++
			case strings.Contains(m.Text, "/auth/verify?token="):
				verify++
			}
		}
		return verify, reset
	}
	if verify, reset := sent(); verify != 1+3 || reset != 3 {
		t.Errorf("%d verification emails (the signup's and 3 resent), %d reset emails; want 4 and 3", verify, reset)
	}
	// The three of each, sent at once, count in the sliding 15 minutes as
	// three until 9:45, as two from 9:50.
	clock.advance(19 * time.Minute)
	apps[1].api("").do("POST", "/auth/verify/resend", `{"email":"nodira@example.uz"}`)
	if verify, _ := sent(); verify != 4 {
		t.Errorf("19 minutes later: %d verification emails in all, want still 4", verify)
	}
	clock.advance(time.Minute)
	apps[1].api("").do("POST", "/auth/verify/resend", `{"email":"nodira@example.uz"}`)
	apps[0].api("").do("POST", "/auth/password/forgot", `{"email":"nodira@example.uz"}`)
	if verify, reset := sent(); verify != 5 || reset != 4 {
		t.Errorf("20 minutes later: %d verification and %d reset emails in all, want 5 and 4", verify, reset)
	}
}

// A flood of made-up keys fills the memory of refused keys, which is then
// cleared; a targeted key stays refused, because the count is in the
// database (#18 gap 9: the counter's eviction could reset it).
func TestLimitMemoryFloodResetsNoCount(t *testing.T) {
	clock := newLimitClock()
	db := storetest.Open(t)
	l := newLimit(store.NewLimitStore(db), slog.New(slog.DiscardHandler), "login", 1, 15*time.Minute)
	ctx := context.Background()
	if ok, _, err := l.hit(ctx, "lola@example.uz", clock.Now()); err != nil || !ok {
		t.Fatalf("first try = %v, %v", ok, err)
	}
	if ok, _, _ := l.hit(ctx, "lola@example.uz", clock.Now()); ok {
		t.Fatal("second try allowed, limit 1")
	}
	for i := 0; i <= maxRefused; i++ {
		l.refuse(fmt.Sprintf("made-up-%d@example.uz", i), clock.Now(), clock.Now().Add(time.Hour))
	}
	if _, remembered := l.refused["lola@example.uz"]; remembered {
		t.Fatal("the flood did not clear the memory: the test proves nothing")
	}
	if ok, _, err := l.hit(ctx, "lola@example.uz", clock.Now()); err != nil || ok {
		t.Errorf("after the flood, a third try = %v, %v; want refused", ok, err)
	}
}
