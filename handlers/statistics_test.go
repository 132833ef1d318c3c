package handlers

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"tozalash/demo"
	"tozalash/store"
	"tozalash/views"
)

// bearer signs a request in with token; JSON adds an Accept.
func bearer(token string, json bool) map[string]string {
	h := map[string]string{"Authorization": "Bearer " + token}
	if json {
		h["Accept"] = "application/json"
	}
	return h
}

func TestStatisticsRights(t *testing.T) {
	f := newOrderFixture(t)
	runScenarios(t, f.a, []scenario{
		{name: "anonymous JSON is 401", req: request{path: "/admin/statistics", headers: asJSON}, status: 401},
		{name: "a USER is 403", req: request{path: "/admin/statistics", headers: bearer(f.alice, true)}, status: 403},
		{name: "a USER cannot export", req: request{path: "/orders.csv", headers: bearer(f.alice, true)}, status: 403},
		{name: "anonymous export is 401", req: request{path: "/orders.csv", headers: asJSON}, status: 401},
		{name: "the ADMIN reads it", req: request{path: "/admin/statistics", headers: bearer(f.admin, true)}, status: 200, contains: []string{`"ordersByStatus"`}},
		{name: "a bad export filter is 400", req: request{path: "/orders.csv?status=LOST", headers: bearer(f.admin, true)}, status: 400},
	})
}

// A known data set: three customers (and the admin), the demo catalogue
// with one service archived, four orders of which one completed, one
// cancelled, one deleted.
func TestStatisticsNumbers(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o1 := f.book(t, f.alice, "s1")
	o2 := f.book(t, f.alice, "s2")
	o3 := f.book(t, f.bob, "s3")
	o4 := f.book(t, f.bob, "s4")
	admin := a.api(f.admin)
	f.visitStarted(o1)
	f.arrived(t, o1.ID)
	if r := admin.do("PATCH", "/orders/"+o1.ID.Hex(), `{"status":"COMPLETED"}`); r.status != 200 {
		t.Fatalf("complete = %d %s", r.status, r.body)
	}
	if r := admin.do("PATCH", "/orders/"+o2.ID.Hex(), `{"status":"CANCELLED","reason":"Mijoz so‘radi"}`); r.status != 200 {
		t.Fatalf("cancel = %d", r.status)
	}
	if r := admin.do("DELETE", "/orders/"+o4.ID.Hex(), ""); r.status != 200 && r.status != 204 {
		t.Fatalf("delete = %d", r.status)
	}
	_ = o3

	var got struct {
		Users, Services, Orders, Revenue int64
		OrdersByStatus                   map[string]int64
		OrdersPerDay                     []map[string]any
		OrdersPerService                 []struct {
			ServiceID, Name string
			Count           int64
		}
	}
	admin.do("GET", "/admin/statistics", "").json(t, &got)
	services := int64(len(demo.Catalogue)) - 1 // one archived by the fixture
	if got.Users != 4 || got.Services != services || got.Orders != 3 {
		t.Errorf("users %d services %d orders %d; want 4 %d 3", got.Users, got.Services, got.Orders, services)
	}
	if p, c, x := got.OrdersByStatus["PENDING"], got.OrdersByStatus["COMPLETED"], got.OrdersByStatus["CANCELLED"]; p != 1 || c != 1 || x != 1 {
		t.Errorf("by status %v", got.OrdersByStatus)
	}
	if got.Revenue != f.svc.Price {
		t.Errorf("revenue %d, want the completed order's price %d", got.Revenue, f.svc.Price)
	}
	if len(got.OrdersPerDay) != 30 {
		t.Fatalf("%d days", len(got.OrdersPerDay))
	}
	today := got.OrdersPerDay[29]
	if today["date"] != time.Now().In(views.Tashkent).Format(time.DateOnly) || today["PENDING"] != 1.0 || today["COMPLETED"] != 1.0 || today["CANCELLED"] != 1.0 {
		t.Errorf("today %v", today)
	}
	if yesterday := got.OrdersPerDay[28]; yesterday["PENDING"] != 0.0 {
		t.Errorf("yesterday %v", yesterday)
	}
	if len(got.OrdersPerService) != 1 || got.OrdersPerService[0].ServiceID != f.svc.ID.Hex() || got.OrdersPerService[0].Count != 3 || got.OrdersPerService[0].Name != f.svc.Name.Uz {
		t.Errorf("per service %+v", got.OrdersPerService)
	}

	// The page shows the same numbers, and refreshes only its dashboard.
	page := a.do(request{path: "/admin", headers: bearer(f.admin, false)})
	for _, want := range []string{`data-testid="stats-orders">3<`, `data-testid="stats-status-COMPLETED">1<`, `data-testid="stats-users">4<`, `hx-trigger="every 30s"`, "<svg", "<title>"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	h := bearer(f.admin, false)
	h["HX-Request"] = "true"
	frag := a.do(request{path: "/admin/statistics", headers: h})
	if frag.status != 200 || strings.Contains(frag.body, "<html") || !strings.HasPrefix(strings.TrimSpace(frag.body), `<div id="dashboard"`) {
		t.Errorf("fragment = %d %.200s", frag.status, frag.body)
	}
}

// The export carries commas, quotes, new lines and Cyrillic through intact,
// starts with a BOM, keeps the board's filters and defuses formulas.
func TestOrdersCSV(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	tricky := `Юнусабад, 4-мавзе, \"Navro‘z\" uy\nkirish 2`
	r := a.api(f.alice).do("POST", "/orders", f.body("c1", slot(1, 10, 0), tricky, "+998 90 123 45 67"))
	if r.status != 201 {
		t.Fatalf("book = %d %s", r.status, r.body)
	}
	r = a.api(f.bob).do("POST", "/orders", f.body("c2", slot(2, 11, 0), `=HYPERLINK(\"http://x\")`, "+998 91 555 00 11"))
	if r.status != 201 {
		t.Fatalf("book = %d %s", r.status, r.body)
	}
	res := a.do(request{path: "/orders.csv", headers: bearer(f.admin, false)})
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/csv") || !strings.Contains(res.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv = %d %v", res.status, res.header)
	}
	if !strings.HasPrefix(res.body, "\ufeff") {
		t.Fatalf("no BOM: %q", res.body[:10])
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(res.body, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, res.body)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != "ID,Yaratilgan,Mijoz,Xizmat,Holat,Narx (so‘m),Tashrif vaqti,Manzil,Telefon,Izoh,O‘zgarishlar soni,Oxirgi o‘zgarish,Raqam,Narx qatorlari,Qanchalik tez-tez,Promokod,Brigada,To‘langan,Olingan summa,To‘lov usuli" {
		t.Fatalf("rows %q", rows)
	}
	newest, oldest := rows[1], rows[2]
	if oldest[7] != "Юнусабад, 4-мавзе, \"Navro‘z\" uy\nkirish 2" || oldest[2] != "alice" || oldest[4] != "Kutilmoqda" || oldest[8] != "+998901234567" {
		t.Errorf("alice's row %q", oldest)
	}
	if newest[7] != `'=HYPERLINK("http://x")` {
		t.Errorf("a formula was not defused: %q", newest[7])
	}
	filtered := a.do(request{path: "/orders.csv?customer=bob", headers: bearer(f.admin, false)})
	if n := strings.Count(filtered.body, "\n"); n != 2 || !strings.Contains(filtered.body, ",bob,") {
		t.Errorf("customer filter: %d lines\n%s", n, filtered.body)
	}
	none := a.do(request{path: "/orders.csv?customer=nobody-here", headers: bearer(f.admin, false)})
	if n := strings.Count(none.body, "\n"); n != 1 {
		t.Errorf("a customer nobody has: %d lines", n)
	}
	_ = store.StatusPending
}

// A Russian admin's export: Russian headers and statuses, visit times on
// Tashkent's clock (not UTC), and every field of the order, notes and the
// history included.
func TestOrdersCSVInAdminsLanguageAndLocalTime(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	when := slot(1, 9, 30) // 09:30 in Tashkent is 04:30 UTC
	r := a.api(f.alice).do("POST", "/orders", `{"serviceId":"`+f.svc.ID.Hex()+`","scheduledAt":"`+when+`","address":"Chilonzor 9","phone":"+998 90 123 45 67","notes":"=Mushuk bor, eshik kodi 45","idempotencyKey":"ru1"}`)
	if r.status != 201 {
		t.Fatalf("book = %d %s", r.status, r.body)
	}
	id := jsonField(t, r.body, "id").(string)
	if r := a.api(f.admin).do("PATCH", "/orders/"+id, `{"status":"CANCELLED"}`); r.status != 200 {
		t.Fatalf("cancel = %d %s", r.status, r.body)
	}
	h := bearer(f.admin, false)
	h["Cookie"] = "lang=ru"
	res := a.do(request{path: "/orders.csv", headers: h})
	if res.status != 200 || !strings.HasPrefix(res.body, "\ufeff") {
		t.Fatalf("csv = %d %.20q", res.status, res.body)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(res.body, "\ufeff"))).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %v %q", err, rows)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"Клиент", "Услуга", "Статус", "Время визита", "Адрес", "Телефон", "Примечания", "Число изменений", "Последнее изменение"} {
		if _, ok := col[h]; !ok {
			t.Errorf("no Russian header %q in %q", h, rows[0])
		}
	}
	row := rows[1]
	local, _ := time.Parse(time.RFC3339, when)
	if got := row[col["Время визита"]]; got != local.In(views.Tashkent).Format("2006-01-02")+" 09:30" {
		t.Errorf("visit time = %q, want Tashkent's 09:30", got)
	}
	if got := row[col["Статус"]]; got != "Отменён" {
		t.Errorf("status = %q", got)
	}
	if got := row[col["Примечания"]]; got != "'=Mushuk bor, eshik kodi 45" {
		t.Errorf("notes = %q (defused)", got)
	}
	if row[col["Клиент"]] != "alice" || row[col["Телефон"]] != "+998901234567" || row[col["Адрес"]] != "Chilonzor 9" || row[col["Число изменений"]] != "2" || row[col["Последнее изменение"]] == "" {
		t.Errorf("row %q", row)
	}
}
