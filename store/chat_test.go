package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// Concurrent posters: every message stored once, numbered without a gap,
// in buckets of 50; the reader's unread count is exact; opening twice finds
// the first conversation.
func TestChatPostsUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	chat := store.NewChatStore(db)
	a, b := primitive.NewObjectID(), primitive.NewObjectID()
	conv := &store.Conversation{ID: store.DirectConversationID(a, b), Kind: store.ChatDirect, Members: []primitive.ObjectID{a, b}}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := *conv
			if _, _, err := chat.Open(ctx, &c, map[string]string{a.Hex(): "b", b.Hex(): "a"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := chat.Get(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				m := &store.Message{SenderID: a, SenderName: "a", Body: fmt.Sprintf("%d-%d", w, i)}
				if err := chat.Post(ctx, got, m, []string{b.Hex()}, a.Hex()); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	got, _ = chat.Get(ctx, conv.ID)
	if got.N != 120 {
		t.Fatalf("n = %d, want 120", got.N)
	}
	seen := map[int64]bool{}
	var before primitive.ObjectID
	for {
		page, more, err := chat.History(ctx, got, before, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			if seen[m.Seq] {
				t.Fatalf("seq %d twice", m.Seq)
			}
			seen[m.Seq] = true
		}
		if !more {
			break
		}
		before = page[0].ID
	}
	if len(seen) != 120 || !seen[1] || !seen[120] {
		t.Errorf("history holds %d messages", len(seen))
	}
	list, _ := chat.Inbox(ctx, "", 50, b.Hex())
	if items := list.Items; len(items) != 1 || items[0].Unread != 120 || items[0].Title != "a" || list.Unread != 120 {
		t.Errorf("b's inbox %+v", list)
	}
	if changed, err := chat.MarkRead(ctx, b.Hex(), conv.ID); err != nil || !changed {
		t.Errorf("mark read = %v %v", changed, err)
	}
	if changed, _ := chat.MarkRead(ctx, b.Hex(), conv.ID); changed {
		t.Error("marking it read twice wrote again")
	}
	if plans, err := db.IDLookupPlans(ctx); err != nil || plans["messages"] == "" {
		t.Errorf("messages plan: %v %v", plans["messages"], err)
	}
}
