package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// chatWorld is a support desk: customers with their support conversations,
// and what each inbox should show.
type chatWorld struct {
	t     *testing.T
	db    *store.DB
	chat  *store.ChatStore
	convs []*store.Conversation
	users []primitive.ObjectID
	mu    sync.Mutex
	// want: per inbox, per conversation, the unread count and the last time
	unread map[string]map[string]int64
	last   map[string]time.Time
}

func newChatWorld(t *testing.T, db *store.DB, customers int) *chatWorld {
	w := &chatWorld{t: t, db: db, chat: store.NewChatStore(db), unread: map[string]map[string]int64{store.SupportInbox: {}}, last: map[string]time.Time{}}
	ctx := context.Background()
	for i := 0; i < customers; i++ {
		u := primitive.NewObjectID()
		c, created, err := w.chat.Open(ctx, &store.Conversation{ID: store.SupportConversationID(u), Kind: store.ChatSupport, Members: []primitive.ObjectID{u}},
			map[string]string{u.Hex(): "", store.SupportInbox: fmt.Sprintf("mijoz-%03d", i)})
		if err != nil || !created {
			t.Fatal(created, err)
		}
		w.convs, w.users = append(w.convs, c), append(w.users, u)
		w.unread[u.Hex()] = map[string]int64{c.ID: 0}
		w.unread[store.SupportInbox][c.ID] = 0
		w.last[c.ID] = c.CreatedAt
	}
	return w
}

// body is a long message, in Cyrillic: two bytes a character.
func body(i int) string {
	return fmt.Sprintf("%d %s", i, strings.Repeat("Ассалому алайкум! ", 20))
}

// customerWrites posts a message of customer i to support.
func (w *chatWorld) customerWrites(i, n int) {
	m := &store.Message{SenderID: w.users[i], SenderName: "mijoz", Body: body(n)}
	if err := w.chat.Post(context.Background(), w.convs[i], m, []string{store.SupportInbox}, w.users[i].Hex()); err != nil {
		w.t.Error(err)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unread[store.SupportInbox][w.convs[i].ID]++
	w.unread[w.users[i].Hex()][w.convs[i].ID] = 0
	if m.CreatedAt.After(w.last[w.convs[i].ID]) {
		w.last[w.convs[i].ID] = m.CreatedAt
	}
}

// supportAnswers posts an ADMIN's answer to customer i.
func (w *chatWorld) supportAnswers(i, n int) {
	m := &store.Message{SenderID: primitive.NewObjectID(), SenderName: "boss", Body: body(n)}
	if err := w.chat.Post(context.Background(), w.convs[i], m, []string{w.users[i].Hex()}, store.SupportInbox); err != nil {
		w.t.Error(err)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unread[store.SupportInbox][w.convs[i].ID] = 0
	w.unread[w.users[i].Hex()][w.convs[i].ID]++
	if m.CreatedAt.After(w.last[w.convs[i].ID]) {
		w.last[w.convs[i].ID] = m.CreatedAt
	}
}

// walk reads the whole list of owners limit at a time, following next.
func (w *chatWorld) walk(limit int, owners ...string) (items []store.InboxItem, unread int64, pages int) {
	w.t.Helper()
	before := ""
	for {
		list, err := w.chat.Inbox(context.Background(), before, limit, owners...)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(list.Items) > limit {
			w.t.Fatalf("%d items for a limit of %d", len(list.Items), limit)
		}
		items, unread, pages = append(items, list.Items...), list.Unread, pages+1
		if list.Next == "" {
			return items, unread, pages
		}
		if pages > 1000 {
			w.t.Fatal("the list does not end")
		}
		before = list.Next
	}
}

// check walks owner's list and compares it with what it should be: every
// conversation once, the latest first, each with its unread count, and the
// total.
func (w *chatWorld) check(owner string, limit int) {
	w.t.Helper()
	items, unread, _ := w.walk(limit, owner)
	want := w.unread[owner]
	seen := map[string]bool{}
	var total int64
	for i, it := range items {
		if seen[it.ConversationID] {
			w.t.Fatalf("%s: %s twice", owner, it.ConversationID)
		}
		seen[it.ConversationID] = true
		if n, ok := want[it.ConversationID]; !ok || it.Unread != n {
			w.t.Errorf("%s: %s has %d unread, want %d (%v)", owner, it.ConversationID, it.Unread, n, ok)
		}
		if !it.LastAt.Equal(w.last[it.ConversationID]) {
			w.t.Errorf("%s: %s last at %v, want %v", owner, it.ConversationID, it.LastAt, w.last[it.ConversationID])
		}
		if i > 0 && it.LastAt.After(items[i-1].LastAt) {
			w.t.Errorf("%s: %s (%v) after %s (%v): not the latest first", owner, it.ConversationID, it.LastAt, items[i-1].ConversationID, items[i-1].LastAt)
		}
		total += it.Unread
	}
	if len(items) != len(want) {
		w.t.Errorf("%s: %d conversations listed, want %d", owner, len(items), len(want))
	}
	if unread != total {
		w.t.Errorf("%s: the total says %d unread, the items %d", owner, unread, total)
	}
}

// maxInboxDoc bounds the stored size of any inbox document: a page of 25
// rows of long previews in Cyrillic, whatever the number of conversations.
const maxInboxDoc = 12 << 10

// checkSizes asserts every inbox and conversation document stays small.
func (w *chatWorld) checkSizes() (docs int) {
	w.t.Helper()
	for col, limit := range map[string]int{"chatInbox": maxInboxDoc, "conversations": 1 << 10} {
		raw, err := w.db.RawFind(context.Background(), col)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, d := range raw {
			b, err := bson.Marshal(d)
			if err != nil {
				w.t.Fatal(err)
			}
			if len(b) > limit {
				w.t.Errorf("%s %v: %d bytes, more than %d", col, d["_id"], len(b), limit)
			}
			if items, ok := d["items"].(bson.M); ok && len(items) > store.InboxPageSize {
				w.t.Errorf("%s %v: %d rows", col, d["_id"], len(items))
			}
		}
		docs += len(raw)
	}
	return docs
}

// Support's inbox with many customers: no document grows with them, the
// list comes latest first with the right unread counts a page at a time,
// and marking read moves the counts and the total.
func TestChatInboxStaysSmallAndInOrder(t *testing.T) {
	ctx := context.Background()
	w := newChatWorld(t, storetest.Open(t), 70)
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 150; n++ {
		i := r.IntN(len(w.convs))
		if n%5 == 4 {
			w.supportAnswers(i, n)
		} else {
			w.customerWrites(i, n)
		}
	}
	// A long talk in one conversation moves no row across pages.
	for n := 0; n < 30; n++ {
		w.customerWrites(7, n)
	}
	w.checkSizes()
	for _, limit := range []int{1, 7, 30, 100} {
		w.check(store.SupportInbox, limit)
	}
	w.check(w.users[7].Hex(), 50)
	if _, _, pages := w.walk(30, store.SupportInbox); pages != 3 {
		t.Errorf("70 conversations in %d lists of 30", pages)
	}

	for i := 0; i < len(w.convs); i += 3 {
		changed, err := w.chat.MarkRead(ctx, store.SupportInbox, w.convs[i].ID)
		if err != nil || changed != (w.unread[store.SupportInbox][w.convs[i].ID] > 0) {
			t.Errorf("mark read %d: %v %v", i, changed, err)
		}
		w.unread[store.SupportInbox][w.convs[i].ID] = 0
	}
	w.check(store.SupportInbox, 20)

	// An ADMIN's own conversations and support's, merged, a page at a time.
	admin := primitive.NewObjectID()
	direct, _, err := w.chat.Open(ctx, &store.Conversation{ID: store.DirectConversationID(admin, w.users[0]), Kind: store.ChatDirect, Members: []primitive.ObjectID{admin, w.users[0]}},
		map[string]string{admin.Hex(): "mijoz", w.users[0].Hex(): "boss"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.chat.Post(ctx, direct, &store.Message{SenderID: w.users[0], Body: "salom"}, []string{admin.Hex()}, w.users[0].Hex()); err != nil {
		t.Fatal(err)
	}
	items, unread, _ := w.walk(9, admin.Hex(), store.SupportInbox)
	var want int64
	for _, n := range w.unread[store.SupportInbox] {
		want += n
	}
	if len(items) != 71 || items[0].ConversationID != direct.ID || items[0].Unread != 1 || unread != want+1 {
		t.Errorf("the ADMIN's list: %d items, first %+v, %d unread (want %d)", len(items), items[0], unread, want+1)
	}
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it.ConversationID] {
			t.Errorf("%s twice", it.ConversationID)
		}
		seen[it.ConversationID] = true
	}
	for _, bad := range []string{"x", "1.2", "3|4|5", "-1", "1.x.y|"} {
		if _, err := w.chat.Inbox(ctx, bad, 10, admin.Hex(), store.SupportInbox); err == nil {
			t.Errorf("cursor %q accepted", bad)
		}
	}

	// A deleted account's inbox goes, pages and all.
	if err := w.chat.ForgetUser(ctx, w.users[7]); err != nil {
		t.Fatal(err)
	}
	raw, _ := w.db.RawFind(ctx, "chatInbox")
	for _, d := range raw {
		if id := fmt.Sprint(d["_id"]); strings.HasPrefix(id, w.users[7].Hex()) {
			t.Errorf("%s left behind", id)
		}
	}
}

// Customers write at once, then ADMINs answer at once, then mark read at
// once: no conversation listed twice or lost, the counts exact.
func TestChatInboxUnderConcurrentPosts(t *testing.T) {
	ctx := context.Background()
	w := newChatWorld(t, storetest.Open(t), 40)
	var wg sync.WaitGroup
	for _, write := range []func(i, n int){w.customerWrites, w.supportAnswers} {
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 7))
				for n := 0; n < 12; n++ {
					write(r.IntN(len(w.convs)), n)
				}
			}(g)
		}
		wg.Wait()
		w.check(store.SupportInbox, 11)
		for _, u := range w.users[:5] {
			w.check(u.Hex(), 10)
		}
	}
	w.checkSizes()

	for i := 0; i < len(w.convs); i += 2 {
		w.customerWrites(i, i)
	}
	var changed sync.Map
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range w.convs {
				ok, err := w.chat.MarkRead(ctx, store.SupportInbox, c.ID)
				if err != nil {
					t.Error(err)
				}
				if ok {
					if _, twice := changed.LoadOrStore(c.ID, true); twice {
						t.Errorf("%s marked read twice", c.ID)
					}
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	changed.Range(func(any, any) bool { n++; return true })
	if n != len(w.convs)/2 {
		t.Errorf("%d conversations marked read, want %d", n, len(w.convs)/2)
	}
	for id := range w.unread[store.SupportInbox] {
		w.unread[store.SupportInbox][id] = 0
	}
	w.check(store.SupportInbox, 25)
}

// The MongoDB way (no write mutex: compare-and-set, rows guarded by their
// version), one writer at a time, with a slow writer whose rows come after
// a later change moved the conversation on: it leaves no copy behind and
// does not overwrite the newer row.
func TestChatInboxSlowWriterOnMongoDBPath(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	store.Unserialized(db)
	w := newChatWorld(t, db, 3)
	chat := w.chat
	w.customerWrites(0, 1)
	w.check(store.SupportInbox, 10)

	// Slow in the same page: its row must not overwrite the newer one.
	slow, err := chat.PostHeld(ctx, w.convs[1], &store.Message{SenderID: w.users[1], Body: "birinchi"}, []string{store.SupportInbox}, w.users[1].Hex())
	if err != nil {
		t.Fatal(err)
	}
	w.customerWrites(1, 2)
	if err := slow(); err != nil {
		t.Fatal(err)
	}
	w.unread[store.SupportInbox][w.convs[1].ID]++ // the slow one counts too
	w.check(store.SupportInbox, 10)

	// Slow across pages: conversation 2's next message, held; meanwhile new
	// customers fill the page, and a later message moves it to a new one.
	slow, err = chat.PostHeld(ctx, w.convs[2], &store.Message{SenderID: w.users[2], Body: "eski"}, []string{store.SupportInbox}, w.users[2].Hex())
	if err != nil {
		t.Fatal(err)
	}
	more := newChatWorld(t, db, store.InboxPageSize)
	w.customerWrites(2, 3)
	if err := slow(); err != nil {
		t.Fatal(err)
	}
	w.unread[store.SupportInbox][w.convs[2].ID]++
	for _, c := range more.convs {
		w.unread[store.SupportInbox][c.ID] = 0
		w.last[c.ID] = more.last[c.ID]
	}
	w.check(store.SupportInbox, 10)
	w.check(store.SupportInbox, 100)
	if changed, err := chat.MarkRead(ctx, store.SupportInbox, w.convs[2].ID); err != nil || !changed {
		t.Fatalf("mark read: %v %v", changed, err)
	}
	w.unread[store.SupportInbox][w.convs[2].ID] = 0
	w.check(store.SupportInbox, 7)
}

// A database from before the paged inboxes (an inbox a document, the
// conversations without versions): the next start moves it over, titles, unread
// counts and email times kept, and it goes on from there.
func TestChatInboxFromOneDocumentInboxes(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	db := storetest.OpenNamed(t, name)
	u := primitive.NewObjectID()
	if _, err := db.InsertRaw(ctx, "users", store.User{ID: u, Username: "aziz", Email: "aziz@example.uz", Role: store.RoleUser}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	emailed := at.Add(time.Minute)
	conv := store.SupportConversationID(u)
	other := store.DirectConversationID(u, primitive.NewObjectID())
	for i, id := range []string{conv, other} {
		if _, err := db.InsertRaw(ctx, "conversations", bson.D{{Key: "_id", Value: id}, {Key: "kind", Value: strings.Split(id, ":")[0]},
			{Key: "members", Value: bson.A{u}}, {Key: "n", Value: int64(2)}, {Key: "createdAt", Value: at}}); err != nil {
			t.Fatal(err)
		}
		msgs := bson.A{}
		for seq := int64(1); seq <= 2; seq++ {
			msgs = append(msgs, store.Message{ID: primitive.NewObjectID(), Seq: seq, SenderID: u, SenderName: "aziz", Body: fmt.Sprintf("xabar %d", seq),
				CreatedAt: at.Add(time.Duration(i*10+int(seq)) * time.Second)})
		}
		if _, err := db.InsertRaw(ctx, "messages", bson.D{{Key: "_id", Value: id + "#0"}, {Key: "conversationId", Value: id}, {Key: "count", Value: 2}, {Key: "items", Value: msgs}}); err != nil {
			t.Fatal(err)
		}
	}
	item := func(id, title string, unread int64, sec int) store.InboxItem {
		return store.InboxItem{ConversationID: id, Kind: strings.Split(id, ":")[0], Title: title, LastBody: "xabar 2", LastAt: at.Add(time.Duration(sec) * time.Second), Unread: unread}
	}
	mine := item(conv, "", 1, 2)
	mine.EmailedAt = emailed
	for _, d := range []bson.D{
		{{Key: "_id", Value: u.Hex()}, {Key: "items", Value: bson.M{conv: mine, other: item(other, "laylo", 2, 12)}}},
		{{Key: "_id", Value: store.SupportInbox}, {Key: "items", Value: bson.M{conv: item(conv, "aziz", 2, 2)}}},
	} {
		if _, err := db.InsertRaw(ctx, "chatInbox", d); err != nil {
			t.Fatal(err)
		}
	}

	// The upgrade: a start on a database whose inboxes are one document.
	if _, err := storetest.Client(t).Database(name).Collection("meta").DeleteOne(ctx, bson.D{{Key: "_id", Value: "chatInbox:v2"}}); err != nil {
		t.Fatal(err)
	}
	chat := store.NewChatStore(storetest.OpenNamed(t, name))
	list, err := chat.Inbox(ctx, "", 10, u.Hex())
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 || list.Items[0].ConversationID != other || list.Items[0].Title != "laylo" || list.Items[0].Unread != 2 ||
		list.Items[1].ConversationID != conv || list.Items[1].Unread != 1 || list.Items[1].LastBody != "xabar 2" || list.Unread != 3 {
		t.Fatalf("the user's list: %+v", list)
	}
	c, err := chat.Get(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	if it, ok := c.Item(u.Hex()); !ok || !it.EmailedAt.Equal(emailed) || c.V != 1 {
		t.Errorf("the conversation: %+v %v", it, c.V)
	}
	// And on: support answers.
	if err := chat.Post(ctx, c, &store.Message{SenderID: primitive.NewObjectID(), Body: "javob"}, []string{u.Hex()}, store.SupportInbox); err != nil {
		t.Fatal(err)
	}
	list, _ = chat.Inbox(ctx, "", 10, u.Hex())
	sup, _ := chat.Inbox(ctx, "", 10, store.SupportInbox)
	if list.Items[0].ConversationID != conv || list.Items[0].Unread != 2 || list.Unread != 4 || len(sup.Items) != 1 || sup.Items[0].Unread != 0 || sup.Unread != 0 {
		t.Errorf("after an answer: %+v, support %+v", list, sup)
	}
}
