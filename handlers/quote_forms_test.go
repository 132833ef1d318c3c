package handlers

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"go.mongodb.org/mongo-driver/bson"

	"tozalash/store"
	"tozalash/store/storetest"
	"tozalash/views"
)

// The booking forms ask for what the service prices by, and show its
// price before anything is typed; the admin's form prices the chosen
// service and books for a customer through the same rules.
func TestBookingFormsPriceTheVisit(t *testing.T) {
	f := newPriceFixture(t)
	a := f.a
	customer := func(path string) request {
		return request{path: path, headers: map[string]string{"Authorization": "Bearer " + f.alice}}
	}
	asAdminJSON := map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.admin}
	adminBooks := func(customerJSON, pricing string) request {
		return request{method: "POST", path: "/orders", contentType: "application/json", headers: asAdminJSON,
			body: `{"serviceId":"` + f.rooms.ID.Hex() + `","scheduledAt":"` + slot(1, 12, 0) + `","address":"Olmazor 3","phone":"+998901234567","customer":` + customerJSON + pricing + `}`}
	}
	f.book(t, f.alice, "before") // for the first-order code below
	bobBooks := request{method: "POST", path: "/orders", contentType: "application/json", headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.bob},
		body: `{"serviceId":"` + f.rooms.ID.Hex() + `","scheduledAt":"` + slot(1, 15, 0) + `","address":"Olmazor 5","phone":"+998901234567","idempotencyKey":"bob1","rooms":2,"bathrooms":1,"promoCode":"birinchi"}`}
	runScenarios(t, a, []scenario{
		{name: "a service priced by rooms: rooms, bathrooms, its active extras, how often, a code, and the price of a small flat", req: customer("/orders/new?serviceId=" + f.rooms.ID.Hex()), status: 200,
			contains: []string{`data-testid="field-rooms"`, `name="rooms" type="number" inputmode="numeric" min="1" max="20" value="2"`, `data-testid="field-bathrooms"`,
				`data-testid="field-extra_fridge"`, `data-testid="more-extra_windows"`, "+30 daqiqa", views.Price("uz", 35_000),
				`data-testid="frequency-weekly"`, "−15%", `data-testid="field-promoCode"`,
				`hx-post="/quote"`, `data-testid="price-total">` + views.Price("uz", 240_000), `data-testid="price-duration">2` + "\u00a0soat 20\u00a0daqiqa", `name="recalculate"`},
			notContains: []string{`data-testid="field-area"`, "Duxovka ichi"}},
		{name: "a service priced by area asks for the area only", req: customer("/orders/new?serviceId=" + f.area.ID.Hex()), status: 200,
			contains:    []string{`data-testid="field-area"`, `data-testid="price-total">` + views.Price("uz", 250_000)},
			notContains: []string{`data-testid="field-rooms"`, `data-testid="extras"`}},
		{name: "the admin's form prices the first service offered", req: request{path: "/orders/new", headers: map[string]string{"Authorization": "Bearer " + f.admin}}, status: 200,
			contains: []string{`data-testid="admin-booking-form"`, `data-testid="price-panel"`, `hx-vals='{"recalculate":"1"}'`}},
		{name: "the admin books for a customer with orders: a first-order code is refused, nobody made", req: adminBooks(`{"email":"alice@example.uz"}`, `,"rooms":2,"bathrooms":1,"promoCode":"BIRINCHI"`),
			status: 422, contains: []string{`"promoCode":"Bu promokod faqat birinchi buyurtma uchun."`}},
		{name: "for a new customer the code holds, and the order is priced", req: adminBooks(`{"email":"yangi@example.uz","name":"Yangi Mijoz"}`, `,"rooms":2,"bathrooms":1,"promoCode":"BIRINCHI"`),
			status: 201, contains: []string{`"total":190000`, `"promoCode":"BIRINCHI"`, `"customerName":"yangi"`}},
		{name: "bob's first order with the first-order code", req: bobBooks, status: 201, contains: []string{`"total":190000`, `"promoCode":"BIRINCHI"`}},
		{name: "its retry is no second order: the first is answered though the code is now for first orders only", req: bobBooks, status: 200,
			contains: []string{`"total":190000`},
			after: func(t *testing.T, a *testApp) {
				if n := f.promoUses(t, "BIRINCHI"); n != 2 { // the new customer's and bob's
					t.Errorf("BIRINCHI has %d uses, want 2", n)
				}
			}},
		{name: "a bad size on the admin's booking writes no account", req: adminBooks(`{"email":"boshqa@example.uz"}`, `,"rooms":0,"bathrooms":1`),
			status: 422, contains: []string{`"rooms":`},
			after: func(t *testing.T, a *testApp) {
				if _, err := a.h.users.GetByEmail(context.Background(), "boshqa@example.uz"); err == nil {
					t.Error("a refused booking made the customer's account")
				}
			}},
	})
}

// A quote reads the database for nothing on the hot path: the service
// comes from the catalogue in memory and the settings from the document
// cache; a typed promo code is one read.
func TestQuoteReadsNoDocumentOnTheHotPath(t *testing.T) {
	db := storetest.Open(t)
	bg := context.Background()
	svc := &store.Service{Name: store.Texts{Uz: "Uyni tozalash"}, Pricing: store.Pricing{Base: 100_000, PerRoom: 50_000, BaseMinutes: 60}}
	if err := store.NewServiceStore(db).Create(bg, svc); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InsertRaw(bg, "settings", bson.D{{Key: "_id", Value: "company"}, {Key: "frequencyDiscounts", Value: store.FrequencyDiscounts{Weekly: 15}}}); err != nil {
		t.Fatal(err)
	}
	if err := store.NewPromoCodeStore(db).Create(bg, &store.PromoCode{Code: "BAHOR10", PercentOff: 10, Active: true}); err != nil {
		t.Fatal(err)
	}
	// The app alone: no mail worker or relay polling the database meanwhile.
	app, _, err := newApp(db, Config{BaseURL: "http://localhost:3000", JWTSecret: testJWTKey}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	quote := func(extra string) {
		req := httptest.NewRequest("POST", "/quote", strings.NewReader(`{"serviceId":"`+svc.ID.Hex()+`","rooms":3,"frequency":"weekly"`+extra+`}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		res, err := app.Test(req, 10_000)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("quote = %v %v", res, err)
		}
	}
	quote("") // the first fills the caches
	before := db.Commands()
	for range 20 {
		quote("")
	}
	// Within a second nothing is read; a test slower than that may see the
	// catalogue's version and the settings read again, once a second each.
	if n := db.Commands() - before; n > 4 {
		t.Errorf("20 quotes sent %d database commands", n)
	}
	before = db.Commands()
	for range 10 {
		quote(`,"promoCode":"bahor10"`)
	}
	if n := db.Commands() - before; n < 10 || n > 14 {
		t.Errorf("10 quotes with a code sent %d database commands, want one each", n)
	}
}

// BenchmarkQuote prices a visit through the app's own handler, with no
// network: JSON anonymous, and the htmx panel signed in (go test -bench
// Quote -benchmem ./handlers).
func BenchmarkQuote(b *testing.B) {
	db := storetest.Open(b)
	bg := context.Background()
	svc := &store.Service{Name: store.Texts{Uz: "Uyni tozalash"}, Pricing: store.Pricing{Base: 100_000, PerRoom: 50_000, PerBathroom: 40_000, BaseMinutes: 60},
		Extras: []store.Extra{{ID: "fridge", Name: store.Texts{Uz: "Muzlatgich ichi"}, Price: 35_000, Active: true}, {ID: "windows", Name: store.Texts{Uz: "Derazalar"}, Price: 15_000, Countable: true, Active: true}}}
	if err := store.NewServiceStore(db).Create(bg, svc); err != nil {
		b.Fatal(err)
	}
	a := newTestAppOn(b, db)
	token, _ := a.signupVerified("alice", "alice@example.uz", "toza-uy-2026")
	h := a.app.Handler()
	for _, c := range []struct {
		name, contentType, body string
		headers                 map[string]string
	}{
		{"JSON", "application/json", `{"serviceId":"` + svc.ID.Hex() + `","rooms":3,"bathrooms":2,"extras":[{"id":"fridge","count":1},{"id":"windows","count":3}],"frequency":"weekly"}`,
			map[string]string{"Accept": "application/json"}},
		{"htmx", "application/x-www-form-urlencoded", "serviceId=" + svc.ID.Hex() + "&rooms=3&bathrooms=2&extra_fridge=1&extra_windows=3&frequency=weekly&promoCode=",
			map[string]string{"HX-Request": "true", "Authorization": "Bearer " + token}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var ctx fasthttp.RequestCtx
				for pb.Next() {
					ctx.Request.Reset()
					ctx.Response.Reset()
					ctx.Request.Header.SetMethod("POST")
					ctx.Request.SetRequestURI("/quote")
					ctx.Request.Header.SetContentType(c.contentType)
					for k, v := range c.headers {
						ctx.Request.Header.Set(k, v)
					}
					ctx.Request.SetBodyString(c.body)
					ctx.ResetUserValues() // the last request's context, cancelled as it ended
					h(&ctx)
					if ctx.Response.StatusCode() != 200 {
						b.Fatalf("quote = %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
					}
				}
			})
		})
	}
}
