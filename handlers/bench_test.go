package handlers

import (
	"testing"

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
		h(&ctx)
	}
}

// BenchmarkStatisticsJSON serves the admin's statistics through the app's
// own handler: what a signed-in request costs beside the page itself.
func BenchmarkStatisticsJSON(b *testing.B) {
	a := newTestApp(b)
	token, _ := a.admin()
	h := a.app.Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/admin/statistics")
		ctx.Request.Header.Set("Accept", "application/json")
		ctx.Request.Header.Set("Authorization", "Bearer "+token)
		for pb.Next() {
			ctx.Response.Reset()
			h(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Errorf("statistics = %d", ctx.Response.StatusCode())
				return
			}
		}
	})
}
