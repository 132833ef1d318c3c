package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// completed books a visit for token's customer and has it done.
func (f *orderFixture) completed(t *testing.T, token, key string) *store.Order {
	t.Helper()
	o := f.book(t, token, key)
	f.visitStarted(o)
	f.arrived(t, o.ID)
	if r := f.a.api(f.admin).do("PATCH", "/orders/"+o.ID.Hex(), `{"status":"COMPLETED"}`); r.status != 200 {
		t.Fatalf("complete = %d %s", r.status, r.body)
	}
	return o
}

// TestReviews: the owner rates a completed visit once, changes it within
// 7 days; every bad input is a 4xx that writes nothing; the service page
// shows the average and the comment with the first name only, and an
// admin's hiding takes it off both.
func TestReviews(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	if r := a.api(f.alice).do("PATCH", "/me", `{"name":"Alisa Karimova"}`); r.status != 200 {
		t.Fatalf("name = %d %s", r.status, r.body)
	}
	// The public page before any review: kept in the page cache, which a
	// review must not leave stale.
	svcPath := "/services/" + f.svc.ID.Hex()
	if r := a.do(request{method: "GET", path: svcPath}); r.status != 200 || !strings.Contains(r.body, `data-testid="service-no-reviews"`) {
		t.Fatalf("service page = %d", r.status)
	}
	pending := f.book(t, f.alice, "rv-pending")
	o := f.completed(t, f.alice, "rv-done")
	path := "/orders/" + o.ID.Hex() + "/review"
	post := func(token, p, body string) request { return jsonReq(token, "en", "POST", p, body) }
	nothingWritten := func(t *testing.T, a *testApp) {
		t.Helper()
		if _, err := a.h.reviews.Get(context.Background(), o.ID); err != store.ErrNotFound {
			t.Errorf("a review was stored: %v", err)
		}
		if tl, _ := a.h.reviews.ServiceTally(context.Background(), f.svc.ID); len(tl.Rows) != 0 {
			t.Errorf("tally rows: %+v", tl.Rows)
		}
	}
	rating := func(avg float64, n int) func(t *testing.T, a *testApp) {
		return func(t *testing.T, a *testApp) {
			t.Helper()
			tl, err := a.h.reviews.ServiceTally(context.Background(), f.svc.ID)
			if got := tl.Rating(); err != nil || got.Average != avg || got.Count != n {
				t.Errorf("service rating = %+v %v, want %v/%d", got, err, avg, n)
			}
			if n > 0 && !o.CrewID.IsZero() {
				ct, _ := a.h.reviews.CrewTally(context.Background(), o.CrewID)
				if got := ct.Rating(); got.Average != avg || got.Count != n {
					t.Errorf("crew rating = %+v, want %v/%d", got, avg, n)
				}
			}
		}
	}
	form := func(token, p, body string) request {
		return request{method: "POST", path: p, body: body, contentType: "application/x-www-form-urlencoded",
			headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + token}}
	}
	runScenarios(t, a, []scenario{
		{name: "anonymous", req: request{method: "POST", path: path, body: `{"rating":5}`, contentType: "application/json", headers: asJSON}, status: 401, after: nothingWritten},
		{name: "an order not completed", req: post(f.alice, "/orders/"+pending.ID.Hex()+"/review", `{"rating":5}`), status: 409, contains: []string{`"code":"not_completed"`}, after: nothingWritten},
		{name: "someone else's order", req: post(f.bob, path, `{"rating":5}`), status: 404, after: nothingWritten},
		{name: "an admin's, of a customer's order", req: post(f.admin, path, `{"rating":5}`), status: 404, after: nothingWritten},
		{name: "rating 0", req: post(f.alice, path, `{"rating":0}`), status: 422, contains: []string{`"rating"`}, after: nothingWritten},
		{name: "rating 6", req: post(f.alice, path, `{"rating":6}`), status: 422, contains: []string{`"rating"`}, after: nothingWritten},
		{name: "no rating", req: post(f.alice, path, `{"comment":"Zo'r"}`), status: 422, contains: []string{`"rating"`}, after: nothingWritten},
		{name: "rating x (JSON)", req: post(f.alice, path, `{"rating":"x"}`), status: 400, after: nothingWritten},
		{name: "rating x (form)", req: form(f.alice, path, "rating=x"), status: 400, after: nothingWritten},
		{name: "a comment too long", req: post(f.alice, path, `{"rating":5,"comment":"`+strings.Repeat("a", 1001)+`"}`), status: 422, contains: []string{`"comment"`}, after: nothingWritten},
		{name: "the owner rates it", req: post(f.alice, path, `{"rating":4,"comment":"Juda toza, rahmat"}`), status: 201,
			contains: []string{`"rating":4`, `"firstName":"Alisa"`, `"changeableUntil"`}, after: rating(4, 1)},
		{name: "a second review", req: post(f.alice, path, `{"rating":1}`), status: 409, contains: []string{`"code":"reviewed"`}, after: rating(4, 1)},
		{name: "the service's JSON has the rating", req: request{method: "GET", path: svcPath, headers: asJSON}, status: 200,
			contains: []string{`"rating":{"average":4,"count":1}`}},
		{name: "the catalogue's JSON has it too", req: request{method: "GET", path: "/services?limit=100", headers: asJSON}, status: 200,
			contains: []string{`"id":"` + f.svc.ID.Hex() + `"`, `"rating":{"average":4,"count":1}`}},
		{name: "and the catalogue's cards", req: request{method: "GET", path: "/services?limit=100"}, status: 200,
			contains: []string{`data-testid="service-rating">4.0 ★ (1)<`}},
		{name: "the service page shows it, first name only", req: request{method: "GET", path: svcPath}, status: 200,
			contains: []string{"Juda toza, rahmat", `data-testid="review-name">Alisa<`}, notContains: []string{"Karimova", `service-no-reviews`}},
		{name: "changed within 7 days", req: jsonReq(f.alice, "en", "PATCH", path, `{"rating":5,"comment":"Ajoyib"}`), status: 200,
			contains: []string{`"rating":5`}, after: rating(5, 1)},
		{name: "a change out of range", req: jsonReq(f.alice, "en", "PATCH", path, `{"rating":9}`), status: 422, after: rating(5, 1)},
		{name: "someone else changes it", req: jsonReq(f.bob, "en", "PATCH", path, `{"rating":1}`), status: 404, after: rating(5, 1)},
		{name: "the public list", req: request{method: "GET", path: svcPath + "/reviews", headers: asJSON}, status: 200,
			contains: []string{`"comment":"Ajoyib"`, `"firstName":"Alisa"`, `"next":""`}},
		{name: "a customer cannot hide", req: jsonReq(f.alice, "en", "PATCH", "/admin/reviews/"+o.ID.Hex(), `{"hidden":true,"reason":"x"}`), status: 403, after: rating(5, 1)},
		{name: "hiding needs a reason", req: jsonReq(f.admin, "en", "PATCH", "/admin/reviews/"+o.ID.Hex(), `{"hidden":true}`), status: 422, after: rating(5, 1)},
		{name: "the admin hides it", req: jsonReq(f.admin, "en", "PATCH", "/admin/reviews/"+o.ID.Hex(), `{"hidden":true,"reason":"Telefon raqami bor"}`), status: 200,
			contains: []string{`"hidden":true`}, after: rating(0, 0)},
		{name: "gone from the public list", req: request{method: "GET", path: svcPath + "/reviews", headers: asJSON}, status: 200,
			notContains: []string{"Ajoyib"}, contains: []string{`"count":0`}},
		{name: "gone from the service page", req: request{method: "GET", path: svcPath}, status: 200, notContains: []string{"Ajoyib"}},
		{name: "the admin still sees it, with the reason", req: jsonReq(f.admin, "en", "GET", svcPath+"/reviews", ""), status: 200,
			contains: []string{"Ajoyib", `"hiddenReason":"Telefon raqami bor"`}},
	})
	// The request for a rating went once, in the customer's language.
	intro := a.h.catalog.Locale("uz").T("email.review.intro")
	a.smtp.WaitForText("alice@example.uz", intro, 10*time.Second)
	if r := a.api(f.admin).do("PATCH", "/orders/"+o.ID.Hex(), `{"status":"COMPLETED"}`); r.status != 409 {
		t.Errorf("completed twice = %d", r.status)
	}
	time.Sleep(200 * time.Millisecond) // the worker's turn for a second email, if one were queued
	n := 0
	for _, m := range a.smtp.Messages() {
		if strings.Contains(m.Text, intro) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("rating requests sent = %d, want 1", n)
	}
	// Eight days later the review is kept as it is.
	f.clock.advance(8 * 24 * time.Hour)
	runScenarios(t, a, []scenario{
		{name: "changed after 7 days", req: jsonReq(f.alice, "en", "PATCH", path, `{"rating":1}`), status: 409, contains: []string{`"code":"review_locked"`},
			after: func(t *testing.T, a *testApp) {
				if r, _ := a.h.reviews.Get(context.Background(), o.ID); r == nil || r.Rating != 5 {
					t.Errorf("review = %+v", r)
				}
			}},
	})
}

// TestReviewFormAndDashboard: the order page's form works without
// JavaScript (a form POST and a redirect), and the dashboard shows the
// averages and the lowest rating.
func TestReviewFormAndDashboard(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o := f.completed(t, f.bob, "rv-form")
	page := a.do(request{method: "GET", path: "/orders/" + o.ID.Hex(), headers: map[string]string{"Authorization": "Bearer " + f.bob}})
	if !strings.Contains(page.body, `data-testid="review-form"`) || !strings.Contains(page.body, `data-testid="review-rating-5"`) {
		t.Fatalf("order page lacks the form: %s", clip(page.body))
	}
	r := a.do(request{method: "POST", path: "/orders/" + o.ID.Hex() + "/review", body: "rating=2&comment=Kech+qoldi",
		contentType: "application/x-www-form-urlencoded", headers: map[string]string{"Authorization": "Bearer " + f.bob}})
	if r.status != 303 {
		t.Fatalf("form post = %d %s", r.status, clip(r.body))
	}
	page = a.do(request{method: "GET", path: "/orders/" + o.ID.Hex(), headers: map[string]string{"Authorization": "Bearer " + f.bob}})
	if !strings.Contains(page.body, `data-testid="order-review-change"`) || !strings.Contains(page.body, "Kech qoldi") {
		t.Errorf("order page lacks the review: %s", clip(page.body))
	}
	dash := a.do(request{method: "GET", path: "/admin/statistics", headers: map[string]string{"Authorization": "Bearer " + f.admin}})
	moderate := `href="/services/` + o.ServiceID.Hex() + `/reviews"` // where the admin hides a review
	for _, want := range []string{`data-testid="stats-rating-service"`, `data-testid="stats-low-rating"`, "Kech qoldi", "2.0 ★ (1)", moderate + ` class="text-xs`, `data-testid="stats-rating-link"`} {
		if !strings.Contains(dash.body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if o.CrewID != primitive.NilObjectID && !strings.Contains(dash.body, `data-testid="stats-rating-crew"`) {
		t.Errorf("dashboard lacks the crew's average")
	}
}
