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

	"tozalash/store"
	"tozalash/views"
)

// statisticsJSON is the contract's shape of GET /admin/statistics.
type statisticsJSON struct {
	Users            int64                `json:"users"`
	Services         int64                `json:"services"`
	Orders           int64                `json:"orders"`
	OrdersByStatus   map[string]int64     `json:"ordersByStatus"`
	Revenue          int64                `json:"revenue"`
	OrdersPerDay     []dayJSON            `json:"ordersPerDay"`
	OrdersPerService []views.ServiceCount `json:"ordersPerService"`
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
	v := views.DashboardView{Stats: st}
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
	out := statisticsJSON{Users: st.Users, Services: st.Services, Orders: st.Orders.N, OrdersByStatus: map[string]int64{},
		Revenue: st.Orders.Revenue, OrdersPerDay: make([]dayJSON, 0, len(st.PerDay)), OrdersPerService: v.PerService}
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

// csvHeader names the columns of the orders' CSV.
var csvHeader = []string{"id", "createdAt", "customer", "service", "status", "price", "scheduledAt", "address", "phone", "number"}

// OrdersCSV is GET /orders.csv: the board's orders, with its filters, as
// CSV, written to the client a page document at a time as it is read. UTF-8
// with a byte order mark, so Excel shows Uzbek and Russian text as written.
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
	// The file is written after this handler returns, past the request's
	// deadline: the stream gets its own, renewed with each page document
	// sent, so a database that stops answering ends it (the file is cut
	// short), while a long export that keeps going is not.
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx(c)))
	log := h.log
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="orders-`+time.Now().In(views.Tashkent).Format("2006-01-02")+`.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		stall := time.AfterFunc(RequestTimeout, stop)
		defer func() { stall.Stop(); stop() }()
		w.WriteString("\ufeff")
		cw := csv.NewWriter(w)
		_ = cw.Write(csvHeader)
		err := h.orders.Each(rctx, f, func(o store.OrderSummary) error {
			name := names[o.ServiceID.Hex()]
			if name == "" {
				name = o.ServiceName
			}
			if err := cw.Write(csvRow(o, name)); err != nil {
				return err
			}
			return nil
		}, func() error { // after each page document: send it on
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

// csvRow is one order as CSV cells. Cells someone typed are defused: a
// leading =, +, - or @ would make a spreadsheet run them as a formula.
func csvRow(o store.OrderSummary, service string) []string {
	return []string{o.ID.Hex(), o.CreatedAt.UTC().Format(time.RFC3339), safeCell(o.CustomerName), safeCell(service), o.Status,
		strconv.FormatInt(o.Price, 10), o.ScheduledAt.UTC().Format(time.RFC3339), safeCell(o.Address), o.Phone, strconv.FormatInt(o.Seq, 10)}
}

func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
