package handlers

import (
	"context"
	"encoding/csv"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/store"
	"tozalash/views"
)

// priceFixture is the orders' fixture with a service priced by rooms and
// bathrooms, one by area, the company's frequency discounts and promo
// codes, all set through the stores (their admin pages are another part
// of #20).
type priceFixture struct {
	*orderFixture
	rooms, area store.Service
	codes       map[string]*store.PromoCode
}

func newPriceFixture(t *testing.T) *priceFixture {
	f := &priceFixture{orderFixture: newOrderFixture(t), codes: map[string]*store.PromoCode{}}
	bg := context.Background()
	f.rooms = store.Service{Name: store.Texts{Uz: "Uyni tozalash", Ru: "Уборка дома", En: "Home cleaning"}, Price: 200_000, DurationMinutes: 120,
		Pricing: store.Pricing{Base: 100_000, PerRoom: 50_000, PerBathroom: 40_000, Minimum: 200_000, BaseMinutes: 60, MinutesPerRoom: 30, MinutesPerBathroom: 20},
		Extras: []store.Extra{
			{ID: "fridge", Name: store.Texts{Uz: "Muzlatgich ichi", Ru: "Внутри холодильника", En: "Inside the fridge"}, Price: 35_000, Minutes: 30, Active: true},
			{ID: "windows", Name: store.Texts{Uz: "Derazalar", Ru: "Окна", En: "Windows"}, Price: 15_000, Minutes: 10, Countable: true, Active: true},
			{ID: "oven", Name: store.Texts{Uz: "Duxovka ichi"}, Price: 30_000, Minutes: 20, Active: false},
		}}
	f.area = store.Service{Name: store.Texts{Uz: "Ofisni tozalash"}, Price: 250_000, DurationMinutes: 120,
		Pricing: store.Pricing{PerSquareMetre: 4_500, Minimum: 250_000, BaseMinutes: 30, MinutesPer10SquareMetres: 12}}
	for _, s := range []*store.Service{&f.rooms, &f.area} {
		if err := f.a.h.services.Create(bg, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.a.db.InsertRaw(bg, "settings", bson.D{{Key: "_id", Value: "company"},
		{Key: "frequencyDiscounts", Value: store.FrequencyDiscounts{Weekly: 15, Biweekly: 10, Monthly: 5}}}); err != nil {
		t.Fatal(err)
	}
	past, future := time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	for _, p := range []*store.PromoCode{
		{Code: "bahor10", PercentOff: 10, Active: true},
		{Code: "TUGADI", AmountOff: 20_000, MaxUses: 1, Active: true},
		{Code: "ESKI", PercentOff: 10, ValidTo: &past, Active: true},
		{Code: "KELAJAK", PercentOff: 10, ValidFrom: &future, Active: true},
		{Code: "BIRINCHI", AmountOff: 50_000, FirstOrderOnly: true, Active: true},
		{Code: "OFIS", PercentOff: 10, ServiceIDs: []primitive.ObjectID{f.area.ID}, Active: true},
		{Code: "YOPIQ", PercentOff: 50, Active: false},
	} {
		if err := f.a.h.promos.Create(bg, p); err != nil {
			t.Fatal(err)
		}
		f.codes[p.Code] = p
	}
	// TUGADI's one use is someone else's.
	if err := f.a.h.promos.Claim(bg, f.codes["TUGADI"], primitive.NewObjectID(), primitive.NewObjectID()); err != nil {
		t.Fatal(err)
	}
	return f
}

// promoUses is how many uses the code's claims hold.
func (f *priceFixture) promoUses(t *testing.T, code string) int {
	t.Helper()
	p, err := f.a.h.promos.Get(context.Background(), f.codes[code].ID)
	if err != nil {
		t.Fatal(err)
	}
	return p.Uses
}

// quoteJSON is a JSON body of /quote for the rooms service.
func (f *priceFixture) quoteJSON(extra string) string {
	return `{"serviceId":"` + f.rooms.ID.Hex() + `"` + extra + `}`
}

// The big quote of the hand-worked table (store/pricing_test.go): 3 rooms,
// 2 bathrooms, the fridge and 3 windows, weekly: 410 000 − 15 % = 348 500,
// rounded to 349 000; 60 + 90 + 40 + 30 + 30 = 250 minutes.
const bigQuote = `,"rooms":3,"bathrooms":2,"extras":[{"id":"fridge","count":1},{"id":"windows","count":3}],"frequency":"weekly"`

func TestQuoteRoutes(t *testing.T) {
	f := newPriceFixture(t)
	a := f.a
	post := func(body string, headers map[string]string) request {
		h := map[string]string{"Accept": "application/json"}
		for k, v := range headers {
			h[k] = v
		}
		return request{method: "POST", path: "/quote", body: body, contentType: "application/json", headers: h}
	}
	form := func(v url.Values, headers map[string]string) request {
		return request{method: "POST", path: "/quote", body: v.Encode(), contentType: "application/x-www-form-urlencoded", headers: headers}
	}
	htmxForm := url.Values{"serviceId": {f.rooms.ID.Hex()}, "rooms": {"3"}, "bathrooms": {"2"}, "extra_fridge": {"1"}, "extra_windows": {"3"}, "extra_oven": {""},
		"frequency": {"weekly"}, "date": {"2026-12-24"}, "address": {""}}
	field := func(name, text string) []string { return []string{`"code":"validation"`, `"` + name + `":"`, text} }
	noUses := func(t *testing.T, _ *testApp) {
		if n := f.promoUses(t, "BAHOR10"); n != 0 {
			t.Errorf("a quote claimed %d uses of the code", n)
		}
	}
	runScenarios(t, a, []scenario{
		{name: "JSON without cookies: every line labelled, the weekly discount, rounded to 1,000 so'm", req: post(f.quoteJSON(bigQuote), nil), status: 200,
			contains: []string{`"lines":[{"kind":"base","label":"Asosiy narx","unitPrice":100000,"quantity":1,"amount":100000}`,
				`"label":"Xonalar","unitPrice":50000,"quantity":3,"amount":150000`, `"label":"Hammomlar","unitPrice":40000,"quantity":2,"amount":80000`,
				`"label":"Muzlatgich ichi","unitPrice":35000,"quantity":1,"amount":35000`, `"label":"Derazalar","unitPrice":15000,"quantity":3,"amount":45000`,
				`"subtotal":410000`, `"discounts":[{"kind":"frequency","percent":15,"label":"Har hafta: −15%","amount":61500}]`,
				`"total":349000`, `"durationMinutes":250`, `"currency":"UZS"`}},
		{name: "labels in Russian", req: post(f.quoteJSON(bigQuote), acceptLang("ru")), status: 200,
			contains: []string{`"label":"Комнаты"`, `"label":"Санузлы"`, `"label":"Внутри холодильника"`, `"label":"Каждую неделю: −15%"`, `"total":349000`}},
		{name: "labels in English", req: post(f.quoteJSON(bigQuote), acceptLang("en")), status: 200,
			contains: []string{`"label":"Rooms"`, `"label":"Windows"`, `"label":"Weekly: −15%"`}},
		{name: "below the minimum: a line raises it", req: post(f.quoteJSON(`,"rooms":1,"bathrooms":1`), nil), status: 200,
			contains: []string{`"kind":"minimum","label":"Eng kam buyurtma narxigacha","unitPrice":10000`, `"total":200000`, `"durationMinutes":110`}},
		{name: "a promo code previewed (any case), not claimed", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"promoCode":" Bahor10 "`), nil), status: 200,
			contains: []string{`"kind":"promo","percent":10,"code":"BAHOR10","label":"Promokod BAHOR10: −10%","amount":24000`, `"total":216000`, `"promoCode":"BAHOR10"`},
			after:    noUses},
		{name: "a service priced before the calculator: its flat price", req: post(`{"serviceId":"`+f.svc.ID.Hex()+`"}`, nil), status: 200,
			contains: []string{`"kind":"base"`, `"total":350000`, `"durationMinutes":180`}},
		{name: "htmx: the panel alone, in so'm", req: form(htmxForm, a.withCSRF(asHTMX)), status: 200,
			contains:    []string{`id="price-panel"`, `data-testid="price-total">` + views.Price("uz", 349_000), "Har hafta: −15%", "3 × " + views.Price("uz", 15_000)},
			notContains: []string{"<html", "booking-form"}},
		{name: "htmx: a bad size is the panel with the message, 422 (htmx swaps it)", req: form(url.Values{"serviceId": {f.rooms.ID.Hex()}, "rooms": {"0"}, "bathrooms": {"1"}}, a.withCSRF(asHTMX)), status: 422,
			contains: []string{`id="price-panel"`, "Xonalar soni 1 dan 20 gacha bo‘lishi kerak."}},
		{name: "a form without the CSRF token is refused", req: form(htmxForm, asHTMX), status: 403},
		{name: "0 rooms where the service prices by room", req: post(f.quoteJSON(`,"rooms":0,"bathrooms":1`), nil), status: 422, contains: field("rooms", "Xonalar soni 1 dan 20")},
		{name: "absurd bathrooms", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":11`), nil), status: 422, contains: field("bathrooms", "Hammomlar soni")},
		{name: "10,000 m²", req: post(`{"serviceId":"`+f.area.ID.Hex()+`","area":10000}`, nil), status: 422, contains: field("area", "Maydon 1 dan 1000")},
		{name: "a negative area, in Russian", req: post(`{"serviceId":"`+f.area.ID.Hex()+`","area":-5}`, acceptLang("ru")), status: 422, contains: field("area", "Площадь должна быть")},
		{name: "an archived extra", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"extras":[{"id":"oven","count":1}]`), nil), status: 422, contains: field("extras", "Bu qo‘shimcha xizmat taklif qilinmaydi.")},
		{name: "an unknown extra", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"extras":[{"id":"pool","count":1}]`), nil), status: 422, contains: field("extras", "taklif qilinmaydi")},
		{name: "a count on a tick-only extra", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"extras":[{"id":"fridge","count":2}]`), nil), status: 422, contains: field("extras", "faqat belgilash mumkin")},
		{name: "too many windows", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"extras":[{"id":"windows","count":21}]`), nil), status: 422, contains: field("extras", "0 dan 20 gacha")},
		{name: "a form's count that is no number", req: form(url.Values{"serviceId": {f.rooms.ID.Hex()}, "rooms": {"2"}, "bathrooms": {"1"}, "extra_windows": {"uch"}}, a.withCSRF(asJSON)), status: 422, contains: field("extras", "0 dan 20 gacha")},
		{name: "an unknown frequency", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"frequency":"daily"`), nil), status: 422, contains: field("frequency", "Qanchalik tez-tezligini")},
		{name: "no service", req: post(`{"rooms":2}`, nil), status: 422, contains: []string{`"serviceId":`}},
		{name: "an unknown service", req: post(`{"serviceId":"`+primitive.NewObjectID().Hex()+`"}`, nil), status: 422, contains: field("serviceId", "Bunday xizmat yo‘q.")},
		{name: "an archived service", req: post(`{"serviceId":"`+f.archived.ID.Hex()+`"}`, nil), status: 422, contains: field("serviceId", "Bunday xizmat yo‘q.")},
		{name: "an unknown code says nothing of the others", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"promoCode":"BAHOR"`), nil), status: 422,
			contains: field("promoCode", "Bunday promokod yo‘q."), notContains: []string{"BAHOR10", "total"}},
		{name: "a disabled code reads as unknown", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"promoCode":"yopiq"`), nil), status: 422, contains: field("promoCode", "Bunday promokod yo‘q.")},
		{name: "an expired code", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"promoCode":"ESKI"`), nil), status: 422, contains: field("promoCode", "muddati tugagan")},
		{name: "a code not valid yet, in English", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"promoCode":"KELAJAK"`), acceptLang("en")), status: 422, contains: field("promoCode", "This promo code is not valid yet.")},
		{name: "a code for another service", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"promoCode":"OFIS"`), nil), status: 422, contains: field("promoCode", "bu xizmatga amal qilmaydi")},
		{name: "a first-order code, anonymous: no prior orders", req: post(f.quoteJSON(`,"rooms":2,"bathrooms":1,"promoCode":"BIRINCHI"`), nil), status: 200, contains: []string{`"total":190000`}},
		{name: "a bad size and a bad code: both fields", req: post(f.quoteJSON(`,"rooms":0,"bathrooms":1,"promoCode":"ESKI"`), nil), status: 422, contains: []string{`"rooms":`, `"promoCode":`}},
		{name: "an operator for a size is 400", req: post(f.quoteJSON(`,"rooms":{"$gt":0}`), nil), status: 400},
	})
}

// bookJSON books the rooms service as token with the pricing input extra.
func (f *priceFixture) bookJSON(token, key, when, extra string) response {
	return f.a.api(token).do("POST", "/orders", `{"serviceId":"`+f.rooms.ID.Hex()+`","scheduledAt":"`+when+`","address":"Chilonzor 9-kvartal, 12-uy","phone":"+998901234567","idempotencyKey":"`+key+`"`+extra+`}`)
}

// oneVisitPlans sets bookings six days ahead at most: a weekly booking
// (the discount's tests) makes a plan whose later visits fall past the
// horizon, so that each booking is one order, as before plans (#23).
func (f *priceFixture) oneVisitPlans(t *testing.T) {
	t.Helper()
	rules := store.DefaultScheduleRules()
	rules.HorizonDays = 6
	if _, err := f.a.h.settings.PutScheduleRules(context.Background(), rules); err != nil {
		t.Fatal(err)
	}
}

func TestBookingWithPricing(t *testing.T) {
	f := newPriceFixture(t)
	f.oneVisitPlans(t)
	a := f.a
	bg := context.Background()
	withCode := bigQuote + `,"promoCode":"bahor10"`
	// What the calculator says is what the booking charges.
	quoted := a.api("").do("POST", "/quote", f.quoteJSON(withCode))
	if quoted.status != 200 {
		t.Fatalf("quote = %d %s", quoted.status, quoted.body)
	}
	quotedTotal := jsonField(t, quoted.body, "total").(float64)
	if quotedTotal != 314_000 { // 348 500 − 10 % (34 850) = 313 650 → 314 000
		t.Fatalf("quoted total = %v, want 314000", quotedTotal)
	}
	var firstID primitive.ObjectID
	booking := func(key string) request {
		return request{method: "POST", path: "/orders", contentType: "application/json", headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.alice},
			body: `{"serviceId":"` + f.rooms.ID.Hex() + `","scheduledAt":"` + slot(1, 10, 0) + `","address":"Chilonzor 9-kvartal, 12-uy","phone":"+998901234567","idempotencyKey":"` + key + `"` + withCode + `}`}
	}
	counts := func(orders int64, uses int) func(*testing.T, *testApp) {
		return func(t *testing.T, _ *testApp) {
			if got := f.orderCount(t); got != orders {
				t.Errorf("%d orders, want %d", got, orders)
			}
			if got := f.promoUses(t, "BAHOR10"); got != uses {
				t.Errorf("%d uses of BAHOR10, want %d", got, uses)
			}
		}
	}
	runScenarios(t, a, []scenario{
		{name: "booked: the snapshot, the total /quote said, the code claimed once", req: booking("p1"), status: 201,
			contains: []string{`"price":314000`, `"total":314000`, `"subtotal":410000`, `"durationMinutes":250`, `"promoCode":"BAHOR10"`, `"frequency":"weekly"`,
				`"label":"Xonalar"`, `"label":"Promokod BAHOR10: −10%","amount":34850`},
			after: func(t *testing.T, a *testApp) {
				counts(1, 1)(t, a)
				orders, _, _ := a.h.orders.ForCustomer(bg, f.aliceU.ID, primitive.NilObjectID, 10)
				o, err := a.h.orders.Get(bg, orders[0].ID)
				if err != nil {
					t.Fatal(err)
				}
				firstID = o.ID
				if len(o.Lines) != 5 || o.Lines[4].ExtraID != "windows" || o.Lines[4].Name.Uz != "Derazalar" || o.Total != 314_000 || o.Price != 314_000 ||
					o.Rounding != 350 || len(o.Discounts) != 2 || o.DurationMinutes != 250 {
					t.Errorf("stored snapshot = %+v", o)
				}
			}},
		{name: "a retry with the same key: the same order, one use", req: booking("p1"), status: 200, contains: []string{`"total":314000`},
			after: func(t *testing.T, a *testApp) {
				counts(1, 1)(t, a)
				if o, err := a.h.orders.ByIdempotencyKey(bg, f.aliceU.ID, "p1"); err != nil || o.ID != firstID {
					t.Errorf("the retry's order = %v, %v", o, err)
				}
			}},
		{name: "the same key with other rooms is another request", req: request{method: "POST", path: "/orders", contentType: "application/json",
			headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.alice},
			body:    strings.Replace(booking("p1").body, `"rooms":3`, `"rooms":4`, 1)}, status: 422, contains: []string{`"idempotencyKey":`}, after: counts(1, 1)},
		{name: "an exhausted code: 422 on promoCode, nothing written", req: request{method: "POST", path: "/orders", contentType: "application/json",
			headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.alice},
			body:    strings.Replace(booking("p2").body, "bahor10", "tugadi", 1)}, status: 422,
			contains: []string{`"promoCode":"Bu promokod tugadi`, "Promokodsiz buyurtma berishingiz mumkin."}, after: counts(1, 1)},
		{name: "a first-order code after a first order", req: request{method: "POST", path: "/orders", contentType: "application/json",
			headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.alice},
			body:    strings.Replace(booking("p3").body, "bahor10", "BIRINCHI", 1)}, status: 422,
			contains: []string{`"promoCode":"Bu promokod faqat birinchi buyurtma uchun."`}, after: counts(1, 1)},
		{name: "the visit's own duration decides the hours: 10 rooms from 14:00 end past 20:00", req: request{method: "POST", path: "/orders", contentType: "application/json",
			headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.bob},
			body:    `{"serviceId":"` + f.rooms.ID.Hex() + `","scheduledAt":"` + slot(1, 14, 0) + `","address":"Yunusobod 4-kvartal","phone":"+998901234567","rooms":10,"bathrooms":1}`},
			status: 422, contains: []string{`"scheduledAt":"Bu vaqtda hech bir brigada ishlamaydi`}, after: counts(1, 1)},
		{name: "a booking with 0 rooms where the service prices by room", req: request{method: "POST", path: "/orders", contentType: "application/json",
			headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.bob},
			body:    `{"serviceId":"` + f.rooms.ID.Hex() + `","scheduledAt":"` + slot(1, 10, 0) + `","address":"Yunusobod 4-kvartal","phone":"+998901234567","rooms":0,"bathrooms":1}`},
			status: 422, contains: []string{`"rooms":"Xonalar soni 1 dan 20 gacha`}, after: counts(1, 1)},
	})

	// The form again keeps every value, so the customer can book without
	// the code: a form post (no JavaScript) with the used-up code.
	v := url.Values{"serviceId": {f.rooms.ID.Hex()}, "date": {time.Now().In(views.Tashkent).AddDate(0, 0, 2).Format("2006-01-02")}, "time": {"11:00"},
		"address": {"Yunusobod 4-kvartal, 7-uy"}, "phone": {"90 765 43 21"}, "rooms": {"4"}, "bathrooms": {"2"}, "extra_windows": {"2"}, "extra_fridge": {"1"},
		"frequency": {"monthly"}, "promoCode": {"TUGADI"}, "idempotencyKey": {"p4"}}
	res := a.do(request{method: "POST", path: "/orders", body: v.Encode(), contentType: "application/x-www-form-urlencoded", headers: map[string]string{"Authorization": "Bearer " + f.bob}})
	if res.status != 422 {
		t.Fatalf("form with a used-up code = %d", res.status)
	}
	for _, want := range []string{"Bu promokod tugadi", `value="TUGADI"`, `value="Yunusobod 4-kvartal, 7-uy"`, `name="rooms" type="number" inputmode="numeric" min="1" max="20" value="4"`,
		`name="extra_windows" type="number" inputmode="numeric" min="0" max="20" value="2"`, `name="extra_fridge" value="1" checked`, `value="monthly" checked`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("the form again lacks %q", want)
		}
	}
	if n := f.orderCount(t); n != 1 {
		t.Errorf("%d orders after the refusal", n)
	}

	// Without JavaScript, "recalculate" shows the price of the form's
	// values and books nothing, even with the address still empty.
	v.Set("promoCode", "")
	v.Set("address", "")
	v.Set("recalculate", "1")
	res = a.do(request{method: "POST", path: "/orders", body: v.Encode(), contentType: "application/x-www-form-urlencoded", headers: map[string]string{"Authorization": "Bearer " + f.bob}})
	// 4 rooms, 2 bathrooms, 2 windows, the fridge: 100 + 200 + 80 + 30 + 35 = 445 000; monthly −5 % = 422 750 → 423 000.
	if res.status != 200 || !strings.Contains(res.body, `data-testid="price-total">`+views.Price("uz", 423_000)) || !strings.Contains(res.body, `data-testid="booking-form"`) {
		t.Errorf("recalculate = %d\n%s", res.status, clip(res.body))
	}
	if n := f.orderCount(t); n != 1 {
		t.Errorf("%d orders after recalculating", n)
	}
}

// 50 customers book at once with a code 10 uses from its limit: exactly 10
// orders carry it, and the 40 others are told, on promoCode, that it ran
// out. On both databases (the shared profile runs it on FerretDB as a
// separate process).
func TestPromoCodeRaceOfFiftyCustomers(t *testing.T) {
	f := newPriceFixture(t)
	a := f.a
	bg := context.Background()
	code := &store.PromoCode{Code: "OXIRGI10", PercentOff: 20, MaxUses: 15, Active: true}
	if err := a.h.promos.Create(bg, code); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ { // 10 uses left
		if err := a.h.promos.Claim(bg, code, primitive.NewObjectID(), primitive.NewObjectID()); err != nil {
			t.Fatal(err)
		}
	}
	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i] = f.customerToken(t, "mijoz"+string(rune('a'+i/26))+string(rune('a'+i%26)))
	}
	statuses := make([]response, len(tokens))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, token := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = f.bookJSON(token, "race", slot(1+i%25, 9+5*(i/25), 0), `,"rooms":2,"bathrooms":1,"promoCode":"oxirgi10"`)
		}()
	}
	close(start)
	wg.Wait()
	won, refused := 0, 0
	for _, r := range statuses {
		switch {
		case r.status == 201 && strings.Contains(r.body, `"promoCode":"OXIRGI10"`) && strings.Contains(r.body, `"total":192000`):
			won++
		case r.status == 422 && strings.Contains(r.body, `"promoCode":"Bu promokod tugadi`):
			refused++
		default:
			t.Errorf("unexpected answer %d %s", r.status, clip(r.body))
		}
	}
	if won != 10 || refused != 40 {
		t.Errorf("%d booked with the code and %d refused, want 10 and 40", won, refused)
	}
	if n := f.orderCount(t); n != 10 {
		t.Errorf("%d orders, want 10", n)
	}
	if p, _ := a.h.promos.Get(bg, code.ID); p.Uses != 15 {
		t.Errorf("the code has %d uses, want 15", p.Uses)
	}
}

// customerToken makes a verified customer in the store and signs them in
// (a password hash each would make the race a test of the hasher).
func (f *priceFixture) customerToken(t *testing.T, username string) string {
	t.Helper()
	bg := context.Background()
	u := &store.User{Username: username, Email: username + "@example.uz", PasswordHash: "-", Role: store.RoleUser, IsVerified: true, Locale: "uz"}
	if err := f.a.h.users.Create(bg, u); err != nil {
		t.Fatal(err)
	}
	sid := primitive.NewObjectID()
	_, hash := auth.NewCompound(sid)
	now := time.Now()
	if err := f.a.h.sessions.Create(bg, &store.Session{ID: sid, UserID: u.ID, RefreshHash: hash, UsedHashes: []string{}, CreatedAt: now, RotatedAt: now, ExpiresAt: now.Add(auth.SessionTTL)}); err != nil {
		t.Fatal(err)
	}
	token, err := f.a.h.tokens.IssueAccess(u.ID, sid, u.TokenVersion, now)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// An order's snapshot everywhere: its page, its JSON, the board's CSV,
// the email; an admin's new price as the company's adjustment; the
// revenue; and an order made before the calculator as one line.
func TestOrderSnapshotEverywhere(t *testing.T) {
	f := newPriceFixture(t)
	f.oneVisitPlans(t)
	a := f.a
	bg := context.Background()
	res := f.bookJSON(f.alice, "s1", slot(1, 10, 0), bigQuote)
	if res.status != 201 {
		t.Fatalf("book = %d %s", res.status, res.body)
	}
	id := jsonField(t, res.body, "id").(string)
	// An order of before #20: no lines, its price only.
	old := store.Order{ID: primitive.NewObjectID(), UserID: f.bobU.ID, CustomerName: "bob", ServiceID: f.svc.ID, ServiceName: f.svc.Name.Uz, Status: store.StatusPending,
		Price: 300_000, ScheduledAt: time.Now().Add(48 * time.Hour).UTC().Truncate(time.Millisecond), Address: "Sergeli 5", Phone: "+998901112233",
		History: []store.StatusChange{{Status: store.StatusPending, At: time.Now().UTC()}}, IdempotencyKey: "old", CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	if err := a.h.orders.Import(bg, []store.Order{old}); err != nil {
		t.Fatal(err)
	}
	page := func(token, path string, headers map[string]string) request {
		h := map[string]string{"Authorization": "Bearer " + token}
		for k, v := range headers {
			h[k] = v
		}
		return request{path: path, headers: h}
	}
	uz := func(n int64) string { return views.Price("uz", n) }
	runScenarios(t, a, []scenario{
		{name: "the order page: every line, the discount, the rounding, the total, the duration", req: page(f.alice, "/orders/"+id, nil), status: 200,
			contains: []string{`data-testid="order-price"`, "Xonalar", "3 × " + uz(50_000), uz(150_000), "Derazalar", "3 × " + uz(15_000), "Har hafta: −15%", uz(-61_500),
				`data-testid="price-rounding"`, uz(500), `data-testid="order-total">` + uz(349_000), `data-testid="order-duration">4` + "\u00a0soat 10\u00a0daqiqa"},
			notContains: []string{"price-adjustment"}},
		{name: "its JSON in Russian (the admin's)", req: page(f.admin, "/orders/"+id, map[string]string{"Accept": "application/json", "Cookie": "lang=ru"}), status: 200,
			contains: []string{`"label":"Комнаты"`, `"label":"Каждую неделю: −15%"`, `"subtotal":410000`, `"total":349000`, `"durationMinutes":250`, `"frequency":"weekly"`}},
		{name: "an old order's page: one line of its price", req: page(f.bob, "/orders/"+old.ID.Hex(), nil), status: 200,
			contains: []string{`data-kind="flat"`, "Tozalash", `data-testid="order-total">` + uz(300_000)}, notContains: []string{"price-adjustment", "order-duration"}},
		{name: "an old order's JSON: one line, total = price", req: page(f.bob, "/orders/"+old.ID.Hex(), asJSON), status: 200,
			contains: []string{`"lines":[{"kind":"flat","label":"Tozalash","unitPrice":300000,"quantity":1,"amount":300000}]`, `"total":300000`, `"price":300000`}},
		{name: "the board shows the total", req: page(f.admin, "/orders", nil), status: 200, contains: []string{uz(349_000), uz(300_000)}},
	})

	// The CSV: the columns of before in their places, then the lines, the
	// frequency and the promo code.
	r := a.do(page(f.admin, "/orders.csv", nil))
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\ufeff"))).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("csv = %v, %d rows\n%s", err, len(rows), r.body)
	}
	if h := rows[0]; len(h) != 20 || h[5] != "Narx (so‘m)" || h[12] != "Raqam" || h[13] != "Narx qatorlari" || h[14] != "Qanchalik tez-tez" || h[15] != "Promokod" {
		t.Errorf("csv header = %q", h)
	}
	byID := map[string][]string{}
	for _, row := range rows[1:] {
		byID[row[0]] = row
	}
	if row := byID[id]; row[5] != "349000" || row[13] != "Asosiy narx 1 × 100\u00a0000; Xonalar 3 × 50\u00a0000; Hammomlar 2 × 40\u00a0000; Muzlatgich ichi 1 × 35\u00a0000; Derazalar 3 × 15\u00a0000" || row[14] != "Har hafta" {
		t.Errorf("csv row = %q", row)
	}
	if row := byID[old.ID.Hex()]; row[5] != "300000" || row[13] != "Tozalash 1 × 300\u00a0000" || row[14] != "Bir marta" || row[15] != "" {
		t.Errorf("old csv row = %q", row)
	}

	// The confirmation email lists the lines and the total.
	mail := a.smtp.WaitForText("alice@example.uz", "Xonalar", 10*time.Second)
	for _, want := range []string{"Xonalar · 3 × " + uz(50_000) + ": " + uz(150_000), "Har hafta: −15%: " + uz(-61_500), "Jami: " + uz(349_000)} {
		if !strings.Contains(mail.Text, want) {
			t.Errorf("the email's text lacks %q\n%s", want, mail.Text)
		}
	}
	if !strings.Contains(mail.HTML, "Derazalar") || !strings.Contains(mail.HTML, uz(349_000)) {
		t.Error("the email's HTML lacks the lines or the total")
	}

	// The admin charges 400 000 instead: the lines stay, the difference is
	// the company's adjustment; the customer hears of it by email.
	patch := a.api(f.admin).do("PATCH", "/orders/"+id, `{"price":400000}`)
	if patch.status != 200 || !strings.Contains(patch.body, `"price":400000`) || !strings.Contains(patch.body, `"total":400000`) || !strings.Contains(patch.body, `"subtotal":410000`) {
		t.Fatalf("patch = %d %s", patch.status, clip(patch.body))
	}
	runScenarios(t, a, []scenario{
		{name: "the adjustment on the order page", req: page(f.alice, "/orders/"+id, nil), status: 200,
			contains: []string{"Xonalar", `data-testid="price-adjustment"`, "Kompaniya tuzatishi", uz(51_000), `data-testid="order-total">` + uz(400_000)}},
		{name: "in English (the admin's)", req: page(f.admin, "/orders/"+id, map[string]string{"Cookie": "lang=en"}), status: 200, contains: []string{"Company adjustment", "51,000\u00a0UZS"}},
	})
	changed := a.smtp.WaitForText("alice@example.uz", "Kompaniya tuzatishi", 10*time.Second)
	if !strings.Contains(changed.Text, "Jami: "+uz(400_000)) {
		t.Errorf("the change's email = %s", changed.Text)
	}

	// The old order's email (the admin cancels it) shows its one line.
	if r := a.api(f.admin).do("PATCH", "/orders/"+old.ID.Hex(), `{"status":"CANCELLED"}`); r.status != 200 {
		t.Fatalf("cancel = %d %s", r.status, r.body)
	}
	if m := a.smtp.WaitForText("bob@example.uz", "Tozalash: "+uz(300_000), 10*time.Second); !strings.Contains(m.Text, "Jami: "+uz(300_000)) {
		t.Errorf("the old order's email = %s", m.Text)
	}

	// Completed, it counts its total (the admin's) in the revenue.
	f.clock.advance(48 * time.Hour)
	oid, _ := primitive.ObjectIDFromHex(id)
	f.arrived(t, oid)
	if r := a.api(f.admin).do("PATCH", "/orders/"+id, `{"status":"COMPLETED"}`); r.status != 200 {
		t.Fatalf("complete = %d %s", r.status, r.body)
	}
	stats := a.api(f.admin).do("GET", "/admin/statistics", "")
	if got := jsonField(t, stats.body, "revenue"); got != float64(400_000) {
		t.Errorf("revenue = %v, want 400000", got)
	}
}
