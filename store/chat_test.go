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

// A client that saw a message asks for what followed it, through a copy of
// the conversation read before the messages that began a new bucket (on
// another instance, whose document cache may hold it for a second): it
// gets exactly those after the one it saw, not the bucket before again.
func TestSinceThroughAConversationReadBeforeANewBucket(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	chat := store.NewChatStore(db)
	a, b := primitive.NewObjectID(), primitive.NewObjectID()
	conv, _, err := chat.Open(ctx, &store.Conversation{ID: store.DirectConversationID(a, b), Kind: store.ChatDirect, Members: []primitive.ObjectID{a, b}},
		map[string]string{a.Hex(): "b", b.Hex(): "a"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []primitive.ObjectID
	post := func(n int) {
		for range n {
			m := &store.Message{SenderID: a, SenderName: "a", Body: fmt.Sprint(len(ids) + 1)}
			if err := chat.Post(ctx, conv, m, []string{b.Hex()}, a.Hex()); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
	}
	post(49)
	stale, err := chat.Get(ctx, conv.ID)
	if err != nil || stale.N != 49 {
		t.Fatalf("after 49 messages: %+v %v", stale, err)
	}
	post(53) // 50 ends the first bucket; 51–100 fill the second, 101–102 begin the third
	for _, tc := range []struct {
		saw  int // the message the client saw, from 1
		want []int
	}{
		{49, seqs(50, 102)},
		{51, seqs(52, 102)},
		{100, []int{101, 102}},
		{102, nil},
	} {
		got, err := chat.Since(ctx, stale, ids[tc.saw-1])
		if err != nil {
			t.Fatal(err)
		}
		var seen []int
		for _, m := range got {
			seen = append(seen, int(m.Seq))
		}
		if fmt.Sprint(seen) != fmt.Sprint(tc.want) {
			t.Errorf("since message %d through a copy of N=49: %v, want %v", tc.saw, seen, tc.want)
		}
	}
}

func seqs(from, to int) []int {
	var out []int
	for n := from; n <= to; n++ {
		out = append(out, n)
	}
	return out
}
