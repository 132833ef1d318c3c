package handlers

import (
	"context"
	"testing"
	"time"
)

// Two instances on one database, a user on each: a message posted on one
// reaches the socket held by the other; the recipient, connected there,
// is not taken for away (no email); a logout on the first closes the
// socket on the second and ends the session there at once.
func TestChatAcrossInstances(t *testing.T) {
	f := newChatFixture(t, Config{ChatEmailAfter: time.Millisecond})
	a := f.a
	// B, with another process's connection, remembers sessions for an
	// hour: only the relayed logout can make it forget bob's.
	b := secondInstance(t, a, Config{AuthCacheTTL: time.Hour})
	ctx := context.Background()
	f.promote(t, f.aliceU) // only an ADMIN starts a conversation with a user
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
	// A decided before it delivered: bob is owed no "you have a message"
	// email, now or later.
	owed, err := a.h.chat.DueNotices(ctx, time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range owed {
		if n.UserID == f.bobU.ID {
			t.Errorf("bob, connected to B, is owed an email: %+v", n)
		}
	}

	// Bob replies on B; Alice hears it on A.
	bobOnB.send(map[string]any{"conversationId": conv, "body": "Eshitaman"})
	if m, _ := aliceOnA.next("message")["message"].(map[string]any); m["body"] != "Eshitaman" {
		t.Fatalf("alice on A got %v", m)
	}

	// Bob logs out on A: his socket on B closes within a second, and B
	// no longer takes his token.
	if r := b.api(f.bob).do("GET", "/me", ""); r.status != 200 {
		t.Fatalf("bob on B before the logout = %d", r.status)
	}
	if r := a.api(f.bob).do("POST", "/auth/logout", ""); r.status >= 300 {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	if code := bobOnB.closeCode(time.Second); code != 1008 {
		t.Fatalf("bob's socket on B closed with %d, want 1008", code)
	}
	if r := b.api(f.bob).do("GET", "/me", ""); r.status != 401 {
		t.Errorf("bob's token on B after his logout on A = %d, want 401", r.status)
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
