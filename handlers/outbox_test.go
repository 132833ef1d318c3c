package handlers

import (
	"context"
	"html"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/mail"
	"tozalash/mail/mailtest"
	"tozalash/store"
	"tozalash/store/storetest"
)

// outboxApp is the real app with a real mail worker that the test runs by
// hand (nothing sends behind its back): five tries, no backoff between
// them, to a real SMTP server of the test that can be stopped (SMTP down)
// and started again.
type outboxApp struct {
	*testApp
	worker *mail.Worker
	wakes  atomic.Int64 // how often the app woke the worker
}

func newOutboxApp(t *testing.T) *outboxApp {
	t.Helper()
	db := storetest.Open(t)
	smtpServer := mailtest.Start(t)
	o := &outboxApp{}
	o.worker = mail.NewWorker(store.NewOutboxStore(db), mail.NewSMTP(smtpServer.Host, smtpServer.Port, "", "", "Tozalash <no-reply@localhost>"), slog.New(slog.DiscardHandler))
	o.worker.MaxAttempts = 5
	o.worker.Backoff = func(int) time.Duration { return 0 }
	app, h, err := newApp(db, Config{
		BaseURL:       "http://localhost:3000",
		JWTSecret:     testJWTKey,
		AuthRateLimit: 10_000,
		EmailQueued:   func() { o.wakes.Add(1); o.worker.Wake() },
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	o.worker.Relink = h.Relink
	o.testApp = &testApp{t: t, app: app, h: h, db: db, smtp: smtpServer}
	return o
}

// sendDue runs the worker once: everything due is tried, and with no
// backoff a failing email is tried until it is given up on.
func (o *outboxApp) sendDue() { o.worker.SendDue(context.Background()) }

const outboxPassword = "toza-uy-2026"

// account makes a verified account in the store (as create-admin does, so
// no email is involved) and signs it in.
func (o *outboxApp) account(username, role string) (string, *store.User) {
	o.t.Helper()
	hash, err := auth.HashPassword(outboxPassword)
	if err != nil {
		o.t.Fatal(err)
	}
	u := &store.User{Username: username, Email: username + "@example.uz", PasswordHash: hash, Role: role, IsVerified: true, Locale: "uz"}
	if err := o.h.users.Create(context.Background(), u); err != nil {
		o.t.Fatal(err)
	}
	return o.login(u.Email, outboxPassword)
}

// failedEmail queues an email and records five failed tries of it.
func (o *outboxApp) failedEmail(to string) *store.Email {
	o.t.Helper()
	ctx := context.Background()
	e := &store.Email{To: to, Subject: "Tasdiqlang", HTML: "<p>Salom</p>", Text: "Salom"}
	if err := o.h.outbox.Enqueue(ctx, e); err != nil {
		o.t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		now := time.Now().UTC()
		c, err := o.h.outbox.Claim(ctx, e, now, now.Add(time.Minute))
		if err != nil {
			o.t.Fatal(err)
		}
		var next time.Time
		if i < 5 {
			next = now
		}
		if err := o.h.outbox.MarkAttemptFailed(ctx, e, c, "dial tcp: connection refused", next); err != nil {
			o.t.Fatal(err)
		}
	}
	return e
}

// emailState checks the stored state of an email.
func (o *outboxApp) emailState(t *testing.T, id primitive.ObjectID, status string, attempts int) *store.Email {
	t.Helper()
	e, err := o.h.outbox.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("email %s: %v", id.Hex(), err)
	}
	if e.Status != status || e.Attempts != attempts {
		t.Fatalf("email %s: status %s, attempts %d; want %s, %d", id.Hex(), e.Status, e.Attempts, status, attempts)
	}
	return e
}

func outboxAuth(token string, more map[string]string) map[string]string {
	h := map[string]string{"Authorization": "Bearer " + token}
	for k, v := range more {
		h[k] = v
	}
	return h
}

// Who may see the outbox and retry: anonymous visitors are sent to the
// login (401 for JSON), customers are refused, admins are let in.
func TestOutboxAccessByRole(t *testing.T) {
	o := newOutboxApp(t)
	adminToken, _ := o.account("boss", store.RoleAdmin)
	userToken, _ := o.account("mijoz", store.RoleUser)
	failed := o.failedEmail("kimdir@example.uz")
	pending := &store.Email{To: "navbat@example.uz", Subject: "Navbatda"}
	if err := o.h.outbox.Enqueue(context.Background(), pending); err != nil {
		t.Fatal(err)
	}
	retryPath := "/admin/outbox/" + failed.ID.Hex() + "/retry"
	still := func(status string, attempts int) func(*testing.T, *testApp) {
		return func(t *testing.T, _ *testApp) { o.emailState(t, failed.ID, status, attempts) }
	}
	post := func(path, token string) request {
		r := request{method: "POST", path: path, body: "{}", contentType: "application/json", headers: asJSON}
		if token != "" {
			r.headers = outboxAuth(token, asJSON)
		}
		return r
	}
	runScenarios(t, o.testApp, []scenario{
		{
			name: "anonymous page: to the login", req: request{path: "/admin/outbox"}, status: 303,
			header: map[string]string{"Location": "/auth/login?next=%2Fadmin%2Foutbox"},
		},
		{name: "anonymous JSON: 401", req: request{path: "/admin/outbox", headers: asJSON}, status: 401, contains: []string{`"code":"unauthorized"`}},
		{name: "anonymous retry: 401", req: post(retryPath, ""), status: 401, after: still(store.EmailFailed, 5)},
		{name: "customer page: 403", req: request{path: "/admin/outbox", headers: outboxAuth(userToken, nil)}, status: 403, notContains: []string{"kimdir@example.uz"}},
		{name: "customer JSON: 403", req: request{path: "/admin/outbox", headers: outboxAuth(userToken, asJSON)}, status: 403, contains: []string{`"code":"forbidden"`}, notContains: []string{"kimdir@example.uz"}},
		{name: "customer retry: 403", req: post(retryPath, userToken), status: 403, contains: []string{`"code":"forbidden"`}, after: still(store.EmailFailed, 5)},
		{
			name: "admin page: 200", req: request{path: "/admin/outbox", headers: outboxAuth(adminToken, nil)}, status: 200,
			contains:    []string{`data-testid="outbox-row"`, `data-status="failed"`, `data-testid="outbox-retry"`, "kimdir@example.uz", "dial tcp: connection refused", `data-testid="nav-outbox"`},
			notContains: []string{"navbat@example.uz"}, // queued, never failed: not a problem
			header:      map[string]string{"Cache-Control": "no-store"},
		},
		{
			name: "admin JSON: 200", req: request{path: "/admin/outbox", headers: outboxAuth(adminToken, asJSON)}, status: 200,
			contains:    []string{`"items":[{"id":"` + failed.ID.Hex() + `"`, `"status":"failed"`, `"attempts":5`, `"lastError":"dial tcp: connection refused"`, `"next":""`},
			notContains: []string{"<p>Salom</p>", `"html"`, `"text"`},
			header:      map[string]string{"Cache-Control": "no-store"},
		},
		{name: "admin JSON, limit out of range: 400", req: request{path: "/admin/outbox?limit=0", headers: outboxAuth(adminToken, asJSON)}, status: 400},
		{name: "admin retry, malformed id: 400", req: post("/admin/outbox/nope/retry", adminToken), status: 400, contains: []string{`"code":"bad_request"`}},
		{name: "admin retry, unknown id: 404", req: post("/admin/outbox/"+primitive.NewObjectID().Hex()+"/retry", adminToken), status: 404, contains: []string{`"code":"not_found"`}},
		{name: "admin retry, not failed: 409", req: post("/admin/outbox/"+pending.ID.Hex()+"/retry", adminToken), status: 409, contains: []string{`"code":"conflict"`}},
		{
			name: "admin retry: 200", req: post(retryPath, adminToken), status: 200,
			contains: []string{`"status":"pending"`, `"id":"` + failed.ID.Hex() + `"`}, after: still(store.EmailPending, 0),
		},
		{name: "admin retry again: 409", req: post(retryPath, adminToken), status: 409, after: still(store.EmailPending, 0)},
	})
}

// A customer cannot retry, whatever way they ask; an unknown id is 404.
func TestOutboxRetryRefused(t *testing.T) {
	o := newOutboxApp(t)
	adminToken, _ := o.account("boss", store.RoleAdmin)
	o.account("mijoz", store.RoleUser)
	e := o.failedEmail("kimdir@example.uz")
	path := "/admin/outbox/" + e.ID.Hex() + "/retry"

	b := o.browser()
	if r := b.postForm("/auth/login", url.Values{"email": {"mijoz@example.uz"}, "password": {outboxPassword}}); r.status != 303 {
		t.Fatalf("customer login = %d", r.status)
	}
	if r := b.htmx("POST", path, url.Values{}); r.status != 403 {
		t.Errorf("customer htmx retry = %d, want 403", r.status)
	}
	if r := b.postForm(path, url.Values{}); r.status != 403 {
		t.Errorf("customer form retry = %d, want 403", r.status)
	}
	if r := b.get("/admin/outbox"); r.status != 403 || strings.Contains(r.body, "kimdir@example.uz") {
		t.Errorf("customer page = %d", r.status)
	}
	o.emailState(t, e.ID, store.EmailFailed, 5)

	unknown := "/admin/outbox/" + primitive.NewObjectID().Hex() + "/retry"
	if r := o.api(adminToken).do("POST", unknown, "{}"); r.status != 404 {
		t.Errorf("admin retry of an unknown id = %d, want 404", r.status)
	}
	if r := o.do(request{method: "POST", path: unknown, headers: outboxAuth(adminToken, asHTMX)}); r.status != 404 {
		t.Errorf("admin htmx retry of an unknown id = %d, want 404", r.status)
	}
	if n := o.wakes.Load(); n != 0 {
		t.Errorf("refused retries woke the worker %d times", n)
	}
}

// The page's form without htmx: 303 back to the page, which says so; and
// like every form post, it needs the CSRF token.
func TestOutboxRetryFormFallback(t *testing.T) {
	o := newOutboxApp(t)
	o.account("boss", store.RoleAdmin)
	e := o.failedEmail("kimdir@example.uz")
	path := "/admin/outbox/" + e.ID.Hex() + "/retry"

	b := o.browser()
	if r := b.postForm("/auth/login", url.Values{"email": {"boss@example.uz"}, "password": {outboxPassword}}); r.status != 303 {
		t.Fatalf("admin login = %d", r.status)
	}
	page := b.get("/admin/outbox")
	if page.status != 200 || !strings.Contains(page.body, `action="`+path+`"`) || !strings.Contains(page.body, `name="_csrf" value="`) || unmaskCSRF(pageCSRFToken(page.body)) != unmaskCSRF(b.csrf()) {
		t.Fatalf("page = %d, lacks the form with its CSRF field\n%s", page.status, clip(page.body))
	}
	if r := b.send("POST", path, "form", "", nil); r.status != 403 {
		t.Errorf("form post without the CSRF token = %d, want 403", r.status)
	}
	o.emailState(t, e.ID, store.EmailFailed, 5)

	r := b.postForm(path, url.Values{})
	if r.status != 303 || r.header.Get("Location") != "/admin/outbox" {
		t.Fatalf("form retry = %d to %q, want 303 to /admin/outbox", r.status, r.header.Get("Location"))
	}
	o.emailState(t, e.ID, store.EmailPending, 0)
	if n := o.wakes.Load(); n != 1 {
		t.Errorf("the retry woke the worker %d times, want 1", n)
	}
	page = b.get("/admin/outbox")
	if !strings.Contains(page.body, `data-testid="flash"`) || !strings.Contains(page.body, "Xat yana yuborish navbatiga qo‘yildi.") ||
		!strings.Contains(page.body, `data-testid="outbox-empty"`) || strings.Contains(page.body, `data-testid="outbox-row"`) {
		t.Errorf("page after the retry\n%s", clip(page.body[strings.Index(page.body, "<main"):]))
	}
}

// Issue #9 end to end: SMTP is down, a signup still succeeds, its email is
// tried five times and given up on; an admin sees it at /admin/outbox with
// its last error and retries it (htmx, then once more as a JSON client when
// SMTP is still down); SMTP comes back and the email arrives exactly once,
// its link working, and leaves the page.
func TestOutboxSMTPOutageStory(t *testing.T) {
	o := newOutboxApp(t)
	adminToken, _ := o.account("boss", store.RoleAdmin)
	admin := o.api(adminToken)
	const to = "sabr@example.uz"

	o.smtp.Stop()
	r := o.api("").do("POST", "/auth/signup", `{"username":"sabr","email":"`+to+`","password":"`+outboxPassword+`"}`)
	if r.status != 201 {
		t.Fatalf("signup with SMTP down = %d %s", r.status, r.body)
	}
	if o.wakes.Load() != 1 {
		t.Fatalf("the signup woke the worker %d times", o.wakes.Load())
	}
	o.sendDue() // five tries, no backoff, then given up on
	problems, err := o.h.outbox.ListProblems(context.Background(), 10, primitive.NilObjectID)
	if err != nil || len(problems.Failed) != 1 || len(problems.Retrying) != 0 {
		t.Fatalf("after five failed tries: %+v %v", problems, err)
	}
	id := problems.Failed[0].ID
	e := o.emailState(t, id, store.EmailFailed, 5)
	if e.To != to || !strings.Contains(e.LastError, "connection refused") {
		t.Fatalf("failed email: to %s, last error %q", e.To, e.LastError)
	}
	// Given up on, it keeps no live link (#18): the one it is sent with
	// below is made fresh at the delivery.
	if link := verifyLink(t, mailtest.Message{Text: e.Text}.Links()); !strings.HasSuffix(link, "."+store.RemovedSecret) {
		t.Fatalf("failed email keeps its link: %s", link)
	}
	lastError := e.LastError
	retryPath := "/admin/outbox/" + id.Hex() + "/retry"

	// The admin sees it, failed, with its last error: as JSON and as a page.
	r = admin.do("GET", "/admin/outbox", "")
	var listed list[store.Email]
	r.json(t, &listed)
	if r.status != 200 || len(listed.Items) != 1 || listed.Next != "" || !strings.Contains(r.body, `"next":""`) {
		t.Fatalf("outbox JSON = %d %s", r.status, r.body)
	}
	if it := listed.Items[0]; it.ID != id || it.To != to || it.Status != store.EmailFailed || it.Attempts != 5 || it.LastError != lastError {
		t.Errorf("listed %+v", it)
	}
	r = o.do(request{path: "/admin/outbox", headers: outboxAuth(adminToken, nil)})
	for _, want := range []string{`data-testid="outbox-row"`, `data-status="failed"`, `data-testid="outbox-retry"`, to, html.EscapeString(lastError),
		`data-testid="outbox-failed-count">1<`, "Yuborilmagan xatlar", "Qayta yuborish"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("outbox page lacks %q", want)
		}
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("outbox page Cache-Control = %q", cc)
	}

	// Retry from the page: htmx, signed in by cookie, gets the row back,
	// queued again; the worker is woken.
	b := o.browser()
	if r := b.postForm("/auth/login", url.Values{"email": {"boss@example.uz"}, "password": {outboxPassword}}); r.status != 303 {
		t.Fatalf("admin login = %d", r.status)
	}
	wakes := o.wakes.Load()
	r = b.htmx("POST", retryPath, url.Values{})
	if r.status != 200 || !strings.HasPrefix(strings.TrimSpace(r.body), "<tr") || strings.Contains(r.body, "<html") ||
		!strings.Contains(r.body, `data-status="pending"`) || !strings.Contains(r.body, `data-testid="outbox-requeued"`) ||
		!strings.Contains(r.body, html.EscapeString(lastError)) || strings.Contains(r.body, `data-testid="outbox-retry"`) {
		t.Fatalf("htmx retry = %d\n%s", r.status, clip(r.body))
	}
	if o.wakes.Load() != wakes+1 {
		t.Error("the retry did not wake the worker")
	}
	e = o.emailState(t, id, store.EmailPending, 0)
	if e.LastError != "" || e.PreviousError != lastError || e.HTML == "" {
		t.Errorf("after the retry: last error %q, previous %q, body kept %v", e.LastError, e.PreviousError, e.HTML != "")
	}
	// A second press (a double click, another admin) changes nothing and
	// shows the row as it is.
	r = b.htmx("POST", retryPath, url.Values{})
	if r.status != 409 || !strings.HasPrefix(strings.TrimSpace(r.body), "<tr") || !strings.Contains(r.body, `data-status="pending"`) {
		t.Errorf("second htmx retry = %d\n%s", r.status, clip(r.body))
	}

	// SMTP is still down: five more tries, failed again.
	o.sendDue()
	o.emailState(t, id, store.EmailFailed, 5)
	if n := len(o.smtp.Messages()); n != 0 {
		t.Fatalf("%d messages arrived while SMTP was down", n)
	}

	// Retry as a JSON client, bring SMTP back, run the worker.
	wakes = o.wakes.Load()
	r = admin.do("POST", retryPath, "{}")
	if r.status != 200 || jsonField(t, r.body, "status") != store.EmailPending || jsonField(t, r.body, "id") != id.Hex() {
		t.Fatalf("JSON retry = %d %s", r.status, r.body)
	}
	if o.wakes.Load() != wakes+1 {
		t.Error("the JSON retry did not wake the worker")
	}
	o.smtp.Restart()
	o.sendDue()
	m := o.smtp.WaitFor(to, 5*time.Second)
	o.sendDue() // nothing more is due
	if n := o.smtp.Count(to); n != 1 {
		t.Errorf("delivered %d times, want exactly once", n)
	}
	if n := len(o.smtp.Messages()); n != 1 {
		t.Errorf("%d messages in all, want 1", n)
	}
	o.emailState(t, id, store.EmailSent, 1)
	// The body survived the retries: its link verifies the account.
	link := strings.TrimPrefix(verifyLink(t, m.Links()), "http://localhost:3000")
	if r := o.do(request{path: link, headers: asJSON}); r.status != 200 {
		t.Errorf("verify with the delivered link = %d %s", r.status, r.body)
	}

	// Delivered: no longer listed.
	if r := admin.do("GET", "/admin/outbox", ""); r.status != 200 || !strings.Contains(r.body, `"items":[]`) {
		t.Errorf("outbox JSON after delivery = %d %s", r.status, r.body)
	}
	r = b.get("/admin/outbox")
	if r.status != 200 || !strings.Contains(r.body, `data-testid="outbox-empty"`) || strings.Contains(r.body, `data-testid="outbox-row"`) ||
		!strings.Contains(r.body, `data-testid="outbox-failed-count">0<`) || !strings.Contains(r.body, `data-testid="outbox-pending-count">0<`) {
		t.Errorf("outbox page after delivery = %d", r.status)
	}
	// Retrying a delivered email is a conflict, not a second delivery.
	if r := admin.do("POST", retryPath, "{}"); r.status != 409 {
		t.Errorf("retry after delivery = %d, want 409", r.status)
	}
	o.sendDue()
	if n := o.smtp.Count(to); n != 1 {
		t.Errorf("delivered %d times in the end, want exactly once", n)
	}
}

// The page in the three languages (the lang cookie; else the account's
// own language), with its empty state.
func TestOutboxPageLanguages(t *testing.T) {
	o := newOutboxApp(t)
	adminToken, _ := o.account("boss", store.RoleAdmin)
	for lang, want := range map[string][]string{
		"uz": {"Yuborilmagan xatlar", "Hammasi joyida"},
		"ru": {"Неотправленные письма", "Всё в порядке"},
		"en": {"Unsent email", "All clear"},
	} {
		r := o.do(request{path: "/admin/outbox", headers: outboxAuth(adminToken, map[string]string{"Cookie": "lang=" + lang})})
		if r.status != 200 || !strings.Contains(r.body, `data-testid="outbox-empty"`) {
			t.Errorf("%s: %d", lang, r.status)
		}
		for _, s := range want {
			if !strings.Contains(r.body, s) {
				t.Errorf("%s page lacks %q", lang, s)
			}
		}
	}
}
