package handlers

import (
	"net/url"
	"strings"
	"testing"

	"tozalash/store"
	"tozalash/views"
)

// The admin's users table speaks the reader's language: role words and
// local dates, not USER/ADMIN and ISO dates; a user's page leads to their
// orders and their support conversation, and both answer with their data.
func TestUsersTableInReadersLanguage(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o := f.book(t, f.alice, "u1")
	if r := a.api(f.alice).do("POST", "/chat/conversations", `{"support":true}`); r.status != 201 {
		t.Fatalf("support chat = %d %s", r.status, r.body)
	}
	ru := bearer(f.admin, false)
	ru["Cookie"] = "lang=ru" // the admin chose Russian (their profile says Uzbek)
	table := a.do(request{path: "/users?q=alice", headers: ru})
	if table.status != 200 {
		t.Fatalf("users = %d", table.status)
	}
	for _, want := range []string{`data-testid="role">Клиент<`, `data-testid="user-created">` + views.LocalDate(f.aliceU.CreatedAt) + `<`} {
		if !strings.Contains(table.body, want) {
			t.Errorf("the Russian users table lacks %q\n%s", want, clip(between(table.body, `id="users-rows"`, "</tbody>")))
		}
	}
	if strings.Contains(table.body, ">USER<") || strings.Contains(table.body, f.aliceU.CreatedAt.Format("2006-01-02")) {
		t.Errorf("raw role or ISO date in the table")
	}
	admins := a.do(request{path: "/users?q=boss", headers: ru})
	if !strings.Contains(admins.body, `data-testid="role">Администратор<`) {
		t.Errorf("the admin's role is not in Russian")
	}

	page := a.do(request{path: "/users/" + f.aliceU.ID.Hex(), headers: ru})
	ordersLink := `/orders?userId=` + f.aliceU.ID.Hex()
	chatLink := `/chat?c=` + url.QueryEscape(store.SupportConversationID(f.aliceU.ID))
	for _, want := range []string{`href="` + ordersLink + `"`, `href="` + chatLink + `"`, "Заказы клиента", "Чат поддержки", `data-testid="role">Клиент<`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the user page lacks %q", want)
		}
	}
	board := a.do(request{path: ordersLink, headers: ru})
	if board.status != 200 || !strings.Contains(board.body, o.ID.Hex()) || strings.Contains(board.body, ">bob<") {
		t.Errorf("the customer's orders = %d, has the order %v", board.status, strings.Contains(board.body, o.ID.Hex()))
	}
	chat := a.do(request{path: "/chat?c=" + store.SupportConversationID(f.aliceU.ID), headers: ru})
	if chat.status != 200 || !strings.Contains(chat.body, "alice") {
		t.Errorf("the customer's conversation = %d", chat.status)
	}
	// bob never wrote: no link to a conversation that is not there
	if p := a.do(request{path: "/users/" + f.bobU.ID.Hex(), headers: ru}); !strings.Contains(p.body, "Переписки пока нет") || strings.Contains(p.body, `data-testid="user-chat"`) {
		t.Errorf("bob's page offers a conversation he has not got")
	}
}
