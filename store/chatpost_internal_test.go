package store

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Messages that queue while a write holds the lock commit as one group and
// share support's writes: its head read once, its unread total moved once,
// each of its pages written once. One at a time, a customer's message to
// support is ten commands here (the conversation read and written, the
// message stored, both heads read, support's head moved on and its total
// moved, support's row put and its old copy taken away, the customer's
// row put); in a group of nine, the shared ones are paid once.
func TestQueuedMessagesShareSupportsWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openForTest(t, "posts")
	chat := NewChatStore(db)
	const n = 10
	var convs []*Conversation
	var users []primitive.ObjectID
	for range n {
		u := primitive.NewObjectID()
		c, _, err := chat.Open(ctx, &Conversation{ID: SupportConversationID(u), Kind: ChatSupport, Members: []primitive.ObjectID{u}},
			map[string]string{u.Hex(): "Support", SupportInbox: u.Hex()})
		if err != nil {
			t.Fatal(err)
		}
		convs, users = append(convs, c), append(users, u)
	}
	db.writeMu.lock(false)
	before := db.Commands()
	done := make(chan error, n)
	post := func(i int) {
		done <- chat.Post(ctx, convs[i], &Message{SenderID: users[i], SenderName: "c", Body: fmt.Sprint("salom ", i)}, []string{SupportInbox}, users[i].Hex())
	}
	waitQueue := func(busy bool, queued int) {
		for deadline := time.Now().Add(20 * time.Second); ; runtime.Gosched() {
			chat.posts.mu.Lock()
			b, q := chat.posts.busy, len(chat.posts.pending)
			chat.posts.mu.Unlock()
			if b == busy && q == queued {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the queue: committing %v, %d queued; want %v, %d", b, q, busy, queued)
			}
		}
	}
	go post(0)
	waitQueue(true, 0) // the first, alone, waits for the lock
	for i := 1; i < n; i++ {
		go post(i)
	}
	waitQueue(true, n-1)
	db.writeMu.unlock()
	for range n {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	used := db.Commands() - before
	t.Logf("%d messages, %d commands", n, used)
	if used > 10+(n-1)*7 {
		t.Errorf("%d messages took %d commands, want at most %d (one alone, then %d sharing support's writes)", n, used, 10+(n-1)*7, n-1)
	}
	list, err := chat.Inbox(ctx, "", 50, SupportInbox)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, it := range list.Items {
		if seen[it.ConversationID] || it.Unread != 1 {
			t.Errorf("support's row of %s: twice %v, unread %d (want once, 1)", it.ConversationID, seen[it.ConversationID], it.Unread)
		}
		seen[it.ConversationID] = true
	}
	if len(list.Items) != n || list.Unread != n {
		t.Errorf("support's inbox: %d conversations, %d unread; want %d and %d", len(list.Items), list.Unread, n, n)
	}
}

// A message whose caller gave up while it waited for its group (the
// request's deadline) is not stored later behind the caller's back, where
// nobody would deliver it and a retry would store it twice.
func TestMessageGivenUpInTheQueueIsNotStored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openForTest(t, "gaveup")
	chat := NewChatStore(db)
	u := primitive.NewObjectID()
	c, _, err := chat.Open(ctx, &Conversation{ID: SupportConversationID(u), Kind: ChatSupport, Members: []primitive.ObjectID{u}},
		map[string]string{u.Hex(): "Support", SupportInbox: u.Hex()})
	if err != nil {
		t.Fatal(err)
	}
	db.writeMu.lock(false)
	request, giveUp := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- chat.Post(request, c, &Message{SenderID: u, SenderName: "c", Body: "salom"}, []string{SupportInbox}, u.Hex())
	}()
	for deadline := time.Now().Add(20 * time.Second); ; runtime.Gosched() {
		chat.posts.mu.Lock()
		busy := chat.posts.busy
		chat.posts.mu.Unlock()
		if busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message never reached the queue")
		}
	}
	giveUp()
	if err := <-done; err == nil {
		t.Fatal("a message given up answered nil")
	}
	db.writeMu.unlock()
	// The committer runs on: wait for it to finish the group.
	for deadline := time.Now().Add(20 * time.Second); ; runtime.Gosched() {
		chat.posts.mu.Lock()
		busy := chat.posts.busy
		chat.posts.mu.Unlock()
		if !busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the committer never finished")
		}
	}
	got, err := chat.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.N != 0 {
		t.Errorf("the conversation holds %d messages after the only one was given up, want 0", got.N)
	}
}
