package handlers

import (
	"strconv"
	"testing"
	"time"

	"tozalash/store"

	"github.com/valyala/fasthttp"
)

// BenchmarkHomePage serves the anonymous home page through the app's own
// handler, with no network: what the page itself costs (go test -bench
// HomePage -benchmem ./handlers).
func BenchmarkHomePage(b *testing.B) {
	a := newTestApp(b)
	h := a.app.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/")
	ctx.Request.Header.Set("Accept-Language", "uz")
	h(&ctx)
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("home = %d", ctx.Response.StatusCode())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Response.Reset()
		ctx.ResetUserValues() // the last request's context, cancelled as it ended: without this each request's context nests in the one before
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("home = %d", ctx.Response.StatusCode())
		}
	}
}

// BenchmarkStatisticsJSON serves the admin's statistics through the app's
// own handler: what a signed-in request costs beside the page itself.
func BenchmarkStatisticsJSON(b *testing.B) {
	a := newTestApp(b)
	token, _ := a.admin()
	signedInParallel(b, a, "/admin/statistics", "application/json", token)
}

// BenchmarkAdminBoard serves the admin's board over 60 orders (three list
// documents) through the app's own handler: the decoding of the rows and
// the rendering of 25 of them.
func BenchmarkAdminBoard(b *testing.B) {
	a := newTestApp(b)
	admin, _ := a.admin()
	alice, _ := a.signupVerified("alice", "alice@example.uz", "toza-uy-2026")
	var services struct{ Items []struct{ ID string } }
	a.do(request{path: "/services", headers: asJSON}).json(b, &services)
	for i := 0; i < 60; i++ {
		body := `{"serviceId":"` + services.Items[0].ID + `","scheduledAt":"` + slot(1+i%20, 10, 0) +
			`","address":"Chilonzor 9-kvartal, 12-uy","phone":"+998901234567","idempotencyKey":"board-` + strconv.Itoa(i) + `"}`
		if r := a.api(alice).do("POST", "/orders", body); r.status != 201 {
			b.Fatal(r.status, r.body)
		}
	}
	signedInParallel(b, a, "/orders", "text/html", admin)
}

// signedInParallel measures GET path as token (none: anonymous), from every P at once,
// through the app's own handler; any answer but 200 fails it.
func signedInParallel(b *testing.B, a *testApp, path, accept, token string) {
	h := a.app.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.Set("Accept", accept)
		if token != "" {
			ctx.Request.Header.Set("Authorization", "Bearer "+token)
		}
		for pb.Next() {
			ctx.Response.Reset()
			ctx.ResetUserValues() // the last request's context, cancelled as it ended
			h(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Errorf("%s = %d %s", path, ctx.Response.StatusCode(), ctx.Response.Body())
				return
			}
		}
	})
}

// BenchmarkAvailability answers a month of free times through the app's
// own handler (go test -bench Availability -benchmem ./handlers): the
// crews' days as the memo keeps them, the filtering by the lead, the JSON.
func BenchmarkAvailability(b *testing.B) {
	a := newTestApp(b)
	var services struct{ Items []struct{ ID string } }
	a.do(request{path: "/services", headers: asJSON}).json(b, &services)
	from := time.Now().In(store.Tashkent).AddDate(0, 0, 1)
	path := "/availability?serviceId=" + services.Items[0].ID + "&from=" + from.Format(time.DateOnly) + "&to=" + from.AddDate(0, 0, 29).Format(time.DateOnly)
	signedInParallel(b, a, path, "application/json", "")
}
