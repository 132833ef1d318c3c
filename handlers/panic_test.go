package handlers

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"tozalash/chat"
)

// faultyHub is the real hub with one fault put in: publishing an event
// that mentions trigger panics, as a bug in a socket's path would.
type faultyHub struct {
	chatHub
	trigger string
}

func (f faultyHub) Publish(to chat.Audience, ev chat.Event) {
	if strings.Contains(fmt.Sprintf("%+v", ev), f.trigger) {
		panic("injected fault: " + f.trigger)
	}
	f.chatHub.Publish(to, ev)
}

// A panic in a socket's reader ends that socket alone: it is logged with
// its stack and the upgrade's request id, the other sockets and the pages
// go on.
func TestPanicInASocketClosesItAlone(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	var logs syncBuffer
	a.h.log = slog.New(slog.NewTextHandler(&logs, nil))
	a.h.hub = faultyHub{chatHub: a.h.hub, trigger: "kaboom-in-chat"}
	a.listen()
	f.promote(t, f.aliceU) // only an ADMIN starts a conversation with a user
	conv := f.start(t, f.alice, `{"username":"bob"}`)
	bob := a.socket(f.bob)
	alice := a.socket(f.alice)

	alice.send(map[string]any{"conversationId": conv, "body": "kaboom-in-chat"})
	select {
	case <-alice.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the socket whose reader panicked stayed open")
	}
	// Bob's socket still carries messages; the pages still answer.
	if r := a.api(f.alice).do("POST", "/chat/conversations/"+conv+"/messages", `{"body":"hali shu yerdaman"}`); r.status != 201 {
		t.Fatalf("a message after the panic: %d %s", r.status, r.body)
	}
	if ev := bob.next("message"); ev["conversationId"] != conv {
		t.Errorf("Bob's socket after the panic: %v", ev)
	}
	if r := a.do(request{path: "/health/live"}); r.status != 200 {
		t.Errorf("/health/live after the panic: %d", r.status)
	}
	again := a.socket(f.alice)
	again.send(map[string]any{"conversationId": conv, "body": "yana salom"})
	if ev := bob.next("message"); ev["conversationId"] != conv {
		t.Errorf("a new socket after the panic: %v", ev)
	}
	out := logs.String()
	for _, want := range []string{`msg="panic in a chat socket"`, "part=reader", "injected fault", "stack=", "goroutine", "requestId="} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if strings.Contains(out, "requestId= ") {
		t.Error("the panic's log line has an empty request id")
	}
}
