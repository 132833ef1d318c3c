package handlers

import (
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// An input that reads its form itself reads it as BodyParser does: the
// same fields, the last of a repeated one, keys in any case, an empty
// number as 0, a bad one refused; keys with brackets, BodyParser's own.
func TestFormReadersReadAsBodyParser(t *testing.T) {
	forms := []string{
		"",
		"serviceId=abc&rooms=3&bathrooms=2&area=55&frequency=weekly&promoCode=YANGI",
		"rooms=&bathrooms=&area=",
		"rooms=x",
		"bathrooms=2.5",
		"area=%2B40",
		"rooms=1&rooms=4",
		"Rooms=2&SERVICEID=def&promocode=a%20b",
		"rooms=+3",
		"rooms=-1&area=99999999999999999999",
		"extra_fridge=1&extra_windows=3&recalculate=1&gorilla.csrf.Token=t",
		"rooms[]=2&frequency[0]=monthly",
		"rooms[]=2&rooms=3&bathrooms[]=",
		"rooms=3x",
		"rooms=3&x[=1",
		"ro[]oms=2",
		"rooms[][]=2&area=40",
		"promoCode=%D0%BA%D0%BE%D0%B4&frequency=",
	}
	app := fiber.New()
	type decoded struct {
		In  quoteInput
		Err bool
	}
	var byParser, byReader decoded // BodyParser's reading, and bind's
	app.Post("/", func(c *fiber.Ctx) error {
		byParser, byReader = decoded{}, decoded{}
		byParser.Err = c.BodyParser(&byParser.In) != nil
		byReader.Err = decodeForm(c, fiber.MIMEApplicationForm, &byReader.In) != nil
		return nil
	})
	for _, form := range forms {
		req := httptest.NewRequest("POST", "/", strings.NewReader(form))
		req.Header.Set("Content-Type", fiber.MIMEApplicationForm)
		if _, err := app.Test(req); err != nil {
			t.Fatal(err)
		}
		if byParser.Err && byReader.Err {
			continue // refused by both: a 400, whatever was read before
		}
		if !reflect.DeepEqual(byParser, byReader) {
			t.Errorf("%q: BodyParser makes %s, readForm %s", form, show(byParser.In, byParser.Err), show(byReader.In, byReader.Err))
		}
	}
}

func show(in quoteInput, failed bool) string {
	n := func(p *int) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("{service %q rooms %s bathrooms %s area %s frequency %q code %q; error %v}", in.ServiceID, n(in.Rooms), n(in.Bathrooms), n(in.Area), in.Frequency, in.PromoCode, failed)
}
