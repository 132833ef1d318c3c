package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"tozalash/views"
)

// input is a request body type: it binds from JSON or a form and validates
// itself next to the handler that uses it.
type input interface {
	Validate() error
}

// bind decodes the body into dst (typed fields only, so `{"$ne":…}` can never
// reach a query) and validates it. Wrong content type → 415, malformed → 400,
// invalid → 422 with per-field messages in the user's language.
func (h *Handler) bind(c *fiber.Ctx, dst input) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil {
		return fiber.ErrUnsupportedMediaType
	}
	switch mt {
	case fiber.MIMEApplicationJSON:
		body := c.Body()
		if t := bytes.TrimSpace(body); len(t) == 0 || bytes.Equal(t, []byte("null")) {
			return fiber.NewError(fiber.StatusBadRequest, "empty JSON body")
		}
		// encoding/json would quietly turn bad bytes into U+FFFD; a NUL
		// (only possible escaped) is no character any field holds.
		if !utf8.Valid(body) {
			return fiber.NewError(fiber.StatusBadRequest, "malformed JSON: not UTF-8")
		}
		if escapedNUL(body) {
			return fiber.NewError(fiber.StatusBadRequest, "malformed JSON: a NUL character")
		}
		if operatorKey(body) {
			return fiber.NewError(fiber.StatusBadRequest, "malformed JSON: a key starting with $")
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(dst); err != nil {
			return fiber.NewError(fiber.StatusBadRequest, "malformed JSON: "+jsonProblem(err))
		}
		if _, err := dec.Token(); err != io.EOF {
			return fiber.NewError(fiber.StatusBadRequest, "malformed JSON: data after the object")
		}
	case fiber.MIMEApplicationForm, fiber.MIMEMultipartForm:
		if err := decodeForm(c, mt, dst); err != nil {
			return fiber.NewError(fiber.StatusBadRequest, "malformed form")
		}
		if msg := formProblem(c, mt); msg != "" {
			return fiber.NewError(fiber.StatusBadRequest, "malformed form: "+msg)
		}
	default:
		return fiber.ErrUnsupportedMediaType
	}
	if n, ok := dst.(interface{ normalize() }); ok {
		n.normalize()
	}
	return h.validate(c, dst)
}

// formReader is an input that reads an urlencoded form itself, as
// BodyParser would (TestFormReadersReadAsBodyParser holds them to it):
// BodyParser's decoder, by reflection, was a fifth of the price panel's
// cost, and the booking form asks for the panel at every change.
type formReader interface {
	readForm(args *fasthttp.Args) error
}

// decodeForm reads a form into dst: by dst itself when it is a formReader
// and the form is urlencoded with plain keys, else by BodyParser, which
// alone reads brackets in keys ("a[b]" as a path, "a[" refused).
func decodeForm(c *fiber.Ctx, mt string, dst any) error {
	if f, ok := dst.(formReader); ok && mt == fiber.MIMEApplicationForm && !bracketKeys(c.Request().PostArgs()) {
		return f.readForm(c.Request().PostArgs())
	}
	return c.BodyParser(dst)
}

// bracketKeys reports whether a key of the form has a bracket.
func bracketKeys(args *fasthttp.Args) bool {
	found := false
	args.VisitAll(func(k, _ []byte) { found = found || bytes.ContainsAny(k, "[]") })
	return found
}

// formField is what BodyParser makes of the form's field key: its last
// value, the key matched without regard to case; ok is false when the
// form has no such field.
func formField(args *fasthttp.Args, key string) (value []byte, ok bool) {
	args.VisitAll(func(k, v []byte) {
		if bytes.EqualFold(k, []byte(key)) {
			value, ok = v, true
		}
	})
	return value, ok
}

// formString sets *dst to the form's field key, when it has one.
func formString(args *fasthttp.Args, key string, dst *string) {
	if v, ok := formField(args, key); ok {
		*dst = string(v)
	}
}

// formInt sets *dst to the form's field key, when it has one: an empty
// one is 0, as BodyParser makes it; one that is no integer an error.
func formInt(args *fasthttp.Args, key string, dst **int) error {
	v, ok := formField(args, key)
	if !ok {
		return nil
	}
	n := 0
	if len(v) > 0 {
		var err error
		if n, err = strconv.Atoi(string(v)); err != nil {
			return err
		}
	}
	*dst = &n
	return nil
}

// operatorKey reports whether a JSON body has an object key starting with
// "$", at any depth: no input has one, and a client sending one is probing
// for query operators.
func operatorKey(body []byte) bool {
	if !bytes.Contains(body, []byte(`"$`)) && !bytes.Contains(body, []byte(`\u0024`)) {
		return false // neither "$ nor an escaped $: no key can start with one
	}
	type frame struct{ object, expectKey bool }
	var stack []frame
	afterValue := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false // the end, or malformed: Decode says so
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{object: true, expectKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				afterValue()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].expectKey {
				if strings.HasPrefix(t, "$") {
					return true
				}
				stack[n-1].expectKey = false
				continue
			}
			afterValue()
		default:
			afterValue()
		}
	}
}

// formProblem checks a form's raw fields: UTF-8 only (a bad byte would be
// stored as it came), no NUL, and no key with "$" in it.
func formProblem(c *fiber.Ctx, mt string) string {
	bad := ""
	check := func(k, v string) {
		switch {
		case bad != "":
		case textProblem(k) != "":
			bad = textProblem(k)
		case textProblem(v) != "":
			bad = textProblem(v)
		case strings.Contains(k, "$"):
			bad = "a key with $"
		}
	}
	if mt == fiber.MIMEMultipartForm {
		if mf, err := c.MultipartForm(); err == nil {
			for k, vs := range mf.Value {
				for _, v := range vs {
					check(k, v)
				}
			}
		}
		return bad
	}
	c.Request().PostArgs().VisitAll(func(k, v []byte) { check(string(k), string(v)) })
	return bad
}

// escapedNUL reports whether a JSON text holds the escape \u0000 (and not
// an escaped backslash followed by "u0000").
func escapedNUL(body []byte) bool {
	for rest, at := body, 0; ; {
		i := bytes.Index(rest, []byte(`u0000`))
		if i < 0 {
			return false
		}
		slashes := 0
		for j := at + i - 1; j >= 0 && body[j] == '\\'; j-- {
			slashes++
		}
		if slashes%2 == 1 {
			return true
		}
		at += i + 1
		rest = body[at:]
	}
}

// textProblem says what is wrong with a piece of text from a request that
// no field can hold: bytes that are not UTF-8, or a NUL.
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "not UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "a NUL character"
	}
	return ""
}

// checkQuery refuses a query string whose names or values are not text
// (see textProblem), before any handler searches with them.
func checkQuery(c *fiber.Ctx) error {
	bad := ""
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		if bad == "" {
			if bad = textProblem(string(k)); bad == "" {
				bad = textProblem(string(v))
			}
		}
	})
	if bad != "" {
		return fiber.NewError(fiber.StatusBadRequest, "malformed query: "+bad)
	}
	return c.Next()
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return "field " + te.Field + " has the wrong type"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error"
	}
	return "cannot decode"
}

// validate runs dst.Validate and turns ozzo's errors into a ValidationError
// whose messages are in the user's language.
func (h *Handler) validate(c *fiber.Ctx, dst input) error {
	err := dst.Validate()
	if err == nil {
		return nil
	}
	var errs validation.Errors
	if !errors.As(err, &errs) {
		return err // an internal error of a rule
	}
	fields := make(map[string]string, len(errs))
	fieldErrors(h.meta(c).Locale, "", errs, fields)
	return &ValidationError{Fields: fields}
}

// fieldErrors writes errs into fields in the reader's language, a nested
// object's under "outer.inner" (the name its form field has).
func fieldErrors(loc views.Locale, prefix string, errs validation.Errors, fields map[string]string) {
	for field, fe := range errs {
		var ve validation.Error
		var nested validation.Errors
		switch {
		case errors.As(fe, &nested):
			fieldErrors(loc, prefix+field+".", nested, fields)
		case errors.As(fe, &ve):
			id := "err." + ve.Code()
			if strings.Contains(ve.Code(), ".") { // an area's own message id (e.g. checklist.errTwice)
				id = ve.Code()
			}
			fields[prefix+field] = loc.Format(id, ve.Params())
		default:
			fields[prefix+field] = fe.Error()
		}
	}
}
