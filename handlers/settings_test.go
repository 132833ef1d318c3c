package handlers

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// #19 item 22: GET/PUT /admin/settings (ADMIN) with companyNotifyEmail and
// the admin's own notifyMe; a bad address is 422 and writes nothing.
func TestSettingsRoundTrip(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	as := func(token, method, body string) request {
		r := request{method: method, path: "/admin/settings", body: body, headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + token}}
		if body != "" {
			r.contentType = "application/json"
		}
		return r
	}
	runScenarios(t, a, []scenario{
		{name: "a customer may not read them", req: as(f.alice, "GET", ""), status: 403},
		{name: "a customer may not change them", req: as(f.alice, "PUT", `{"companyNotifyEmail":"x@tozalash.uz"}`), status: 403},
		{name: "none yet", req: as(f.admin, "GET", ""), status: 200, contains: []string{`"companyNotifyEmail":""`, `"notifyMe":false`}},
		{name: "a bad email is 422", req: as(f.admin, "PUT", `{"companyNotifyEmail":"ofis-at-tozalash"}`), status: 422, contains: []string{`"companyNotifyEmail":`}},
		{name: "and nothing was written", req: as(f.admin, "GET", ""), status: 200, contains: []string{`"companyNotifyEmail":""`}},
		{name: "saved", req: as(f.admin, "PUT", `{"companyNotifyEmail":" Ofis@Tozalash.uz ","notifyMe":true}`), status: 200, contains: []string{`"companyNotifyEmail":"ofis@tozalash.uz"`, `"notifyMe":true`}},
		{name: "read back", req: as(f.admin, "GET", ""), status: 200, contains: []string{`"companyNotifyEmail":"ofis@tozalash.uz"`, `"notifyMe":true`}},
		{name: "a change of one field keeps the other", req: as(f.admin, "PUT", `{"notifyMe":false}`), status: 200, contains: []string{`"companyNotifyEmail":"ofis@tozalash.uz"`, `"notifyMe":false`}},
	})
	// The page, linked from the admin's menu, in Russian; the form saves.
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	b.setCookie("/", "lang", "ru")
	if p := b.get("/admin"); !strings.Contains(p.body, `href="/admin/settings"`) {
		t.Error("the admin pages do not link the settings")
	}
	if p := b.get("/admin/settings"); !strings.Contains(p.body, `data-testid="settings-form"`) || !strings.Contains(p.body, `value="ofis@tozalash.uz"`) || !strings.Contains(p.body, "Email для уведомлений компании") {
		t.Errorf("settings page %d %s", p.status, clip(p.body))
	}
	bad := b.htmx("PUT", "/admin/settings", url.Values{"companyNotifyEmail": {"yomon"}, "notifyMe": {"true"}})
	if bad.status != 422 || !strings.Contains(bad.body, `value="yomon"`) {
		t.Errorf("a bad form = %d %s", bad.status, clip(bad.body))
	}
	if ok := b.htmx("PUT", "/admin/settings", url.Values{"companyNotifyEmail": {"ofis@tozalash.uz"}, "notifyMe": {"true"}}); ok.status != 200 || !strings.Contains(ok.body, "Настройки сохранены.") || !strings.Contains(ok.body, "checked") {
		t.Errorf("the form = %d %s", ok.status, clip(ok.body))
	}
}

// A booking, a reschedule and a cancellation email the company's address
// and the admins who opted in, each once (a retried booking too).
func TestCompanyIsToldOfBookingEvents(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	if r := a.api(f.admin).do("PUT", "/admin/settings", `{"companyNotifyEmail":"ofis@tozalash.uz","notifyMe":true}`); r.status != 200 {
		t.Fatalf("settings = %d %s", r.status, r.body)
	}
	o := f.book(t, f.alice, "c1")
	if r := a.api(f.alice).do("POST", "/orders", f.body("c1", slot(1, 10, 0), "Chilonzor 9-kvartal, 12-uy", "+998 90 123 45 67")); r.status != 200 {
		t.Fatalf("the retry = %d", r.status)
	}
	booked := a.smtp.WaitForText("ofis@tozalash.uz", "Yangi buyurtma berildi", 10*time.Second)
	if booked.Subject != "Yangi buyurtma" || !strings.Contains(booked.Text, "#1") || !strings.Contains(booked.Text, "Chilonzor") {
		t.Errorf("the company's email %q\n%s", booked.Subject, booked.Text)
	}
	a.smtp.WaitForText("boss@tozalash.uz", "Yangi buyurtma berildi", 10*time.Second)
	if r := a.api(f.alice).do("PATCH", "/orders/"+o.ID.Hex(), `{"scheduledAt":"`+slot(3, 9, 30)+`"}`); r.status != 200 {
		t.Fatalf("reschedule = %d", r.status)
	}
	a.smtp.WaitForText("ofis@tozalash.uz", "boshqa vaqtga ko‘chirildi", 10*time.Second)
	if r := a.api(f.alice).do("PATCH", "/orders/"+o.ID.Hex(), `{"status":"CANCELLED"}`); r.status != 200 {
		t.Fatalf("cancel = %d", r.status)
	}
	a.smtp.WaitForText("ofis@tozalash.uz", "Buyurtma bekor qilindi.", 10*time.Second)
	a.h.Wait()
	counts := map[string]int{}
	for _, m := range a.smtp.Messages() {
		if strings.Contains(strings.Join(m.To, ","), "ofis@tozalash.uz") {
			counts[m.Subject]++
		}
	}
	if counts["Yangi buyurtma"] != 1 || counts["Buyurtma vaqti o‘zgardi"] != 1 || counts["Buyurtma bekor qilindi"] != 1 {
		t.Errorf("the company's emails by subject: %v", counts)
	}
}

// The board marks the orders made or changed since this admin last looked,
// in the database; a look clears the marks.
func TestBoardMarksWhatChangedSinceTheAdminLooked(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	old := f.book(t, f.alice, "s1")
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	if p := b.get("/orders").body; strings.Contains(p, "badge-") {
		t.Error("the first look marks rows")
	}
	fresh := f.book(t, f.bob, "s2")
	if r := a.api(f.alice).do("PATCH", "/orders/"+old.ID.Hex(), `{"scheduledAt":"`+slot(3, 9, 30)+`"}`); r.status != 200 {
		t.Fatalf("reschedule = %d", r.status)
	}
	p := b.get("/orders").body
	if row := between(p, `id="order-row-`+fresh.ID.Hex()+`"`, "</tr>"); !strings.Contains(row, `data-testid="badge-new"`) {
		t.Errorf("the new order is not marked new: %s", row)
	}
	if row := between(p, `id="order-row-`+old.ID.Hex()+`"`, "</tr>"); !strings.Contains(row, `data-testid="badge-changed"`) {
		t.Errorf("the moved order is not marked changed: %s", row)
	}
	if p := b.get("/orders").body; strings.Contains(p, "badge-") {
		t.Error("the marks stay after the admin looked")
	}
}
