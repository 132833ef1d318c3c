package handlers

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"tozalash/store"
	"tozalash/store/storetest"
)

// The cleaners' accounts (#22): an admin invites a cleaner into a crew,
// the emailed link sets the password and signs in.

// cleanerCount checks how many CLEANER accounts the store holds.
func cleanerCount(want int) func(*testing.T, *testApp) {
	return func(t *testing.T, a *testApp) {
		t.Helper()
		if cs, err := a.h.users.Cleaners(context.Background()); err != nil || len(cs) != want {
			t.Errorf("%d cleaners (%v), want %d", len(cs), err, want)
		}
	}
}

// inviteLink waits for the invitation to address and returns its path and
// query.
func inviteLink(t *testing.T, a *testApp, address string) string {
	t.Helper()
	msg := a.smtp.WaitForText(address, "/auth/invite?token=", 10*time.Second)
	for _, l := range msg.Links() {
		if strings.Contains(l, "/auth/invite?token=") {
			return strings.TrimPrefix(l, "http://localhost:3000")
		}
	}
	t.Fatalf("no invitation link in %s", msg.Text)
	return ""
}

// inviteCleaner invites a cleaner through the route, sets the password from
// the emailed link and returns the cleaner's access token and account.
func inviteCleaner(t *testing.T, a *testApp, admin, email, name string, crew *store.Crew, password string) (string, *store.User) {
	t.Helper()
	res := a.do(jsonReq(admin, "uz", "POST", "/admin/cleaners", `{"email":"`+email+`","name":"`+name+`","crewId":"`+crew.ID.Hex()+`"}`))
	if res.status != 201 {
		t.Fatalf("invite %s: %d %s", email, res.status, res.body)
	}
	link := inviteLink(t, a, email)
	token := strings.TrimPrefix(link, "/auth/invite?token=")
	if res := a.api("").do("POST", "/auth/invite", `{"token":"`+token+`","password":"`+password+`"}`); res.status != 200 {
		t.Fatalf("accept %s: %d %s", email, res.status, res.body)
	}
	return a.login(email, password)
}

func TestCleanersAccess(t *testing.T) {
	a := newTestApp(t)
	admin, _ := a.admin()
	customer, _ := a.signupVerified("lola", "lola@example.uz", "toza-uy-2026")
	crews, _ := a.h.schedule.Crews(context.Background())
	crew := &crews[0]
	cleaner, cu := inviteCleaner(t, a, admin, "dilnoza@example.uz", "Dilnoza Karimova", crew, "supurgi-chang-2026")
	body := `{"email":"new@example.uz","name":"Jasur","crewId":"` + crew.ID.Hex() + `"}`
	resend := "/admin/cleaners/" + cu.ID.Hex() + "/invite"
	who := []struct {
		name, token string
		status      int // of the admin routes
	}{{"anonymous", "", 401}, {"a customer", customer, 403}, {"a cleaner", cleaner, 403}}
	var rows []scenario
	for _, w := range who {
		h := adminJSON(w.token, "uz")
		if w.token == "" {
			h = asJSON
		}
		rows = append(rows,
			scenario{name: w.name + " lists", req: request{path: "/admin/cleaners", headers: h}, status: w.status},
			scenario{name: w.name + " invites", req: request{method: "POST", path: "/admin/cleaners", body: body, contentType: "application/json", headers: h}, status: w.status, after: cleanerCount(1)},
			scenario{name: w.name + " sends again", req: request{method: "POST", path: resend, headers: h}, status: w.status},
			scenario{name: w.name + " opens the crews", req: request{path: "/admin/crews", headers: h}, status: w.status},
			scenario{name: w.name + " opens the dashboard", req: request{path: "/admin", headers: h}, status: w.status},
		)
	}
	rows = append(rows,
		scenario{name: "the admin lists", req: jsonReq(admin, "uz", "GET", "/admin/cleaners", ""), status: 200,
			contains: []string{`"email":"dilnoza@example.uz"`, `"accepted":true`, `"crews":[{"id":"` + crew.ID.Hex() + `","name":"` + crew.Name + `"}]`, `"role":"CLEANER"`}},
		scenario{name: "the admin's page", req: request{path: "/admin/cleaners", headers: map[string]string{"Authorization": "Bearer " + admin}}, status: 200,
			contains: []string{`data-testid="cleaners-table"`, "Dilnoza Karimova", `data-testid="cleaner-form"`}},
		scenario{name: "an accepted invitation is not sent again", req: jsonReq(admin, "uz", "POST", resend, ""), status: 409, contains: []string{`"code":"invite_accepted"`}},
		scenario{name: "a cleaner may not book", req: jsonReq(cleaner, "uz", "POST", "/orders", `{}`), status: 403},
		scenario{name: "a customer may (the check is the cleaner's)", req: jsonReq(customer, "uz", "POST", "/orders", `{}`), status: 422},
		scenario{name: "anonymous: no invitation page without a live token", req: request{path: "/auth/invite?token=x"}, status: 410, contains: []string{`data-testid="invite-gone"`}},
	)
	runScenarios(t, a, rows)
}

func TestCleanerInvitation(t *testing.T) {
	clock := newLimitClock()
	a := newTestAppWith(t, storetest.Open(t), Config{Now: clock.Now})
	admin, _ := a.admin()
	crews, _ := a.h.schedule.Crews(context.Background())
	crew, other := &crews[0], &crews[1]
	create := func(body string) request { return jsonReq(admin, "en", "POST", "/admin/cleaners", body) }
	runScenarios(t, a, []scenario{
		{name: "a taken email", req: create(`{"email":"boss@tozalash.uz","name":"Jasur","crewId":"` + crew.ID.Hex() + `"}`), status: 409,
			contains: []string{`"email":"An account with this email exists already."`}, after: cleanerCount(0)},
		{name: "a crew that is no id", req: create(`{"email":"j@example.uz","name":"Jasur","crewId":"x"}`), status: 422, contains: []string{`"crewId":`}, after: cleanerCount(0)},
		{name: "an unknown crew", req: create(`{"email":"j@example.uz","name":"Jasur","crewId":"0123456789abcdef01234567"}`), status: 422, contains: []string{`"crewId":"No such crew."`}, after: cleanerCount(0)},
		{name: "no name, no email", req: create(`{"crewId":"` + crew.ID.Hex() + `"}`), status: 422, contains: []string{`"name":`, `"email":`}, after: cleanerCount(0)},
		{name: "an unknown language", req: create(`{"email":"j@example.uz","name":"Jasur","crewId":"` + crew.ID.Hex() + `","lang":"de"}`), status: 422, contains: []string{`"lang":`}, after: cleanerCount(0)},
		{name: "invited, in Russian", req: create(`{"email":"Jasur@Example.uz","name":" Jasur Aliyev ","crewId":"` + crew.ID.Hex() + `","lang":"ru"}`), status: 201,
			contains: []string{`"role":"CLEANER"`, `"name":"Jasur Aliyev"`, `"email":"jasur@example.uz"`, `"isVerified":false`}, notContains: []string{"password", "Hash"},
			after: func(t *testing.T, a *testApp) {
				cleanerCount(1)(t, a)
				u, err := a.h.users.GetByEmail(context.Background(), "jasur@example.uz")
				if err != nil || u.PasswordHash != "" || u.IsVerified || u.ExpiresAt != nil {
					t.Fatalf("the account: %+v %v", u, err)
				}
				cr := crewNamed(t, a, crew.Name)
				if !cr.HasMember(u.ID) || !strings.Contains(strings.Join(cr.Members, ","), "Jasur Aliyev") {
					t.Errorf("the crew: %+v", cr)
				}
			}},
	})
	msg := a.smtp.WaitForText("jasur@example.uz", "/auth/invite?token=", 10*time.Second)
	if !strings.Contains(msg.Text, "Jasur Aliyev") || !strings.Contains(msg.Subject, "Tozalash") || !strings.Contains(msg.Text, "7 дней") {
		t.Errorf("the invitation:\n%s\n%s", msg.Subject, msg.Text)
	}
	// Before the password, no login: as if there were no account.
	if res := a.api("").do("POST", "/auth/login", `{"email":"jasur@example.uz","password":"anything-at-all"}`); res.status != 401 {
		t.Errorf("login before the invitation: %d %s", res.status, res.body)
	}
	first := inviteLink(t, a, "jasur@example.uz")
	u, _ := a.h.users.GetByEmail(context.Background(), "jasur@example.uz")
	// A second invitation replaces the first.
	if res := a.do(jsonReq(admin, "uz", "POST", "/admin/cleaners/"+u.ID.Hex()+"/invite", "")); res.status != 202 {
		t.Fatalf("send again: %d %s", res.status, res.body)
	}
	waitUntil(t, "the second invitation", func() bool { return a.smtp.Count("jasur@example.uz") == 2 })
	var link string
	for _, m := range a.smtp.Messages() {
		if slices.Contains(m.To, "jasur@example.uz") {
			for _, l := range m.Links() {
				if strings.Contains(l, "/auth/invite?token=") {
					link = strings.TrimPrefix(l, "http://localhost:3000")
				}
			}
		}
	}
	if link == first || link == "" {
		t.Fatalf("no new link: %q", link)
	}
	b := a.browser()
	if res := b.get(first); res.status != 410 {
		t.Errorf("the replaced link: %d", res.status)
	}
	page := b.get(link)
	if page.status != 200 || !strings.Contains(page.body, `data-testid="invite-form"`) {
		t.Fatalf("the invitation's page: %d %s", page.status, clip(page.body))
	}
	token := strings.TrimPrefix(link, "/auth/invite?token=")
	// A weak password: the sign-up's rules; the link stays.
	if res := b.postForm(link, url.Values{"password": {"password"}}); res.status != 422 {
		t.Errorf("a weak password: %d %s", res.status, clip(res.body))
	}
	if u, _ := a.h.users.Get(context.Background(), u.ID); u.IsVerified || u.PasswordHash != "" {
		t.Errorf("a weak password wrote: %+v", u)
	}
	res := b.postForm(link, url.Values{"password": {"chang-yutgich-2026"}})
	if res.status != 303 || res.header.Get("Location") != "/my/day" {
		t.Fatalf("accepted: %d %s %s", res.status, res.header.Get("Location"), clip(res.body))
	}
	if b.cookie("/", accessCookie) == "" {
		t.Error("not signed in")
	}
	if u, _ := a.h.users.Get(context.Background(), u.ID); !u.IsVerified || u.PasswordHash == "" {
		t.Errorf("after the invitation: %+v", u)
	}
	// Used: refused, nothing written.
	if res := a.api("").do("POST", "/auth/invite", `{"token":"`+token+`","password":"another-pass-2026"}`); res.status != 400 || !strings.Contains(res.body, `"code":"invalid_token"`) {
		t.Errorf("used again: %d %s", res.status, res.body)
	}
	if res := b.get(link); res.status != 410 {
		t.Errorf("the used link's page: %d", res.status)
	}
	// The login lands on the cleaner's day; the password is the one set.
	lb := a.browser()
	if res := lb.postForm("/auth/login", url.Values{"email": {"jasur@example.uz"}, "password": {"chang-yutgich-2026"}}); res.status != 303 || res.header.Get("Location") != "/my/day" {
		t.Errorf("login: %d %s", res.status, res.header.Get("Location"))
	}
	cleaner, _ := a.login("jasur@example.uz", "chang-yutgich-2026")
	if res := a.do(jsonReq(cleaner, "uz", "GET", "/admin/crews", "")); res.status != 403 {
		t.Errorf("a cleaner on the admin's crews: %d", res.status)
	}

	// An invitation past its 7 days: refused, nothing written.
	res = a.do(create(`{"email":"late@example.uz","name":"Kech","crewId":"` + other.ID.Hex() + `"}`))
	if res.status != 201 {
		t.Fatalf("invite: %d %s", res.status, res.body)
	}
	late := inviteLink(t, a, "late@example.uz")
	clock.advance(inviteTTL + time.Minute)
	if res := a.do(request{path: late}); res.status != 410 {
		t.Errorf("an expired link's page: %d", res.status)
	}
	if res := a.api("").do("POST", late, `{"password":"kech-qoldim-2026"}`); res.status != 400 {
		t.Errorf("an expired link: %d %s", res.status, res.body)
	}
	if u, _ := a.h.users.GetByEmail(context.Background(), "late@example.uz"); u == nil || u.IsVerified || u.PasswordHash != "" {
		t.Errorf("an expired link wrote: %+v", u)
	}
}

func TestCrewMembersAreCleaners(t *testing.T) {
	a := newTestApp(t)
	admin, _ := a.admin()
	_, customer := a.signupVerified("lola", "lola@example.uz", "toza-uy-2026")
	crews, _ := a.h.schedule.Crews(context.Background())
	crew, other := &crews[0], &crews[1]
	_, cu := inviteCleaner(t, a, admin, "dilnoza@example.uz", "Dilnoza", crew, "supurgi-chang-2026")
	path := "/admin/crews/" + other.ID.Hex()
	before := crewNamed(t, a, other.Name)
	unchanged := func(t *testing.T, a *testApp) {
		t.Helper()
		if c := crewNamed(t, a, other.Name); !c.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("a refused change wrote: %+v", c)
		}
	}
	runScenarios(t, a, []scenario{
		{name: "a customer's account", req: jsonReq(admin, "en", "PATCH", path, `{"memberIds":["`+customer.ID.Hex()+`"]}`), status: 422, contains: []string{`"memberIds":"Cleaners' accounts only."`}, after: unchanged},
		{name: "no account", req: jsonReq(admin, "en", "PATCH", path, `{"memberIds":["0123456789abcdef01234567"]}`), status: 422, after: unchanged},
		{name: "a cleaner joins", req: jsonReq(admin, "en", "PATCH", path, `{"memberIds":["`+cu.ID.Hex()+`"]}`), status: 200, contains: []string{`"memberIds":["` + cu.ID.Hex() + `"]`},
			after: func(t *testing.T, a *testApp) {
				if c := crewNamed(t, a, other.Name); !c.HasMember(cu.ID) || !strings.Contains(strings.Join(c.Members, ","), "Dilnoza") {
					t.Errorf("after: %+v", c)
				}
			}},
		{name: "the crew's page has the cleaners' boxes", req: request{path: path, headers: map[string]string{"Authorization": "Bearer " + admin}}, status: 200,
			contains: []string{`data-testid="crew-cleaners"`, `name="memberIds" value="` + cu.ID.Hex() + `" checked`}},
	})
	// The form without the box ticked takes the cleaner (and the name) out.
	b := a.browser()
	if res := b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}}); res.status != 303 {
		t.Fatalf("admin login: %d", res.status)
	}
	// The admin's form: a crew left unchosen is refused with the form again,
	// nothing written; a good one invites.
	if res := b.postForm("/admin/cleaners", url.Values{"name": {"Kamola"}, "email": {"kamola@example.uz"}, "crewId": {"0123456789abcdef01234567"}}); res.status != 422 || !strings.Contains(res.body, `data-testid="error-crewId"`) {
		t.Errorf("the form, an unknown crew: %d %s", res.status, clip(res.body))
	}
	cleanerCount(1)(t, a)
	if res := b.postForm("/admin/cleaners", url.Values{"name": {"Kamola"}, "email": {"kamola@example.uz"}, "crewId": {other.ID.Hex()}, "lang": {"en"}}); res.status != 303 || res.header.Get("Location") != "/admin/cleaners" {
		t.Errorf("the form: %d %s", res.status, clip(res.body))
	}
	if msg := a.smtp.WaitForText("kamola@example.uz", "/auth/invite?token=", 10*time.Second); !strings.Contains(msg.Text, "7 days") {
		t.Errorf("the English invitation: %s", msg.Text)
	}
	c := crewNamed(t, a, other.Name)
	v := url.Values{"name": {c.Name}, "members": {strings.Join(c.Members, "\n")}, "active": {"true"}}
	for _, d := range store.Weekdays {
		for _, iv := range c.Hours[d] {
			v.Add("hours_"+d+"_from", iv[0])
			v.Add("hours_"+d+"_to", iv[1])
		}
	}
	if res := b.postForm(path+"/edit", v); res.status != 303 {
		t.Fatalf("the form: %d %s", res.status, clip(res.body))
	}
	if c := crewNamed(t, a, other.Name); c.HasMember(cu.ID) || strings.Contains(strings.Join(c.Members, ","), "Dilnoza") || len(c.MemberIDs) != 0 {
		t.Errorf("after the form: %+v", c)
	}
}
