package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// The catalogue answers in the reader's language, JSON and pages alike,
// and what is kept of it is kept per language: a Russian reader after an
// Uzbek one reads Russian.
func TestCatalogueInReadersLanguage(t *testing.T) {
	a := newTestApp(t)
	svc := demoServices(t, a)[0]
	for _, lang := range []string{"uz", "ru", "en", "uz"} { // each after another, from the cache
		want := svc.Name.In(lang)
		list := a.do(request{path: "/services", headers: map[string]string{"Accept": "application/json", "Cookie": "lang=" + lang}})
		if list.status != 200 || !strings.Contains(list.body, `"title":"`+want+`"`) || !strings.Contains(list.body, `"summary":"`+svc.Description.In(lang)+`"`) {
			t.Errorf("GET /services in %s lacks the title %q\n%s", lang, want, clip(list.body))
		}
		one := a.do(request{path: "/services/" + svc.ID.Hex(), headers: map[string]string{"Accept": "application/json", "Cookie": "lang=" + lang}})
		if !strings.Contains(one.body, `"title":"`+want+`"`) || !strings.Contains(one.body, `"name":{"uz":"Kvartirani umumiy tozalash","ru":"Генеральная уборка квартиры","en":"Apartment deep cleaning"}`) {
			t.Errorf("GET /services/:id in %s = %s", lang, clip(one.body))
		}
		for _, path := range []string{"/", "/services", "/services/" + svc.ID.Hex()} {
			if page := a.do(request{path: path, headers: map[string]string{"Cookie": "lang=" + lang}}); !strings.Contains(page.body, want) {
				t.Errorf("%s in %s lacks %q", path, lang, want)
			}
		}
	}
	if ru := a.do(request{path: "/services", headers: map[string]string{"Cookie": "lang=ru"}}); strings.Contains(ru.body, ">Kvartirani umumiy tozalash<") {
		t.Errorf("the Russian catalogue shows the Uzbek name")
	}
}

// An admin writes a service in three languages; Uzbek is required (422
// name.uz, nothing written), the others fall back to it.
func TestServiceNamesInThreeLanguages(t *testing.T) {
	a := newTestApp(t)
	admin, _ := a.admin()
	before, _ := a.h.services.Count(context.Background())
	r := a.api(admin).do("POST", "/services", `{"name":{"ru":"Мойка","en":"Washing"},"price":1000,"durationMinutes":60}`)
	if r.status != 422 || !strings.Contains(r.body, `"name.uz":`) {
		t.Errorf("no Uzbek name = %d %s", r.status, r.body)
	}
	if n, _ := a.h.services.Count(context.Background()); n != before {
		t.Errorf("a service without an Uzbek name was written")
	}
	r = a.api(admin).do("POST", "/services", `{"name":{"uz":"Oyna yuvish","ru":"Мойка окон"},"description":{"uz":"Derazalar"},"price":1000,"durationMinutes":60}`)
	if r.status != 201 || !strings.Contains(r.body, `"name":{"uz":"Oyna yuvish","ru":"Мойка окон","en":""}`) {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	id := jsonField(t, r.body, "id").(string)
	for lang, want := range map[string]string{"uz": "Oyna yuvish", "ru": "Мойка окон", "en": "Oyna yuvish"} {
		g := a.do(request{path: "/services/" + id, headers: map[string]string{"Accept": "application/json", "Cookie": "lang=" + lang}})
		if !strings.Contains(g.body, `"title":"`+want+`"`) || !strings.Contains(g.body, `"summary":"Derazalar"`) {
			t.Errorf("in %s: %s", lang, g.body)
		}
	}
	r = a.api(admin).do("PATCH", "/services/"+id, `{"name":{"uz":"","en":"Window washing"}}`)
	if r.status != 422 || !strings.Contains(r.body, `"name.uz":`) {
		t.Errorf("a patch dropping Uzbek = %d %s", r.status, r.body)
	}
	r = a.api(admin).do("PATCH", "/services/"+id, `{"name":{"uz":"Oyna yuvish","ru":"Мойка окон","en":"Window washing"}}`)
	if r.status != 200 || !strings.Contains(r.body, `"en":"Window washing"`) || !strings.Contains(r.body, `"description":{"uz":"Derazalar"`) {
		t.Errorf("patch = %d %s", r.status, r.body)
	}
	// the admin's form has the three languages
	b := a.browser()
	b.postForm("/auth/login", map[string][]string{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	form := b.get("/services/" + id + "/edit")
	for _, want := range []string{`name="name_uz"`, `name="name_ru"`, `name="name_en"`, `name="description_ru"`, `value="Мойка окон"`, `value="Window washing"`} {
		if !strings.Contains(form.body, want) {
			t.Errorf("the edit form lacks %s", want)
		}
	}
}

// An order keeps its service's name in every language at booking and
// shows it in the reader's; an order booked before that (an Uzbek name
// only) shows the catalogue's current name while the service exists, else
// its Uzbek one.
func TestOrderServiceNameInReadersLanguage(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o := f.book(t, f.alice, "n1")
	if o.ServiceNames != f.svc.Name {
		t.Fatalf("snapshot = %+v", o.ServiceNames)
	}
	// renamed later: the order keeps what was booked
	renamed := store.Texts{Uz: "Yangi nom", Ru: "Новое имя", En: "New name"}
	if _, err := a.h.services.Update(context.Background(), f.svc.ID, store.ServiceChange{Name: &renamed}); err != nil {
		t.Fatal(err)
	}
	ru := func(token string) map[string]string {
		h := bearer(token, false)
		h["Cookie"] = "lang=ru"
		return h
	}
	if p := a.do(request{path: "/orders/" + o.ID.Hex(), headers: ru(f.alice)}); !strings.Contains(p.body, `data-testid="order-title">Генеральная уборка квартиры<`) {
		t.Errorf("the Russian order page = %s", clip(between(p.body, `data-testid="order-title"`, "</h1>")))
	}
	if l := a.do(request{path: "/orders", headers: ru(f.alice)}); !strings.Contains(l.body, "Генеральная уборка квартиры") {
		t.Errorf("the Russian list of orders lacks the Russian name")
	}
	if bd := a.do(request{path: "/orders", headers: ru(f.admin)}); !strings.Contains(bd.body, `data-testid="board-service">Генеральная уборка квартиры<`) {
		t.Errorf("the Russian board lacks the Russian name")
	}
	if j := a.api(f.alice).do("GET", "/orders/"+o.ID.Hex(), ""); !strings.Contains(j.body, `"serviceNames":{"uz":"Kvartirani umumiy tozalash","ru":"Генеральная уборка квартиры","en":"Apartment deep cleaning"}`) {
		t.Errorf("order JSON = %s", clip(j.body))
	}

	// booked before the snapshot had three languages
	old := &store.Order{UserID: f.aliceU.ID, CustomerName: "alice", ServiceID: f.svc.ID, ServiceName: "Kvartirani umumiy tozalash", Price: 1,
		ScheduledAt: time.Now().Add(48 * time.Hour), Address: "x", Phone: "+998901234567", IdempotencyKey: "old"}
	gone := &store.Order{UserID: f.aliceU.ID, CustomerName: "alice", ServiceID: primitive.NewObjectID(), ServiceName: "Eski xizmat", Price: 1,
		ScheduledAt: time.Now().Add(48 * time.Hour), Address: "x", Phone: "+998901234567", IdempotencyKey: "gone"}
	for _, o := range []*store.Order{old, gone} {
		if err := a.h.orders.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	if p := a.do(request{path: "/orders/" + old.ID.Hex(), headers: ru(f.alice)}); !strings.Contains(p.body, `data-testid="order-title">Новое имя<`) {
		t.Errorf("an old order of a service that exists: %s", clip(between(p.body, `data-testid="order-title"`, "</h1>")))
	}
	if p := a.do(request{path: "/orders/" + gone.ID.Hex(), headers: ru(f.alice)}); !strings.Contains(p.body, `data-testid="order-title">Eski xizmat<`) {
		t.Errorf("an old order of a service gone: %s", clip(between(p.body, `data-testid="order-title"`, "</h1>")))
	}
}

// Emails follow the language the customer last used, before the profile's.
func TestEmailFollowsLastLanguage(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o := f.book(t, f.alice, "e1")
	if f.aliceU.Locale != "uz" {
		t.Fatalf("alice's profile says %q", f.aliceU.Locale)
	}
	if r := a.do(request{path: "/lang/ru?next=/orders", headers: bearer(f.alice, false)}); r.status != 303 {
		t.Fatalf("switch = %d", r.status)
	}
	if r := a.api(f.admin).do("PATCH", "/orders/"+o.ID.Hex(), `{"status":"CANCELLED"}`); r.status != 200 {
		t.Fatalf("cancel = %d %s", r.status, r.body)
	}
	m := a.smtp.WaitForText("alice@example.uz", "Генеральная уборка квартиры", 10*time.Second)
	if m.Subject != "Заказ отменён" {
		t.Errorf("the email after switching to Russian: %q", m.Subject)
	}

	// signed in with a language chosen (the cookie): that one
	if r := a.do(request{path: "/orders", headers: map[string]string{"Authorization": "Bearer " + f.bob, "Cookie": "lang=en"}}); r.status != 200 {
		t.Fatalf("bob's orders = %d", r.status)
	}
	f.book(t, f.bob, "e2")
	m = a.smtp.WaitForText("bob@example.uz", "Apartment deep cleaning", 10*time.Second)
	if m.Subject != "Your booking is confirmed" {
		t.Errorf("bob's email: %q", m.Subject)
	}
}
