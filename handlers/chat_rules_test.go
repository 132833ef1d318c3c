package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

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
