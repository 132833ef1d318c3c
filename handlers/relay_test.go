package handlers

import (
	"context"
	"testing"
	"time"

	"tozalash/store/storetest"
)

// Two instances on one database, a user on each: a message posted on one
// reaches the socket held by the other; the recipient, connected there,
// is not taken for away (no email); a logout on the first closes the
// socket on the second.
func TestChatAcrossInstances(t *testing.T) {
	f := newChatFixture(t, Config{ChatEmailAfter: time.Millisecond})
	a := f.a
	b := newTestAppOn(t, storetest.OpenNamed(t, a.db.Name())) // another process's connection
	ctx := context.Background()
	conv := f.start(t, f.alice, `{"username":"bob"}`)

	bobOnB := b.socket(f.bob)
	aliceOnA := a.socket(f.alice)
	bob := f.bobU.ID.Hex()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if away, _ := a.h.hub.awaySince(ctx, bob); !away {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("instance A takes bob, connected to B, for away")
		}
	}

	aliceOnA.send(map[string]any{"conversationId": conv, "body": "Salom, B dagi Bob"})
	aliceOnA.next("message")
	ev := bobOnB.next("message")
	if m, _ := ev["message"].(map[string]any); m["body"] != "Salom, B dagi Bob" || ev["conversationId"] != conv {
		t.Fatalf("bob on B got %v", ev)
	}
	if err := a.h.sendChatNotices(ctx, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := a.smtp.Count("bob@example.uz") + b.smtp.Count("bob@example.uz"); n != 1 {
		t.Errorf("bob, connected to B, got %d emails; want only the verification", n)
	}

	// Bob replies on B; Alice hears it on A.
	bobOnB.send(map[string]any{"conversationId": conv, "body": "Eshitaman"})
	if m, _ := aliceOnA.next("message")["message"].(map[string]any); m["body"] != "Eshitaman" {
		t.Fatalf("alice on A got %v", m)
	}

	// Bob logs out on A: his socket on B closes within a second.
	if r := a.api(f.bob).do("POST", "/auth/logout", ""); r.status >= 300 {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	if code := bobOnB.closeCode(time.Second); code != 1008 {
		t.Fatalf("bob's socket on B closed with %d, want 1008", code)
	}
	// Gone from B: A takes him for away again.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if away, _ := a.h.hub.awaySince(ctx, bob); away {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bob still present after his only socket closed")
		}
	}
}
