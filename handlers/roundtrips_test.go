package handlers

import (
	"testing"
)

// Every page states how many database commands it costs, with the caches
// warm (the sessions, the catalogue, the hot documents, each for at most a
// second): the hot signed-in pages none, the others a few _id look-ups of
// small documents, however many orders and messages there are. The same in
// both database profiles.
func TestDatabaseRoundTripsPerPage(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o := f.book(t, f.alice, "rt-1")
	conv := ""
	{
		cf := &chatFixture{a: a}
		conv = cf.start(t, f.alice, `{"support":true}`) // customers start no private chats
	}
	bearer := func(token string) map[string]string { return map[string]string{"Authorization": "Bearer " + token} }
	pages := []struct {
		name string
		req  request
		most int64
	}{
		{"home page, anonymous", request{path: "/"}, 0},
		{"GET /services JSON", request{path: "/services", headers: asJSON}, 0},
		{"service page", request{path: "/services/" + f.svc.ID.Hex()}, 0},
		{"My orders", request{path: "/orders", headers: bearer(f.alice)}, 0},
		{"order page", request{path: "/orders/" + o.ID.Hex(), headers: bearer(f.alice)}, 0},
		{"booking form", request{path: "/orders/new?serviceId=" + f.svc.ID.Hex(), headers: bearer(f.alice)}, 0},
		{"profile", request{path: "/me", headers: bearer(f.alice)}, 0},
		{"chat list", request{path: "/chat/conversations", headers: bearer(f.alice)}, 3},
		{"chat history", request{path: "/chat/conversations/" + conv + "/messages", headers: map[string]string{"Authorization": "Bearer " + f.alice, "Accept": "application/json"}}, 3},
		// One: the admin's "last seen" of the board, read and moved on in
		// one update (#19 item 22: the marks of what changed since).
		{"admin board", request{path: "/orders", headers: bearer(f.admin)}, 1},
		{"statistics JSON", request{path: "/admin/statistics", headers: map[string]string{"Authorization": "Bearer " + f.admin, "Accept": "application/json"}}, 0},
	}
	for _, p := range pages {
		a.do(p.req) // warm the caches
		// The fewest of three: now and then a cache's once-a-second check
		// falls in the request measured, which is not the page's own cost.
		n := int64(1 << 30)
		for i := 0; i < 3; i++ {
			before := a.db.Commands()
			r := a.do(p.req)
			n = min(n, a.db.Commands()-before)
			if r.status != 200 {
				t.Errorf("%s: %d", p.name, r.status)
			}
		}
		t.Logf("%-22s %d commands", p.name, n)
		if n > p.most {
			t.Errorf("%s: %d database commands, at most %d", p.name, n, p.most)
		}
	}
}
