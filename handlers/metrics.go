package handlers

import (
	"context"
	"crypto/subtle"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tozalash/store"
)

// metrics are what GET /metrics shows ops, in Prometheus' text format. The
// registry is the app's own: two apps in one process (the tests) count
// apart.
type metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	ordersCreated prometheus.Counter
	statusChanges *prometheus.CounterVec
	planVisits    *prometheus.CounterVec // the plans job's work (#23), by what became of a visit
	planRuns      prometheus.Counter
	emailsQueued  prometheus.Counter
}

func newMetrics(db *store.DB, sockets func() int, relayDropped func() int64) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tozalash_http_requests_total", Help: "HTTP requests answered, by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tozalash_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "status"}),
		ordersCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tozalash_orders_created_total", Help: "Orders booked.",
		}),
		statusChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tozalash_order_status_changes_total", Help: "Order status changes, by the new status.",
		}, []string{"status"}),
		emailsQueued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tozalash_outbox_queued_total", Help: "Emails put in the outbox.",
		}),
		planVisits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tozalash_plan_visits_total", Help: "Visits of regular cleanings: made, moved (made at another time than the plan's), missed (no free time that day or the next), cancelled (skipped, paused, changed, ended).",
		}, []string{"result"}),
		planRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tozalash_plan_runs_total", Help: "Runs of the plans job that ended, on this instance.",
		}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.ordersCreated, m.statusChanges, m.emailsQueued, m.planVisits, m.planRuns,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tozalash_websockets_open", Help: "Chat sockets open now.",
		}, func() float64 { return float64(sockets()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tozalash_chat_relay_dropped_total", Help: "Chat events and presence changes not passed to the other instances: the database did not take them in time.",
		}, func() float64 { return float64(relayDropped()) }),
		&databaseCollector{db: db},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, s := range store.Statuses {
		m.statusChanges.WithLabelValues(s) // every series from the start, at 0
	}
	for _, r := range []string{"made", "moved", "missed", "cancelled"} {
		m.planVisits.WithLabelValues(r)
	}
	return m
}

// statusLabels are the status codes as labels, made once.
var statusLabels = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return
}()

// observe counts one answered request.
func (m *metrics) observe(route, method string, status int, took time.Duration) {
	var code string
	if status >= 0 && status < len(statusLabels) {
		code = statusLabels[status]
	} else {
		code = strconv.Itoa(status)
	}
	method = methodLabel(method)
	m.requests.WithLabelValues(route, method, code).Inc()
	m.duration.WithLabelValues(route, method, code).Observe(took.Seconds())
}

// methodLabel is the method as a constant string: Fiber's points into the
// request's buffer, which the next request overwrites, and a label keeps
// the string it was given (seen: "POST" read back as "POS"). Unknown
// methods are one label.
func methodLabel(m string) string {
	switch m {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "PATCH":
		return "PATCH"
	case "DELETE":
		return "DELETE"
	case "OPTIONS":
		return "OPTIONS"
	}
	return "OTHER"
}

// databaseCollector pings the database at each scrape: whether it answered
// within a second, and how long it took.
type databaseCollector struct{ db *store.DB }

var (
	databaseUp   = prometheus.NewDesc("tozalash_database_up", "1 when the database answered a ping within 1 s.", nil, nil)
	databasePing = prometheus.NewDesc("tozalash_database_ping_seconds", "How long the database took to answer a ping.", nil, nil)
)

func (d *databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- databaseUp
	ch <- databasePing
}

func (d *databaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := d.db.Ping(ctx)
	took := time.Since(start).Seconds()
	up := 1.0
	if err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(databaseUp, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(databasePing, prometheus.GaugeValue, took)
}

// Register adds collectors from outside the handlers (the mail worker's
// counts) to /metrics.
func (h *Handler) Register(cs ...prometheus.Collector) { h.metrics.registry.MustRegister(cs...) }

// Metrics serves /metrics to ops: from the machine itself, or to anyone
// with METRICS_TOKEN as a Bearer token.
func (h *Handler) Metrics(c *fiber.Ctx) error {
	if !h.metricsAllowed(c) {
		// Plain text for a scraper, never the login page.
		c.Set(fiber.HeaderCacheControl, "no-store")
		if h.cfg.MetricsToken != "" {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
			return c.Status(fiber.StatusUnauthorized).SendString("metrics: a Bearer token is needed\n")
		}
		return c.Status(fiber.StatusForbidden).SendString("metrics: only from this machine\n")
	}
	return h.metricsHandler(c)
}

// metricsAllowed: a loopback peer that is not a trusted proxy and does not
// forward for anyone (behind a proxy on the same machine, every visitor
// would come from loopback, listed in TRUSTED_PROXIES or not), or the
// token.
func (h *Handler) metricsAllowed(c *fiber.Ctx) bool {
	if t := h.cfg.MetricsToken; t != "" {
		got := c.Get(fiber.HeaderAuthorization)
		if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+t)) == 1 {
			return true
		}
	}
	peer := c.Context().RemoteIP()
	forwarded := c.Get(fiber.HeaderXForwardedFor) != "" || c.Get("Forwarded") != "" || c.Get("X-Real-Ip") != ""
	return peer.IsLoopback() && !h.trustedProxy(peer) && !forwarded
}

func (m *metrics) handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
}
