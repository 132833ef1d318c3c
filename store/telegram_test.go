package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"tozalash/store"
	"tozalash/store/storetest"
)

// A connect link works once, for 15 minutes; a chat is one customer's;
// /stop forgets it for every account still sending to it; the links
// expired and the updates of long ago are pruned.
func TestTelegramStore(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	tg := store.NewTelegramStore(db)
	users := store.NewUserStore(db)
	alice := &store.User{Username: "alice", Email: "alice@example.uz", Role: store.RoleUser}
	bob := &store.User{Username: "bob", Email: "bob@example.uz", Role: store.RoleUser}
	for _, u := range []*store.User{alice, bob} {
		if err := users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	token, err := tg.NewLinkToken(ctx, alice.ID, now)
	if err != nil || len(token) != 32 {
		t.Fatalf("token %q, %v", token, err)
	}
	if u, err := tg.Connect(ctx, token, 100, "alisa", now.Add(time.Minute)); err != nil || u.ID != alice.ID || u.Telegram.ChatID != 100 {
		t.Fatalf("connect = %+v, %v", u, err)
	}
	if _, err := tg.Connect(ctx, token, 200, "", now.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the link again = %v, want ErrNotFound", err)
	}
	late, _ := tg.NewLinkToken(ctx, bob.ID, now)
	if _, err := tg.Connect(ctx, late, 200, "", now.Add(store.TelegramLinkTTL)); !errors.Is(err, store.ErrLinkExpired) {
		t.Errorf("a link 15 minutes on = %v, want ErrLinkExpired", err)
	}
	// bob's link opened in alice's chat: the chat is bob's now.
	bobs, _ := tg.NewLinkToken(ctx, bob.ID, now)
	if _, err := tg.Connect(ctx, bobs, 100, "", now); err != nil {
		t.Fatal(err)
	}
	if u, err := tg.UserOfChat(ctx, 100); err != nil || u.ID != bob.ID {
		t.Errorf("chat 100 is %+v, %v; want bob's", u, err)
	}
	if a, _ := users.Get(ctx, alice.ID); a.Telegram != nil {
		t.Errorf("alice still sends to %+v", a.Telegram)
	}
	if _, err := tg.DisconnectChat(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if b, _ := users.Get(ctx, bob.ID); b.Telegram != nil {
		t.Errorf("after /stop bob sends to %+v", b.Telegram)
	}
	if _, err := tg.UserOfChat(ctx, 100); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("chat 100 after /stop: %v", err)
	}
	// Updates are handled once.
	if first, err := tg.FirstSight(ctx, 7, 1_700_000_000, now); !first || err != nil {
		t.Errorf("an update's first sight = %v, %v", first, err)
	}
	if again, err := tg.FirstSight(ctx, 7, 1_700_000_000, now); again || err != nil {
		t.Errorf("the update again = %v, %v", again, err)
	}
	if other, _ := tg.FirstSight(ctx, 7, 1_700_900_000, now); !other {
		t.Error("update 7 of another week counted as seen")
	}
	// Pruned a week on: the expired link and the updates; a fresh link stays.
	fresh, _ := tg.NewLinkToken(ctx, alice.ID, now.Add(8*24*time.Hour))
	if err := tg.Prune(ctx, now.Add(8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if first, _ := tg.FirstSight(ctx, 7, 1_700_000_000, now); !first {
		t.Error("an update handled a week ago was not pruned")
	}
	if _, err := tg.Connect(ctx, late, 300, "", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired link after the prune = %v, want ErrNotFound (gone)", err)
	}
	if _, err := tg.Connect(ctx, fresh, 300, "", now.Add(8*24*time.Hour)); err != nil {
		t.Errorf("a fresh link after the prune = %v", err)
	}
}
