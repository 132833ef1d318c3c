package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Conversation kinds: a customer with support (every ADMIN may answer), a
// thread about one order (its customer and support), two users directly.
const (
	ChatSupport = "support"
	ChatOrder   = "order"
	ChatDirect  = "direct"
)

// Conversation is one chat. Its _id says what it is, so opening one twice
// finds the first by _id: "support:<userId>", "order:<orderId>",
// "direct:<userId>:<userId>" (the smaller id first).
type Conversation struct {
	ID        string               `bson:"_id" json:"id"`
	Kind      string               `bson:"kind" json:"kind"`
	Members   []primitive.ObjectID `bson:"members" json:"members"` // the users in it; ADMINs join support and order threads by their role
	OrderID   primitive.ObjectID   `bson:"orderId,omitempty" json:"orderId,omitempty"`
	N         int64                `bson:"n" json:"-"` // messages ever posted; numbers them
	CreatedAt time.Time            `bson:"createdAt" json:"createdAt"`
	// V counts the changes, Last is the newest message's preview and Inbox
	// how each owner follows it (see chatinbox.go).
	V     int64                 `bson:"v" json:"-"`
	Last  lastMessage           `bson:"last" json:"-"`
	Inbox map[string]inboxEntry `bson:"inbox,omitempty" json:"-"`
}

// HasMember reports whether id is one of the conversation's users.
func (c *Conversation) HasMember(id primitive.ObjectID) bool {
	for _, m := range c.Members {
		if m == id {
			return true
		}
	}
	return false
}

// Supported reports whether support (any ADMIN) takes part.
func (c *Conversation) Supported() bool { return c.Kind == ChatSupport || c.Kind == ChatOrder }

// SupportConversationID is the id of a user's conversation with support.
func SupportConversationID(user primitive.ObjectID) string { return ChatSupport + ":" + user.Hex() }

// OrderConversationID is the id of the thread about an order.
func OrderConversationID(order primitive.ObjectID) string { return ChatOrder + ":" + order.Hex() }

// DirectConversationID is the id of the conversation between a and b.
func DirectConversationID(a, b primitive.ObjectID) string {
	if a.Hex() > b.Hex() {
		a, b = b, a
	}
	return ChatDirect + ":" + a.Hex() + ":" + b.Hex()
}

// Message is one line of a conversation. Seq numbers it within the
// conversation from 1.
type Message struct {
	ID         primitive.ObjectID `bson:"id" json:"id"`
	Seq        int64              `bson:"seq" json:"seq"`
	SenderID   primitive.ObjectID `bson:"senderId" json:"senderId"`
	SenderName string             `bson:"senderName" json:"senderName"`
	Body       string             `bson:"body" json:"body"`
	CreatedAt  time.Time          `bson:"createdAt" json:"createdAt"`
	// Staff: written by an ADMIN, support. AgentName is what customers see
	// of them ("Tozalash · Aziz"), never the username.
	Staff     bool   `bson:"staff,omitempty" json:"staff"`
	AgentName string `bson:"agentName,omitempty" json:"agentName"`
}

// InboxItem is one conversation in a user's list, as they see it.
type InboxItem struct {
	ConversationID string    `bson:"c" json:"conversationId"`
	Kind           string    `bson:"k" json:"kind"`
	Title          string    `bson:"t" json:"title"` // the other side's name; empty: support
	LastBody       string    `bson:"b" json:"lastBody"`
	LastAt         time.Time `bson:"at" json:"lastAt"`
	Unread         int64     `bson:"u" json:"unread"`
	EmailedAt      time.Time `bson:"e,omitempty" json:"-"` // the last "you have messages" email
}

// The chat's documents, all read and written by _id:
//
//	conversations  {_id: "support:<user>", kind, members, orderId, n}
//	messages       {_id: "<conversation>#<n/50>", conversationId, count, items: [message]}:
//	               a bucket of 50 messages; a message's bucket follows from its Seq
//	chatInbox      each user's list, and support's (shared by every ADMIN):
//	               a head and pages of 25 (see chatinbox.go)
//	chatNotices    {_id: "<user>|<conversation>", userId, conversationId, due}: an
//	               email to send if the user has not been back by then
const (
	colConversations = "conversations"
	colMessages      = "messages"
	colChatInbox     = "chatInbox"
	colChatNotices   = "chatNotices"

	messageBucket = 50
	// SupportInbox is the inbox every ADMIN shares.
	SupportInbox = "support"
)

func bucketID(conv string, seq int64) string {
	return conv + "#" + strconv.FormatInt((seq-1)/messageBucket, 10)
}

type messageDoc struct {
	Items []storedMessage `bson:"items"`
}

// storedMessage is a message as its bucket stores it: packed, its BSON as
// one binary value (see pack). FerretDB decodes and encodes a whole
// document at every update, at a cost that grows with its fields, and a
// message is pushed into a bucket of up to 50 (measured, nothing else
// running: a push into a bucket of 25 took 2.2 ms with the messages as
// subdocuments, 0.7 ms packed). A message stored before as a subdocument
// reads as well. Nothing queries inside a bucket: it is read by _id.
type storedMessage struct{ Message }

func (m storedMessage) MarshalBSONValue() (bsontype.Type, []byte, error) { return pack(m.Message) }

func (m *storedMessage) UnmarshalBSONValue(t bsontype.Type, data []byte) error {
	return unpack(t, data, &m.Message, "a message")
}

// storedMessages are msgs as a bucket stores them.
func storedMessages(msgs []Message) []storedMessage {
	out := make([]storedMessage, len(msgs))
	for i, m := range msgs {
		out[i] = storedMessage{m}
	}
	return out
}

// ChatStore keeps the conversations, their messages and the inboxes.
type ChatStore struct {
	db    *DB
	posts postQueue
}

// NewChatStore returns the chat store of db.
func NewChatStore(db *DB) *ChatStore { return &ChatStore{db: db, posts: postQueue{what: "message"}} }

// inboxKey escapes a conversation id for use as a field name: no dots there.
func inboxKey(conv string) string { return strings.ReplaceAll(conv, ".", "_") }

// Open returns the conversation id names, creating it with members when it
// does not exist yet; created says which. titles are what each member (by
// id hex, or SupportInbox for support) sees it called.
func (s *ChatStore) Open(ctx context.Context, c *Conversation, titles map[string]string) (conv *Conversation, created bool, err error) {
	if existing, err := s.Get(ctx, c.ID); err == nil {
		return existing, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	c.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
	err = s.db.write(func() error { return s.insert(ctx, c, titles, nil, nil) })
	if errors.Is(err, ErrConflict) { // another request made it first
		existing, gerr := s.Get(ctx, c.ID)
		return existing, false, gerr
	}
	return c, err == nil, err
}

// insert stores a new conversation c, its messages' buckets (if any) and
// its rows in the owners' inboxes. Call it within db.write.
func (s *ChatStore) insert(ctx context.Context, c *Conversation, titles map[string]string, buckets []any, unread map[string]int64) error {
	owners := make([]string, 0, len(titles))
	for o := range titles {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	c.V, c.Inbox = 1, map[string]inboxEntry{}
	if c.Last.At.IsZero() {
		c.Last.At = c.CreatedAt
	}
	heads := newInboxHeads()
	for _, o := range owners {
		seq, err := s.place(ctx, heads, o, 0)
		if err != nil {
			return err
		}
		c.Inbox[o] = inboxEntry{S: seq, U: unread[o], T: titles[o]}
	}
	if _, err := s.db.col(colConversations).InsertOne(ctx, c); err != nil {
		return translate(err)
	}
	if len(buckets) > 0 {
		if _, err := s.db.col(colMessages).InsertMany(ctx, buckets); err != nil {
			return translate(err)
		}
	}
	return s.follow(ctx, &Conversation{ID: c.ID}, c, owners)
}

// Get returns one conversation, through the document cache: a change
// another instance made shows within its second.
func (s *ChatStore) Get(ctx context.Context, id string) (*Conversation, error) {
	return s.getBy(ctx, s.db.findByID, id)
}

// getFresh is Get from the database itself.
func (s *ChatStore) getFresh(ctx context.Context, id string) (*Conversation, error) {
	return s.getBy(ctx, s.db.findByIDFresh, id)
}

// byID reads a document by _id: DB.findByID or DB.findByIDFresh.
type byID func(ctx context.Context, col string, id any, v any) error

func (s *ChatStore) getBy(ctx context.Context, find byID, id string) (*Conversation, error) {
	var c Conversation
	if err := find(ctx, colConversations, id, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Post stores m in conversation c, numbering it, and updates every inbox
// that lists c: the sender's read up to here, everyone else's one more
// unread. inboxes are the other owners (user hex ids, SupportInbox). It
// returns once the message is stored: only then may it be delivered.
func (s *ChatStore) Post(ctx context.Context, c *Conversation, m *Message, inboxes []string, senderInbox string) error {
	m.ID = primitive.NewObjectID()
	return s.posts.do(ctx, s.db, &chatPost{ctx: ctx, c: c, m: m, inboxes: inboxes, sender: senderInbox}, s.postGroup)
}

// postQueue commits messages in groups (commitQueue): support is an owner
// of nearly every conversation, so messages that arrive together share its
// head and its pages (followAll), and take the write lock once.
type postQueue = commitQueue[*chatPost]

// chatPost is one message to store: Post's arguments. Its message is
// stored under its caller's context, as it was before the groups: one
// whose caller gave up (its request's deadline) is not stored later
// behind its back, undelivered, for a retry to store twice.
type chatPost struct {
	ctx     context.Context
	c       *Conversation
	m       *Message
	inboxes []string
	sender  string
	groupMember
}

// owners are the inboxes p's message moves: the others', then the
// sender's.
func (p *chatPost) owners() []string {
	var out []string
	for _, o := range p.inboxes {
		if o != "" && o != p.sender && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	if p.sender != "" {
		out = append(out, p.sender)
	}
	return out
}

// postGroup stores a group of messages under the write lock, each as Post
// says, sharing the inboxes' heads and pages (followAll).
func (s *ChatStore) postGroup(ctx context.Context, group []*chatPost) {
	heads := newInboxHeads()
	for _, p := range group {
		if p.ctx.Err() == nil {
			for _, o := range p.owners() {
				heads.expect(o)
			}
		}
	}
	// fail ends p with err; the places it would have asked for are not
	// held ahead (those it asked are counted twice: fewer, no harm).
	fail := func(p *chatPost, err error) {
		p.err = err
		for _, o := range p.owners() {
			heads.unexpect(o)
		}
	}
	var changes []convChange
	var stored []*chatPost
	for _, p := range group {
		if err := p.ctx.Err(); err != nil {
			fail(p, err)
			continue
		}
		before, after, owners, err := s.post(p.ctx, heads, p.c, p.m, p.inboxes, p.sender)
		if err != nil {
			fail(p, err)
			continue
		}
		changes = append(changes, convChange{before, after, owners})
		stored = append(stored, p)
	}
	if err := s.followAll(ctx, changes); err != nil {
		for _, p := range stored {
			p.err = err
		}
	}
}

// post numbers and stores m: Post but for the inboxes' rows and heads.
func (s *ChatStore) post(ctx context.Context, heads *inboxHeads, c *Conversation, m *Message, inboxes []string, senderInbox string) (before, after *Conversation, owners []string, err error) {
	before, after, owners, err = s.change(ctx, c.ID, func(next *Conversation) ([]string, error) {
		next.N++
		// Its time is that of its number: never before the one it follows.
		m.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
		if m.CreatedAt.Before(next.Last.At) {
			m.CreatedAt = next.Last.At
		}
		next.Last = lastMessage{B: preview(m.Body), At: m.CreatedAt}
		var owners []string // as chatPost.owners lists them
		touch := func(o string, read bool) error {
			e := next.Inbox[o]
			seq, err := s.place(ctx, heads, o, e.S)
			if err != nil {
				return err
			}
			e.S = seq
			if read {
				e.U = 0
			} else {
				e.U++
			}
			next.Inbox[o] = e
			owners = append(owners, o)
			return nil
		}
		for _, o := range inboxes {
			if o != "" && o != senderInbox && !slices.Contains(owners, o) {
				if err := touch(o, false); err != nil {
					return nil, err
				}
			}
		}
		if senderInbox != "" {
			if err := touch(senderInbox, true); err != nil {
				return nil, err
			}
		}
		return owners, nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	m.Seq = after.N
	_, err = s.db.col(colMessages).UpdateOne(ctx, bson.D{{Key: "_id", Value: bucketID(c.ID, m.Seq)}},
		bson.D{
			{Key: "$push", Value: bson.D{{Key: "items", Value: storedMessage{*m}}}},
			{Key: "$inc", Value: bson.D{{Key: "count", Value: 1}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "conversationId", Value: c.ID}}},
		}, options.Update().SetUpsert(true))
	return before, after, owners, err
}

func preview(body string) string {
	if r := []rune(body); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return body
}

// History returns up to limit messages of c older than before (zero: the
// newest), oldest first, and whether older ones remain. It reads buckets
// back from the newest: a few _id look-ups.
func (s *ChatStore) History(ctx context.Context, c *Conversation, before primitive.ObjectID, limit int) ([]Message, bool, error) {
	if limit < 1 || limit > 100 {
		return nil, false, fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	}
	var out []Message // newest first while collecting
	found := before.IsZero()
	for seq := c.N; seq >= 1; seq -= messageBucket {
		items, err := s.bucket(ctx, c.ID, seq)
		if err != nil {
			return nil, false, err
		}
		for i := len(items) - 1; i >= 0; i-- {
			if !found {
				found = items[i].ID == before
				continue
			}
			if len(out) == limit {
				reverse(out)
				return out, true, nil
			}
			out = append(out, items[i])
		}
		seq -= (seq - 1) % messageBucket // the bucket's first; the loop steps to the one before
	}
	reverse(out)
	return out, false, nil
}

// Since returns the messages of c newer than after, oldest first: what a
// client that saw after missed, up to about 500. It starts from the newest
// bucket there is, not c's: c may have been read on another instance up to
// a second ago (the document cache), before messages that began a bucket,
// and reading back from c.N would then miss them, and replay the 500
// before them when after is among them.
func (s *ChatStore) Since(ctx context.Context, c *Conversation, after primitive.ObjectID) ([]Message, error) {
	var out []Message
	top := c.N
	for {
		next := top - (top-1)%messageBucket + messageBucket // the next bucket's first
		if top < 1 {
			next = 1
		}
		newer, err := s.bucket(ctx, c.ID, next)
		if err != nil {
			return nil, err
		}
		if len(newer) == 0 {
			break
		}
		top = max(next, newer[len(newer)-1].Seq) // on, whatever the bucket holds
	}
	for seq := top; seq >= 1; seq -= messageBucket {
		items, err := s.bucket(ctx, c.ID, seq)
		if err != nil {
			return nil, err
		}
		for i := len(items) - 1; i >= 0; i-- {
			if items[i].ID == after {
				reverse(out)
				return out, nil
			}
			out = append(out, items[i])
		}
		if len(out) >= 500 {
			break
		}
		seq -= (seq - 1) % messageBucket
	}
	reverse(out)
	return out, nil
}

func (s *ChatStore) bucket(ctx context.Context, conv string, seq int64) ([]Message, error) {
	var doc messageDoc
	err := translate(s.db.col(colMessages).FindOne(ctx, bson.D{{Key: "_id", Value: bucketID(conv, seq)}}).Decode(&doc))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	items := make([]Message, len(doc.Items))
	for i, m := range doc.Items {
		items[i] = m.Message
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Seq < items[j].Seq })
	return items, nil
}

func reverse(m []Message) {
	for i, j := 0, len(m)-1; i < j; i, j = i+1, j-1 {
		m[i], m[j] = m[j], m[i]
	}
}

// MarkRead sets conversation conv read in inbox owner, and reports whether
// it had unread messages (nothing is written when it had none).
func (s *ChatStore) MarkRead(ctx context.Context, owner, conv string) (bool, error) {
	changed := false
	err := s.db.write(func() error {
		before, after, owners, err := s.change(ctx, conv, func(next *Conversation) ([]string, error) {
			e, ok := next.Inbox[owner]
			if !ok || e.U == 0 {
				return nil, errNoChange
			}
			e.U = 0
			next.Inbox[owner] = e
			return []string{owner}, nil
		})
		if errors.Is(err, errNoChange) || errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		changed = true
		return s.follow(ctx, before, after, owners)
	})
	return changed, err
}

// Notice is an email owed to a user who was away when a message came.
type Notice struct {
	ID             string             `bson:"_id"`
	UserID         primitive.ObjectID `bson:"userId"`
	ConversationID string             `bson:"conversationId"`
	Since          time.Time          `bson:"since"` // the first message not yet seen
	Due            time.Time          `bson:"due"`
}

// Owe records that user should hear of conv by email at due unless they
// come back; a notice already owed keeps its earlier time.
func (s *ChatStore) Owe(ctx context.Context, user primitive.ObjectID, conv string, since, due time.Time) error {
	return s.db.write(func() error {
		_, err := s.db.col(colChatNotices).UpdateOne(ctx, bson.D{{Key: "_id", Value: user.Hex() + "|" + conv}},
			bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "userId", Value: user}, {Key: "conversationId", Value: conv}, {Key: "since", Value: since}, {Key: "due", Value: due}}}},
			options.Update().SetUpsert(true))
		return err
	})
}

// DueNotices returns the notices whose time has come.
func (s *ChatStore) DueNotices(ctx context.Context, now time.Time) ([]Notice, error) {
	cur, err := s.db.col(colChatNotices).Find(ctx, bson.D{{Key: "due", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return nil, err
	}
	due := []Notice{}
	err = cur.All(ctx, &due)
	return due, err
}

// SettleNotice removes a notice; emailed says the user was emailed now, which
// the conversation keeps so the next email waits an hour.
func (s *ChatStore) SettleNotice(ctx context.Context, n Notice, emailedAt time.Time) error {
	return s.db.write(func() error {
		if !emailedAt.IsZero() {
			if _, err := s.db.col(colConversations).UpdateOne(ctx, bson.D{{Key: "_id", Value: n.ConversationID}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "inbox." + n.UserID.Hex() + ".e", Value: emailedAt}}}}); err != nil {
				return err
			}
		}
		// Only the notice as it was read: one owed since (a newer due) stays.
		_, err := s.db.deleteIf(ctx, colChatNotices, n.ID, bson.D{{Key: "due", Value: n.Due}})
		return err
	})
}

// Postpone moves a notice to due.
func (s *ChatStore) Postpone(ctx context.Context, n Notice, due time.Time) error {
	return s.db.write(func() error {
		_, err := s.db.col(colChatNotices).UpdateOne(ctx, bson.D{{Key: "_id", Value: n.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "due", Value: due}}}})
		return err
	})
}

// ForgetUser removes a deleted account's inbox and notices; the
// conversations stay for the other side.
func (s *ChatStore) ForgetUser(ctx context.Context, user primitive.ObjectID) error {
	return s.db.write(func() error {
		if err := s.forgetInbox(ctx, user.Hex()); err != nil {
			return err
		}
		// chatNotices holds only what is owed now: a filter on it stays cheap.
		_, err := s.db.col(colChatNotices).DeleteMany(ctx, bson.D{{Key: "userId", Value: user}})
		return err
	})
}

// Import bulk-loads a conversation and its messages (oldest first), for
// benchmarks and demo data: the buckets are written whole, the inboxes get
// the last message and owners' unread counts.
func (s *ChatStore) Import(ctx context.Context, c *Conversation, titles map[string]string, msgs []Message, unread map[string]int64) error {
	if len(msgs) == 0 {
		return nil
	}
	c.N = int64(len(msgs))
	c.CreatedAt = msgs[0].CreatedAt
	for i := range msgs {
		msgs[i].Seq = int64(i) + 1
	}
	var buckets []any
	for start := 0; start < len(msgs); start += messageBucket {
		end := min(start+messageBucket, len(msgs))
		buckets = append(buckets, bson.D{{Key: "_id", Value: bucketID(c.ID, int64(start)+1)}, {Key: "conversationId", Value: c.ID},
			{Key: "count", Value: end - start}, {Key: "items", Value: storedMessages(msgs[start:end])}})
	}
	last := msgs[len(msgs)-1]
	c.Last = lastMessage{B: preview(last.Body), At: last.CreatedAt}
	return s.db.write(func() error { return s.insert(ctx, c, titles, buckets, unread) })
}
