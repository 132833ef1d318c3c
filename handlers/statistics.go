package handlers

import (
	"bufio"
	"context"
	"encoding/csv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// statisticsJSON is the contract's shape of GET /admin/statistics.
type statisticsJSON struct {
	Users            int64                `json:"users"`
	Services         int64                `json:"services"`
	Orders           int64                `json:"orders"`
	OrdersByStatus   map[string]int64     `json:"ordersByStatus"`
	Revenue          int64                `json:"revenue"`          // booked: the completed orders' prices
	RevenueCollected int64                `json:"revenueCollected"` // what the cleaners recorded collecting
	OrdersPerDay     []dayJSON            `json:"ordersPerDay"`
	OrdersPerService []views.ServiceCount `json:"ordersPerService"`
	Plans            store.PlanTotals     `json:"plans"` // regular cleanings (#23): active, paused, their monthly revenue
}

// dayJSON is one day of the chart: its date and a count per status (a
// struct, not a map: encoding a map sorts and boxes every key, which was
// half the cost of the answer).
type dayJSON struct {
	Date      string `json:"date"`
	Pending   int64  `json:"PENDING"`
	Completed int64  `json:"COMPLETED"`
	Cancelled int64  `json:"CANCELLED"`
}

// statsDays is how many days the day chart shows, today included.
const statsDays = 30

// Statistics is GET /admin and /admin/statistics: the dashboard, its
// self-refreshing fragment, or JSON. Every number is a counter, read by _id.
func (h *Handler) Statistics(c *fiber.Ctx) error {
	st, err := h.db.Statistics(ctx(c), time.Now(), statsDays)
	if err != nil {
		return err
	}
	plans, err := h.plans.Totals(ctx(c), store.LocalDate(h.now()))
	if err != nil {
		return err
	}
	v := views.DashboardView{Stats: st, Plans: plans}
	names, err := h.serviceNames(c)
	if err != nil {
		return err
	}
	for id, n := range st.Orders.ByService {
		if n > 0 {
			v.PerService = append(v.PerService, views.ServiceCount{ServiceID: id, Name: names[id], Count: n})
		}
	}
	sort.Slice(v.PerService, func(i, j int) bool {
		a, b := v.PerService[i], v.PerService[j]
		return a.Count > b.Count || a.Count == b.Count && a.Name < b.Name
	})
	if v.Reviews, err = h.reviewStats(c, names); err != nil {
		return err
	}
	out := statisticsJSON{Users: st.Users, Services: st.Services, Orders: st.Orders.N, OrdersByStatus: map[string]int64{},
		Revenue: st.Orders.Revenue, RevenueCollected: st.Orders.Collected, OrdersPerDay: make([]dayJSON, 0, len(st.PerDay)), OrdersPerService: v.PerService, Plans: plans}
	if out.OrdersPerService == nil {
		out.OrdersPerService = []views.ServiceCount{}
	}
	for _, s := range store.Statuses {
		out.OrdersByStatus[s] = st.Orders.ByStatus[s]
	}
	for _, d := range st.PerDay {
		out.OrdersPerDay = append(out.OrdersPerDay, dayJSON{Date: d.Date,
			Pending: d.ByStatus[store.StatusPending], Completed: d.ByStatus[store.StatusCompleted], Cancelled: d.ByStatus[store.StatusCancelled]})
	}
	return h.render(c, fiber.StatusOK, out, page{
		title:    h.meta(c).T("stats.title"),
		body:     views.DashboardPage(v),
		fragment: views.Dashboard(v),
	})
}

// csvColumns are the locale keys of the orders' CSV's headers, in the
// admin's language.
var csvColumns = []string{"csv.id", "csv.createdAt", "csv.customer", "csv.service", "csv.status", "csv.price",
	"csv.scheduledAt", "csv.address", "csv.phone", "csv.notes", "csv.changes", "csv.lastChange", "csv.number",
	// #20: appended, so that the columns before keep their places
	"csv.lines", "csv.frequency", "csv.promoCode",
	// #22
	"csv.crew", "csv.paid", "csv.paymentAmount", "csv.paymentMethod"}

// csvTime is a moment as the CSV shows it: Tashkent's wall clock, which a
// spreadsheet reads as a date and time.
const csvTime = "2006-01-02 15:04"

// OrdersCSV is GET /orders.csv: the board's orders, with its filters, as
// CSV, written to the client a page document at a time as it is read. UTF-8
// with a byte order mark, so Excel shows Uzbek and Russian text as written;
// times in Tashkent, headers and statuses in the admin's language, and
// every field of the order (the board's rows, then their whole orders, a
// page at a time, for the notes and the history).
func (h *Handler) OrdersCSV(c *fiber.Ctx) error {
	_, f, err := h.boardFilter(c)
	if err != nil {
		return err
	}
	if f.UserIDs != nil && len(f.UserIDs) == 0 { // a customer name nobody has
		f.UserIDs = nil
		f.Status = "-" // matches nothing
	}
	names, err := h.serviceNames(c)
	if err != nil {
		return err
	}
	loc := h.meta(c).Locale
	header := make([]string, len(csvColumns))
	for i, k := range csvColumns {
		header[i] = loc.T(k)
	}
	statuses := map[string]string{}
	for _, s := range store.Statuses {
		statuses[s] = loc.T("status." + s)
	}
	// The file is written after this handler returns, past the request's
	// deadline: the stream gets its own, renewed with each page document
	// sent, so a database that stops answering ends it (the file is cut
	// short), while a long export that keeps going is not.
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx(c)))
	log := h.log
	orders := h.orders
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="orders-`+time.Now().In(views.Tashkent).Format("2006-01-02")+`.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		stall := time.AfterFunc(RequestTimeout, stop)
		defer func() { stall.Stop(); stop() }()
		w.WriteString("\ufeff")
		cw := csv.NewWriter(w)
		_ = cw.Write(header)
		var rows []store.OrderSummary
		err := orders.Each(rctx, f, func(o store.OrderSummary) error {
			rows = append(rows, o)
			return nil
		}, func() error { // after each page document: its whole orders, sent on
			ids := make([]primitive.ObjectID, len(rows))
			for i := range rows {
				ids[i] = rows[i].ID
			}
			full, err := orders.ByIDs(rctx, ids)
			if err != nil {
				return err
			}
			for _, o := range rows {
				name := store.ServiceTitle(o.ServiceNames, o.ServiceName, loc.Lang, names[o.ServiceID.Hex()])
				if err := cw.Write(csvRow(o, full[o.ID], name, statuses, loc)); err != nil {
					return err
				}
			}
			rows = rows[:0]
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			stall.Reset(RequestTimeout)
			return w.Flush()
		})
		cw.Flush()
		if err != nil {
			// The status line is long gone; the log says why the file is short.
			log.Error("orders csv", "err", err)
		}
		_ = w.Flush()
	})
	return nil
}

// csvRow is one order as CSV cells (full: the whole order, nil when it went
// between the row and the read). Cells someone typed are defused: a leading
// =, +, - or @ would make a spreadsheet run them as a formula.
func csvRow(o store.OrderSummary, full *store.Order, service string, statuses map[string]string, loc views.Locale) []string {
	local := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(views.Tashkent).Format(csvTime)
	}
	status := statuses[o.Status]
	if status == "" {
		status = o.Status
	}
	var notes, changes, last, lines, frequency, promo string
	paid, amount, method := loc.T("csv.no"), "", ""
	if full != nil && full.Payment != nil {
		paid, amount, method = loc.T("csv.yes"), strconv.FormatInt(full.Payment.Amount, 10), loc.T("payment."+full.Payment.Method)
	}
	if full != nil {
		notes = full.Notes
		lines = views.PriceLinesText(loc, full)
		if frequency = full.Frequency; frequency == "" {
			frequency = store.FrequencyOnce
		}
		frequency = loc.T("price.frequency." + frequency)
		promo = full.PromoCode
		changes = strconv.Itoa(len(full.History))
		if n := len(full.History); n > 0 {
			last = local(full.History[n-1].At)
		}
	}
	return []string{o.ID.Hex(), local(o.CreatedAt), safeCell(o.CustomerName), safeCell(service), status,
		strconv.FormatInt(o.Price, 10), local(o.ScheduledAt), safeCell(o.Address), o.Phone, safeCell(notes), changes, last, strconv.FormatInt(o.Seq, 10),
		safeCell(lines), frequency, safeCell(promo), safeCell(o.CrewName), paid, amount, method}
}

func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
