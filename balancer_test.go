package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"tozalash/mail/mailtest"
	"tozalash/store/storetest"
)

// twoInstances is a deployment of two app processes on one database (a
// FerretDB of its own) and one mail server, as behind a load balancer
// without sticky sessions: the client picks either for every request.
type twoInstances struct {
	uri  string
	smtp *mailtest.Server
	a, b *server
}

// startTwoInstances starts them; extra adds to (and overrides) their
// environment.
func startTwoInstances(t *testing.T, extra ...string) *twoInstances {
	t.Helper()
	d := &twoInstances{uri: storetest.StartFerretDB(t), smtp: mailtest.Start(t)}
	env := []string{"MONGODB_URI=" + d.uri, "SMTP_HOST=" + d.smtp.Host, "SMTP_PORT=" + strconv.Itoa(d.smtp.Port),
		"JWT_SECRET=" + strings.Repeat("k", 40)} // one key for all, as a deployment has
	env = append(env, extra...)
	d.a = startServer(t, t.TempDir(), freeAddr(t), env...)
	d.b = startServer(t, t.TempDir(), freeAddr(t), env...)
	return d
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

var verifyLink = regexp.MustCompile(`https?://[^\s"<>]+/auth/verify\?token=[A-Za-z0-9_\-.%]+`)

// customer signs up on one instance, follows the emailed link on the
// other, and signs in on the first: a verified customer's access token.
func (d *twoInstances) customer(t *testing.T, name string) string {
	t.Helper()
	email := name + "@example.uz"
	body := `{"username":"` + name + `","email":"` + email + `","password":"toza-uy-2026-parol"}`
	if status := d.a.call("POST", "/auth/signup", "", body, nil); status != 201 && status != 200 {
		t.Fatalf("signup %s = %d\n%s", name, status, d.a.logs)
	}
	link := verifyLink.FindString(d.smtp.WaitForText(email, "/auth/verify", 20*time.Second).Text)
	if link == "" {
		t.Fatalf("no verification link for %s", email)
	}
	_, path, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(link, "http://"), "https://"), "/")
	res, err := http.Get(d.b.base + "/" + path)
	if err != nil || res.StatusCode >= 400 {
		t.Fatalf("verify on the other instance: %v %v", err, res)
	}
	res.Body.Close()
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	if status := d.a.call("POST", "/auth/login", "", `{"email":"`+email+`","password":"toza-uy-2026-parol"}`, &out); status != 200 {
		t.Fatalf("login %s = %d", name, status)
	}
	return out.AccessToken
}

// socket opens the chat socket on s as token, JSON events.
func (s *server) socket(t *testing.T, token string) *websocket.Conn {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + token}, "Origin": {s.base}}
	conn, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.base, "http")+"/chat/ws?format=json", h)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("socket on %s: %v (%d)", s.base, err, status)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// hears reads the socket's events until the message body comes, within d.
func hears(t *testing.T, conn *websocket.Conn, body string, d time.Duration) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	for {
		var ev struct {
			Type    string
			Message struct{ Body string }
		}
		if err := conn.ReadJSON(&ev); err != nil {
			t.Fatalf("waiting for %q: %v", body, err)
		}
		if ev.Type == "message" && ev.Message.Body == body {
			return
		}
	}
}

// Two instances, requests alternating between them: a form rendered by one
// is accepted by the other; a chat pair across them hears each other; a logout on one ends the session on the other
// within a second, its socket there included. (That someone connected to
// one instance gets no "you have a message" email from the other is
// handlers' TestChatAcrossInstances, whose clock can make the notice due.)
func TestTwoInstancesChatAndSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	d := startTwoInstances(t)
	admin := d.a.login()
	customer := d.customer(t, "dilnoza")

	// A browser's form, rendered by A, posted to B: signed in. (Cookies
	// are the host's, whatever the port: one jar, as behind one address.)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page, err := browser.Get(d.a.base + "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	token := csrfField.FindStringSubmatch(string(html))
	if token == nil {
		t.Fatalf("no _csrf field on A's login page")
	}
	form := url.Values{"email": {"dilnoza@example.uz"}, "password": {"toza-uy-2026-parol"}, "_csrf": {token[1]}}
	res, err := browser.PostForm(d.b.base+"/auth/login", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("A's login form posted to B = %d, want 303 (signed in)", res.StatusCode)
	}

	adminOnA := d.a.socket(t, admin)
	customerOnB := d.b.socket(t, customer)
	var conv struct{ ID string }
	if status := d.b.call("POST", "/chat/conversations", customer, `{"support":true}`, &conv); status != 201 && status != 200 {
		t.Fatalf("support conversation = %d\n%s", status, d.b.logs)
	}
	if status := d.b.call("POST", "/chat/conversations/"+conv.ID+"/messages", customer, `{"body":"Salom, B dan yozyapman"}`, nil); status != 201 {
		t.Fatalf("message on B = %d", status)
	}
	hears(t, adminOnA, "Salom, B dan yozyapman", 2*time.Second)
	if status := d.a.call("POST", "/chat/conversations/"+conv.ID+"/messages", admin, `{"body":"A dan javob"}`, nil); status != 201 {
		t.Fatalf("reply on A = %d", status)
	}
	hears(t, customerOnB, "A dan javob", 2*time.Second)

	// Logout on A: the token is refused on B, and B closes the socket.
	if status := d.a.call("POST", "/auth/logout", customer, "", nil); status >= 300 {
		t.Fatalf("logout on A = %d", status)
	}
	_ = customerOnB.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	for {
		if _, _, err := customerOnB.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.ClosePolicyViolation {
				t.Fatalf("customer's socket on B after the logout on A: %v, want closed with 1008", err)
			}
			break
		}
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	for d.b.callQuiet("GET", "/orders", customer, nil) != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("B still accepts the session logged out on A")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill -9 of one of two instances while a customer books on it and both
// instances' mail workers send: every booking answered 201 is in its
// customer's list and on the board, read on the survivor, and each
// booking's email goes once (those the dead worker had claimed wait for
// the claim's lease, and are counted held). The bookings go to one
// instance: two processes writing one list document at once lose rows on
// FerretDB, which applies no update atomically across processes (docs/storage.md:
// "Where FerretDB cannot stand in for MongoDB").
func TestTwoInstancesOneKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	d := startTwoInstances(t)
	admin := d.a.login()
	customer := d.customer(t, "bekzod")
	service := firstService(t, d.a)
	stop := make(chan struct{})
	results := make(chan loadResult, 1)
	go func() { m, f := bookingLoad(d.b.base, customer, service, 20, stop); results <- loadResult{m, f} }()
	time.Sleep(2 * time.Second) // bookings made, emails going out from both
	_ = d.b.cmd.Process.Signal(syscall.SIGKILL)
	<-d.b.exit
	close(stop)
	made := (<-results).made
	if len(made) == 0 {
		t.Fatalf("no booking answered 201\n%s", d.a.logs)
	}
	board := d.a.orders(admin)
	mine := d.a.orders(customer) // a customer's /orders is their own list
	for id := range made {
		if !board[id] {
			t.Errorf("order %s answered 201 is not on the board", id)
		}
		if !mine[id] {
			t.Errorf("order %s answered 201 is not in its customer's list", id)
		}
	}
	held := heldEmails(t, d.uri)
	deadline := time.Now().Add(60 * time.Second)
	for {
		sent := map[string]int{}
		for _, m := range d.smtp.Messages() {
			if i := strings.Index(m.Text, "/orders/"); i >= 0 && len(m.Text) >= i+8+24 {
				sent[m.Text[i+8:i+8+24]]++
			}
		}
		missing := 0
		for id := range made {
			if sent[id] == 0 && !held[bookingEmailID(id)] {
				missing++
			}
		}
		for id, n := range sent {
			if n > 1 {
				t.Fatalf("order %s: %d emails", id, n)
			}
		}
		if missing == 0 {
			t.Logf("%d bookings on two instances, one killed; %d emails sent, %d held by the dead worker's claims", len(made), len(d.smtp.Messages()), len(held))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged bookings have had no email after 60 s, and no claim holds them", missing)
		}
		time.Sleep(200 * time.Millisecond) // the survivor's worker sends on its own time
	}
}

// The limits are one budget across instances: logins alternating between
// two instances with AUTH_RATE_LIMIT=5 are refused at the sixth, not the
// eleventh, and each instance refuses it.
func TestTwoInstancesShareLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	d := startTwoInstances(t, "AUTH_RATE_LIMIT=5")
	// Each login for another account, so that only the per-IP budget, one
	// for both instances, can refuse one.
	wrong := func(i int) string {
		return fmt.Sprintf(`{"email":"nobody-%d@example.uz","password":"not-the-password"}`, i)
	}
	for i := 0; i < 5; i++ {
		s := []*server{d.a, d.b}[i%2]
		if status := s.call("POST", "/auth/login", "", wrong(i), nil); status != http.StatusUnauthorized {
			t.Fatalf("wrong login %d on %s = %d, want 401", i+1, s.base, status)
		}
	}
	for i, s := range []*server{d.a, d.b} {
		req, _ := http.NewRequest("POST", s.base+"/auth/login", strings.NewReader(wrong(5+i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
			t.Errorf("sixth login on %s = %d (Retry-After %q), want 429 with Retry-After", s.base, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
}
