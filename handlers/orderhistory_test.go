package handlers

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"tozalash/store"
)

// #19 item 3: every change of an order's details is a timeline entry
// {type, at, byUserId, byName, from, to}, shown "from → to" in the
// reader's language; a change made by someone else (an admin) emails the
// customer, in the customer's language; the customer's own does not.
// Over real HTTP, to the test's real SMTP server.
func TestOrderChangesAreOnTheTimelineAndEmailed(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o := f.book(t, f.alice, "h1")
	path := "/orders/" + o.ID.Hex()
	a.smtp.WaitForText("alice@example.uz", "Chilonzor", 10*time.Second) // the booking's email

	// The customer moves her visit herself.
	customer := a.browser()
	customer.postForm("/auth/login", url.Values{"email": {"alice@example.uz"}, "password": {"toza-uy-2026"}})
	newTime := slot(3, 9, 30)
	if r := customer.send("PATCH", path, "json", `{"scheduledAt":"`+newTime+`"}`, map[string]string{"Accept": "application/json", "X-Csrf-Token": customer.csrf()}); r.status != 200 ||
		!strings.Contains(r.body, `"type":"scheduledAt"`) || !strings.Contains(r.body, `"from":"`+o.ScheduledAt.UTC().Format(time.RFC3339)+`"`) || !strings.Contains(r.body, `"byName":"alice"`) {
		t.Fatalf("reschedule = %d %s", r.status, r.body)
	}

	// The admin changes the address, the phone and the price.
	admin := a.browser()
	admin.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	r := admin.send("PATCH", path, "json", `{"address":"Yunusobod 4-mavze, 7-uy","phone":"+998 93 555 00 11","price":400000,"notes":"Mushuk bor"}`,
		map[string]string{"Accept": "application/json", "X-Csrf-Token": admin.csrf()})
	if r.status != 200 {
		t.Fatalf("admin edit = %d %s", r.status, r.body)
	}
	got, err := a.h.orders.Get(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, h := range got.History {
		types = append(types, h.Type)
		if h.Type == store.ChangeAddress && (h.From != "Chilonzor 9-kvartal, 12-uy" || h.To != "Yunusobod 4-mavze, 7-uy" || h.ByName != "boss" || h.ByUserID.IsZero() || h.At.IsZero()) {
			t.Errorf("address entry %+v", h)
		}
	}
	// The notes were sent unchanged: no entry for them.
	if strings.Join(types, ",") != "status,scheduledAt,address,phone,price" {
		t.Errorf("timeline types %v", types)
	}

	// The customer reads it in Russian: "from → to", times in Tashkent,
	// prices in so'm as written in Russian.
	customer.setCookie("/", "lang", "ru")
	page := customer.get(path).body
	for _, want := range []string{"Адрес изменён", "Chilonzor 9-kvartal, 12-uy → Yunusobod 4-mavze, 7-uy", "Цена изменена", "350\u00a0000\u00a0сум → 400\u00a0000\u00a0сум",
		"Время изменено", "+998 90 123 45 67 → +998 93 555 00 11"} {
		if !strings.Contains(page, want) {
			t.Errorf("the customer's timeline lacks %q", want)
		}
	}

	// One email, in Uzbek (her language), for the admin's change only.
	msg := a.smtp.WaitForText("alice@example.uz", "Manzil o‘zgartirildi", 10*time.Second)
	if msg.Subject != "Buyurtmangiz o‘zgartirildi" || !strings.Contains(msg.Text, "Chilonzor 9-kvartal, 12-uy → Yunusobod 4-mavze, 7-uy") ||
		!strings.Contains(msg.Text, "Narx o‘zgartirildi: 350\u00a0000\u00a0so‘m → 400\u00a0000\u00a0so‘m") {
		t.Errorf("change email %q\n%s", msg.Subject, msg.Text)
	}
	a.h.Wait()
	changed := 0
	for _, m := range a.smtp.Messages() {
		if m.Subject == "Buyurtmangiz o‘zgartirildi" {
			changed++
		}
	}
	if changed != 1 {
		t.Errorf("%d change emails, want 1 (the customer's own reschedule tells her nothing)", changed)
	}
}
