package handlers

import (
	"context"
	"encoding/json"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"tozalash/demo"
	"tozalash/store"
)

// A service's visit checklist (#22): the admin edits it in JSON and on the
// service's form; the service page lists it in the reader's language.

// checklistIDs are the service's items' ids, in order.
func checklistIDs(s *store.Service) []string {
	ids := make([]string, len(s.Checklist))
	for i, it := range s.Checklist {
		ids[i] = it.ID
	}
	return ids
}

// items is a JSON checklist of n items, each with an Uzbek text.
func items(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `{"text":{"uz":"Band"}}`
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestServiceChecklistJSON(t *testing.T) {
	a := newTestApp(t)
	admin, _ := a.admin()
	customer, _ := a.signupVerified("lola", "lola@example.uz", "toza-uy-2026")
	n := len(demo.Catalogue)
	post := func(token, lang, body string) request {
		return request{method: "POST", path: "/services", body: body, contentType: "application/json", headers: adminJSON(token, lang)}
	}
	count := func(want int) func(*testing.T, *testApp) {
		return func(t *testing.T, a *testApp) {
			t.Helper()
			if got, _ := a.h.services.Count(context.Background()); got != int64(want) {
				t.Errorf("%d services, want %d: a refused body wrote one", got, want)
			}
		}
	}
	body := func(checklist string) string {
		return `{"name":{"uz":"Uyni tozalash"},"price":200000,"durationMinutes":120,"checklist":` + checklist + `}`
	}
	long := strings.Repeat("a", 201)
	two := `[{"text":{"uz":"  Changni artish ","ru":"Протереть пыль","en":"Dust the surfaces"}},{"text":{"uz":"Pollarni yuvish"}}]`

	runScenarios(t, a, []scenario{
		{name: "a customer may not", req: post(customer, "uz", body(two)), status: 403, after: count(n)},
		{name: "anonymous may not", req: request{method: "POST", path: "/services", body: body(two), contentType: "application/json", headers: asJSON}, status: 401, after: count(n)},
		{name: "an id the new service has not", req: post(admin, "en", body(`[{"id":"dust","text":{"uz":"Changni artish"}}]`)), status: 422, contains: []string{`"checklist.0.id":"This item is not on the service's checklist."`}, after: count(n)},
		{name: "31 items", req: post(admin, "uz", body(items(31))), status: 422, contains: []string{`"checklist":"Ko‘pi bilan 30 ta band."`}, after: count(n)},
		{name: "an item without its Uzbek text", req: post(admin, "ru", body(`[{"text":{"uz":"   ","ru":"Пыль"}}]`)), status: 422, contains: []string{`"checklist.0.text.uz":"Обязательное поле."`}, after: count(n)},
		{name: "a text of 201 characters", req: post(admin, "uz", body(`[{"text":{"uz":"Band","en":"`+long+`"}}]`)), status: 422, contains: []string{`"checklist.0.text.en":"Ko‘pi bilan 200 belgi bo‘lishi mumkin."`}, after: count(n)},
		{
			name: "created with two items, trimmed, each with a new id", req: post(admin, "uz", body(two)), status: 201,
			contains: []string{`"checklist":[{"id":"`, `"uz":"Changni artish"`},
			after: func(t *testing.T, a *testApp) {
				count(n+1)(t, a)
				s := serviceNamed(t, a, "Uyni tozalash")
				if ids := checklistIDs(s); len(ids) != 2 || !hexID.MatchString(ids[0]) || !hexID.MatchString(ids[1]) || ids[0] == ids[1] {
					t.Errorf("ids %v: want two new 8-hex ids", ids)
				}
				if s.Checklist[0].Text != (store.Texts{Uz: "Changni artish", Ru: "Протереть пыль", En: "Dust the surfaces"}) {
					t.Errorf("first item %+v", s.Checklist[0].Text)
				}
			},
		},
		{name: "30 items are enough", req: post(admin, "uz", `{"name":{"uz":"Katta ro‘yxat"},"price":1000,"durationMinutes":60,"checklist":`+items(30)+`}`), status: 201, after: count(n + 2)},
		{name: "a service without one shows an empty list", req: post(admin, "uz", `{"name":{"uz":"Ro‘yxatsiz"},"price":1000,"durationMinutes":60}`), status: 201, contains: []string{`"checklist":[]`}, after: count(n + 3)},
	})

	svc := serviceNamed(t, a, "Uyni tozalash")
	first, second := svc.Checklist[0].ID, svc.Checklist[1].ID
	path := "/services/" + svc.ID.Hex()
	patch := func(token, body string) request {
		return request{method: "PATCH", path: path, body: body, contentType: "application/json", headers: adminJSON(token, "uz")}
	}
	// A refused change writes nothing: neither the checklist nor what was
	// sent with it.
	unchanged := func(t *testing.T, a *testApp) {
		t.Helper()
		s := serviceNamed(t, a, "Uyni tozalash")
		if !reflect.DeepEqual(s.Checklist, svc.Checklist) || !s.UpdatedAt.Equal(svc.UpdatedAt) || s.Price != svc.Price {
			t.Errorf("after a refused change: %+v, updated %v (was %+v, %v)", s.Checklist, s.UpdatedAt, svc.Checklist, svc.UpdatedAt)
		}
	}
	edited := `[{"id":"` + second + `","text":{"uz":"Pollarni ikki marta yuvish"}},{"id":"` + first + `","text":{"uz":"Changni artish","en":"Dust"}},{"text":{"uz":"Chiqindini olib chiqish"}}]`
	runScenarios(t, a, []scenario{
		{name: "a customer may not change it", req: patch(customer, `{"checklist":[]}`), status: 403, after: unchanged},
		{name: "an id the service has not", req: patch(admin, `{"price":1,"checklist":[{"id":"zzzzzzzz","text":{"uz":"Band"}}]}`), status: 422, contains: []string{`"checklist.0.id":"Bu band xizmatning ro‘yxatida yo‘q."`}, after: unchanged},
		{name: "an id with a dot is none of the service's", req: patch(admin, `{"checklist":[{"id":"a.b","text":{"uz":"Band"}}]}`), status: 422, contains: []string{`"checklist.0.id"`}, after: unchanged},
		{name: "the same item twice", req: patch(admin, `{"checklist":[{"id":"`+first+`","text":{"uz":"A"}},{"id":"`+first+`","text":{"uz":"B"}}]}`), status: 422, contains: []string{`"checklist.1.id":"Bu band ro‘yxatda ikki marta bor."`}, notContains: []string{`"checklist.0.id"`}, after: unchanged},
		{name: "a text too long", req: patch(admin, `{"price":1,"checklist":[{"id":"`+first+`","text":{"uz":"`+long+`"}}]}`), status: 422, contains: []string{`"checklist.0.text.uz"`}, after: unchanged},
		{name: "31 items", req: patch(admin, `{"checklist":`+items(31)+`}`), status: 422, contains: []string{`"checklist":`}, after: unchanged},
		{
			name: "a change without a checklist leaves it", req: patch(admin, `{"description":{"uz":"Yangi tavsif"}}`), status: 200,
			after: func(t *testing.T, a *testApp) {
				if s := serviceNamed(t, a, "Uyni tozalash"); !reflect.DeepEqual(s.Checklist, svc.Checklist) {
					t.Errorf("checklist %+v, want %+v", s.Checklist, svc.Checklist)
				}
			},
		},
		{
			name: "edited, reordered and one added: the ids stay", req: patch(admin, `{"checklist":`+edited+`}`), status: 200,
			after: func(t *testing.T, a *testApp) {
				s := serviceNamed(t, a, "Uyni tozalash")
				ids := checklistIDs(s)
				if len(ids) != 3 || ids[0] != second || ids[1] != first || !hexID.MatchString(ids[2]) || ids[2] == first || ids[2] == second {
					t.Errorf("ids %v: want %s, %s, then a new one", ids, second, first)
				}
				if s.Checklist[0].Text.Uz != "Pollarni ikki marta yuvish" || s.Checklist[1].Text != (store.Texts{Uz: "Changni artish", En: "Dust"}) {
					t.Errorf("texts %+v", s.Checklist)
				}
			},
		},
		{
			name: "the service's JSON shows it", req: request{path: path, headers: asJSON}, status: 200,
			contains: []string{`"checklist":[{"id":"` + second + `","text":{"uz":"Pollarni ikki marta yuvish","ru":"","en":""}}`},
		},
		{
			name: "the service page lists it in the reader's language, Uzbek where one lacks it", req: request{path: path, headers: map[string]string{"Cookie": "lang=en"}}, status: 200,
			contains: []string{`data-testid="service-checklist"`, "What the crew does on every visit", ">Dust</span>", ">Pollarni ikki marta yuvish</span>", ">Chiqindini olib chiqish</span>"},
		},
		{
			name: "in Uzbek by default", req: request{path: path}, status: 200,
			contains: []string{"Brigada har tashrifda nima qiladi", ">Changni artish</span>"},
		},
		{name: "cleared with []", req: patch(admin, `{"checklist":[]}`), status: 200, contains: []string{`"checklist":[]`}},
		{name: "then the page has no such list", req: request{path: path}, status: 200, notContains: []string{`data-testid="service-checklist"`}},
		{name: "and GET shows an empty list, not null", req: request{path: path, headers: asJSON}, status: 200, contains: []string{`"checklist":[]`}},
	})
}

var checklistRowIDs = regexp.MustCompile(`data-testid="checklist-row" data-checklist-id="([^"]*)"`)

// checklistRowsIn are the ids of a checklist editor's rows, in order ("" for
// a new row).
func checklistRowsIn(body string) []string {
	var ids []string
	for _, m := range checklistRowIDs.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// withChecklist is v with the rows of a checklist form: id, uz, ru, en each.
func withChecklist(v url.Values, rows ...[4]string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		if !strings.HasPrefix(k, "checklist") {
			out[k] = append([]string(nil), vs...)
		}
	}
	out.Set("checklist_sent", "1")
	for _, r := range rows {
		out.Add("checklist_id", r[0])
		out.Add("checklist_uz", r[1])
		out.Add("checklist_ru", r[2])
		out.Add("checklist_en", r[3])
	}
	return out
}

// checklistFormRows are a service's items as the form's rows.
func checklistFormRows(s *store.Service) [][4]string {
	rows := make([][4]string, len(s.Checklist))
	for i, it := range s.Checklist {
		rows[i] = [4]string{it.ID, it.Text.Uz, it.Text.Ru, it.Text.En}
	}
	return rows
}

// The form's checklist: rows added and removed on the server, nothing
// saved until the form is, with htmx or without JavaScript.
func TestChecklistForm(t *testing.T) {
	a := newTestApp(t)
	a.admin()
	svc := serviceNamed(t, a, "Kvartirani umumiy tozalash")
	demoIDs := []string{"dust", "kitchen", "bathroom", "mirrors", "beds", "floors", "trash"}
	if !reflect.DeepEqual(checklistIDs(svc), demoIDs) {
		t.Fatalf("the demo's checklist is %v", checklistIDs(svc))
	}
	b := a.browser()
	b.postForm("/auth/login", url.Values{"email": {"boss@tozalash.uz"}, "password": {"admin-parol-2026"}})
	rowsPath := "/services/" + svc.ID.Hex() + "/checklist-rows"
	form := withChecklist(serviceFormOf(svc), checklistFormRows(svc)...)
	op := func(v url.Values, op string) url.Values {
		out := withChecklist(v)
		for k, vs := range v {
			out[k] = append([]string(nil), vs...)
		}
		out.Set("op", op)
		return out
	}
	editor := func(t *testing.T, what string, r response, want ...string) {
		t.Helper()
		if r.status != 200 || strings.Contains(r.body, "<html") || !strings.Contains(r.body, `id="checklist-editor"`) {
			t.Fatalf("%s = %d, want the editor alone\n%s", what, r.status, clip(r.body))
		}
		if got := checklistRowsIn(r.body); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: rows %v, want %v", what, got, want)
		}
	}

	edit := b.get("/services/" + svc.ID.Hex() + "/edit")
	for _, part := range []string{`data-testid="checklist-add"`, `data-testid="checklist-text-uz"`, `data-testid="checklist-text-en"`, `value="Yotoqlarni tartibga keltirish"`, `name="checklist_sent"`} {
		if !strings.Contains(edit.body, part) {
			t.Errorf("the edit page lacks %s", part)
		}
	}
	if got := checklistRowsIn(edit.body); !reflect.DeepEqual(got, demoIDs) {
		t.Errorf("the edit page's rows %v", got)
	}

	r := b.htmx("POST", rowsPath, op(form, "add"))
	editor(t, "add", r, append(append([]string(nil), demoIDs...), "")...)
	if !regexp.MustCompile(`name="checklist_uz" type="text" autocomplete="off" maxlength="200" autofocus value=""`).MatchString(r.body) {
		t.Errorf("the new row's Uzbek field does not take the focus")
	}
	editor(t, "remove the first", b.htmx("POST", rowsPath, op(form, "remove:0")), demoIDs[1:]...)
	typed := withChecklist(form, append(checklistFormRows(svc), [4]string{"", "Balkonni supurish", "", ""})...)
	r = b.htmx("POST", rowsPath, op(typed, "remove:4"))
	editor(t, "remove beds, the typed row stays", r, "dust", "kitchen", "bathroom", "mirrors", "floors", "trash", "")
	if !strings.Contains(r.body, `value="Balkonni supurish"`) {
		t.Errorf("the typed row lost its text")
	}
	for _, bad := range []string{"remove:7", "remove:-1", "remove:x", "up:0", ""} {
		if r := b.htmx("POST", rowsPath, op(form, bad)); r.status != 400 {
			t.Errorf("op %q = %d, want 400", bad, r.status)
		}
	}
	if r := b.htmx("POST", "/services/new/checklist-rows", url.Values{"name_uz": {"Yangi"}, "op": {"add"}}); r.status != 200 || len(checklistRowsIn(r.body)) != 1 {
		t.Errorf("a new service's add = %d %v", r.status, checklistRowsIn(r.body))
	}
	// Without JavaScript the whole form comes back, with its values and
	// the extras' rows.
	full := b.postForm(rowsPath, op(form, "remove:6"))
	if full.status != 200 || !strings.Contains(full.body, "<html") || !strings.Contains(full.body, `value="Kvartirani umumiy tozalash"`) ||
		!strings.Contains(full.body, `data-extra-id="fridge"`) || !reflect.DeepEqual(checklistRowsIn(full.body), demoIDs[:6]) {
		t.Errorf("the form without JavaScript = %d %v", full.status, checklistRowsIn(full.body))
	}
	if s := serviceNamed(t, a, "Kvartirani umumiy tozalash"); !s.UpdatedAt.Equal(svc.UpdatedAt) {
		t.Errorf("the rows' buttons saved something")
	}

	// A bad form without JavaScript comes back with its errors, as typed,
	// and writes nothing.
	badRows := append(checklistFormRows(svc), [4]string{"", "", "Подмести балкон", ""}, [4]string{"nosuch", "Band", "", ""})
	bad := withChecklist(form, badRows...)
	r = b.postForm("/services/"+svc.ID.Hex()+"/edit", bad)
	for _, part := range []string{"<html", `data-testid="error-checklist-text-uz"`, `data-testid="error-checklist-id"`, `value="Подмести балкон"`, "Bu band xizmatning ro‘yxatida yo‘q."} {
		if r.status != 422 || !strings.Contains(r.body, part) {
			t.Errorf("a bad form = %d, lacks %s", r.status, part)
		}
	}
	if s := serviceNamed(t, a, "Kvartirani umumiy tozalash"); !s.UpdatedAt.Equal(svc.UpdatedAt) || !reflect.DeepEqual(s.Checklist, svc.Checklist) {
		t.Errorf("a refused form wrote: %v", checklistIDs(s))
	}
	// With htmx the form comes back alone.
	if r := b.htmx("PATCH", "/services/"+svc.ID.Hex(), bad); r.status != 422 || strings.Contains(r.body, "<html") || !strings.Contains(r.body, `data-testid="error-checklist-id"`) {
		t.Errorf("a bad form with htmx = %d", r.status)
	}

	// Saved without JavaScript: the first edited, beds removed, one added.
	rows := checklistFormRows(svc)
	rows[0][1] = "  Barcha yuzalardagi changni namlab artish "
	rows = append(rows[:4], rows[5:]...)
	rows = append(rows, [4]string{"", "Balkonni supurish", "Подмести балкон", ""})
	if r := b.postForm("/services/"+svc.ID.Hex()+"/edit", withChecklist(form, rows...)); r.status != 303 {
		t.Fatalf("save = %d %s", r.status, clip(r.body))
	}
	s := serviceNamed(t, a, "Kvartirani umumiy tozalash")
	ids := checklistIDs(s)
	if len(ids) != 7 || !reflect.DeepEqual(ids[:6], []string{"dust", "kitchen", "bathroom", "mirrors", "floors", "trash"}) || !hexID.MatchString(ids[6]) {
		t.Errorf("saved ids %v", ids)
	}
	if s.Checklist[0].Text.Uz != "Barcha yuzalardagi changni namlab artish" || s.Checklist[0].Text.Ru != svc.Checklist[0].Text.Ru || s.Checklist[6].Text != (store.Texts{Uz: "Balkonni supurish", Ru: "Подмести балкон"}) {
		t.Errorf("saved texts %+v", s.Checklist)
	}
	if s.Price != svc.Price || extraIDs(s) != extraIDs(svc) {
		t.Errorf("the pricing or extras moved: %d %s", s.Price, extraIDs(s))
	}

	// A form without the section leaves the checklist; one with it and no
	// rows clears it.
	if r := b.htmx("PATCH", "/services/"+svc.ID.Hex(), serviceFormOf(svc)); r.status != 204 {
		t.Fatalf("a form without the checklist = %d %s", r.status, clip(r.body))
	}
	if got := serviceNamed(t, a, "Kvartirani umumiy tozalash"); !reflect.DeepEqual(got.Checklist, s.Checklist) {
		t.Errorf("a form without the checklist changed it: %v", checklistIDs(got))
	}
	if r := b.htmx("PATCH", "/services/"+svc.ID.Hex(), withChecklist(serviceFormOf(svc))); r.status != 204 {
		t.Fatalf("a form with no rows = %d %s", r.status, clip(r.body))
	}
	if got := serviceNamed(t, a, "Kvartirani umumiy tozalash"); len(got.Checklist) != 0 {
		t.Errorf("a form with no rows left %v", checklistIDs(got))
	}

	// A new service's form saves its rows too.
	create := withChecklist(url.Values{"name_uz": {"Hovlini tozalash"}, "pricing_base": {"300000"}, "pricing_baseMinutes": {"120"}}, [4]string{"", "Barglarni yig‘ish", "Собрать листья", "Rake the leaves"})
	if r := b.postForm("/services", create); r.status != 303 {
		t.Fatalf("create = %d %s", r.status, clip(r.body))
	}
	if got := serviceNamed(t, a, "Hovlini tozalash"); len(got.Checklist) != 1 || !hexID.MatchString(got.Checklist[0].ID) || got.Checklist[0].Text.En != "Rake the leaves" {
		t.Errorf("created with %+v", got.Checklist)
	}
	// The admin's JSON of a service carries it.
	var out struct {
		Checklist []store.ChecklistItem `json:"checklist"`
	}
	if err := json.Unmarshal([]byte(a.do(request{path: "/services/" + serviceNamed(t, a, "Hovlini tozalash").ID.Hex(), headers: asJSON}).body), &out); err != nil || len(out.Checklist) != 1 {
		t.Errorf("the JSON's checklist %+v (%v)", out.Checklist, err)
	}
}
