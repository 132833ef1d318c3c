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

// An admin's pages are laid out in the admin layout, with every section in
// its navigation and the current one marked; the admin's own profile, and
// every page of a customer, stay in the site's.
func TestAdminLayoutIsChosenForAdminPages(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o := f.book(t, f.alice, "l1")
	admin := bearer(f.admin, false)
	for path, current := range map[string]string{
		"/admin":                      "dashboard",
		"/admin/statistics":           "dashboard",
		"/orders":                     "orders",
		"/orders?status=PENDING":      "orders",
		"/orders/" + o.ID.Hex():       "orders",
		"/services":                   "services",
		"/services/" + f.svc.ID.Hex(): "services",
		"/users":                      "users",
		"/users/" + f.aliceU.ID.Hex(): "users",
		"/chat":                       "support",
		"/admin/outbox":               "outbox",
	} {
		r := a.do(request{path: path, headers: admin})
		if r.status != 200 || !strings.Contains(r.body, `data-testid="admin-layout"`) {
			t.Errorf("%s: %d, admin layout %v", path, r.status, strings.Contains(r.body, `data-testid="admin-layout"`))
			continue
		}
		for _, s := range views.AdminSections {
			if !strings.Contains(r.body, `href="`+s.Href+`"`) {
				t.Errorf("%s: the navigation lacks %s", path, s.Href)
			}
		}
		if !strings.Contains(r.body, `aria-current="page" class="block rounded-lg bg-emerald-50 px-3 py-2 font-semibold text-emerald-800" data-testid="admin-nav-`+current+`"`) {
			t.Errorf("%s: %s is not marked current", path, current)
		}
	}
	if r := a.do(request{path: "/me", headers: admin}); strings.Contains(r.body, `data-testid="admin-layout"`) {
		t.Errorf("the admin's profile is in the admin layout")
	}
	for _, path := range []string{"/orders", "/orders/" + o.ID.Hex(), "/services", "/chat"} {
		if r := a.do(request{path: path, headers: bearer(f.alice, false)}); r.status != 200 || strings.Contains(r.body, `data-testid="admin-layout"`) || strings.Contains(r.body, `data-testid="admin-nav"`) {
			t.Errorf("a customer's %s: %d, in the admin layout", path, r.status)
		}
	}
	if r := a.do(request{path: "/services"}); strings.Contains(r.body, `data-testid="admin-layout"`) {
		t.Errorf("a visitor's catalogue is in the admin layout")
	}
}
