package handlers

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/demo"
	"tozalash/store"
)

func TestUserManagementRBAC(t *testing.T) {
	a := newTestApp(t)
	adminToken, admin := a.admin()
	userToken, user := a.signupVerified("sardor", "sardor@example.uz", "toza-uy-2026")
	_, other := a.signupVerified("zarina", "zarina@example.uz", "toza-uy-2026")
	as := func(token string) map[string]string {
		h := map[string]string{"Accept": "application/json"}
		if token != "" {
			h["Authorization"] = "Bearer " + token
		}
		return h
	}
	req := func(method, path, body, token string) request {
		r := request{method: method, path: path, body: body, headers: as(token)}
		if body != "" {
			r.contentType = "application/json"
		}
		return r
	}
	userRole := func(id primitive.ObjectID, want string, verified bool) func(*testing.T, *testApp) {
		return func(t *testing.T, a *testApp) {
			u, err := a.h.users.Get(context.Background(), id)
			if err != nil || u.Role != want || u.IsVerified != verified {
				t.Errorf("user %s: %+v %v; want role %s verified %v", id.Hex(), u, err, want, verified)
			}
		}
	}
	runScenarios(t, a, []scenario{
		{name: "anonymous: 401", req: req("GET", "/users", "", ""), status: 401},
		{name: "a USER: 403", req: req("GET", "/users", "", userToken), status: 403, contains: []string{`"code":"forbidden"`}},
		{name: "a USER cannot open another account", req: req("GET", "/users/"+other.ID.Hex(), "", userToken), status: 403},
		{name: "a USER cannot promote anyone", req: req("PATCH", "/users/"+user.ID.Hex(), `{"role":"ADMIN"}`, userToken), status: 403, after: userRole(user.ID, store.RoleUser, true)},
		{name: "a USER cannot delete anyone", req: req("DELETE", "/users/"+other.ID.Hex(), "", userToken), status: 403},
		{
			name: "a USER sending role ADMIN to PATCH /me changes nothing",
			req:  req("PATCH", "/me", `{"role":"ADMIN","isVerified":false,"locale":"ru"}`, userToken), status: 200,
			contains: []string{`"role":"USER"`, `"locale":"ru"`},
			after:    userRole(user.ID, store.RoleUser, true),
		},
		{
			name: "the admin lists accounts, newest first", req: req("GET", "/users", "", adminToken), status: 200,
			contains:    []string{`"items":[{"id":"` + other.ID.Hex() + `"`, `"username":"sardor"`, `"username":"boss"`},
			notContains: []string{"passwordHash", "argon2"},
		},
		{
			name: "search by part of the email", req: req("GET", "/users?q=SARD", "", adminToken), status: 200,
			contains: []string{`"username":"sardor"`}, notContains: []string{`"username":"zarina"`},
		},
		{
			name: "a regular-expression search is taken literally", req: req("GET", "/users?q=.*", "", adminToken), status: 200,
			contains: []string{`"items":[]`},
		},
		{
			name: "pages", req: req("GET", "/users?limit=1", "", adminToken), status: 200,
			contains: []string{`"next":"` + other.ID.Hex() + `"`},
		},
		{name: "one account", req: req("GET", "/users/"+user.ID.Hex(), "", adminToken), status: 200, contains: []string{`"email":"sardor@example.uz"`}},
		{name: "a missing account", req: req("GET", "/users/"+primitive.NewObjectID().Hex(), "", adminToken), status: 404},
		{name: "a bad id", req: req("GET", "/users/nope", "", adminToken), status: 400},
		{
			name: "the admin promotes and unverifies", req: req("PATCH", "/users/"+user.ID.Hex(), `{"role":"ADMIN","isVerified":false}`, adminToken), status: 200,
			contains: []string{`"role":"ADMIN"`, `"isVerified":false`}, after: userRole(user.ID, store.RoleAdmin, false),
		},
		{name: "an unknown role is 422", req: req("PATCH", "/users/"+user.ID.Hex(), `{"role":"ROOT"}`, adminToken), status: 422, after: userRole(user.ID, store.RoleAdmin, false)},
		{name: "no demoting oneself", req: req("PATCH", "/users/"+admin.ID.Hex(), `{"role":"USER"}`, adminToken), status: 409, after: userRole(admin.ID, store.RoleAdmin, true)},
		{name: "no deleting oneself here", req: req("DELETE", "/users/"+admin.ID.Hex(), "", adminToken), status: 409},
		{
			name: "the admin deletes an account", req: req("DELETE", "/users/"+other.ID.Hex(), "", adminToken), status: 204,
			after: func(t *testing.T, a *testApp) {
				if _, err := a.h.users.Get(context.Background(), other.ID); err == nil {
					t.Error("the account is still there")
				}
			},
		},
	})

	// The admin pages.
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	if r := b.get("/users"); r.status != 200 || !strings.Contains(r.body, `data-testid="user-row"`) || !strings.Contains(r.body, "sardor@example.uz") {
		t.Errorf("users page = %d", r.status)
	}
	if r := b.send("GET", "/users?q=sardor", "", "", map[string]string{"HX-Request": "true"}); !strings.Contains(r.body, "sardor") || strings.Contains(r.body, "<html") {
		t.Errorf("users search fragment = %d %s", r.status, clip(r.body))
	}
	if r := b.htmx("PATCH", "/users/"+user.ID.Hex(), url.Values{"role": {"USER"}, "isVerified": {"true"}}); r.status != 200 || !strings.Contains(r.body, `data-testid="form-notice"`) {
		t.Errorf("admin form = %d %s", r.status, clip(r.body))
	}
	userRole(user.ID, store.RoleUser, true)(t, a)
}

func TestServiceManagement(t *testing.T) {
	a := newTestApp(t)
	adminToken, _ := a.admin()
	userToken, _ := a.signupVerified("lazizbek", "lazizbek@example.uz", "toza-uy-2026")
	svc := demoServices(t, a)[0]
	as := func(token string) map[string]string {
		return map[string]string{"Accept": "application/json", "Authorization": "Bearer " + token}
	}
	count := func(n int) func(*testing.T, *testApp) {
		return func(t *testing.T, a *testApp) {
			if got, _ := a.h.services.Count(context.Background()); got != int64(n) {
				t.Errorf("%d services, want %d", got, n)
			}
		}
	}
	n := len(demo.Catalogue)
	body := `{"name":"Basseyn tozalash","description":"Hovuz va basseynlarni tozalash","price":400000,"durationMinutes":240}`
	runScenarios(t, a, []scenario{
		{name: "a USER cannot create", req: request{method: "POST", path: "/services", body: body, contentType: "application/json", headers: as(userToken)}, status: 403, after: count(n)},
		{name: "invalid input is 422 and writes nothing", req: request{method: "POST", path: "/services", body: `{"name":"B","price":-5,"durationMinutes":5}`, contentType: "application/json", headers: as(adminToken)}, status: 422, after: count(n)},
		{name: "the admin creates", req: request{method: "POST", path: "/services", body: body, contentType: "application/json", headers: as(adminToken)}, status: 201, contains: []string{`"name":{"uz":"Basseyn tozalash"`, `"active":true`}, after: count(n + 1)},
		{name: "a USER cannot change", req: request{method: "PATCH", path: "/services/" + svc.ID.Hex(), body: `{"price":1}`, contentType: "application/json", headers: as(userToken)}, status: 403},
		// A priced service's price follows its pricing (#20): the admin changes that.
		{name: "the admin changes the price only", req: request{method: "PATCH", path: "/services/" + svc.ID.Hex(), body: `{"pricing":{"base":225000,"perRoom":90000,"perBathroom":60000,"minimum":350000,"baseMinutes":60,"minutesPerRoom":90,"minutesPerBathroom":30}}`, contentType: "application/json", headers: as(adminToken)}, status: 200, contains: []string{`"price":375000`, `"name":{"uz":"Kvartirani umumiy tozalash","ru":"Генеральная уборка квартиры"`}},
		{name: "a partial change is validated", req: request{method: "PATCH", path: "/services/" + svc.ID.Hex(), body: `{"durationMinutes":2000}`, contentType: "application/json", headers: as(adminToken)}, status: 422},
		{name: "a USER cannot delete", req: request{method: "DELETE", path: "/services/" + svc.ID.Hex(), headers: as(userToken)}, status: 403, after: count(n + 1)},
		{name: "the admin deletes a service without orders", req: request{method: "DELETE", path: "/services/" + svc.ID.Hex(), headers: as(adminToken)}, status: 200, contains: []string{`"deleted":true`}, after: count(n)},
		{name: "deleting it again is 404", req: request{method: "DELETE", path: "/services/" + svc.ID.Hex(), headers: as(adminToken)}, status: 404},
	})

	// A service with orders is archived: hidden from the public, shown to admins.
	other := demoServices(t, a)[1]
	if err := a.h.orders.Create(context.Background(), &store.Order{UserID: primitive.NewObjectID(), ServiceID: other.ID, Price: other.Price, IdempotencyKey: "k"}); err != nil {
		t.Fatal(err)
	}
	if r := a.do(request{method: "DELETE", path: "/services/" + other.ID.Hex(), headers: as(adminToken)}); r.status != 200 || !strings.Contains(r.body, `"archived":true`) {
		t.Fatalf("delete with orders = %d %s", r.status, r.body)
	}
	if r := a.do(request{path: "/services/" + other.ID.Hex(), headers: asJSON}); r.status != 404 {
		t.Errorf("archived service for the public = %d", r.status)
	}
	if r := a.do(request{path: "/services/" + other.ID.Hex(), headers: as(adminToken)}); r.status != 200 || !strings.Contains(r.body, `"active":false`) {
		t.Errorf("archived service for the admin = %d", r.status)
	}

	// The admin's pages: a form posted as a browser does.
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	if r := b.get("/services/new"); r.status != 200 || !strings.Contains(r.body, `data-testid="service-form"`) {
		t.Fatalf("new service page = %d", r.status)
	}
	r := b.postForm("/services", url.Values{"name_uz": {"X"}, "price": {"abc"}, "durationMinutes": {"60"}})
	if r.status != 400 && r.status != 422 {
		t.Errorf("bad form = %d", r.status)
	}
	r = b.postForm("/services", url.Values{"name_uz": {"Oshxona tozalash"}, "description_uz": {"Plita va shkaflar"}, "price": {"200000"}, "durationMinutes": {"120"}})
	if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/services/") {
		t.Fatalf("create form = %d %s", r.status, clip(r.body))
	}
	page := b.get(r.header.Get("Location"))
	if !strings.Contains(page.body, "Oshxona tozalash") || !strings.Contains(page.body, `data-testid="flash"`) || !strings.Contains(page.body, `data-testid="service-admin"`) {
		t.Errorf("the new service's page lacks its name, the flash or the admin bar")
	}
	id := strings.TrimPrefix(r.header.Get("Location"), "/services/")
	r = b.htmx("PATCH", "/services/"+id, url.Values{"name_uz": {"O"}, "price": {"200000"}, "durationMinutes": {"120"}})
	if r.status != 422 || !strings.Contains(r.body, `data-testid="error-name_uz"`) || strings.Contains(r.body, "<html") {
		t.Errorf("edit with an error = %d %s", r.status, clip(r.body))
	}
	r = b.htmx("PATCH", "/services/"+id, url.Values{"name_uz": {"Oshxona tozalash+"}, "description_uz": {""}, "price": {"210000"}, "durationMinutes": {"120"}})
	if r.status != 204 || r.header.Get("HX-Redirect") != "/services/"+id {
		t.Errorf("edit = %d HX-Redirect %q", r.status, r.header.Get("HX-Redirect"))
	}
	_ = fiber.StatusOK
}

func TestProfile(t *testing.T) {
	a := newTestApp(t)
	a.signupVerified("umida", "umida@example.uz", "toza-uy-2026")
	a.signupVerified("taken", "taken@example.uz", "toza-uy-2026")
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"umida@example.uz"}, "password": {"toza-uy-2026"}})
	if r := b.get("/me"); r.status != 200 || !strings.Contains(r.body, `value="umida"`) || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("profile = %d, Cache-Control %q", r.status, r.header.Get("Cache-Control"))
	}

	// A taken username re-renders the forms with the message.
	r := b.htmx("PATCH", "/me", url.Values{"form": {"details"}, "username": {"taken"}, "email": {"umida@example.uz"}, "locale": {"uz"}})
	if r.status != 409 || !strings.Contains(r.body, "Bu nom band.") || strings.Contains(r.body, "<html") {
		t.Errorf("taken username = %d %s", r.status, clip(r.body))
	}
	// A new email needs the current password; a link goes to it, and the
	// account moves to it when the link is opened.
	r = b.htmx("PATCH", "/me", url.Values{"form": {"details"}, "username": {"umida_b"}, "email": {"Umida.New@example.uz"}, "locale": {"ru"}, "currentPassword": {""}})
	if r.status != 422 || !strings.Contains(r.body, `data-testid="error-currentPassword"`) {
		t.Errorf("change email without the password = %d", r.status)
	}
	r = b.htmx("PATCH", "/me", url.Values{"form": {"details"}, "username": {"umida_b"}, "email": {"Umida.New@example.uz"}, "locale": {"ru"}, "currentPassword": {"toza-uy-2026"}})
	if r.status != 200 || !strings.Contains(r.body, "ссылку на новый адрес") || !strings.Contains(r.body, `data-testid="pending-email"`) {
		t.Fatalf("change email = %d %s", r.status, clip(r.body))
	}
	u, _ := a.h.users.GetByEmail(context.Background(), "umida@example.uz")
	if u == nil || !u.IsVerified || u.PendingEmail != "umida.new@example.uz" || u.Username != "umida_b" || u.Locale != "ru" {
		t.Fatalf("before the link is opened: %+v", u)
	}
	a.h.Wait() // the link is sent after the answer
	msg := a.smtp.WaitFor("umida.new@example.uz", 10*time.Second)
	if msg.Subject != "Подтвердите email" {
		t.Errorf("email in %q", msg.Subject)
	}
	if r := b.get(strings.TrimPrefix(verifyLink(t, msg.Links()), "http://localhost:3000")); r.status != 200 {
		t.Fatalf("opening the link = %d", r.status)
	}
	u, _ = a.h.users.GetByEmail(context.Background(), "umida.new@example.uz")
	if u == nil || !u.IsVerified || u.PendingEmail != "" {
		t.Fatalf("after the link: %+v", u)
	}

	// The password needs the current one; a change ends the other sessions.
	otherDevice, _ := a.login("umida.new@example.uz", "toza-uy-2026")
	r = b.htmx("PATCH", "/me", url.Values{"form": {"password"}, "currentPassword": {"wrong-password"}, "password": {"yangi-parol-2026"}})
	if r.status != 422 || !strings.Contains(r.body, "Неверный пароль.") {
		t.Errorf("wrong current password = %d %s", r.status, clip(r.body))
	}
	// A weak new password is refused on its field, saying why, in the
	// user's language; nothing changes.
	r = b.htmx("PATCH", "/me", url.Values{"form": {"password"}, "currentPassword": {"toza-uy-2026"}, "password": {"umida_b2026"}})
	if r.status != 422 || !strings.Contains(r.body, `data-testid="error-password"`) || !strings.Contains(r.body, "Пароль содержит ваш email, имя пользователя") {
		t.Errorf("a weak new password = %d %s", r.status, clip(r.body))
	}
	r = b.htmx("PATCH", "/me", url.Values{"form": {"password"}, "currentPassword": {"toza-uy-2026"}, "password": {"yangi-parol-2026"}})
	// The change rotates this browser's session, so htmx reloads the page,
	// which shows the notice.
	if r.status != 200 || r.header.Get("HX-Refresh") != "true" {
		t.Fatalf("change password = %d, HX-Refresh %q", r.status, r.header.Get("HX-Refresh"))
	}
	if r := b.get("/me"); !strings.Contains(r.body, "Пароль изменён") {
		t.Errorf("the reloaded profile does not say the password changed: %s", clip(r.body))
	}
	if r := a.api(otherDevice).do("GET", "/me", ""); r.status != 401 {
		t.Errorf("another device after a password change = %d", r.status)
	}
	if r := b.get("/me"); r.status != 200 {
		t.Errorf("this browser after its own password change = %d", r.status)
	}
	if r := a.api("").do("POST", "/auth/login", `{"email":"umida.new@example.uz","password":"yangi-parol-2026"}`); r.status != 200 {
		t.Errorf("login with the new password = %d", r.status)
	}

	// Deleting the account needs the password, then ends everything.
	if r := b.htmx("DELETE", "/me", url.Values{"password": {"wrong-password"}}); r.status != 422 {
		t.Errorf("delete with a wrong password = %d", r.status)
	}
	r = b.htmx("DELETE", "/me", url.Values{"password": {"yangi-parol-2026"}})
	if r.status != 204 || r.header.Get("HX-Redirect") != "/" {
		t.Fatalf("delete = %d %q", r.status, r.header.Get("HX-Redirect"))
	}
	if _, err := a.h.users.GetByEmail(context.Background(), "umida.new@example.uz"); err == nil {
		t.Error("the account is still there")
	}
	if r := b.get("/me"); r.status != 303 {
		t.Errorf("/me after deleting the account = %d", r.status)
	}
}

// An unverified user may sign in and browse but not do what needs a
// verified email: 403 with a way to get a new link.
func TestUnverifiedUsersAreStopped(t *testing.T) {
	a := newTestApp(t)
	a.app.Post("/_test/book", a.h.requireVerified, func(c *fiber.Ctx) error { return c.SendString("booked") })
	a.api("").do("POST", "/auth/signup", `{"username":"yangi","email":"yangi@example.uz","password":"toza-uy-2026"}`)
	token, _ := a.login("yangi@example.uz", "toza-uy-2026")
	if r := a.api(token).do("GET", "/me", ""); r.status != 200 || !strings.Contains(r.body, `"isVerified":false`) {
		t.Fatalf("unverified /me = %d", r.status)
	}
	if r := a.api(token).do("POST", "/_test/book", ""); r.status != 403 || !strings.Contains(r.body, `"code":"not_verified"`) {
		t.Errorf("unverified booking = %d %s", r.status, r.body)
	}
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"yangi@example.uz"}, "password": {"toza-uy-2026"}})
	r := b.postForm("/_test/book", url.Values{})
	if r.status != 403 || !strings.Contains(r.body, `data-testid="not-verified"`) || !strings.Contains(r.body, `data-testid="resend-form"`) {
		t.Errorf("unverified booking page = %d %s", r.status, clip(r.body))
	}
}

// SMTP down: a signup, a password reset and a booking all succeed; their
// emails wait in the outbox and each arrives once SMTP is back, exactly once.
func TestEmailSurvivesSMTPOutage(t *testing.T) {
	a := newTestApp(t)
	alice, _ := a.signupVerified("alice", "alice@example.uz", "toza-uy-2026") // while SMTP works
	svc := demoServices(t, a)[0]
	before := a.smtp.Count("alice@example.uz")
	a.smtp.Stop()
	if r := a.api("").do("POST", "/auth/signup", `{"username":"sabr","email":"sabr@example.uz","password":"toza-uy-2026"}`); r.status != 201 {
		t.Fatalf("signup with SMTP down = %d", r.status)
	}
	if r := a.api("").do("POST", "/auth/password/forgot", `{"email":"alice@example.uz"}`); r.status != 202 {
		t.Fatalf("password reset with SMTP down = %d", r.status)
	}
	booking := `{"serviceId":"` + svc.ID.Hex() + `","scheduledAt":"` + slot(2, 11, 0) + `","address":"Chilonzor 9-kvartal, 12-uy","phone":"+998901234567","idempotencyKey":"smtp-down"}`
	if r := a.api(alice).do("POST", "/orders", booking); r.status != 201 {
		t.Fatalf("booking with SMTP down = %d %s", r.status, r.body)
	}
	time.Sleep(300 * time.Millisecond) // a few failed tries
	a.smtp.Restart()
	a.smtp.WaitFor("sabr@example.uz", 15*time.Second)
	a.smtp.WaitForText("alice@example.uz", "/auth/password/reset?token=", 15*time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for a.smtp.Count("alice@example.uz") < before+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a second delivery would show by now
	if n := a.smtp.Count("sabr@example.uz"); n != 1 {
		t.Errorf("the verification email was delivered %d times", n)
	}
	if n := a.smtp.Count("alice@example.uz") - before; n != 2 {
		t.Errorf("alice got %d emails after the outage, want 2 (the reset and the booking)", n)
	}
}
