package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/event"
)

// On an embedded database its own process started, a message's change of
// its conversation starts from the document cache (catchesStaleReads):
// messages posted at once, with readers filling the cache between them,
// are each numbered once and none is lost, and a read after a post sees
// it.
func TestMessagesAtOnceOnTheCachedConversation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, err := Open(ctx, Options{DataDir: t.TempDir(), Database: "chatcache"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	if !db.catchesStaleReads() {
		t.Fatal("an embedded database this handle started: its cache sees every write")
	}
	chat := NewChatStore(db)
	a, b := primitive.NewObjectID(), primitive.NewObjectID()
	c := &Conversation{ID: DirectConversationID(a, b), Kind: ChatDirect, Members: []primitive.ObjectID{a, b}}
	if _, _, err := chat.Open(ctx, c, map[string]string{a.Hex(): "b", b.Hex(): "a"}); err != nil {
		t.Fatal(err)
	}
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			from, to := a, b
			if i%2 == 1 {
				from, to = b, a
			}
			m := &Message{SenderID: from, SenderName: "x", Body: fmt.Sprint("message ", i)}
			if err := chat.Post(ctx, c, m, []string{to.Hex()}, from.Hex()); err != nil {
				errs <- err
				return
			}
			got, err := chat.Get(ctx, c.ID)
			if err != nil {
				errs <- err
			} else if got.N < m.Seq {
				errs <- fmt.Errorf("read after posting %d: the conversation counts %d", m.Seq, got.N)
			}
		}()
		go func() { // a reader, as the handlers are: fills the cache
			defer wg.Done()
			if _, err := chat.Get(ctx, c.ID); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := chat.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.N != n {
		t.Fatalf("the conversation counts %d messages, want %d", got.N, n)
	}
	msgs, _, err := chat.History(ctx, got, primitive.NilObjectID, 100)
	if err != nil || len(msgs) != n {
		t.Fatalf("history: %d, %v", len(msgs), err)
	}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Errorf("message %d has number %d", i, m.Seq)
		}
	}
	// Each side has read up to its own last message, and owes the other's
	// after it.
	unread := got.Inbox[a.Hex()].U + got.Inbox[b.Hex()].U
	if ua, err := chat.Unread(ctx, a.Hex()); err != nil || ua != got.Inbox[a.Hex()].U || unread == 0 {
		t.Errorf("a's badge %d (%v), its entry %d", ua, err, got.Inbox[a.Hex()].U)
	}
}

// A group of messages to support from many conversations moves support's
// head once for each page of places they may need, not once a message,
// and hands them out in the messages' order: the list shows every
// conversation, newest first.
func TestAGroupOfMessagesMovesSupportsHeadOnceAPage(t *testing.T) {
	ctx := context.Background()
	var moves atomic.Int64
	db := openWatchingForTest(t, "supporthead", func(e *event.CommandStartedEvent) {
		if v, err := e.Command.LookupErr("query", "_id"); err == nil && e.CommandName == "findAndModify" {
			if id, ok := v.StringValueOK(); ok && id == SupportInbox {
				moves.Add(1)
			}
		}
	})
	chat := NewChatStore(db)
	const n = 30
	var group []*chatPost
	for i := range n {
		u := primitive.NewObjectID()
		c, _, err := chat.Open(ctx, &Conversation{ID: SupportConversationID(u), Kind: ChatSupport, Members: []primitive.ObjectID{u}},
			map[string]string{u.Hex(): "", SupportInbox: fmt.Sprintf("mijoz-%02d", i)})
		if err != nil {
			t.Fatal(err)
		}
		group = append(group, &chatPost{ctx: ctx, c: c, m: &Message{ID: primitive.NewObjectID(), SenderID: u, Body: fmt.Sprint("salom ", i)}, inboxes: []string{SupportInbox}, sender: u.Hex()})
	}
	before, err := chat.head(ctx, SupportInbox)
	if err != nil {
		t.Fatal(err)
	}
	moves.Store(0)
	if err := db.write(func() error { chat.postGroup(ctx, group); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, p := range group {
		if p.err != nil {
			t.Fatal(p.err)
		}
	}
	if m, want := moves.Load(), int64((n+inboxPageSize-1)/inboxPageSize); m != want {
		t.Errorf("support's head moved %d times for a group of %d, want %d", m, n, want)
	}
	after, err := chat.head(ctx, SupportInbox)
	if err != nil {
		t.Fatal(err)
	}
	if after.N-before.N > n || after.U-before.U != n {
		t.Errorf("support's head went from %+v to %+v for %d messages", before, after, n)
	}
	list, err := chat.Inbox(ctx, "", 100, SupportInbox)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != n {
		t.Fatalf("support's list has %d conversations, want %d", len(list.Items), n)
	}
	seen := map[string]bool{}
	for i, it := range list.Items {
		seen[it.Title] = true
		if it.Unread != 1 || i > 0 && it.LastAt.After(list.Items[i-1].LastAt) {
			t.Errorf("row %d: %s at %v with %d unread, want 1, newest first", i, it.Title, it.LastAt, it.Unread)
		}
	}
	if len(seen) != n {
		t.Errorf("support's list shows %d distinct conversations, want %d", len(seen), n)
	}
}

// Where other instances write (MongoDB: no write lock, a condition on the
// version), a change that starts from a cached copy and finds nothing to
// do asks the database again: a read marked on one instance right after a
// message came through another is not lost to the first one's cache.
func TestAReadMarkedOnACachedStaleConversation(t *testing.T) {
	ctx := context.Background()
	name := fmt.Sprintf("stalemark_%d", time.Now().UnixNano()%1e6)
	here, there := openForTest(t, name), openForTest(t, name)
	Unserialized(here)
	Unserialized(there)
	if !here.catchesStaleReads() || here.onlyWriter() {
		t.Fatal("an unserialized handle on a shared server: conditions catch stale reads, and it is not the only writer")
	}
	a, b := primitive.NewObjectID(), primitive.NewObjectID()
	c := &Conversation{ID: DirectConversationID(a, b), Kind: ChatDirect, Members: []primitive.ObjectID{a, b}}
	if _, _, err := NewChatStore(there).Open(ctx, c, map[string]string{a.Hex(): "b", b.Hex(): "a"}); err != nil {
		t.Fatal(err)
	}
	mine := NewChatStore(here)
	if got, err := mine.Get(ctx, c.ID); err != nil || got.Inbox[b.Hex()].U != 0 { // cached here: nothing unread
		t.Fatalf("conversation here: %+v, %v", got, err)
	}
	if err := NewChatStore(there).Post(ctx, c, &Message{SenderID: a, Body: "Salom"}, []string{b.Hex()}, a.Hex()); err != nil {
		t.Fatal(err)
	}
	changed, err := mine.MarkRead(ctx, b.Hex(), c.ID)
	if err != nil || !changed {
		t.Fatalf("b read the message here: changed %v, %v; want the read marked", changed, err)
	}
	now, err := mine.getFresh(ctx, c.ID)
	if err != nil || now.Inbox[b.Hex()].U != 0 {
		t.Errorf("after the read b has %d unread, %v", now.Inbox[b.Hex()].U, err)
	}
}
