package handlers

import (
	"context"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/demo"
	"tozalash/store"
)

// demoServices returns the seeded catalogue as the store holds it, newest first.
func demoServices(t *testing.T, a *testApp) []store.Service {
	t.Helper()
	items, _, err := a.h.services.List(context.Background(), store.ServiceFilter{Limit: 100})
	if err != nil || len(items) != len(demo.Catalogue) {
		t.Fatalf("demo catalogue = %d services, %v", len(items), err)
	}
	return items
}

func TestServiceRoutes(t *testing.T) {
	a := newTestApp(t)
	svcs := demoServices(t, a)
	first := svcs[0]
	missing := primitive.NewObjectID().Hex()

	archived := &store.Service{Name: store.Texts{Uz: "Eski xizmat"}, Price: 1000, DurationMinutes: 60}
	if err := a.h.services.Create(context.Background(), archived); err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := a.h.services.Update(context.Background(), archived.ID, store.ServiceChange{Active: &off}); err != nil {
		t.Fatal(err)
	}

	runScenarios(t, a, []scenario{
		{
			name:        "catalogue as JSON: items with id and camelCase, never _id",
			req:         request{path: "/services", headers: asJSON},
			status:      200,
			contains:    []string{`"items":[`, `"id":"` + first.ID.Hex() + `"`, `"durationMinutes":180`, `"price":350000`, `"next":""`},
			notContains: []string{`"_id"`, "Eski xizmat"},
			header:      map[string]string{"Content-Type": "application/json"},
		},
		{
			name:     "catalogue page in Uzbek by default",
			req:      request{path: "/services"},
			status:   200,
			contains: []string{`<html lang="uz"`, "Barcha xizmatlar", "Kvartirani umumiy tozalash", "350\u00a0000\u00a0so‘m", `data-testid="service-card"`},
			header:   map[string]string{"Content-Type": "text/html"},
		},
		{
			name:        "catalogue page in Russian from Accept-Language",
			req:         request{path: "/services", headers: acceptLang("ru-RU,ru;q=0.9,en;q=0.8")},
			status:      200,
			contains:    []string{`<html lang="ru"`, "Все услуги", "Генеральная уборка квартиры", "350\u00a0000\u00a0сум", "3\u00a0ч"},
			notContains: []string{"Kvartirani umumiy tozalash"},
		},
		{
			name:        "htmx asks for a fragment: cards without the layout",
			req:         request{path: "/services?limit=2", headers: asHTMX},
			status:      200,
			contains:    []string{`data-testid="service-card"`, `hx-get="/services?before=` + svcs[1].ID.Hex() + `"`},
			notContains: []string{"<html", "<header"},
		},
		{
			name:        "pagination: limit and the next cursor",
			req:         request{path: "/services?limit=2", headers: asJSON},
			status:      200,
			contains:    []string{`"next":"` + svcs[1].ID.Hex() + `"`, svcs[0].ID.Hex(), svcs[1].ID.Hex()},
			notContains: []string{svcs[2].ID.Hex()},
		},
		{
			name:        "pagination: the page before the cursor",
			req:         request{path: "/services?limit=2&before=" + svcs[1].ID.Hex(), headers: asJSON},
			status:      200,
			contains:    []string{svcs[2].ID.Hex(), svcs[3].ID.Hex(), `"next":"` + svcs[3].ID.Hex() + `"`},
			notContains: []string{svcs[1].ID.Hex()},
		},
		{
			name:     "limit 0 is a bad request",
			req:      request{path: "/services?limit=0", headers: asJSON},
			status:   400,
			contains: []string{`"error":{"code":"bad_request"`},
		},
		{
			name:   "limit 101 is a bad request",
			req:    request{path: "/services?limit=101", headers: asJSON},
			status: 400,
		},
		{
			name:   "a malformed cursor is a bad request",
			req:    request{path: "/services?before=zzz", headers: asJSON},
			status: 400,
		},
		{
			name:     "one service as JSON is the object itself",
			req:      request{path: "/services/" + first.ID.Hex(), headers: asJSON},
			status:   200,
			contains: []string{`{"id":"` + first.ID.Hex() + `","name":{"uz":"Kvartirani umumiy tozalash","ru":"Генеральная уборка квартиры","en":"Apartment deep cleaning"}`, `"title":"Kvartirani umumiy tozalash"`},
		},
		{
			name:     "service page in English from the lang cookie",
			req:      request{path: "/services/" + first.ID.Hex(), headers: map[string]string{"Cookie": "lang=en", "Accept-Language": "ru"}},
			status:   200,
			contains: []string{`<html lang="en"`, "<title>Apartment deep cleaning · Tozalash</title>", "350,000\u00a0UZS", "3\u00a0h"},
		},
		{
			name:     "an invalid id is 400 with the error shape",
			req:      request{path: "/services/not-an-id", headers: asJSON},
			status:   400,
			contains: []string{`{"error":{"code":"bad_request","message":`},
		},
		{
			name:     "an invalid id as a page: the error page in Uzbek",
			req:      request{path: "/services/not-an-id"},
			status:   400,
			contains: []string{`data-testid="error-page"`, "Noto‘g‘ri so‘rov", `<html lang="uz"`},
		},
		{
			name:     "a missing service is 404",
			req:      request{path: "/services/" + missing, headers: asJSON},
			status:   404,
			contains: []string{`"code":"not_found"`},
		},
		{
			name:     "a missing service page in Russian",
			req:      request{path: "/services/" + missing, headers: acceptLang("ru")},
			status:   404,
			contains: []string{"Страница не найдена", `<html lang="ru"`},
		},
		{
			name:   "an archived service is hidden from the public",
			req:    request{path: "/services/" + archived.ID.Hex(), headers: asJSON},
			status: 404,
		},
		{
			name:     "an anonymous client cannot create a service",
			req:      request{method: "POST", path: "/services", body: `{"name":"Xizmat","price":1,"durationMinutes":60}`, contentType: "application/json", headers: asJSON},
			status:   401,
			contains: []string{`"code":"unauthorized"`},
			after: func(t *testing.T, a *testApp) {
				if n, _ := a.h.services.Count(context.Background()); n != int64(len(demo.Catalogue)+1) {
					t.Errorf("services = %d after a refused write", n)
				}
			},
		},
	})
}

func TestServiceInputValidation(t *testing.T) {
	a := newTestApp(t)
	// A test-only route binds the real input type, as POST /services will.
	a.app.Post("/_test/services", func(c *fiber.Ctx) error {
		var in ServiceInput
		if err := a.h.bind(c, &in); err != nil {
			return err
		}
		return c.JSON(in)
	})
	runScenarios(t, a, []scenario{
		{
			name:   "a valid service",
			req:    request{method: "POST", path: "/_test/services", body: `{"name":"Oyna yuvish","description":"","price":0,"durationMinutes":15}`, contentType: "application/json", headers: asJSON},
			status: 200,
		},
		{
			name:     "every rule at once, in Uzbek",
			req:      request{method: "POST", path: "/_test/services", body: `{"name":"X","description":"` + strings.Repeat("a", 2001) + `","price":-1,"durationMinutes":14}`, contentType: "application/json", headers: asJSON},
			status:   422,
			contains: []string{`"code":"validation"`, `"name.uz":"Uzunligi 2 dan 100 belgigacha bo‘lishi kerak."`, `"description.uz":"Ko‘pi bilan 2000 belgi bo‘lishi mumkin."`, `"price":"Kamida 0 bo‘lishi kerak."`, `"durationMinutes":"Kamida 15 bo‘lishi kerak."`},
		},
		{
			name:     "upper bounds, in Russian",
			req:      request{method: "POST", path: "/_test/services", body: `{"name":"` + strings.Repeat("я", 101) + `","price":100000001,"durationMinutes":1441}`, contentType: "application/json", headers: map[string]string{"Accept": "application/json", "Accept-Language": "ru"}},
			status:   422,
			contains: []string{`"name.uz":"Длина должна быть от 2 до 100 символов."`, `"price":"Не больше 100000000."`, `"durationMinutes":"Не больше 1440."`},
		},
		{
			name:     "missing fields, in English",
			req:      request{method: "POST", path: "/_test/services", body: `{}`, contentType: "application/json", headers: map[string]string{"Accept": "application/json", "Cookie": "lang=en"}},
			status:   422,
			contains: []string{`"name.uz":"This field is required."`, `"price":"This field is required."`, `"durationMinutes":"This field is required."`},
		},
		{
			name:     "a form body binds too",
			req:      request{method: "POST", path: "/_test/services", body: "name_uz=Gilam&name_ru=Ковёр&price=120000&durationMinutes=90", contentType: "application/x-www-form-urlencoded", headers: a.withCSRF(asJSON)},
			status:   200,
			contains: []string{`"name":{"uz":"Gilam","ru":"Ковёр","en":""}`, `"price":120000`},
		},
		{
			name:     "malformed JSON is 400",
			req:      request{method: "POST", path: "/_test/services", body: `{"name":`, contentType: "application/json", headers: asJSON},
			status:   400,
			contains: []string{`"code":"bad_request"`},
		},
		{
			name:     "an operator where a string belongs is 400, never a query",
			req:      request{method: "POST", path: "/_test/services", body: `{"name":{"$ne":""},"price":1,"durationMinutes":60}`, contentType: "application/json", headers: asJSON},
			status:   400,
			contains: []string{"a key starting with $"},
		},
		{
			name:   "two JSON objects are 400",
			req:    request{method: "POST", path: "/_test/services", body: `{"name":"Ab","price":1,"durationMinutes":60}{}`, contentType: "application/json", headers: asJSON},
			status: 400,
		},
		{
			name:   "an empty body is 400",
			req:    request{method: "POST", path: "/_test/services", contentType: "application/json", headers: asJSON},
			status: 400,
		},
		{
			name:     "a wrong content type is 415",
			req:      request{method: "POST", path: "/_test/services", body: `name=x`, contentType: "text/plain", headers: a.withCSRF(asJSON)},
			status:   415,
			contains: []string{`"code":"unsupported_media_type"`},
		},
		{
			name:   "no content type is 415",
			req:    request{method: "POST", path: "/_test/services", body: `{}`, headers: asJSON},
			status: 415,
		},
	})
}
