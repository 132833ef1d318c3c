package main

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// baselinePage is a static page of about 4.5 KB, the size of our lighter
// pages: what a bare Fiber handler can serve is the benchmark's ceiling.
var baselinePage = func() []byte {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html lang=\"uz\"><head><meta charset=\"utf-8\"><title>Tozalash</title></head><body><main>")
	for b.Len() < 4500-len("</main></body></html>") {
		b.WriteString("<p>Uyingiz toza — vaqtingiz o‘zingizga.</p>\n")
	}
	b.WriteString("</main></body></html>")
	return []byte(b.String())
}()

// serveBaseline serves baselinePage at every path on addr until ctx ends:
// `bench baseline`, the benchmark's yardstick on the same machine. The suite
// runs it as a process of its own (the bench binary started again with this
// argument), as it runs the app: never beside the load generator.
func serveBaseline(ctx context.Context, addr string) error {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/*", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(baselinePage)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		return app.ShutdownWithTimeout(5 * time.Second)
	}
}
