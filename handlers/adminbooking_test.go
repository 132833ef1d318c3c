package handlers

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"tozalash/store"
)

// #19 item 18: the admin edits an order's details from its page (the
// form comes back with the values and the errors on a refusal, and a
// refusal writes nothing), and books for a customer who phones in: found
// by email, or made with an account whose password they set from the
// emailed link. Only an admin may book for someone else.
func TestAdminEditsAndBooksForACustomer(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o := f.book(t, f.alice, "e1")
	path := "/orders/" + o.ID.Hex()
	admin := a.browser()
	admin.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	local := o.ScheduledAt.In(store.Tashkent)
	edit := func(address, phone, price string) url.Values {
		return url.Values{"date": {local.Format("2006-01-02")}, "time": {local.Format("15:04")}, "address": {address}, "phone": {phone}, "price": {price}, "notes": {"Mushuk bor"}}
	}
	unchanged := func(t *testing.T) {
		got, _ := a.h.orders.Get(context.Background(), o.ID)
		if got.Address != o.Address || got.Price != o.Price || len(got.History) != 1 {
			t.Errorf("a refused edit wrote: %+v", got)
		}
	}

	page := admin.get(path)
	for _, want := range []string{`data-testid="edit-form"`, `value="Chilonzor 9-kvartal, 12-uy"`, `value="350000"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the admin's order page lacks %q", want)
		}
	}
	bad := admin.htmx("PATCH", path, edit("Yunusobod 4-mavze, 7-uy", "12345", "400000"))
	if bad.status != 422 || !strings.Contains(bad.body, `value="Yunusobod 4-mavze, 7-uy"`) || !strings.Contains(bad.body, "O‘zbekiston raqamini kiriting") || !strings.Contains(bad.body, `data-testid="edit-form"`) {
		t.Errorf("a bad phone = %d %s", bad.status, clip(bad.body))
	}
	unchanged(t)
	good := admin.htmx("PATCH", path, edit("Yunusobod 4-mavze, 7-uy", "+998 93 555 00 11", "400000"))
	if good.status != 200 || !strings.Contains(good.body, "Chilonzor 9-kvartal, 12-uy → Yunusobod 4-mavze, 7-uy") || !strings.Contains(good.body, "Saqlandi. Mijozga xat yuborildi.") {
		t.Errorf("the edit = %d %s", good.status, clip(good.body))
	}
	if got, _ := a.h.orders.Get(context.Background(), o.ID); got.Price != 400000 || got.Phone != "+998935550011" {
		t.Errorf("after the edit: %+v", got)
	}

	// Booking for a customer.
	board := admin.get("/orders")
	if !strings.Contains(board.body, `href="/orders/new"`) || !strings.Contains(admin.get("/orders/new").body, `data-testid="admin-booking-form"`) {
		t.Error("no New booking on the board, or no form behind it")
	}
	orders := func(n int64) func(*testing.T, *testApp) {
		return func(t *testing.T, _ *testApp) {
			if got := f.orderCount(t); got != n {
				t.Errorf("%d orders, want %d", got, n)
			}
		}
	}
	post := func(token, body string) request {
		return request{method: "POST", path: "/orders", body: body, contentType: "application/json", headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + token}}
	}
	visit := `"serviceId":"` + f.svc.ID.Hex() + `","scheduledAt":"` + slot(2, 11, 0) + `","address":"Sergeli 5, 10-uy","phone":"+998901112233"`
	runScenarios(t, a, []scenario{
		{name: "a customer cannot book for someone else", req: post(f.bob, `{`+visit+`,"customer":{"email":"alice@example.uz"}}`), status: 403, after: orders(1)},
		{name: "a bad customer email is 422", req: post(f.admin, `{`+visit+`,"customer":{"email":"not-an-email"}}`), status: 422, contains: []string{`"customerEmail":`}, after: orders(1)},
		{name: "a phone nobody has, without an email, is 422", req: post(f.admin, `{`+visit+`,"customer":{"phone":"+998 99 000 00 00"}}`), status: 422, contains: []string{`"customerEmail":"Bu telefon bilan mijoz topilmadi`}, after: orders(1)},
		{name: "an existing customer is found by email", req: post(f.admin, `{`+visit+`,"idempotencyKey":"a1","customer":{"email":"ALICE@example.uz"}}`), status: 201,
			contains: []string{`"userId":"` + f.aliceU.ID.Hex() + `"`}, after: orders(2)},
		{name: "a new customer is made", req: post(f.admin, `{`+visit+`,"idempotencyKey":"a2","customer":{"email":"nodira@example.uz","name":"Nodira Karimova","phone":"93 444 55 66"}}`), status: 201, after: orders(3)},
		{name: "and found by phone next time", req: post(f.admin, `{`+visit+`,"idempotencyKey":"a3","customer":{"phone":"+998934445566"}}`), status: 201, after: orders(4)},
	})
	nodira, err := a.h.users.GetByEmail(context.Background(), "nodira@example.uz")
	if err != nil || nodira.Name != "Nodira Karimova" || nodira.Phone != "+998934445566" {
		t.Fatalf("the new customer: %+v %v", nodira, err)
	}
	if n := f.ordersOf(t, nodira); n != 2 {
		t.Errorf("the new customer has %d orders, want 2", n)
	}
	// She sets her password from the welcome email and signs in.
	welcome := a.smtp.WaitForText("nodira@example.uz", "parol o‘rnating", 10*time.Second)
	var link string
	for _, l := range welcome.Links() {
		if strings.Contains(l, "/auth/password/reset?token=") {
			link = l
		}
	}
	token, _ := url.Parse(link)
	if token == nil || token.Query().Get("token") == "" {
		t.Fatalf("no set-password link in %v", welcome.Links())
	}
	if r := a.api("").do("POST", "/auth/password/reset", `{"token":"`+token.Query().Get("token")+`","password":"Nodira-uy-2026!"}`); r.status != 200 {
		t.Fatalf("set the password = %d %s", r.status, r.body)
	}
	a.login("nodira@example.uz", "Nodira-uy-2026!")
	a.smtp.WaitForText("nodira@example.uz", "Sergeli 5", 10*time.Second) // the booking's confirmation
}

func (f *orderFixture) ordersOf(t *testing.T, u *store.User) int {
	t.Helper()
	items, _, err := f.a.h.orders.ForCustomer(context.Background(), u.ID, [12]byte{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	return len(items)
}
