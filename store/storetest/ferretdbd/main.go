// Command ferretdbd runs FerretDB (SQLite handler) as a process of its own,
// for the tests' "shared" profile: the app reaches it through MONGODB_URI,
// exactly as it reaches MongoDB in production.
//
//	ferretdbd -dir DIR -addr 127.0.0.1:0
//
// It prints the URI on its first line of output and serves until stdin
// closes or it gets SIGINT or SIGTERM, so it never outlives the test that
// started it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"tozalash/store"
)

func main() {
	dir := flag.String("dir", "", "where the SQLite files go")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "ferretdbd: -dir is required")
		os.Exit(2)
	}
	e, err := store.StartEmbeddedAt(*dir, *addr, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdbd:", err)
		os.Exit(1)
	}
	fmt.Println(e.URI)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	<-ctx.Done()
	e.Stop()
}
