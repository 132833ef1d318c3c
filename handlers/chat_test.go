package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"tozalash/demo"
	"tozalash/store"
	"tozalash/store/storetest"
)

// wsClient is a real WebSocket client of the running app.
type wsClient struct {
	t      testing.TB
	conn   *websocket.Conn
	events chan map[string]any
	raw    chan string
	closed chan int // the close code the server sent
}

// dial opens the chat socket as token (a Bearer), from origin.
func (a *testApp) dial(token, origin, query string) (*wsClient, *http.Response, error) {
	a.t.Helper()
	if a.base == "" {
		a.listen()
	}
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if origin != "" {
		h.Set("Origin", origin)
	}
	conn, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.base, "http")+"/chat/ws"+query, h)
	if err != nil {
		return nil, res, err
	}
	c := &wsClient{t: a.t, conn: conn, events: make(chan map[string]any, 256), raw: make(chan string, 256), closed: make(chan int, 1)}
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					c.closed <- ce.Code
				} else {
					c.closed <- 0
				}
				return
			}
			c.raw <- string(data)
			var ev map[string]any
			if json.Unmarshal(data, &ev) == nil {
				c.events <- ev
			}
		}
	}()
	a.t.Cleanup(func() { conn.Close() })
	return c, res, nil
}

// socket dials as token with JSON events, and fails the test if it cannot.
func (a *testApp) socket(token string) *wsClient {
	a.t.Helper()
	before := a.h.hub.Sockets()
	c, res, err := a.dial(token, "http://localhost:3000", "?format=json")
	// The upgrade's answer comes before the socket joins the hub: wait for
	// it, or an event sent at once could miss it.
	for deadline := time.Now().Add(5 * time.Second); err == nil && a.h.hub.Sockets() <= before && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		a.t.Fatalf("dial: %v (%d)", err, status)
	}
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

// next waits for the next event of type typ, skipping others.
func (c *wsClient) next(typ string) map[string]any {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-c.events:
			if ev["type"] == typ {
				return ev
			}
		case code := <-c.closed:
			c.t.Fatalf("socket closed (%d) waiting for %s", code, typ)
		case <-deadline:
			c.t.Fatalf("no %s event", typ)
		}
	}
}

// quiet asserts that no event of type typ comes within d.
func (c *wsClient) quiet(typ string, d time.Duration) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-c.events:
			if ev["type"] == typ {
				c.t.Errorf("unexpected %s event: %v", typ, ev)
			}
		case <-deadline:
			return
		}
	}
}

func (c *wsClient) closeCode(within time.Duration) int {
	c.t.Helper()
	select {
	case code := <-c.closed:
		return code
	case <-time.After(within):
		c.t.Fatalf("the socket stayed open")
		return -1
	}
}

type chatFixture struct {
	a                   *testApp
	admin, alice, bob   string
	aliceU, bobU, bossU *store.User
}

func newChatFixture(t *testing.T, cfg Config) *chatFixture {
	db := storetest.Open(t)
	if _, err := demo.Seed(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	a := newTestAppWith(t, db, cfg)
	f := &chatFixture{a: a}
	f.admin, f.bossU = a.admin()
	f.alice, f.aliceU = a.signupVerified("alice", "alice@example.uz", "toza-uy-2026")
	f.bob, f.bobU = a.signupVerified("bob", "bob@example.uz", "toza-uy-2026")
	return f
}

func (f *chatFixture) start(t *testing.T, token, body string) string {
	t.Helper()
	r := f.a.api(token).do("POST", "/chat/conversations", body)
	if r.status != 201 && r.status != 200 {
		t.Fatalf("start %s = %d %s", body, r.status, r.body)
	}
	return jsonField(t, r.body, "id").(string)
}

// promote makes u an ADMIN in the store; their tokens carry the new role
// at the next check.
func (f *chatFixture) promote(t *testing.T, u *store.User) {
	t.Helper()
	role := store.RoleAdmin
	if _, err := f.a.h.users.Update(context.Background(), u.ID, store.UserChange{Role: &role}); err != nil {
		t.Fatal(err)
	}
	u.Role = role
}

func unreadOf(t *testing.T, a *testApp, token, conv string) (one, total float64) {
	t.Helper()
	var list struct {
		Items []struct {
			ConversationID string
			Unread         float64
		}
		Unread float64
	}
	a.api(token).do("GET", "/chat/conversations", "").json(t, &list)
	for _, it := range list.Items {
		if it.ConversationID == conv {
			one = it.Unread
		}
	}
	return one, list.Unread
}

func TestChatSocketNeedsSessionAndOrigin(t *testing.T) {
	f := newChatFixture(t, Config{})
	for _, tc := range []struct {
		name, token, origin string
		status              int
	}{
		{"no session", "", "http://localhost:3000", 401},
		{"a bad token", "not-a-token", "http://localhost:3000", 401},
		{"no Origin", f.alice, "", 403},
		{"a foreign Origin", f.alice, "https://evil.example", 403},
		{"a look-alike Origin", f.alice, "http://localhost:3000.evil.example", 403},
	} {
		_, res, err := f.a.dial(tc.token, tc.origin, "?format=json")
		if err == nil {
			t.Errorf("%s: upgraded", tc.name)
			continue
		}
		if res == nil || res.StatusCode != tc.status {
			t.Errorf("%s: %v, want %d", tc.name, res, tc.status)
		}
	}
	if r := f.a.api(f.alice).do("GET", "/chat/ws", ""); r.status != 403 && r.status != 426 {
		t.Errorf("a plain GET of the socket = %d", r.status)
	}
	f.a.socket(f.alice) // and the right one opens
	if _, res, err := f.a.dial(f.alice, "HTTP://LocalHost:3000", "?format=json"); err != nil {
		t.Errorf("the same origin in other letters: %v %v", err, res)
	}
	// Writing needs a verified email; reading does not.
	f.a.api("").do("POST", "/auth/signup", `{"username":"carol","email":"carol@example.uz","password":"toza-uy-2026"}`)
	carol, _ := f.a.login("carol@example.uz", "toza-uy-2026")
	if r := f.a.api(carol).do("POST", "/chat/conversations", `{"support":true}`); r.status != 403 {
		t.Errorf("an unverified user starts a conversation: %d", r.status)
	}
	if r := f.a.api(carol).do("GET", "/chat/conversations", ""); r.status != 200 {
		t.Errorf("an unverified user's list: %d", r.status)
	}
}

// A change of role sends the user's sockets back to be checked (1012, which
// the page retries); a flood of "typing" frames disturbs nobody else.
func TestChatRightsAndFloods(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	conv := f.start(t, f.admin, `{"username":"bob"}`) // customers start no private chats
	adminWS, bobWS := a.socket(f.admin), a.socket(f.bob)
	for i := 0; i < 500; i++ {
		adminWS.send(map[string]any{"conversationId": conv, "typing": true})
	}
	typing := 0
	deadline := time.After(time.Second)
	for done := false; !done; {
		select {
		case ev := <-bobWS.events:
			if ev["type"] == "typing" {
				typing++
			}
		case code := <-bobWS.closed:
			t.Fatalf("bob's socket closed (%d) under the admin's typing", code)
		case <-deadline:
			done = true
		}
	}
	if typing < 1 || typing > 3 {
		t.Errorf("bob saw %d typing events for a flood of 500", typing)
	}
	r := a.api(f.admin).do("POST", "/chat/conversations/"+conv+"/messages", `{"body":"hali ham shu yerdaman"}`)
	if r.status != 201 {
		t.Fatalf("post after the flood = %d %s", r.status, r.body)
	}
	bobWS.next("message")

	if r := a.api(f.admin).do("PATCH", "/users/"+f.bobU.ID.Hex(), `{"role":"ADMIN"}`); r.status != 200 {
		t.Fatalf("promote = %d %s", r.status, r.body)
	}
	if code := bobWS.closeCode(5 * time.Second); code != websocket.CloseServiceRestart {
		t.Errorf("after a change of role: %d, want 1012", code)
	}
}

func TestChatDirectConversationLive(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	f.promote(t, f.aliceU) // only an ADMIN starts a conversation with a user
	aliceWS, bobWS := a.socket(f.alice), a.socket(f.bob)
	conv := f.start(t, f.alice, `{"username":"Bob"}`)
	if again := f.start(t, f.alice, `{"username":"bob"}`); again != conv {
		t.Fatalf("the same two users got two conversations: %s %s", conv, again)
	}
	// The htmx ws extension's frame: form values and a HEADERS key.
	aliceWS.send(map[string]any{"conversationId": conv, "body": "  Salom, Bob! <script>alert(1)</script> ", "HEADERS": map[string]any{"HX-Request": "true"}})
	ev := bobWS.next("message")
	m := ev["message"].(map[string]any)
	if ev["conversationId"] != conv || m["body"] != "Salom, Bob! <script>alert(1)</script>" || m["senderName"] != "Tozalash" || m["staff"] != true || m["senderId"] != f.aliceU.ID.Hex() || m["id"] == "" {
		t.Errorf("bob got %v", ev)
	}
	aliceWS.next("message") // the sender's other windows see it too
	if one, total := unreadOf(t, a, f.bob, conv); one != 1 || total != 1 {
		t.Errorf("bob's unread %v / %v", one, total)
	}
	if one, _ := unreadOf(t, a, f.alice, conv); one != 0 {
		t.Errorf("alice's own message unread: %v", one)
	}
	// Opening it marks it read; bob's other windows hear of it.
	var hist struct {
		Items []map[string]any
		Next  string
	}
	a.api(f.bob).do("GET", "/chat/conversations/"+conv+"/messages", "").json(t, &hist)
	if len(hist.Items) != 1 || hist.Items[0]["body"] != m["body"] || hist.Next != "" {
		t.Errorf("history %v", hist)
	}
	if ev := bobWS.next("read"); ev["conversationId"] != conv {
		t.Errorf("read event %v", ev)
	}
	if one, total := unreadOf(t, a, f.bob, conv); one != 0 || total != 0 {
		t.Errorf("after opening: %v / %v", one, total)
	}
	// Typing reaches the other side only.
	bobWS.send(map[string]any{"conversationId": conv, "typing": "true"})
	if ev := aliceWS.next("typing"); ev["name"] != "bob" {
		t.Errorf("typing %v", ev)
	}
	bobWS.quiet("typing", 200*time.Millisecond)

	// The HTML socket escapes what people write.
	html, _, err := a.dial(f.bob, "http://localhost:3000", "")
	if err != nil {
		t.Fatal(err)
	}
	html.send(map[string]any{"open": conv})
	aliceWS.send(map[string]any{"conversationId": conv, "body": "<img src=x onerror=alert(2)>"})
	deadline := time.After(5 * time.Second)
	for found := false; !found; {
		select {
		case frag := <-html.raw:
			if strings.Contains(frag, "onerror") {
				if strings.Contains(frag, "<img") || !strings.Contains(frag, "&lt;img src=x onerror=alert(2)&gt;") {
					t.Errorf("unescaped: %s", frag)
				}
				found = true
			}
		case <-deadline:
			t.Fatal("the HTML socket got no message")
		}
	}
}

func TestChatSupportAndOrderThreads(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	adminWS, aliceWS, bobWS := a.socket(f.admin), a.socket(f.alice), a.socket(f.bob)
	support := f.start(t, f.alice, `{"support":true}`)
	aliceWS.send(map[string]any{"conversationId": support, "body": "Gilam qachon quriydi?"})
	aliceWS.next("message") // her own, as every window of hers sees it
	if ev := adminWS.next("message"); ev["conversationId"] != support {
		t.Errorf("support did not hear: %v", ev)
	}
	bobWS.quiet("message", 200*time.Millisecond)
	if one, _ := unreadOf(t, a, f.admin, support); one != 1 {
		t.Errorf("support's unread %v", one)
	}
	// Bob is no participant: not found, and his frames are refused.
	if r := a.api(f.bob).do("GET", "/chat/conversations/"+support+"/messages", ""); r.status != 404 {
		t.Errorf("bob reads alice's support thread: %d", r.status)
	}
	bobWS.send(map[string]any{"conversationId": support, "body": "men ham"})
	if ev := bobWS.next("error"); ev["code"] != "not_found" {
		t.Errorf("bob's post: %v", ev)
	}
	// Any admin answers; alice hears it.
	adminWS.send(map[string]any{"conversationId": support, "body": "Ertaga kechgacha."})
	adminWS.next("message")
	if ev := aliceWS.next("message"); ev["message"].(map[string]any)["senderName"] != "Tozalash" { // the company, not the username
		t.Errorf("alice got %v", ev)
	}
	if one, _ := unreadOf(t, a, f.alice, support); one != 1 {
		t.Errorf("alice's unread after the answer: %v", one)
	}
	if one, _ := unreadOf(t, a, f.admin, support); one != 0 {
		t.Errorf("answering leaves support's unread at %v", one)
	}
	if r := a.api(f.admin).do("POST", "/chat/conversations", `{"support":true}`); r.status != 422 {
		t.Errorf("an admin asking support = %d", r.status)
	}

	// An order thread: the customer and support; nobody else may open it.
	of := &orderFixture{a: a}
	of.svc = demoServices(t, a)[0]
	o := of.book(t, f.alice, "chat-1")
	thread := f.start(t, f.alice, `{"orderId":"`+o.ID.Hex()+`"}`)
	if thread != store.OrderConversationID(o.ID) {
		t.Errorf("thread id %s", thread)
	}
	if r := a.api(f.bob).do("POST", "/chat/conversations", `{"orderId":"`+o.ID.Hex()+`"}`); r.status != 422 {
		t.Errorf("bob opens alice's order thread: %d", r.status)
	}
	if again := f.start(t, f.admin, `{"orderId":"`+o.ID.Hex()+`"}`); again != thread {
		t.Errorf("the admin got another thread: %s", again)
	}
	adminWS.send(map[string]any{"conversationId": thread, "body": "Buyurtmangiz bo‘yicha savol bormi?"})
	if ev := aliceWS.next("message"); ev["conversationId"] != thread {
		t.Errorf("alice got %v", ev)
	}
	page := a.do(request{path: "/chat?c=" + thread, headers: map[string]string{"Authorization": "Bearer " + f.alice}})
	if page.status != 200 || !strings.Contains(page.body, `data-chat-conversation="`+thread+`"`) || !strings.Contains(page.body, "Buyurtmangiz bo‘yicha savol bormi?") || strings.Contains(page.body, `id="chat-widget"`) {
		t.Errorf("the chat page with the thread open = %d", page.status)
	}
	if r := a.do(request{path: "/chat?c=" + support, headers: map[string]string{"Authorization": "Bearer " + f.bob}}); r.status != 404 {
		t.Errorf("bob's chat page with alice's thread = %d", r.status)
	}
	if r := a.do(request{path: "/orders/" + o.ID.Hex(), headers: map[string]string{"Authorization": "Bearer " + f.alice}}); !strings.Contains(r.body, `data-testid="ask-order"`) || !strings.Contains(r.body, `id="chat-widget"`) {
		t.Errorf("the order page lacks the chat")
	}
	for _, bad := range []string{`{}`, `{"orderId":"zzz"}`} {
		if r := a.api(f.alice).do("POST", "/chat/conversations", bad); r.status != 422 {
			t.Errorf("start %s = %d", bad, r.status)
		}
	}
	for _, bad := range []string{`{"username":"nobody"}`, `{"username":"boss"}`} { // an ADMIN's, who may
		if r := a.api(f.admin).do("POST", "/chat/conversations", bad); r.status != 422 {
			t.Errorf("an admin starts %s = %d", bad, r.status)
		}
	}
}

func TestChatFrameRules(t *testing.T) {
	f := newChatFixture(t, Config{Now: newLimitClock().Now})
	a := f.a
	ws := a.socket(f.alice)
	conv := f.start(t, f.alice, `{"support":true}`)
	for _, bad := range []any{
		map[string]any{"conversationId": conv, "body": "   "},
		map[string]any{"conversationId": conv, "body": strings.Repeat("я", 2001)},
		map[string]any{"conversationId": "direct:nope", "body": "salom"},
		"not an object",
	} {
		ws.send(bad)
		if ev := ws.next("error"); ev["error"] == "" {
			t.Errorf("%v: %v", bad, ev)
		}
	}
	if err := ws.conn.WriteMessage(websocket.TextMessage, []byte("{broken")); err != nil {
		t.Fatal(err)
	}
	ws.next("error")
	ws.send(map[string]any{"conversationId": conv, "body": strings.Repeat("я", 2000)}) // the longest allowed
	ws.next("message")
	// 20 writes in 10 s (starting the conversation was one), then
	// refusals; the socket stays.
	for i := 2; i <= 19; i++ {
		ws.send(map[string]any{"conversationId": conv, "body": "xabar"})
	}
	ws.send(map[string]any{"conversationId": conv, "body": "bittasi ortiqcha"})
	if ev := ws.next("error"); ev["code"] != "rate_limited" {
		t.Errorf("the 21st: %v", ev)
	}
	var hist struct{ Items []map[string]any }
	a.api(f.alice).do("GET", "/chat/conversations/"+conv+"/messages", "").json(t, &hist)
	if len(hist.Items) != 19 {
		t.Errorf("%d messages stored, want 19", len(hist.Items))
	}
	ws.send(map[string]any{"open": ""}) // still open
	// A frame over 16 KB closes the socket with 1009.
	if err := ws.conn.WriteMessage(websocket.TextMessage, []byte(`{"body":"`+strings.Repeat("a", 17<<10)+`"}`)); err != nil {
		t.Fatal(err)
	}
	if code := ws.closeCode(5 * time.Second); code != websocket.CloseMessageTooBig {
		t.Errorf("close code %d, want 1009", code)
	}
}

// Stored before delivered: a client away gets everything back, by pages of
// 50 through the buckets, or what came after the last it saw.
func TestChatHistoryAndReplay(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	ctx := context.Background()
	id := f.start(t, f.admin, `{"username":"bob"}`)
	conv, err := a.h.chat.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// 120 messages from the admin while bob is away (through the store:
	// the socket's rate limit would make this slow).
	var ids []string
	for i := 1; i <= 120; i++ {
		m := &store.Message{SenderID: f.bossU.ID, SenderName: "boss", Body: "xabar"}
		if err := a.h.chat.Post(ctx, conv, m, []string{f.bobU.ID.Hex()}, f.bossU.ID.Hex()); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID.Hex())
	}
	if one, _ := unreadOf(t, a, f.bob, id); one != 120 {
		t.Errorf("bob's unread %v", one)
	}
	bob := a.api(f.bob)
	var got []string
	before := ""
	for pages := 0; ; pages++ {
		var page struct {
			Items []struct{ ID string }
			Next  string
		}
		path := "/chat/conversations/" + id + "/messages"
		if before != "" {
			path += "?before=" + before
		}
		bob.do("GET", path, "").json(t, &page)
		var these []string
		for _, m := range page.Items {
			these = append(these, m.ID)
		}
		got = append(these, got...)
		if page.Next == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		before = page.Next
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("history walked %d messages, out of order or missing", len(got))
	}
	// Bob saw up to the 100th; he asks for what came after.
	var missed struct{ Items []struct{ ID string } }
	bob.do("GET", "/chat/conversations/"+id+"/messages?after="+ids[99], "").json(t, &missed)
	if len(missed.Items) != 20 || missed.Items[0].ID != ids[100] || missed.Items[19].ID != ids[119] {
		t.Errorf("after the 100th: %d messages", len(missed.Items))
	}
	for _, bad := range []string{"?before=nope", "?after=123"} {
		if r := bob.do("GET", "/chat/conversations/"+id+"/messages"+bad, ""); r.status != 400 {
			t.Errorf("%s = %d", bad, r.status)
		}
	}
	if r := bob.do("GET", "/chat/conversations/direct:nope/messages", ""); r.status != 404 {
		t.Errorf("an unknown conversation = %d", r.status)
	}
}

// Logout closes that session's sockets (1008); deleting an account closes
// all of them; shutdown closes every socket with 1001; a socket that stops
// answering pings is closed.
func TestChatSocketsEnd(t *testing.T) {
	f := newChatFixture(t, Config{ChatPing: 150 * time.Millisecond})
	a := f.a
	bobWS := a.socket(f.bob)
	if r := a.api(f.bob).do("POST", "/auth/logout", ""); r.status != 200 {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	if code := bobWS.closeCode(5 * time.Second); code != websocket.ClosePolicyViolation {
		t.Errorf("after logout: %d", code)
	}

	// A client that never reads never answers a ping.
	deaf, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.base, "http")+"/chat/ws?format=json",
		http.Header{"Authorization": {"Bearer " + f.alice}, "Origin": {"http://localhost:3000"}})
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.Close()
	aliceWS := a.socket(f.alice)
	deadline := time.Now().Add(5 * time.Second)
	for a.h.hub.Sockets() != 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := a.h.hub.Sockets(); n != 1 {
		t.Errorf("%d sockets open; the deaf one should be closed", n)
	}
	aliceWS.send(map[string]any{"open": ""}) // the reading one lives on

	// Deleting an account closes its sockets.
	bobAgain, _ := a.login("bob@example.uz", "toza-uy-2026")
	bobWS = a.socket(bobAgain)
	if r := a.api(f.admin).do("DELETE", "/users/"+f.bobU.ID.Hex(), ""); r.status != 200 && r.status != 204 {
		t.Fatalf("delete bob = %d %s", r.status, r.body)
	}
	if code := bobWS.closeCode(5 * time.Second); code != websocket.ClosePolicyViolation {
		t.Errorf("after the account was deleted: %d", code)
	}

	adminWS := a.socket(f.admin)
	a.h.CloseSockets(5 * time.Second)
	for _, ws := range []*wsClient{aliceWS, adminWS} {
		if code := ws.closeCode(5 * time.Second); code != websocket.CloseGoingAway {
			t.Errorf("at shutdown: %d", code)
		}
	}
}

// A user away for the whole wait gets one email per conversation per hour;
// one who came back gets none.
func TestChatEmailsWhoWasAway(t *testing.T) {
	f := newChatFixture(t, Config{ChatEmailAfter: time.Millisecond})
	a := f.a
	ctx := context.Background()
	conv := f.start(t, f.admin, `{"username":"bob"}`)
	adminWS := a.socket(f.admin)
	send := func(body string) {
		adminWS.send(map[string]any{"conversationId": conv, "body": body})
		adminWS.next("message")
	}
	send("Bob, ertaga kelasizmi?")
	if err := a.h.sendChatNotices(ctx, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	a.smtp.WaitForText("bob@example.uz", "«Tozalash»", 10*time.Second) // the company, not the username
	send("Javob bering, iltimos")
	if err := a.h.sendChatNotices(ctx, time.Now().Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := a.smtp.Count("bob@example.uz"); n != 2 { // the verification and one notice
		t.Errorf("bob got %d emails, want the verification and one notice", n)
	}
	// An hour later the postponed notice goes out.
	if err := a.h.sendChatNotices(ctx, time.Now().Add(61*time.Minute)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.smtp.Count("bob@example.uz") < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := a.smtp.Count("bob@example.uz"); n != 3 {
		t.Errorf("after an hour: %d emails", n)
	}
	// The admin was online all along: nothing for them.
	bobWS := a.socket(f.bob)
	bobWS.send(map[string]any{"conversationId": conv, "body": "Ha, kelaman"})
	bobWS.next("message")
	if err := a.h.sendChatNotices(ctx, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := a.smtp.Count("boss@tozalash.uz"); n != 1 {
		t.Errorf("the admin, online, got %d emails", n)
	}
}

// The list comes a page at a time (?limit=, ?before= from next), the
// latest first; unread is the total on every page.
func TestChatListPages(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	var convs []string
	for _, token := range []string{f.alice, f.bob} {
		conv := f.start(t, token, `{"support":true}`)
		if r := a.api(token).do("POST", "/chat/conversations/"+conv+"/messages", `{"body":"Salom"}`); r.status != 201 {
			t.Fatalf("post = %d %s", r.status, r.body)
		}
		convs = append(convs, conv)
	}
	direct := f.start(t, f.admin, `{"username":"alice"}`)
	a.api(f.alice).do("POST", "/chat/conversations/"+direct+"/messages", `{"body":"Shaxsan"}`)
	want := []string{direct, convs[1], convs[0]}
	var got []string
	before := ""
	for i := 0; i < 5; i++ {
		var list struct {
			Items []struct {
				ConversationID string
				Unread         float64
			}
			Unread float64
			Next   string
		}
		r := a.api(f.admin).do("GET", "/chat/conversations?limit=1&before="+url.QueryEscape(before), "")
		if r.status != 200 {
			t.Fatalf("list = %d %s", r.status, r.body)
		}
		r.json(t, &list)
		if len(list.Items) != 1 || list.Items[0].Unread != 1 || list.Unread != 3 {
			t.Fatalf("page %d: %+v", i, list)
		}
		got = append(got, list.Items[0].ConversationID)
		if before = list.Next; before == "" {
			break
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the ADMIN's list %v, want %v", got, want)
	}
	// The widget's list: a button puts the older rows in its place.
	hx := map[string]string{"Authorization": "Bearer " + f.admin, "HX-Request": "true"}
	first := a.do(request{path: "/chat/conversations?limit=2", headers: hx})
	m := regexp.MustCompile(`hx-get="(/chat/conversations\?before=[^"]+)"`).FindStringSubmatch(first.body)
	if first.status != 200 || strings.Count(first.body, `data-testid="chat-conversation"`) != 2 || m == nil {
		t.Fatalf("the first rows = %d %s", first.status, first.body)
	}
	rest := a.do(request{path: html.UnescapeString(m[1]), headers: hx})
	if rest.status != 200 || !strings.Contains(rest.body, `data-conversation="`+convs[0]+`"`) || strings.Contains(rest.body, "chat-inbox-more") || strings.Contains(rest.body, `id="chat-inbox"`) {
		t.Errorf("the older rows = %d %s", rest.status, rest.body)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "before=nonsense"} {
		if r := a.api(f.admin).do("GET", "/chat/conversations?"+q, ""); r.status != 400 && r.status != 422 {
			t.Errorf("?%s = %d", q, r.status)
		}
	}
}

// An order thread's title is the service in each reader's language: the
// customer's (the one they last used) when support opens it, support's own.
func TestChatOrderThreadTitleInReadersLanguage(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	of := &orderFixture{a: a}
	of.svc = demoServices(t, a)[0]
	if of.svc.Name.Ru == "" || of.svc.Name.Ru == of.svc.Name.Uz {
		t.Fatalf("the demo service needs a Russian name of its own: %+v", of.svc.Name)
	}
	o := of.book(t, f.alice, "title-1")
	if err := a.h.users.SetLastLang(context.Background(), f.aliceU.ID, "ru"); err != nil {
		t.Fatal(err)
	}
	f.start(t, f.admin, `{"orderId":"`+o.ID.Hex()+`"}`)
	list := a.api(f.alice).do("GET", "/chat/conversations", "")
	if list.status != 200 || !strings.Contains(list.body, of.svc.Name.Ru) || strings.Contains(list.body, of.svc.Name.Uz+" ·") {
		t.Errorf("alice (Russian) lists the thread as %s; want %q", list.body, of.svc.Name.Ru)
	}
	support := a.api(f.admin).do("GET", "/chat/conversations", "")
	if !strings.Contains(support.body, of.svc.Name.Uz) {
		t.Errorf("support (Uzbek) lists %s; want %q", support.body, of.svc.Name.Uz)
	}
}
