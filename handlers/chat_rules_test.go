package handlers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"tozalash/auth"
	"tozalash/store"
)

// httpDo is one request over real HTTP (not app.Test), so the path reaches
// the router exactly as a browser's does, escapes and all.
func httpDo(t *testing.T, a *testApp, method, path, token, body string) (int, string) {
	t.Helper()
	if a.base == "" {
		a.listen()
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The pages ask for order%3A…/messages (encodeURIComponent); a client may
// send the plain colon. Both are the same conversation, for every chat
// route that takes one.
func TestChatConversationIDEitherForm(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	of := &orderFixture{a: a}
	of.svc = demoServices(t, a)[0]
	o := of.book(t, f.alice, "chat-escape")
	thread := f.start(t, f.alice, `{"orderId":"`+o.ID.Hex()+`"}`)
	forms := map[string]string{"plain": thread, "escaped": strings.ReplaceAll(thread, ":", "%3A")} // as encodeURIComponent writes it
	for name, id := range forms {
		status, body := httpDo(t, a, "POST", "/chat/conversations/"+id+"/messages", f.alice, `{"body":"salom `+name+`"}`)
		if status != 201 {
			t.Errorf("%s: post = %d %s", name, status, clip(body))
		}
	}
	for name, id := range forms {
		status, body := httpDo(t, a, "GET", "/chat/conversations/"+id+"/messages", f.alice, "")
		if status != 200 || !strings.Contains(body, "salom plain") || !strings.Contains(body, "salom escaped") {
			t.Errorf("%s: history = %d %s", name, status, clip(body))
		}
		// The catch-up after a reconnect is the same request with ?after=.
		status, body = httpDo(t, a, "GET", "/chat/conversations/"+id+"/messages?after=000000000000000000000000", f.alice, "")
		if status != 200 || !strings.Contains(body, "salom plain") {
			t.Errorf("%s: catch-up = %d %s", name, status, clip(body))
		}
	}
	// Escaping opens nobody else's conversation.
	if status, _ := httpDo(t, a, "GET", "/chat/conversations/"+forms["escaped"]+"/messages", f.bob, ""); status != 404 {
		t.Errorf("bob reads alice's order thread, escaped: %d", status)
	}
	if status, _ := httpDo(t, a, "GET", "/chat/conversations/order%3Azz%2F..%2F/messages", f.alice, ""); status != 404 {
		t.Errorf("a junk escaped id: %d", status)
	}
}

// Customers talk to support and about their orders, never privately with
// another user by username (which would also tell which usernames exist);
// an ADMIN may still start a conversation with a user.
func TestChatNoPrivateChatsForCustomers(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	direct := store.DirectConversationID(f.aliceU.ID, f.bobU.ID)
	noConversation := func(id string) func(t *testing.T, a *testApp) {
		return func(t *testing.T, a *testApp) {
			if _, err := a.h.chat.Get(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("conversation %s exists after a refusal (%v)", id, err)
			}
			var list struct{ Items []any }
			a.api(f.alice).do("GET", "/chat/conversations", "").json(t, &list)
			if len(list.Items) != 0 {
				t.Errorf("alice's list has %d conversations", len(list.Items))
			}
		}
	}
	bearerJSON := func(token string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + token, "Accept": "application/json"}
	}
	runScenarios(t, a, []scenario{
		{name: "a customer names another customer", req: request{method: "POST", path: "/chat/conversations", body: `{"username":"bob"}`, contentType: "application/json", headers: bearerJSON(f.alice)},
			status: 403, contains: []string{`"code":"private_chat"`, "Mijozlar qo‘llab-quvvatlash xizmati bilan"}, after: noConversation(direct)},
		{name: "a customer names an unknown user: the same answer", req: request{method: "POST", path: "/chat/conversations", body: `{"username":"nobody_here"}`, contentType: "application/json", headers: bearerJSON(f.alice)},
			status: 403, contains: []string{`"code":"private_chat"`}, after: noConversation(direct)},
		{name: "a customer names the admin", req: request{method: "POST", path: "/chat/conversations", body: `{"username":"boss"}`, contentType: "application/json", headers: bearerJSON(f.alice)},
			status: 403, contains: []string{`"code":"private_chat"`}, after: noConversation(store.DirectConversationID(f.aliceU.ID, f.bossU.ID))},
		{name: "the widget's form", req: request{method: "POST", path: "/chat/conversations", body: "username=bob", contentType: "application/x-www-form-urlencoded",
			headers: map[string]string{"Authorization": "Bearer " + f.alice, "HX-Request": "true", "HX-Target": "chat-view"}},
			status: 403, contains: []string{"Shaxsiy suhbat yo‘q", "boshqa foydalanuvchilar bilan suhbat ochib bo‘lmaydi"}, after: noConversation(direct)},
		{name: "an admin names a customer", req: request{method: "POST", path: "/chat/conversations", body: `{"username":"alice"}`, contentType: "application/json", headers: bearerJSON(f.admin)},
			status: 201, contains: []string{`"kind":"direct"`},
			after: func(t *testing.T, a *testApp) {
				if _, err := a.h.chat.Get(context.Background(), store.DirectConversationID(f.bossU.ID, f.aliceU.ID)); err != nil {
					t.Errorf("the admin's conversation: %v", err)
				}
			}},
		{name: "a customer still writes to support", req: request{method: "POST", path: "/chat/conversations", body: `{"support":true}`, contentType: "application/json", headers: bearerJSON(f.bob)},
			status: 201, contains: []string{`"kind":"support"`}},
	})
	// The widget offers customers no such form; admins keep it.
	for who, token := range map[string]string{"alice": f.alice, "boss": f.admin} {
		page := a.do(request{path: "/chat", headers: map[string]string{"Authorization": "Bearer " + token}})
		if has := strings.Contains(page.body, `data-testid="chat-start-user"`); has != (who == "boss") {
			t.Errorf("%s's chat page offers a conversation by username: %v", who, has)
		}
	}
}

// Support answers as the company and the agent's first name ("Tozalash ·
// Aziz", or just "Tozalash"): a customer never reads an admin's username,
// in JSON, in the page, on the socket, in "typing", or in the list; admins
// still see usernames.
func TestChatCustomersSeeAgentNames(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	ctx := context.Background()
	hash, err := auth.HashPassword("aziz-parol-2026")
	if err != nil {
		t.Fatal(err)
	}
	aziz := &store.User{Username: "aziz_admin", Email: "aziz@tozalash.uz", Name: "Aziz Karimov", PasswordHash: hash, Role: store.RoleAdmin, IsVerified: true, Locale: "uz"}
	if err := a.h.users.Create(ctx, aziz); err != nil {
		t.Fatal(err)
	}
	azizToken, _ := a.login("aziz@tozalash.uz", "aziz-parol-2026")
	usernames := []string{"aziz_admin", "boss"}

	support := f.start(t, f.alice, `{"support":true}`)
	conv, err := a.h.chat.Get(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	// An answer stored before messages were marked staff.
	old := &store.Message{SenderID: f.bossU.ID, SenderName: "boss", Body: "Eski javob"}
	if err := a.h.chat.Post(ctx, conv, old, []string{f.aliceU.ID.Hex()}, store.SupportInbox); err != nil {
		t.Fatal(err)
	}
	aliceWS := a.socket(f.alice)
	azizWS := a.socket(azizToken)
	if r := a.api(azizToken).do("POST", "/chat/conversations/"+support+"/messages", `{"body":"Salom, men yordam beraman"}`); r.status != 201 {
		t.Fatalf("aziz answers = %d %s", r.status, r.body)
	}
	ev := aliceWS.next("message")
	if m := ev["message"].(map[string]any); m["staff"] != true || m["agentName"] != "Tozalash · Aziz" || m["senderName"] != "Tozalash · Aziz" {
		t.Errorf("alice's socket frame: %v", m)
	}
	if m := azizWS.next("message")["message"].(map[string]any); m["senderName"] != "aziz_admin" || m["staff"] != true {
		t.Errorf("the admin's socket frame: %v", m)
	}
	azizWS.send(map[string]any{"conversationId": support, "typing": true})
	if ev := aliceWS.next("typing"); ev["name"] != "Tozalash · Aziz" {
		t.Errorf("alice reads who is typing as %v", ev["name"])
	}
	if r := a.api(f.admin).do("POST", "/chat/conversations/"+support+"/messages", `{"body":"Ismsiz javob"}`); r.status != 201 {
		t.Fatalf("boss answers = %d %s", r.status, r.body)
	}
	if r := a.api(f.alice).do("POST", "/chat/conversations/"+support+"/messages", `{"body":"Rahmat"}`); r.status != 201 {
		t.Fatalf("alice writes = %d %s", r.status, r.body)
	}

	var hist struct{ Items []map[string]any }
	res := a.api(f.alice).do("GET", "/chat/conversations/"+support+"/messages", "")
	res.json(t, &hist)
	want := []struct {
		sender string
		staff  bool
	}{{"Tozalash", true}, {"Tozalash · Aziz", true}, {"Tozalash", true}, {"alice", false}}
	if len(hist.Items) != len(want) {
		t.Fatalf("history has %d messages: %s", len(hist.Items), res.body)
	}
	for i, w := range want {
		if m := hist.Items[i]; m["senderName"] != w.sender || m["staff"] != w.staff {
			t.Errorf("message %d as alice reads it: %v", i, m)
		}
	}
	page := a.do(request{path: "/chat?c=" + support, headers: map[string]string{"Authorization": "Bearer " + f.alice}})
	fragment := a.do(request{path: "/chat/conversations/" + support + "/messages", headers: map[string]string{"Authorization": "Bearer " + f.alice, "HX-Request": "true"}})
	for name, body := range map[string]string{"JSON": res.body, "page": page.body, "fragment": fragment.body} {
		for _, u := range usernames {
			if strings.Contains(body, u) {
				t.Errorf("alice's %s shows the username %q", name, u)
			}
		}
	}
	if !strings.Contains(page.body, "Tozalash · Aziz") || !strings.Contains(fragment.body, "Tozalash · Aziz") {
		t.Errorf("alice's page does not name the agent")
	}
	// Admins still see who answered.
	var adminHist struct{ Items []map[string]any }
	a.api(f.admin).do("GET", "/chat/conversations/"+support+"/messages", "").json(t, &adminHist)
	if len(adminHist.Items) != 4 || adminHist.Items[1]["senderName"] != "aziz_admin" || adminHist.Items[2]["senderName"] != "boss" {
		t.Errorf("the admin's history: %v", adminHist.Items)
	}
	// A conversation an admin starts with her is listed as the company's.
	f.start(t, azizToken, `{"username":"alice"}`)
	list := a.api(f.alice).do("GET", "/chat/conversations", "")
	if strings.Contains(list.body, "aziz_admin") || !strings.Contains(list.body, "Tozalash · Aziz") {
		t.Errorf("alice's list: %s", clip(list.body))
	}
}

// The socket accepts BASE_URL's origin and those of ALLOWED_ORIGINS (the
// same site under another name), and no other.
func TestChatSocketAllowedOrigins(t *testing.T) {
	f := newChatFixture(t, Config{AllowedOrigins: []string{"http://127.0.0.1:3000", "https://www.tozalash.uz"}})
	for _, tc := range []struct {
		origin string
		status int
	}{
		{"http://localhost:3000", 101},
		{"http://127.0.0.1:3000", 101},
		{"https://WWW.tozalash.uz:443", 101},
		{"http://www.tozalash.uz", 403}, // another scheme is another origin
		{"http://127.0.0.1:3001", 403},
		{"https://tozalash.uz", 403},
		{"null", 403},
	} {
		ws, res, err := f.a.dial(f.alice, tc.origin, "?format=json")
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		if status != tc.status {
			t.Errorf("Origin %s: %d (%v), want %d", tc.origin, status, err, tc.status)
		}
		if ws != nil {
			ws.conn.Close()
		}
	}
	if _, _, err := newApp(f.a.db, Config{BaseURL: "http://localhost:3000", JWTSecret: testJWTKey, AllowedOrigins: []string{"localhost:3000"}}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "ALLOWED_ORIGINS") {
		t.Errorf("a bad ALLOWED_ORIGINS entry: %v", err)
	}
}

// A message sent with a nonce is acknowledged with it once stored (the
// widget empties its box only then); a refused one echoes it in the error;
// the POST answer carries it too.
func TestChatAcknowledgesMessages(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	support := f.start(t, f.alice, `{"support":true}`)
	ws := a.socket(f.alice)
	ws.send(map[string]any{"conversationId": support, "body": "Salom", "nonce": "n-1"})
	ack := ws.next("ack")
	if ack["nonce"] != "n-1" || ack["messageId"] == "" {
		t.Errorf("ack %v", ack)
	}
	var hist struct{ Items []map[string]any }
	a.api(f.alice).do("GET", "/chat/conversations/"+support+"/messages", "").json(t, &hist)
	if len(hist.Items) != 1 || hist.Items[0]["id"] != ack["messageId"] {
		t.Errorf("the acknowledged message is not what is stored: %v", hist.Items)
	}
	ws.send(map[string]any{"conversationId": support, "body": "   ", "nonce": "n-2"})
	if ev := ws.next("error"); ev["nonce"] != "n-2" || ev["code"] != "invalid" {
		t.Errorf("a refused message: %v", ev)
	}
	ws.send(map[string]any{"conversationId": support, "body": "x", "nonce": strings.Repeat("n", 65)})
	if ev := ws.next("error"); ev["code"] != "bad_frame" {
		t.Errorf("a 65-character nonce: %v", ev)
	}
	r := a.api(f.alice).do("POST", "/chat/conversations/"+support+"/messages", `{"body":"Yana salom","nonce":"n-3"}`)
	if r.status != 201 || jsonField(t, r.body, "nonce") != "n-3" || jsonField(t, r.body, "body") != "Yana salom" {
		t.Errorf("post = %d %s", r.status, r.body)
	}
	// The page's socket: an ack fragment the script reads.
	html, _, err := a.dial(f.alice, "http://localhost:3000", "")
	if err != nil {
		t.Fatal(err)
	}
	html.send(map[string]any{"conversationId": support, "body": "Sahifadan", "nonce": "n-4"})
	deadline := time.After(5 * time.Second)
	for found := false; !found; {
		select {
		case frag := <-html.raw:
			found = strings.HasPrefix(frag, `<span data-chat-ack="n-4" data-ok="true"`)
		case <-deadline:
			t.Fatal("the page's socket got no ack")
		}
	}
}

// GET /chat/unread is the badge without a socket: the count as JSON, or the
// badge itself for htmx, polling again every 30 s (never at its own load,
// which would ask forever). An ADMIN's counts support's queue too.
func TestChatUnreadBadge(t *testing.T) {
	f := newChatFixture(t, Config{})
	a := f.a
	post := func(token, conv, body string) {
		t.Helper()
		if r := a.api(token).do("POST", "/chat/conversations/"+conv+"/messages", `{"body":"`+body+`"}`); r.status != 201 {
			t.Fatalf("post = %d %s", r.status, r.body)
		}
	}
	alices := f.start(t, f.alice, `{"support":true}`)
	post(f.alice, alices, "Salom")
	post(f.admin, alices, "Eshitdik") // alice: 1 unread; support: none
	bobs := f.start(t, f.bob, `{"support":true}`)
	post(f.bob, bobs, "Savolim bor") // support: 1
	asJSONBy := func(token string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + token, "Accept": "application/json"}
	}
	runScenarios(t, a, []scenario{
		{name: "a customer, JSON", req: request{path: "/chat/unread", headers: asJSONBy(f.alice)}, status: 200, contains: []string{`{"unread":1}`}},
		{name: "an admin, JSON: support's queue", req: request{path: "/chat/unread", headers: asJSONBy(f.admin)}, status: 200, contains: []string{`{"unread":1}`}},
		{name: "a customer with nothing new", req: request{path: "/chat/unread", headers: asJSONBy(f.bob)}, status: 200, contains: []string{`{"unread":0}`}},
		{name: "the badge for htmx", req: request{path: "/chat/unread", headers: map[string]string{"Authorization": "Bearer " + f.alice, "HX-Request": "true"}}, status: 200,
			contains: []string{`id="chat-badge"`, `data-count="1"`, `hx-get="/chat/unread"`, `hx-trigger="every 30s"`, ">1</span>"}, notContains: []string{"load", " hidden"}},
		{name: "anonymous", req: request{path: "/chat/unread", headers: asJSON}, status: 401},
	})
	// A page's badge asks at its load; no page opens a socket by itself.
	page := a.do(request{path: "/services", headers: map[string]string{"Authorization": "Bearer " + f.alice}})
	if !strings.Contains(page.body, `hx-trigger="load, every 30s"`) || strings.Contains(page.body, "ws-connect") {
		t.Errorf("a signed-in page's widget: badge polls %v, socket %v", strings.Contains(page.body, `hx-trigger="load, every 30s"`), strings.Contains(page.body, "ws-connect"))
	}
}
