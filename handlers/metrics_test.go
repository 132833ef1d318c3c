package handlers

import (
	"regexp"
	"strings"
	"testing"

	"tozalash/store/storetest"
)

// metricValue finds one sample's value in Prometheus text, "" when absent.
func metricValue(body, series string) string {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// Ops read /metrics from the machine itself; what it counts follows what
// happens: requests by route pattern and status, bookings, status changes,
// emails, open sockets, the database's ping.
func TestMetricsCountWhatHappens(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	b := a.browser() // real HTTP from 127.0.0.1
	o := f.book(t, f.alice, "m-1")
	f.visitStarted(o)
	f.arrived(t, o.ID)
	a.api(f.admin).do("PATCH", "/orders/"+o.ID.Hex(), `{"status":"COMPLETED"}`)
	b.get("/orders/" + o.ID.Hex())
	b.get("/made-up-path-1")
	b.get("/made-up-path-2")

	r := b.get("/metrics")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics from loopback = %d %s\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}
	for series, want := range map[string]string{
		`tozalash_orders_created_total`:                                               "1",
		`tozalash_order_status_changes_total{status="COMPLETED"}`:                     "1",
		`tozalash_order_status_changes_total{status="CANCELLED"}`:                     "0",
		`tozalash_database_up`:                                                        "1",
		`tozalash_websockets_open`:                                                    "0",
		`tozalash_chat_relay_dropped_total`:                                           "0",
		`tozalash_http_requests_total{method="GET",route="unmatched",status="404"}`:   "2",
		`tozalash_http_requests_total{method="GET",route="/orders/:id",status="303"}`: "1", // to the login page
	} {
		if got := metricValue(r.body, series); got != want {
			t.Errorf("%s = %q, want %q", series, got, want)
		}
	}
	for _, name := range []string{"tozalash_outbox_queued_total", "tozalash_outbox_sent_total", "tozalash_outbox_failed_total",
		"tozalash_http_request_duration_seconds_bucket", "tozalash_database_ping_seconds", "go_goroutines"} {
		if !strings.Contains(r.body, "\n"+name) {
			t.Errorf("no %s in /metrics", name)
		}
	}
	if queued := metricValue(r.body, "tozalash_outbox_queued_total"); queued == "" || queued == "0" {
		t.Errorf("emails queued = %q after a booking and a status change", queued)
	}
	if regexp.MustCompile(`made-up-path`).MatchString(r.body) {
		t.Error("a made-up path became a series of its own")
	}
}

// Off the machine, /metrics wants METRICS_TOKEN; without one configured it
// is refused. A proxy on loopback does not make its visitors local.
func TestMetricsAccess(t *testing.T) {
	closed := newTestApp(t) // app.Test: the peer is not loopback
	if r := closed.do(request{path: "/metrics"}); r.status != 403 {
		t.Errorf("no token configured, from afar: %d, want 403", r.status)
	}

	withToken := newTestAppWith(t, storetest.Open(t), Config{MetricsToken: "ops-token-0123456789"})
	for _, c := range []struct {
		auth string
		want int
	}{
		{"", 401},
		{"Bearer wrong-token-0123456789", 401},
		{"ops-token-0123456789", 401},
		{"Bearer ops-token-0123456789", 200},
	} {
		r := withToken.do(request{path: "/metrics", headers: map[string]string{"Authorization": c.auth}})
		if r.status != c.want {
			t.Errorf("Authorization %q: %d, want %d", c.auth, r.status, c.want)
		}
		if c.want == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("a 401 without WWW-Authenticate")
		}
	}

	// A proxy on this machine that nobody listed in TRUSTED_PROXIES: what it
	// forwards says so.
	open := newTestAppWith(t, storetest.Open(t), Config{})
	ob := open.browser()
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-IP"} {
		if r := ob.send("GET", "/metrics", "", "", map[string]string{h: "203.0.113.9"}); r.status != 403 {
			t.Errorf("from loopback with %s: %d, want 403", h, r.status)
		}
	}

	behindProxy := newTestAppWith(t, storetest.Open(t), Config{TrustedProxies: []string{"127.0.0.1"}})
	b := behindProxy.browser()
	if r := b.send("GET", "/metrics", "", "", map[string]string{"X-Forwarded-For": "203.0.113.9"}); r.status != 403 {
		t.Errorf("through a proxy on loopback: %d, want 403", r.status)
	}
}
