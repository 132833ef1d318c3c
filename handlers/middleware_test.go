package handlers

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"tozalash/store/storetest"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A panic is that request's 500 alone, logged with its stack and request id;
// every request gets one access-log line.
func TestPanicIsOneRequestsProblem(t *testing.T) {
	var logs syncBuffer
	app, h, err := newApp(storetest.Open(t), Config{BaseURL: "http://localhost:3000", JWTSecret: testJWTKey}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a := &testApp{t: t, app: app, h: h}
	app.Get("/_test/panic", func(c *fiber.Ctx) error { panic("kaboom") })

	res := a.do(request{path: "/_test/panic", headers: asJSON})
	if res.status != 500 || !strings.Contains(res.body, `"code":"internal"`) || strings.Contains(res.body, "kaboom") {
		t.Errorf("panic as JSON = %d %s", res.status, res.body)
	}
	id := res.header.Get("X-Request-Id")
	page := a.do(request{path: "/_test/panic", headers: acceptLang("ru")})
	if page.status != 500 || !strings.Contains(page.body, "Что-то пошло не так") {
		t.Errorf("panic as a page = %d %s", page.status, clip(page.body))
	}
	if res := a.do(request{path: "/health/live"}); res.status != 200 {
		t.Errorf("after a panic the server answers %d", res.status)
	}

	out := logs.String()
	for _, want := range []string{"msg=panic", "panic=kaboom", "requestId=" + id, "stack=", "goroutine",
		"msg=request method=GET path=/_test/panic status=500", "msg=request method=GET path=/health/live status=200"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "msg=request "); n != 3 {
		t.Errorf("%d access-log lines for 3 requests", n)
	}
}

func TestFlashShowsOnce(t *testing.T) {
	a := newTestApp(t)
	res := a.do(request{path: "/lang/en?next=/services"})
	cookie := res.header.Values("Set-Cookie")
	var flash, lang string
	for _, c := range cookie {
		kv := strings.SplitN(strings.SplitN(c, ";", 2)[0], "=", 2)
		switch kv[0] {
		case "flash":
			flash = kv[1]
		case "lang":
			lang = kv[1]
		}
	}
	if flash == "" || lang != "en" {
		t.Fatalf("language switch cookies: %v", cookie)
	}
	page := a.do(request{path: "/services", headers: map[string]string{"Cookie": "lang=en; flash=" + flash}})
	if !strings.Contains(page.body, `data-testid="flash"`) || !strings.Contains(page.body, "Site language: English") {
		t.Errorf("the next page lacks the flash:\n%s", clip(page.body))
	}
	if !strings.Contains(strings.Join(page.header.Values("Set-Cookie"), "\n"), "flash=;") {
		t.Errorf("the flash was not cleared: %v", page.header.Values("Set-Cookie"))
	}
	for _, forged := range []string{"success.error.internal.titlex", "evil.flash.languageChanged", "<script>", "success"} {
		page := a.do(request{path: "/", headers: map[string]string{"Cookie": "flash=" + forged}})
		if strings.Contains(page.body, `data-testid="flash"`) {
			t.Errorf("forged flash %q shown", forged)
		}
	}
}
