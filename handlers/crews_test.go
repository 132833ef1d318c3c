package handlers

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// The crews' admin (#21): crews, closures, the booking rules, and the
// visits a change leaves outside their crew's hours.

// jsonReq is a JSON request of token's client, in lang.
func jsonReq(token, lang, method, path, body string) request {
	r := request{method: method, path: path, body: body, headers: adminJSON(token, lang)}
	if body != "" {
		r.contentType = "application/json"
	}
	return r
}

// crewNamed is the crew the store holds under name (nil: none).
func crewNamed(t *testing.T, a *testApp, name string) *store.Crew {
	t.Helper()
	crews, err := a.h.schedule.Crews(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range crews {
		if crews[i].Name == name {
			return &crews[i]
		}
	}
	return nil
}

// crewCount checks how many crews the store holds.
func crewCount(want int) func(*testing.T, *testApp) {
	return func(t *testing.T, a *testApp) {
		t.Helper()
		if crews, _ := a.h.schedule.Crews(context.Background()); len(crews) != want {
			t.Errorf("%d crews, want %d", len(crews), want)
		}
	}
}

const everyDay = `{"mon":[["08:00","19:00"]],"tue":[["08:00","19:00"]],"wed":[["08:00","19:00"]],"thu":[["08:00","19:00"]],"fri":[["08:00","19:00"]],"sat":[["08:00","19:00"]],"sun":[["08:00","19:00"]]}`

func TestCrewsAdminJSON(t *testing.T) {
	a := newCrewlessApp(t)
	admin, _ := a.admin()
	customer, _ := a.signupVerified("lola", "lola@example.uz", "toza-uy-2026")
	svc := serviceNamed(t, a, "Gilam yuvish")
	create := func(lang, body string) request { return jsonReq(admin, lang, "POST", "/admin/crews", body) }
	week := `{"mon":[["08:00","13:00"],["14:00","19:00"]],"tue":[["08:00","19:00"]],"wed":[["08:00","19:00"]],"thu":[["08:00","19:00"]],"fri":[["08:00","19:00"]],"sat":[["09:00","15:00"]],"sun":[]}`
	runScenarios(t, a, []scenario{
		{name: "anonymous", req: request{path: "/admin/crews", headers: asJSON}, status: 401},
		{name: "a customer may not look", req: jsonReq(customer, "uz", "GET", "/admin/crews", ""), status: 403},
		{name: "a customer may not create", req: jsonReq(customer, "uz", "POST", "/admin/crews", `{"name":"A","hours":{}}`), status: 403, after: crewCount(0)},
		{name: "none yet", req: jsonReq(admin, "uz", "GET", "/admin/crews", ""), status: 200, contains: []string{`{"items":[],"next":""}`}},
		{
			name: "created: a lunch break on Monday, Sunday off, one service", req: create("uz", `{"name":" Alfa ","members":["Dilnoza","Jasur"],"memberIds":[],"serviceIds":["`+svc.ID.Hex()+`"],"hours":`+week+`,"active":true}`), status: 201,
			contains: []string{`"name":"Alfa"`, `"members":["Dilnoza","Jasur"]`, `"mon":[["08:00","13:00"],["14:00","19:00"]]`, `"sun":[]`, `"serviceIds":["` + svc.ID.Hex() + `"]`, `"active":true`},
			after: func(t *testing.T, a *testApp) {
				crewCount(1)(t, a)
				if c := crewNamed(t, a, "Alfa"); c == nil || len(c.Hours["mon"]) != 2 || len(c.Hours["sun"]) != 0 || c.Does(primitive.NewObjectID()) {
					t.Errorf("Alfa as stored: %+v", c)
				}
			},
		},
		{name: "no service named: every service", req: create("uz", `{"name":"Beta","hours":`+everyDay+`}`), status: 201, contains: []string{`"serviceIds":[]`, `"members":[]`, `"active":true`}, after: crewCount(2)},
		{name: "an interval that ends before it starts", req: create("uz", `{"name":"Gamma","hours":{"mon":[["19:00","08:00"]]}}`), status: 422, contains: []string{`"hours":"Vaqt SS:DD ko‘rinishida bo‘lsin`}, after: crewCount(2)},
		{name: "overlapping intervals, in Russian", req: create("ru", `{"name":"Gamma","hours":{"tue":[["08:00","13:00"],["12:00","19:00"]]}}`), status: 422, contains: []string{`"hours":"Время в виде ЧЧ:ММ`}, after: crewCount(2)},
		{name: "a time that is no time", req: create("en", `{"name":"Gamma","hours":{"wed":[["8","19:00"]]}}`), status: 422, contains: []string{`"hours":"Times are HH:MM`}, after: crewCount(2)},
		{name: "a day that is no day", req: create("uz", `{"name":"Gamma","hours":{"xyz":[]}}`), status: 422, contains: []string{`"hours":`}, after: crewCount(2)},
		{name: "no name", req: create("uz", `{"name":"  ","hours":{}}`), status: 422, contains: []string{`"name":"To‘ldirilishi shart."`}, after: crewCount(2)},
		{name: "an unknown service", req: create("uz", `{"name":"Gamma","serviceIds":["0123456789abcdef01234567"],"hours":{}}`), status: 422, contains: []string{`"serviceIds":"Bunday xizmat yo‘q."`}, after: crewCount(2)},
		{name: "a member id that is no id", req: create("uz", `{"name":"Gamma","memberIds":["x"],"hours":{}}`), status: 422, contains: []string{`"memberIds":`}, after: crewCount(2)},
		{name: "the list, by name", req: jsonReq(admin, "uz", "GET", "/admin/crews", ""), status: 200, contains: []string{`"name":"Alfa"`, `"name":"Beta"`}},
	})

	alfa := crewNamed(t, a, "Alfa")
	path := "/admin/crews/" + alfa.ID.Hex()
	unchanged := func(t *testing.T, a *testApp) {
		t.Helper()
		if c := crewNamed(t, a, "Alfa"); c == nil || !c.UpdatedAt.Equal(alfa.UpdatedAt) {
			t.Errorf("a refused change wrote: %+v", c)
		}
	}
	runScenarios(t, a, []scenario{
		{name: "one crew", req: jsonReq(admin, "uz", "GET", path, ""), status: 200, contains: []string{`"name":"Alfa"`, `"id":"` + alfa.ID.Hex() + `"`}},
		{name: "an unknown crew", req: jsonReq(admin, "uz", "GET", "/admin/crews/0123456789abcdef01234567", ""), status: 404},
		{name: "an unknown crew's change", req: jsonReq(admin, "uz", "PATCH", "/admin/crews/0123456789abcdef01234567", `{"active":false}`), status: 404},
		{name: "a customer may not change it", req: jsonReq(customer, "uz", "PATCH", path, `{"active":false}`), status: 403, after: unchanged},
		{name: "bad hours write nothing", req: jsonReq(admin, "uz", "PATCH", path, `{"name":"Alfa 2","hours":{"mon":[["19:00","08:00"]]}}`), status: 422, contains: []string{`"hours":`}, after: unchanged},
		{
			name: "renamed and paused; the rest stays", req: jsonReq(admin, "uz", "PATCH", path, `{"name":"Alfa-2","active":false}`), status: 200,
			contains: []string{`"name":"Alfa-2"`, `"active":false`, `"members":["Dilnoza","Jasur"]`, `"mon":[["08:00","13:00"],["14:00","19:00"]]`, `"stranded":[]`},
			after: func(t *testing.T, a *testApp) {
				if c := crewNamed(t, a, "Alfa-2"); c == nil || c.Active || len(c.Members) != 2 {
					t.Errorf("after the change: %+v", c)
				}
			},
		},
		{name: "deleted", req: jsonReq(admin, "uz", "DELETE", path, ""), status: 204, after: crewCount(1)},
		{name: "gone", req: jsonReq(admin, "uz", "DELETE", path, ""), status: 404, after: crewCount(1)},
	})
}

// bookVisit books a visit of crew through the store, as the booking does:
// the crew's time reserved, then the order with its reservation.
func bookVisit(t *testing.T, a *testApp, customer *store.User, crew *store.Crew, svc *store.Service, at time.Time, minutes int) *store.Order {
	t.Helper()
	ctx := context.Background()
	sch := a.h.schedule
	rules, err := sch.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := primitive.NewObjectID()
	r, err := sch.Reserve(ctx, []*store.Crew{crew}, id, at, minutes, rules, "")
	if err != nil {
		t.Fatal(err)
	}
	o := &store.Order{ID: id, UserID: customer.ID, CustomerName: customer.Username, ServiceID: svc.ID, ServiceName: svc.Name.Uz, Price: 100000,
		DurationMinutes: minutes, ScheduledAt: r.From, CrewID: crew.ID, CrewName: crew.Name, EndsAt: r.EndsAt, ReservedUntil: r.Until,
		Address: "Toshkent, Chilonzor 5", Phone: "+998901234567", IdempotencyKey: id.Hex()}
	if err := a.h.orders.CreateWithEmail(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestStrandedVisits: shortening a crew's hours, a holiday, pausing the
// crew never drops a booked visit: the change's answer and the crews'
// and closures' pages list it with a link to its order; a crew with a
// visit to come cannot be deleted.
func TestStrandedVisits(t *testing.T) {
	a := newCrewlessApp(t)
	admin, _ := a.admin()
	_, lola := a.signupVerified("lola", "lola@example.uz", "toza-uy-2026")
	svc := serviceNamed(t, a, "Gilam yuvish")
	if r := a.do(jsonReq(admin, "uz", "POST", "/admin/crews", `{"name":"Alfa","members":["Dilnoza"],"hours":`+everyDay+`}`)); r.status != 201 {
		t.Fatalf("crew = %d %s", r.status, r.body)
	}
	alfa := crewNamed(t, a, "Alfa")
	day := time.Now().In(store.Tashkent).AddDate(0, 0, 2)
	date := day.Format(time.DateOnly)
	at := time.Date(day.Year(), day.Month(), day.Day(), 15, 0, 0, 0, store.Tashkent)
	o := bookVisit(t, a, lola, alfa, svc, at, 120) // 15:00–17:00
	path := "/admin/crews/" + alfa.ID.Hex()
	visit := `"stranded":[{"orderId":"` + o.ID.Hex() + `"`
	noneStranded := func(t *testing.T, a *testApp) {
		t.Helper()
		if s, err := a.h.schedule.Stranded(context.Background(), time.Now()); err != nil || len(s) != 0 {
			t.Errorf("stranded = %v %v, want none", s, err)
		}
	}
	oneStranded := func(t *testing.T, a *testApp) {
		t.Helper()
		if s, err := a.h.schedule.Stranded(context.Background(), time.Now()); err != nil || len(s) != 1 || s[0].OrderID != o.ID {
			t.Errorf("stranded = %v %v, want the visit", s, err)
		}
		// the order itself is untouched: still booked, still Alfa's
		if got, _ := a.h.orders.Get(context.Background(), o.ID); got.Status != store.StatusPending || got.CrewID != alfa.ID || !got.ScheduledAt.Equal(o.ScheduledAt) {
			t.Errorf("the order changed: %+v", got)
		}
	}
	short := strings.ReplaceAll(everyDay, `"19:00"`, `"14:00"`)
	closure := func(body string) request { return jsonReq(admin, "uz", "POST", "/admin/closures", body) }
	runScenarios(t, a, []scenario{
		{name: "the hours cover it: nothing stranded", req: jsonReq(admin, "uz", "PATCH", path, `{"members":["Dilnoza","Jasur"]}`), status: 200, contains: []string{`"stranded":[]`}, after: noneStranded},
		{name: "a crew with a visit to come cannot go", req: jsonReq(admin, "en", "DELETE", path, ""), status: 409, contains: []string{`"message":"This crew has 1 visits to come`}, after: crewCount(1)},
		{
			name: "hours cut to 14:00: the visit is listed, not dropped", req: jsonReq(admin, "uz", "PATCH", path, `{"hours":`+short+`}`), status: 200,
			contains: []string{visit, `"number":` + itoa(o.Seq), `"customer":"lola"`, `"crewName":"Alfa"`}, after: oneStranded,
		},
		{name: "the hours back", req: jsonReq(admin, "uz", "PATCH", path, `{"hours":`+everyDay+`}`), status: 200, contains: []string{`"stranded":[]`}, after: noneStranded},
		{name: "paused: the visit is listed", req: jsonReq(admin, "uz", "PATCH", path, `{"active":false}`), status: 200, contains: []string{visit}, after: oneStranded},
		{name: "working again", req: jsonReq(admin, "uz", "PATCH", path, `{"active":true}`), status: 200, contains: []string{`"stranded":[]`}, after: noneStranded},
		{name: "a shorter day before the visit strands nothing", req: closure(`{"date":"` + date + `","crewId":"` + alfa.ID.Hex() + `","from":"08:00","to":"12:00","reason":"Tibbiy ko‘rik"}`), status: 201, contains: []string{`"stranded":[]`, `"from":"08:00"`, `"reason":"Tibbiy ko‘rik"`}, after: noneStranded},
		{name: "a holiday for everyone that day", req: closure(`{"date":"` + date + `","reason":"Bayram"}`), status: 201, contains: []string{`"date":"` + date + `"`, visit}, after: oneStranded},
	})

	// The pages show it, with a link to the order.
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	for _, p := range []string{"/admin/crews", "/admin/closures", path} {
		page := b.get(p)
		row := between(page.body, `data-testid="stranded-visit"`, "</tr>")
		if page.status != 200 || !strings.Contains(row, `href="/orders/`+o.ID.Hex()+`"`) || !strings.Contains(row, "#"+itoa(o.Seq)) || !strings.Contains(row, "lola") ||
			!strings.Contains(row, at.Format("02.01.2006 15:04")+"–17:00") {
			t.Errorf("%s = %d, the stranded visit: %s", p, page.status, row)
		}
	}

	// The holiday deleted: nothing stranded, nothing on the page.
	cls, _ := a.h.schedule.Closures(context.Background())
	for _, cl := range cls {
		if cl.Reason == "Bayram" {
			if r := a.do(jsonReq(admin, "uz", "DELETE", "/admin/closures/"+cl.ID.Hex(), "")); r.status != 204 {
				t.Errorf("closure deleted = %d %s", r.status, r.body)
			}
		}
	}
	noneStranded(t, a)
	if page := b.get("/admin/crews"); strings.Contains(page.body, `data-testid="stranded"`) {
		t.Errorf("the crews page still lists a stranded visit")
	}
	// The page's delete button without JavaScript: refused, saying why.
	del := b.postForm(path+"/delete", url.Values{})
	if del.status != 409 || !strings.Contains(del.body, "1 ta tashrifi bor") || crewNamed(t, a, "Alfa") == nil {
		t.Errorf("the page's delete = %d %s", del.status, clip(between(del.body, `data-testid="form-error"`, "</p>")))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestClosuresAdmin(t *testing.T) {
	a := newCrewlessApp(t)
	admin, _ := a.admin()
	customer, _ := a.signupVerified("lola", "lola@example.uz", "toza-uy-2026")
	if r := a.do(jsonReq(admin, "uz", "POST", "/admin/crews", `{"name":"Alfa","hours":`+everyDay+`}`)); r.status != 201 {
		t.Fatalf("crew = %d", r.status)
	}
	alfa := crewNamed(t, a, "Alfa")
	tomorrow := time.Now().In(store.Tashkent).AddDate(0, 0, 1).Format(time.DateOnly)
	yesterday := time.Now().In(store.Tashkent).AddDate(0, 0, -1).Format(time.DateOnly)
	count := func(want int) func(*testing.T, *testApp) {
		return func(t *testing.T, a *testApp) {
			t.Helper()
			if cls, _ := a.h.schedule.Closures(context.Background()); len(cls) != want {
				t.Errorf("%d closures, want %d", len(cls), want)
			}
		}
	}
	create := func(lang, body string) request { return jsonReq(admin, lang, "POST", "/admin/closures", body) }
	runScenarios(t, a, []scenario{
		{name: "anonymous", req: request{path: "/admin/closures", headers: asJSON}, status: 401},
		{name: "a customer may not add one", req: jsonReq(customer, "uz", "POST", "/admin/closures", `{"date":"`+tomorrow+`"}`), status: 403, after: count(0)},
		{name: "none yet", req: jsonReq(admin, "uz", "GET", "/admin/closures", ""), status: 200, contains: []string{`{"items":[],"next":""}`}},
		{name: "a holiday for everyone", req: create("uz", `{"date":"`+tomorrow+`","crewId":"","from":"","to":"","reason":"Mustaqillik kuni"}`), status: 201, contains: []string{`"date":"` + tomorrow + `"`, `"reason":"Mustaqillik kuni"`, `"from":""`}, after: count(1)},
		{name: "a shorter day for one crew", req: create("uz", `{"date":"`+tomorrow+`","crewId":"`+alfa.ID.Hex()+`","from":"14:00","to":"19:00","reason":"Ta’mir"}`), status: 201, contains: []string{`"crewId":"` + alfa.ID.Hex() + `"`, `"to":"19:00"`}, after: count(2)},
		{name: "a day past", req: create("uz", `{"date":"`+yesterday+`"}`), status: 422, contains: []string{`"date":"Bu kun o‘tib ketgan."`}, after: count(2)},
		{name: "no date", req: create("uz", `{"reason":"x"}`), status: 422, contains: []string{`"date":`}, after: count(2)},
		{name: "a date that is no date", req: create("uz", `{"date":"31.12.2026"}`), status: 422, contains: []string{`"date":`}, after: count(2)},
		{name: "an unknown crew", req: create("en", `{"date":"`+tomorrow+`","crewId":"0123456789abcdef01234567"}`), status: 422, contains: []string{`"crewId":"No such crew."`}, after: count(2)},
		{name: "one time only", req: create("uz", `{"date":"`+tomorrow+`","from":"14:00"}`), status: 422, contains: []string{`"to":`}, after: count(2)},
		{name: "ends before it starts", req: create("uz", `{"date":"`+tomorrow+`","from":"19:00","to":"08:00"}`), status: 422, contains: []string{`"to":`}, after: count(2)},
		{name: "the list", req: jsonReq(admin, "uz", "GET", "/admin/closures", ""), status: 200, contains: []string{`"reason":"Mustaqillik kuni"`, `"reason":"Ta’mir"`}},
		{name: "an unknown closure", req: jsonReq(admin, "uz", "DELETE", "/admin/closures/0123456789abcdef01234567", ""), status: 404, after: count(2)},
	})
	cls, _ := a.h.schedule.Closures(context.Background())
	runScenarios(t, a, []scenario{
		{name: "a customer may not delete one", req: jsonReq(customer, "uz", "DELETE", "/admin/closures/"+cls[0].ID.Hex(), ""), status: 403, after: count(2)},
		{name: "deleted", req: jsonReq(admin, "uz", "DELETE", "/admin/closures/"+cls[0].ID.Hex(), ""), status: 204, after: count(1)},
	})

	// The page's form: refused with the values kept, then made.
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	bad := b.postForm("/admin/closures", url.Values{"date": {tomorrow}, "crewId": {alfa.ID.Hex()}, "from": {"19:00"}, "to": {"08:00"}, "reason": {"Ta’mir"}})
	if bad.status != 422 || !strings.Contains(bad.body, `data-testid="error-to"`) || !strings.Contains(bad.body, `value="Ta’mir"`) {
		t.Errorf("a bad form = %d %s", bad.status, clip(bad.body))
	}
	count(1)(t, a)
	made := b.postForm("/admin/closures", url.Values{"date": {tomorrow}, "crewId": {""}, "from": {""}, "to": {""}, "reason": {"Yangi yil"}})
	if made.status != 303 || made.header.Get("Location") != "/admin/closures" {
		t.Fatalf("the form = %d %s", made.status, clip(made.body))
	}
	count(2)(t, a)
	page := b.get("/admin/closures")
	if !strings.Contains(page.body, "Yangi yil") || !strings.Contains(page.body, "Hamma brigadalar") || !strings.Contains(page.body, `data-testid="admin-nav-crews"`) {
		t.Errorf("the closures page lacks the new holiday: %s", clip(between(page.body, `data-testid="closures-list"`, "</ul>")))
	}
}

func TestCrewsAdminForms(t *testing.T) {
	a := newCrewlessApp(t)
	a.admin()
	svc := serviceNamed(t, a, "Gilam yuvish")
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	p := b.get("/admin/crews")
	if p.status != 200 || !strings.Contains(p.body, `data-testid="admin-nav-crews"`) || !strings.Contains(p.body, `data-testid="crews-empty"`) {
		t.Fatalf("the crews page = %d %s", p.status, clip(p.body))
	}
	// the new crew's form starts with Monday–Saturday 08:00–19:00, Sunday off
	if sun := between(p.body, `data-testid="hours-sun"`, `data-testid="interval-add"`); !strings.Contains(sun, "Dam olish kuni") || strings.Contains(sun, "interval-from") {
		t.Errorf("Sunday in the new form: %s", sun)
	}

	form := func(name string, mon ...string) url.Values {
		v := url.Values{"name": {name}, "members": {"Dilnoza\r\n Jasur \r\n"}, "serviceIds": {svc.ID.Hex()}, "active": {"true"}}
		for _, d := range store.Weekdays[1:6] {
			v["hours_"+d+"_from"], v["hours_"+d+"_to"] = []string{"08:00"}, []string{"19:00"}
		}
		for i := 0; i+1 < len(mon); i += 2 {
			v["hours_mon_from"] = append(v["hours_mon_from"], mon[i])
			v["hours_mon_to"] = append(v["hours_mon_to"], mon[i+1])
		}
		return v
	}
	// an htmx row: Monday gets a second interval, the editor comes back alone
	add := b.htmx("POST", "/admin/crews/new/hour-rows", func() url.Values { v := form("Alfa", "08:00", "13:00"); v.Set("op", "add:mon"); return v }())
	if mon := between(add.body, `data-testid="hours-mon"`, `data-testid="hours-tue"`); add.status != 200 || strings.Contains(add.body, "<html") || strings.Count(mon, `data-testid="interval"`) != 2 || !strings.Contains(mon, `value="13:00"`) {
		t.Errorf("add a row = %d %s", add.status, clip(add.body))
	}
	// without JavaScript: the whole page, the values kept
	rm := b.postForm("/admin/crews/new/hour-rows", func() url.Values {
		v := form("Alfa", "08:00", "13:00", "14:00", "19:00")
		v.Set("op", "remove:mon:0")
		return v
	}())
	if mon := between(rm.body, `data-testid="hours-mon"`, `data-testid="hours-tue"`); rm.status != 200 || !strings.Contains(rm.body, "<html") || strings.Count(mon, `data-testid="interval"`) != 1 || !strings.Contains(mon, `value="14:00"`) || !strings.Contains(rm.body, `value="Alfa"`) {
		t.Errorf("remove a row = %d %s", rm.status, clip(between(rm.body, `data-testid="hours-mon"`, `data-testid="hours-tue"`)))
	}
	if r := b.postForm("/admin/crews/new/hour-rows", func() url.Values { v := form("Alfa"); v.Set("op", "remove:mon:3"); return v }()); r.status != 400 {
		t.Errorf("removing a row that is not there = %d", r.status)
	}
	// a row just added, still empty, goes again (Sunday is a day off)
	empty := b.htmx("POST", "/admin/crews/new/hour-rows", func() url.Values {
		v := form("Alfa")
		v["hours_sun_from"], v["hours_sun_to"] = []string{""}, []string{""}
		v.Set("op", "remove:sun:0")
		return v
	}())
	if sun := between(empty.body, `data-testid="hours-sun"`, `data-testid="interval-add"`); empty.status != 200 || !strings.Contains(sun, `data-testid="day-off"`) {
		t.Errorf("remove an empty row = %d %s", empty.status, clip(empty.body))
	}
	crewCount(0)(t, a)

	// overlapping intervals: 422, the form again with the message under Monday
	bad := b.postForm("/admin/crews", form("Alfa", "08:00", "13:00", "12:00", "19:00"))
	if bad.status != 422 || !strings.Contains(bad.body, `data-testid="error-hours-mon"`) || !strings.Contains(bad.body, `value="12:00"`) || !strings.Contains(bad.body, `value="Alfa"`) {
		t.Errorf("overlapping = %d %s", bad.status, clip(bad.body))
	}
	crewCount(0)(t, a)
	made := b.postForm("/admin/crews", form("Alfa", "08:00", "13:00", "14:00", "19:00"))
	if made.status != 303 || made.header.Get("Location") != "/admin/crews" {
		t.Fatalf("the form = %d %s", made.status, clip(made.body))
	}
	alfa := crewNamed(t, a, "Alfa")
	if alfa == nil || strings.Join(alfa.Members, ",") != "Dilnoza,Jasur" || len(alfa.Hours["mon"]) != 2 || len(alfa.Hours["sun"]) != 0 || len(alfa.ServiceIDs) != 1 || !alfa.Active {
		t.Fatalf("made from the form: %+v", alfa)
	}
	list := b.get("/admin/crews")
	if row := between(list.body, `data-crew="Alfa"`, "</tr>"); !strings.Contains(row, "08:00–13:00, 14:00–19:00") || !strings.Contains(row, "Dilnoza, Jasur") || !strings.Contains(row, "Gilam yuvish") {
		t.Errorf("the list's row: %s", row)
	}

	// edited through its page: unticked services are every service, unticked active pauses it
	edit := b.get("/admin/crews/" + alfa.ID.Hex())
	if edit.status != 200 || !strings.Contains(edit.body, `value="Alfa"`) || !strings.Contains(edit.body, "Dilnoza\nJasur") {
		t.Errorf("the crew's page = %d %s", edit.status, clip(edit.body))
	}
	v := form("Alfa", "09:00", "18:00")
	v.Del("serviceIds")
	v.Del("active")
	if r := b.postForm("/admin/crews/"+alfa.ID.Hex()+"/edit", v); r.status != 303 {
		t.Fatalf("edit = %d %s", r.status, clip(r.body))
	}
	if c := crewNamed(t, a, "Alfa"); c.Active || len(c.ServiceIDs) != 0 || len(c.Hours["mon"]) != 1 || c.Hours["mon"][0] != [2]string{"09:00", "18:00"} {
		t.Errorf("after the edit: %+v", c)
	}
	// deleted without JavaScript
	if r := b.postForm("/admin/crews/"+alfa.ID.Hex()+"/delete", url.Values{}); r.status != 303 {
		t.Errorf("delete = %d %s", r.status, clip(r.body))
	}
	crewCount(0)(t, a)
}

func TestSettingsScheduleRules(t *testing.T) {
	a := newCrewlessApp(t)
	admin, _ := a.admin()
	customer, _ := a.signupVerified("lola", "lola@example.uz", "toza-uy-2026")
	put := func(lang, body string) request { return jsonReq(admin, lang, "PUT", "/admin/settings", body) }
	rules := func(want store.ScheduleRules) func(*testing.T, *testApp) {
		return func(t *testing.T, a *testApp) {
			t.Helper()
			if got, _ := a.h.schedule.Rules(context.Background()); got != want {
				t.Errorf("rules = %+v, want %+v", got, want)
			}
		}
	}
	def := store.DefaultScheduleRules()
	mine := store.ScheduleRules{SlotMinutes: 60, BufferMinutes: 45, LeadMinutes: 240, HorizonDays: 30}
	runScenarios(t, a, []scenario{
		{name: "the defaults", req: jsonReq(admin, "uz", "GET", "/admin/settings", ""), status: 200, contains: []string{`"slotMinutes":30,"bufferMinutes":30,"leadMinutes":180,"horizonDays":60`}},
		{name: "a customer may not set them", req: jsonReq(customer, "uz", "PUT", "/admin/settings", `{"slotMinutes":60}`), status: 403, after: rules(def)},
		{name: "a grid that is no multiple of 30", req: put("uz", `{"slotMinutes":45}`), status: 422, contains: []string{`"slotMinutes":"30 ning karralisi, 30 dan 240 gacha bo‘lishi kerak."`}, after: rules(def)},
		{name: "a negative buffer", req: put("en", `{"bufferMinutes":-5}`), status: 422, contains: []string{`"bufferMinutes":`}, notContains: []string{`"slotMinutes"`}, after: rules(def)},
		{name: "a lead over two weeks", req: put("uz", `{"leadMinutes":20161}`), status: 422, contains: []string{`"leadMinutes":"Ko‘pi bilan 20160 bo‘lishi mumkin."`}, after: rules(def)},
		{name: "no horizon", req: put("uz", `{"horizonDays":0}`), status: 422, contains: []string{`"horizonDays":"Kamida 1 bo‘lishi kerak."`}, after: rules(def)},
		{name: "a good field with a bad one writes nothing", req: put("uz", `{"companyNotifyEmail":"ofis@tozalash.uz","slotMinutes":60,"horizonDays":400}`), status: 422, contains: []string{`"horizonDays":`}, after: rules(def)},
		{name: "saved", req: put("uz", `{"slotMinutes":60,"bufferMinutes":45,"leadMinutes":240,"horizonDays":30}`), status: 200, contains: []string{`"slotMinutes":60,"bufferMinutes":45,"leadMinutes":240,"horizonDays":30`}, after: rules(mine)},
		{name: "one changed, the others stay", req: put("uz", `{"bufferMinutes":0}`), status: 200, contains: []string{`"slotMinutes":60,"bufferMinutes":0,"leadMinutes":240`}, after: rules(store.ScheduleRules{SlotMinutes: 60, BufferMinutes: 0, LeadMinutes: 240, HorizonDays: 30})},
	})
	// The page's form shows them and sends them back.
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	if p := b.get("/admin/settings"); !strings.Contains(p.body, `data-testid="field-slotMinutes"`) || !strings.Contains(between(p.body, `name="horizonDays"`, ">"), `value="30"`) {
		t.Errorf("the settings page: %s", clip(between(p.body, `data-testid="schedule-rules"`, "</fieldset>")))
	}
	f := url.Values{"companyNotifyEmail": {""}, "discount_weekly": {"0"}, "discount_biweekly": {"0"}, "discount_monthly": {"0"}, "slotMinutes": {"90"}, "bufferMinutes": {"30"}, "leadMinutes": {"abc"}, "horizonDays": {"60"}}
	if r := b.postForm("/admin/settings", f); r.status != 422 || !strings.Contains(r.body, `data-testid="error-leadMinutes"`) || !strings.Contains(r.body, `value="abc"`) {
		t.Errorf("a bad form = %d %s", r.status, clip(between(r.body, `data-testid="schedule-rules"`, "</fieldset>")))
	}
	f.Set("leadMinutes", "120")
	if r := b.postForm("/admin/settings", f); r.status != 200 {
		t.Errorf("the form = %d %s", r.status, clip(r.body))
	}
	rules(store.ScheduleRules{SlotMinutes: 90, BufferMinutes: 30, LeadMinutes: 120, HorizonDays: 60})(t, a)
}

// newCrewlessApp is the test app without the crews it seeds: these tests
// count the crews they make.
func newCrewlessApp(t *testing.T) *testApp {
	t.Helper()
	a := newTestApp(t)
	ctx := context.Background()
	crews, err := a.h.schedule.Crews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range crews {
		if err := a.h.schedule.DeleteCrew(ctx, c.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return a
}
