package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/chat"
	"tozalash/store"
	"tozalash/views"
)

// The chat's rules.
const (
	chatMaxBody    = 2000     // characters, after trimming
	chatMaxFrame   = 16 << 10 // bytes; a larger frame closes the socket with 1009
	chatRate       = 20       // messages …
	chatRateWindow = 10 * time.Second
	chatBuffer     = 64 // events a socket may fall behind before it is dropped
)

// conversationID is the shape of every conversation id the store makes.
var conversationID = regexp.MustCompile(`^(support:[0-9a-f]{24}|order:[0-9a-f]{24}|direct:[0-9a-f]{24}:[0-9a-f]{24})$`)

// ParseOrigin reads an origin as browsers write the Origin header,
// scheme://host[:port] and nothing more, into the one form compared: lower
// case, without the scheme's default port. config.go checks
// ALLOWED_ORIGINS with it.
func ParseOrigin(s string) (string, error) {
	bad := fmt.Errorf("%q is not an origin (http(s)://host[:port], no path)", s)
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", bad
	}
	host := strings.ToLower(u.Host)
	if strings.HasSuffix(host, ":") {
		return "", bad
	}
	if u.Scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else {
		host = strings.TrimSuffix(host, ":443")
	}
	return u.Scheme + "://" + host, nil
}

// originAllowed: a socket may come from BASE_URL's origin and those of
// ALLOWED_ORIGINS (the same site under another name: www., 127.0.0.1).
func (h *Handler) originAllowed(header string) bool {
	o, err := ParseOrigin(header)
	return err == nil && h.origins[o]
}

// canSee: the conversation's members, and ADMINs in support and order threads.
func canSee(u *store.User, c *store.Conversation) bool {
	return c.HasMember(u.ID) || u.IsAdmin() && c.Supported()
}

// inboxOf is the inbox in which u follows c: their own, or support's.
func inboxOf(u *store.User, c *store.Conversation) string {
	if c.HasMember(u.ID) {
		return u.ID.Hex()
	}
	return store.SupportInbox
}

// companyName is how support signs to customers.
const companyName = "Tozalash"

// agentName is what customers see of an ADMIN: the company and the first
// name ("Tozalash · Aziz"), or just the company; never the username.
func agentName(u *store.User) string {
	if f := u.FirstName(); f != "" {
		return companyName + " · " + f
	}
	return companyName
}

// shown is m as viewer may see it. Support's messages are marked staff
// (also those stored before the mark: an answer in a support or order
// thread from someone not its member); a customer reads the agent's name
// in place of the username.
func shown(viewer *store.User, conv *store.Conversation, m store.Message) store.Message {
	if !m.Staff && conv != nil && conv.Supported() && !conv.HasMember(m.SenderID) {
		m.Staff = true
	}
	if m.Staff && m.AgentName == "" {
		m.AgentName = companyName
	}
	if m.Staff && !viewer.IsAdmin() {
		m.SenderName = m.AgentName
	}
	return m
}

func shownAll(viewer *store.User, conv *store.Conversation, msgs []store.Message) []store.Message {
	for i := range msgs {
		msgs[i] = shown(viewer, conv, msgs[i])
	}
	return msgs
}

// conversationParam is the :id of a chat route, unescaped: the pages ask
// for /chat/conversations/order%3A…/messages (encodeURIComponent) and
// Fiber leaves the %3A as it came; links and clients may send the plain
// colon too. Both are the same conversation.
func conversationParam(c *fiber.Ctx) string {
	raw := c.Params("id")
	id, err := url.PathUnescape(raw)
	if err != nil {
		return raw // not an id of ours: conversation answers not found
	}
	return id
}

// conversation returns conversation id if u may see it; another's is "not
// found", as if it did not exist.
func (h *Handler) conversation(ctx context.Context, u *store.User, id string) (*store.Conversation, error) {
	if !conversationID.MatchString(id) { // ids are ours: anything else is nobody's
		return nil, store.ErrNotFound
	}
	c, err := h.chat.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canSee(u, c) {
		return nil, store.ErrNotFound
	}
	return c, nil
}

// inbox is what u's chat list shows: their conversations, and for an
// ADMIN support's too, latest first, limit of them after cursor before.
func (h *Handler) inbox(ctx context.Context, u *store.User, before string, limit int) (views.ChatInboxView, error) {
	owners := []string{u.ID.Hex()}
	if u.IsAdmin() {
		owners = append(owners, store.SupportInbox)
	}
	list, err := h.chat.Inbox(ctx, before, limit, owners...)
	if err != nil {
		return views.ChatInboxView{}, err
	}
	return views.ChatInboxView{Items: list.Items, Unread: list.Unread, Next: list.Next}, nil
}

// chatListSize is how many conversations a list shows at first.
const chatListSize = 50

// ChatPage is GET /chat: the list, or with ?c= one conversation.
func (h *Handler) ChatPage(c *fiber.Ctx) error {
	u := currentUser(c)
	inbox, err := h.inbox(ctx(c), u, "", chatListSize)
	if err != nil {
		return err
	}
	var open *views.ChatView
	if id := c.Query("c"); id != "" {
		conv, err := h.conversation(ctx(c), u, id)
		if err != nil {
			return err
		}
		v, err := h.chatView(c, u, conv)
		if err != nil {
			return err
		}
		open = &v
	}
	return h.render(c, fiber.StatusOK, nil, page{title: h.meta(c).T("chat.title"), body: views.ChatPage(inbox, open)})
}

// ListConversations is GET /chat/conversations?before=&limit=: the list
// with unread counts (unread: the total, the badge's), latest first, a page
// at a time.
func (h *Handler) ListConversations(c *fiber.Ctx) error {
	limit := chatListSize
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return fiber.NewError(fiber.StatusBadRequest, "limit must be a whole number from 1 to 100")
		}
		limit = n
	}
	before := c.Query("before")
	v, err := h.inbox(ctx(c), currentUser(c), before, limit)
	if err != nil {
		return err
	}
	if v.Items == nil {
		v.Items = []store.InboxItem{}
	}
	body := views.ChatInboxPanel(v)
	if before != "" && isFragment(c) { // the list's button: the older rows in its place
		body = views.ChatInboxRows(v)
	}
	return h.render(c, fiber.StatusOK, fiber.Map{"items": v.Items, "unread": v.Unread, "next": v.Next}, page{
		title: h.meta(c).T("chat.title"), body: body})
}

// ChatUnread is GET /chat/unread: the badge's count, {"unread":N}, or for
// htmx the badge itself, which polls this again every 30 s: pages have no
// socket until the chat is opened, and the badge stays live without one.
func (h *Handler) ChatUnread(c *fiber.Ctx) error {
	u := currentUser(c)
	owners := []string{u.ID.Hex()}
	if u.IsAdmin() {
		owners = append(owners, store.SupportInbox)
	}
	n, err := h.chat.Unread(ctx(c), owners...)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if !isFragment(c) {
		return c.JSON(fiber.Map{"unread": n})
	}
	return h.render(c, fiber.StatusOK, nil, page{body: views.ChatBadgePolled(n, false)})
}

// errPrivateChat refuses a customer a conversation with another user.
var errPrivateChat = &codedError{status: fiber.StatusForbidden, code: "private_chat"}

type startInput struct {
	Username string `json:"username" form:"username"`
	Support  bool   `json:"support" form:"support"`
	OrderID  string `json:"orderId" form:"orderId"`
}

func (in *startInput) normalize() {
	in.Username = strings.ToLower(strings.TrimSpace(in.Username))
	in.OrderID = strings.TrimSpace(in.OrderID)
}

func (in *startInput) Validate() error { return nil } // one of three, checked by StartConversation

// StartConversation is POST /chat/conversations with {username}, {support:
// true} or {orderId}: the conversation, made on first use (201) or found
// (200).
func (h *Handler) StartConversation(c *fiber.Ctx) error {
	var in startInput
	if err := h.bind(c, &in); err != nil {
		return err
	}
	u, loc := currentUser(c), h.meta(c).Locale
	if in.Username != "" && !in.Support && in.OrderID == "" && !u.IsAdmin() {
		// Customers talk to support and about their orders: a cleaning
		// company wants no chats between customers, and the answer must not
		// tell whether a username exists.
		return errPrivateChat
	}
	if err := h.chatWrite(ctx(c), u); err != nil { // starting counts as writing
		return err
	}
	var conv *store.Conversation
	titles := map[string]string{}
	switch {
	case in.Support:
		if u.IsAdmin() {
			return &ValidationError{Fields: map[string]string{"support": loc.T("chat.adminSupport")}}
		}
		conv = &store.Conversation{ID: store.SupportConversationID(u.ID), Kind: store.ChatSupport, Members: []primitive.ObjectID{u.ID}}
		titles[u.ID.Hex()], titles[store.SupportInbox] = "", u.Username
	case in.OrderID != "":
		id, err := store.ParseID(in.OrderID)
		if err != nil {
			return &ValidationError{Fields: map[string]string{"orderId": loc.T("chat.noSuchOrder")}}
		}
		o, err := h.orders.Get(ctx(c), id)
		if err != nil || (o.UserID != u.ID && !u.IsAdmin()) {
			return &ValidationError{Fields: map[string]string{"orderId": loc.T("chat.noSuchOrder")}}
		}
		conv = &store.Conversation{ID: store.OrderConversationID(o.ID), Kind: store.ChatOrder, Members: []primitive.ObjectID{o.UserID}, OrderID: o.ID}
		// Titles are stored per reader: the customer's in their language,
		// support's in the language of whoever opened it (Uzbek for a customer).
		customerLang, supportLang := h.meta(c).Lang, views.Languages[0]
		if u.IsAdmin() {
			supportLang = customerLang
			if customer, err := h.users.Get(ctx(c), o.UserID); err == nil {
				customerLang = localeOf(customer)
			}
		}
		about := func(lang string) string {
			return store.ServiceTitle(o.ServiceNames, o.ServiceName, lang, "") + " · " + views.LocalDate(o.ScheduledAt)
		}
		titles[o.UserID.Hex()], titles[store.SupportInbox] = about(customerLang), o.CustomerName+" · "+about(supportLang)
	case in.Username != "":
		other, err := h.users.GetByUsername(ctx(c), in.Username)
		if errors.Is(err, store.ErrNotFound) {
			return &ValidationError{Fields: map[string]string{"username": loc.T("chat.noSuchUser")}}
		} else if err != nil {
			return err
		}
		if other.ID == u.ID {
			return &ValidationError{Fields: map[string]string{"username": loc.T("chat.self")}}
		}
		conv = &store.Conversation{ID: store.DirectConversationID(u.ID, other.ID), Kind: store.ChatDirect, Members: []primitive.ObjectID{u.ID, other.ID}}
		titles[u.ID.Hex()], titles[other.ID.Hex()] = other.Username, u.Username
		if !other.IsAdmin() { // the customer's list names support, not a username
			titles[other.ID.Hex()] = agentName(u)
		}
	default:
		return &ValidationError{Fields: map[string]string{"username": loc.T("err.validation_required")}}
	}
	conv, created, err := h.chat.Open(ctx(c), conv, titles)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
		h.hub.Publish(audienceOf(conv), chat.Event{Type: "read", ConversationID: conv.ID}) // lists change
	}
	if wantsJSON(c) {
		return c.Status(status).JSON(conv)
	}
	if !isFragment(c) {
		return c.Redirect("/chat?c="+url.QueryEscape(conv.ID), fiber.StatusSeeOther)
	}
	if c.Get("HX-Target") != "chat-view" { // a button elsewhere: to the chat page
		c.Set("HX-Redirect", "/chat?c="+url.QueryEscape(conv.ID))
		return c.SendStatus(fiber.StatusNoContent)
	}
	v, err := h.chatView(c, u, conv)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, nil, page{body: views.ChatConversation(v)})
}

// chatView opens conv for u: the newest messages, and the conversation
// marked read.
func (h *Handler) chatView(c *fiber.Ctx, u *store.User, conv *store.Conversation) (views.ChatView, error) {
	msgs, more, err := h.chat.History(ctx(c), conv, primitive.NilObjectID, 50)
	if err != nil {
		return views.ChatView{}, err
	}
	if err := h.markRead(ctx(c), u, conv); err != nil {
		return views.ChatView{}, err
	}
	return views.ChatView{Conversation: conv, Title: h.chatTitle(ctx(c), u, conv), Messages: shownAll(u, conv, msgs), More: more, Viewer: u.ID.Hex()}, nil
}

// chatTitle is what u's list calls conv.
func (h *Handler) chatTitle(ctx context.Context, u *store.User, conv *store.Conversation) string {
	it, ok := conv.Item(inboxOf(u, conv))
	if !ok {
		it = store.InboxItem{Kind: conv.Kind}
	}
	return views.ChatTitle(ctx, it)
}

// markRead marks conv read in u's inbox and tells u's other sockets.
func (h *Handler) markRead(ctx context.Context, u *store.User, conv *store.Conversation) error {
	changed, err := h.chat.MarkRead(ctx, inboxOf(u, conv), conv.ID)
	if err != nil || !changed {
		return err
	}
	to := chat.Audience{Users: []string{u.ID.Hex()}}
	if inboxOf(u, conv) == store.SupportInbox {
		to = chat.Audience{Support: true}
	}
	h.hub.Publish(to, chat.Event{Type: "read", ConversationID: conv.ID, Payload: u.ID.Hex()})
	return nil
}

// ConversationMessages is GET /chat/conversations/:id/messages?before=&after=:
// a page of history (50, oldest first), or what came after a message.
func (h *Handler) ConversationMessages(c *fiber.Ctx) error {
	u := currentUser(c)
	conv, err := h.conversation(ctx(c), u, conversationParam(c))
	if err != nil {
		return err
	}
	var before, after primitive.ObjectID
	for _, p := range []struct {
		name string
		id   *primitive.ObjectID
	}{{"before", &before}, {"after", &after}} {
		if s := c.Query(p.name); s != "" {
			if *p.id, err = store.ParseID(s); err != nil {
				return err
			}
		}
	}
	var msgs []store.Message
	more := false
	switch {
	case !after.IsZero():
		msgs, err = h.chat.Since(ctx(c), conv, after)
	default:
		msgs, more, err = h.chat.History(ctx(c), conv, before, 50)
	}
	if err != nil {
		return err
	}
	if before.IsZero() {
		if err := h.markRead(ctx(c), u, conv); err != nil {
			return err
		}
	}
	if msgs == nil {
		msgs = []store.Message{}
	}
	msgs = shownAll(u, conv, msgs)
	next := ""
	if more {
		next = msgs[0].ID.Hex()
	}
	if wantsJSON(c) {
		return c.JSON(fiber.Map{"items": msgs, "next": next})
	}
	if !isFragment(c) {
		return c.Redirect("/chat?c="+url.QueryEscape(conv.ID), fiber.StatusSeeOther)
	}
	v := views.ChatView{Conversation: conv, Messages: msgs, More: more, Viewer: u.ID.Hex()}
	if !before.IsZero() {
		return h.render(c, fiber.StatusOK, nil, page{body: views.ChatOlder(v)})
	}
	v.Title = h.chatTitle(ctx(c), u, conv)
	return h.render(c, fiber.StatusOK, nil, page{body: views.ChatConversation(v)})
}

type messageInput struct {
	Body  string `json:"body" form:"body"`
	Nonce string `json:"nonce" form:"nonce"` // echoed in the answer
}

// Validate checks the nonce (a client's token, never shown); postMessage
// checks the body.
func (in *messageInput) Validate() error {
	if len(in.Nonce) > 64 {
		return fiber.NewError(fiber.StatusBadRequest, "a nonce has at most 64 characters")
	}
	return nil
}

// PostMessage is POST /chat/conversations/:id/messages {body}: the socket's
// send, for clients without one.
func (h *Handler) PostMessage(c *fiber.Ctx) error {
	var in messageInput
	if err := h.bind(c, &in); err != nil {
		return err
	}
	u := currentUser(c)
	conv, err := h.conversation(ctx(c), u, conversationParam(c))
	if err != nil {
		return err
	}
	m, err := h.postMessage(ctx(c), u, conv, in.Body, h.meta(c).Locale)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(postedMessage{shown(u, conv, *m), in.Nonce})
}

// postedMessage is the answer to a post: the message, and the client's
// nonce back.
type postedMessage struct {
	store.Message
	Nonce string `json:"nonce,omitempty"`
}

// chatWrite counts one message (or new conversation) of u against the
// chat's limit, shared by all instances: a *rateLimitedError over it.
func (h *Handler) chatWrite(ctx context.Context, u *store.User) error {
	return h.chatLimit.allow(ctx, u.ID.Hex(), h.now())
}

// postMessage checks, stores, then delivers one message; a recipient who is
// away is owed an email.
func (h *Handler) postMessage(ctx context.Context, u *store.User, conv *store.Conversation, body string, loc views.Locale) (*store.Message, error) {
	body = strings.TrimSpace(body)
	if n := utf8.RuneCountInString(body); n < 1 || n > chatMaxBody || !utf8.ValidString(body) {
		return nil, &ValidationError{Fields: map[string]string{"body": loc.T("chat.tooLong")}}
	}
	if err := h.chatWrite(ctx, u); err != nil {
		return nil, err
	}
	var inboxes []string
	senderInbox := inboxOf(u, conv)
	switch {
	case !conv.Supported():
		for _, m := range conv.Members {
			if m != u.ID {
				inboxes = append(inboxes, m.Hex())
			}
		}
	case senderInbox == store.SupportInbox: // support answers the customer
		for _, m := range conv.Members {
			inboxes = append(inboxes, m.Hex())
		}
	default: // the customer writes to support
		inboxes = []string{store.SupportInbox}
	}
	m := &store.Message{SenderID: u.ID, SenderName: u.Username, Body: body}
	if u.IsAdmin() {
		m.Staff, m.AgentName = true, agentName(u)
	}
	if err := h.chat.Post(ctx, conv, m, inboxes, senderInbox); err != nil {
		return nil, err
	}
	for _, owner := range inboxes {
		if owner == store.SupportInbox {
			continue // support reads its queue at work; no emails
		}
		if away, _ := h.hub.awaySince(ctx, owner); away {
			id, _ := primitive.ObjectIDFromHex(owner)
			if err := h.chat.Owe(ctx, id, conv.ID, m.CreatedAt, m.CreatedAt.Add(h.cfg.ChatEmailAfter)); err != nil {
				h.log.Warn("chat notice", "err", err)
			}
		}
	}
	h.hub.Publish(audienceOf(conv), chat.Event{Type: "message", ConversationID: conv.ID, Payload: *m})
	return m, nil
}

func audienceOf(conv *store.Conversation) chat.Audience {
	a := chat.Audience{Support: conv.Supported()}
	for _, m := range conv.Members {
		a.Users = append(a.Users, m.Hex())
	}
	return a
}

// chatClient is who a socket belongs to, fixed at the upgrade.
type chatClient struct {
	user      *store.User
	session   string
	json      bool
	locale    views.Locale
	requestID string // of the upgrade, for the log
}

const chatLocal = "chatClient"

// chatUpgrade lets a socket open for a signed-in user (401 otherwise) from
// our own pages (the Origin must be BASE_URL's or one of ALLOWED_ORIGINS:
// 403 otherwise).
func (h *Handler) chatUpgrade(c *fiber.Ctx) error {
	// A socket follows no redirect to the login page: plain statuses.
	u := currentUser(c)
	if u == nil {
		return c.Status(fiber.StatusUnauthorized).JSON(fiber.Map{"error": fiber.Map{"code": "unauthorized", "message": "sign in first"}})
	}
	if !h.originAllowed(c.Get(fiber.HeaderOrigin)) {
		return c.Status(fiber.StatusForbidden).JSON(fiber.Map{"error": fiber.Map{"code": "forbidden", "message": "the Origin is not this site"}})
	}
	if !websocket.IsWebSocketUpgrade(c) {
		return fiber.ErrUpgradeRequired
	}
	sid, _ := c.Locals(sessionLocal).(primitiveID)
	c.Locals(chatLocal, &chatClient{user: u, session: sid.Hex(), json: c.Query("format") == "json", locale: h.meta(c).Locale, requestID: strings.Clone(requestID(c))})
	return c.Next()
}

// chatFrame is what a client sends: a message, "typing", "read", or (the
// widget) which conversation it shows. The htmx ws extension adds HEADERS
// and sends form values as strings.
type chatFrame struct {
	ConversationID string          `json:"conversationId"`
	Body           *string         `json:"body"`
	Typing         json.RawMessage `json:"typing"`
	Read           json.RawMessage `json:"read"`
	Open           *string         `json:"open"`
	// Nonce is the client's name for a message it sends: the answer (an
	// ack, or an error) echoes it, so the client knows what was stored.
	Nonce string `json:"nonce"`
}

// parseChatFrame reads one frame; anything but a JSON object is an error.
func parseChatFrame(data []byte) (chatFrame, error) {
	var f chatFrame
	if !utf8.Valid(data) || escapedNUL(data) {
		return f, errors.New("a frame is text, without NUL")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return f, errors.New("a frame is a JSON object")
	}
	if dec.More() {
		return f, errors.New("one JSON object a frame")
	}
	if len(f.ConversationID) > 100 {
		return f, errors.New("no such conversation")
	}
	if len(f.Nonce) > 64 {
		return f, errors.New("a nonce has at most 64 characters")
	}
	return f, nil
}

func truthy(raw json.RawMessage) bool {
	s := strings.Trim(string(raw), `" `)
	return s == "true" || s == "1" || s == "on"
}

// socketNote is something the reader tells the writer of its socket.
type socketNote struct {
	open    *string // the conversation the widget shows now
	errText string  // a refusal for this socket only
	code    string
	nonce   string         // of the message acknowledged or refused
	stored  *store.Message // the message acknowledged
}

// chatSocket serves one WebSocket: the reader (this goroutine) takes frames,
// the writer (another) is the only one that writes, from the hub's events,
// the reader's notes and the ping ticker.
func (h *Handler) chatSocket(conn *websocket.Conn) {
	cl, ok := conn.Locals(chatLocal).(*chatClient)
	if !ok {
		return
	}
	h.socketsMu.Lock()
	if h.closing { // shutting down: no new sockets
		h.socketsMu.Unlock()
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, chat.EndedShutdown), time.Now().Add(time.Second))
		return
	}
	h.sockets.Add(1)
	h.socketsMu.Unlock()
	defer h.sockets.Done()
	ctx, cancel := context.WithCancel(h.life)
	defer cancel()
	sub := h.hub.Subscribe(cl.user.ID.Hex(), cl.session, cl.user.IsAdmin())
	defer sub.Close()

	conn.SetReadLimit(chatMaxFrame)
	wait := 3 * h.cfg.ChatPing // two pings unanswered
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wait)) })

	notes := make(chan socketNote, 16)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		defer h.recoverSocket(cl, "writer")
		h.chatWriter(ctx, conn, cl, sub, notes)
	}()
	defer h.recoverSocket(cl, "reader")
	convs := map[string]*store.Conversation{} // this socket's, checked once (nil: not theirs)
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			break
		}
		if !h.chatFrames.Allow(cl.user.ID.Hex(), time.Now()) { // a flood of any frame: dropped
			continue
		}
		note := h.chatFrame(ctx, cl, convs, data)
		if note != nil {
			select {
			case notes <- *note:
			default: // the writer is stuck; the hub will drop it
			}
		}
	}
	cancel()
	<-writerDone
}

// recoverSocket turns a panic in a socket's goroutine into a log line with
// its stack: that socket ends, the server goes on.
func (h *Handler) recoverSocket(cl *chatClient, part string) {
	if p := recover(); p != nil {
		h.log.Error("panic in a chat socket", "part", part, "user", cl.user.ID.Hex(), "requestId", cl.requestID, "panic", p, "stack", string(debug.Stack()))
	}
}

// chatFrame acts on one frame and returns what the writer must tell.
func (h *Handler) chatFrame(ctx context.Context, cl *chatClient, convs map[string]*store.Conversation, data []byte) *socketNote {
	f, err := parseChatFrame(data)
	if err != nil {
		return &socketNote{errText: err.Error(), code: "bad_frame"}
	}
	if f.Open != nil && f.ConversationID == "" {
		if *f.Open != "" {
			conv, err := h.socketConversation(ctx, cl, convs, *f.Open)
			if err != nil {
				return &socketNote{errText: cl.locale.T("chat.notAllowed"), code: "not_found"}
			}
			_ = h.markRead(ctx, cl.user, conv)
		}
		return &socketNote{open: f.Open}
	}
	conv, err := h.socketConversation(ctx, cl, convs, f.ConversationID)
	if err != nil {
		return &socketNote{errText: cl.locale.T("chat.notAllowed"), code: "not_found", nonce: f.Nonce}
	}
	switch {
	case f.Body != nil:
		if !cl.user.IsVerified {
			return &socketNote{errText: cl.locale.T("error.not_verified.message"), code: "not_verified", nonce: f.Nonce}
		}
		m, err := h.postMessage(ctx, cl.user, conv, *f.Body, cl.locale)
		var ve *ValidationError
		var tooFast *rateLimitedError
		switch {
		case errors.As(err, &ve):
			return &socketNote{errText: ve.Fields["body"], code: "invalid", nonce: f.Nonce}
		case errors.As(err, &tooFast):
			return &socketNote{errText: cl.locale.T("chat.tooFast"), code: "rate_limited", nonce: f.Nonce}
		case err != nil:
			h.log.Error("chat post", "err", err)
			return &socketNote{errText: cl.locale.T("error.internal.title"), code: "server", nonce: f.Nonce}
		}
		if f.Nonce != "" { // stored: the sender may forget its copy
			return &socketNote{nonce: f.Nonce, stored: m}
		}
	case truthy(f.Typing):
		if !h.chatTyping.Allow(cl.user.ID.Hex()+" "+conv.ID, time.Now()) {
			return nil // one "typing" a conversation every 2 s is plenty
		}
		who := [3]string{cl.user.ID.Hex(), cl.user.Username, ""}
		if cl.user.IsAdmin() {
			who[2] = agentName(cl.user) // what customers read
		}
		h.hub.Publish(audienceOf(conv), chat.Event{Type: "typing", ConversationID: conv.ID, Payload: who})
	case truthy(f.Read):
		_ = h.markRead(ctx, cl.user, conv)
	}
	return nil
}

func (h *Handler) socketConversation(ctx context.Context, cl *chatClient, convs map[string]*store.Conversation, id string) (*store.Conversation, error) {
	if conv, ok := convs[id]; ok {
		if conv == nil {
			return nil, store.ErrNotFound
		}
		return conv, nil
	}
	conv, err := h.conversation(ctx, cl.user, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if len(convs) < 100 {
		convs[id] = conv // nil remembers "not theirs"
	}
	if conv == nil {
		return nil, store.ErrNotFound
	}
	return conv, nil
}

// chatWriter writes everything this socket is sent until it ends: closed by
// the hub (1001 at shutdown, 1008 at logout, 1013 when too slow), by the
// reader, or by a missed pong.
func (h *Handler) chatWriter(ctx context.Context, conn *websocket.Conn, cl *chatClient, sub *chat.Subscription, notes <-chan socketNote) {
	defer conn.Close() // however the writer ends, the socket ends with it
	ping := time.NewTicker(h.cfg.ChatPing)
	defer ping.Stop()
	open := "" // the conversation the widget shows
	var buf bytes.Buffer
	rctx := views.WithMeta(ctx, &views.Meta{Locale: cl.locale, User: cl.user})
	write := func(payload any) bool {
		buf.Reset()
		if comp, ok := payload.(templ.Component); ok {
			if err := comp.Render(rctx, &buf); err != nil {
				h.log.Error("chat render", "err", err)
				return true
			}
		} else if err := json.NewEncoder(&buf).Encode(payload); err != nil {
			return true
		}
		_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return conn.WriteMessage(websocket.TextMessage, buf.Bytes()) == nil
	}
	pushInbox := func() bool {
		if cl.json {
			return true
		}
		v, err := h.inbox(ctx, cl.user, "", chatListSize)
		if err != nil {
			return true
		}
		return write(views.ChatPushInbox(v))
	}
	if !pushInbox() {
		return
	}
	me := cl.user.ID.Hex()
	for {
		select {
		case <-ctx.Done():
			select {
			case <-sub.Done(): // ended by the hub too: say why
				closeWith(conn, sub.Reason())
			default:
			}
			return
		case <-sub.Done():
			closeWith(conn, sub.Reason())
			return
		case <-ping.C:
			if !h.stillSignedIn(ctx, cl) { // the session ended or the rights changed elsewhere
				closeWith(conn, chat.EndedUser)
				return
			}
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)); err != nil {
				return
			}
		case n := <-notes:
			ok := true
			switch {
			case n.open != nil:
				open = *n.open
				ok = pushInbox()
			case n.stored != nil && cl.json:
				ok = write(fiber.Map{"type": "ack", "nonce": n.nonce, "messageId": n.stored.ID.Hex()})
			case n.stored != nil:
				ok = write(views.ChatPushAck(n.nonce, true))
			case cl.json:
				e := fiber.Map{"type": "error", "code": n.code, "error": n.errText}
				if n.nonce != "" {
					e["nonce"] = n.nonce
				}
				ok = write(e)
			default:
				ok = write(views.ChatPushError(n.errText))
				if ok && n.nonce != "" {
					ok = write(views.ChatPushAck(n.nonce, false))
				}
			}
			if !ok {
				return
			}
		case ev := <-sub.Events():
			ok := true
			switch ev.Type {
			case "message":
				m := shown(cl.user, nil, ev.Payload.(store.Message))
				if cl.json {
					ok = write(fiber.Map{"type": "message", "conversationId": ev.ConversationID, "message": m})
					break
				}
				if ev.ConversationID == open {
					ok = write(views.ChatPushMessage(ev.ConversationID, m, me))
					if conv, err := h.chat.Get(ctx, open); err == nil && m.SenderID.Hex() != me {
						_, _ = h.chat.MarkRead(ctx, inboxOf(cl.user, conv), open) // it is in front of them
					}
				}
				ok = ok && pushInbox()
			case "read":
				if cl.json {
					ok = write(fiber.Map{"type": "read", "conversationId": ev.ConversationID, "userId": ev.Payload})
					break
				}
				ok = pushInbox()
			case "typing":
				who := ev.Payload.([3]string)
				if who[0] == me {
					break
				}
				if who[2] != "" && !cl.user.IsAdmin() {
					who[1] = who[2]
				}
				if cl.json {
					ok = write(fiber.Map{"type": "typing", "conversationId": ev.ConversationID, "userId": who[0], "name": who[1]})
				} else if ev.ConversationID == open {
					ok = write(views.ChatPushTyping(ev.ConversationID, who[1]))
				}
			}
			if !ok {
				return
			}
		}
	}
}

// closeWith sends the close frame for why a subscription ended: 1001 at
// shutdown, 1008 after a logout, 1012 to come back with new rights, 1013
// for a socket too slow to keep up.
func closeWith(conn *websocket.Conn, reason string) {
	code := map[string]int{chat.EndedShutdown: websocket.CloseGoingAway, chat.EndedUser: websocket.ClosePolicyViolation,
		chat.EndedChanged: websocket.CloseServiceRestart, chat.EndedSlow: websocket.CloseTryAgainLater}[reason]
	if code != 0 {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	}
}

// stillSignedIn checks, at each ping, that the socket's session is still
// live and its user unchanged (the cache makes it a look-up every few
// seconds at most).
func (h *Handler) stillSignedIn(ctx context.Context, cl *chatClient) bool {
	sid, err := primitive.ObjectIDFromHex(cl.session)
	if err != nil {
		return false
	}
	now := time.Now()
	user, sess, err := h.auth.lookup(ctx, sid, now, h.readSession(sid))
	if err != nil {
		return !errors.Is(err, store.ErrNotFound) // a database hiccup is no logout
	}
	return sess.Active(now) && user.TokenVersion == cl.user.TokenVersion && user.Role == cl.user.Role
}

// CloseSockets closes every chat socket with 1001 and waits (up to wait)
// for their goroutines; main calls it first at shutdown.
func (h *Handler) CloseSockets(wait time.Duration) {
	h.socketsMu.Lock()
	h.closing = true
	h.socketsMu.Unlock()
	h.hub.Close() // every writer sends 1001 and closes its socket
	done := make(chan struct{})
	go func() { h.sockets.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
	}
	h.stop() // whatever is left stops its database work
}

// RunRelay passes chat events and closed sockets between this instance and
// the others on the database until ctx ends (see relayedHub); main runs it
// beside the server.
func (h *Handler) RunRelay(ctx context.Context) { h.hub.Run(ctx) }

// RunChatNotices emails, through the outbox, users who were away when a
// message came and have not been back: at most one email a conversation an
// hour. It checks every interval until ctx ends.
func (h *Handler) RunChatNotices(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := h.sendChatNotices(ctx, time.Now()); err != nil && ctx.Err() == nil {
			h.log.Warn("chat notices", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *Handler) sendChatNotices(ctx context.Context, now time.Time) error {
	due, err := h.chat.DueNotices(ctx, now)
	if err != nil {
		return err
	}
	for _, n := range due {
		away, since := h.hub.awaySince(ctx, n.UserID.Hex())
		if !away || since.After(n.Since) { // here, or came back after it
			if err := h.chat.SettleNotice(ctx, n, time.Time{}); err != nil {
				h.log.Warn("chat notice", "err", err)
			}
			continue
		}
		conv, err := h.chat.Get(ctx, n.ConversationID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.log.Warn("chat notice", "err", err)
			continue
		}
		var item *store.InboxItem
		if conv != nil {
			if it, ok := conv.Item(n.UserID.Hex()); ok {
				item = &it
			}
		}
		switch {
		case item == nil || item.Unread == 0: // read meanwhile (another instance)
			err = h.chat.SettleNotice(ctx, n, time.Time{})
		case !item.EmailedAt.IsZero() && now.Sub(item.EmailedAt) < time.Hour:
			err = h.chat.Postpone(ctx, n, item.EmailedAt.Add(time.Hour))
		default:
			err = h.chatEmail(ctx, n, *item, now)
		}
		if err != nil { // one notice's trouble holds up no other
			h.log.Warn("chat notice", "user", n.UserID.Hex(), "conversation", n.ConversationID, "err", err)
		}
	}
	return nil
}

func (h *Handler) chatEmail(ctx context.Context, n store.Notice, item store.InboxItem, now time.Time) error {
	u, err := h.users.Get(ctx, n.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !u.IsVerified { // gone, or an address nobody proved
		return h.chat.SettleNotice(ctx, n, time.Time{})
	} else if err != nil {
		return err
	}
	lang := localeOf(u)
	loc := h.catalog.Locale(lang)
	title := views.ChatTitle(views.WithMeta(ctx, &views.Meta{Locale: loc}), item)
	link := h.cfg.BaseURL + "/chat?c=" + url.QueryEscape(n.ConversationID)
	text := loc.Format("email.greeting", map[string]any{"Name": u.Username}) + "\n\n" +
		loc.Format("chat.emailText", map[string]any{"Title": title}) + "\n\n" + link + "\n\n-- \n" + loc.T("email.footer") + "\n"
	e, err := h.renderEmail(ctx, u.Email, lang, "chat.emailSubject", views.ChatEmail(u.Username, title, link), text)
	if err != nil {
		return err
	}
	// Keyed by the notice as it was read: two instances that both found it
	// due queue one email.
	key := "chat-notice|" + n.UserID.Hex() + "|" + n.ConversationID + "|" + n.Due.UTC().Format(time.RFC3339Nano)
	if err := h.tell(ctx, u, "chat", key, e); err != nil && !errors.Is(err, store.ErrConflict) { // a conflict: the other instance's
		return err
	}
	return h.chat.SettleNotice(ctx, n, now)
}
