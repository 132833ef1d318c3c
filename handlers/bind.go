package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/gofiber/fiber/v2"
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
		if len(bytes.TrimSpace(body)) == 0 {
			return fiber.NewError(fiber.StatusBadRequest, "empty JSON body")
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(dst); err != nil {
			return fiber.NewError(fiber.StatusBadRequest, "malformed JSON: "+jsonProblem(err))
		}
		if dec.More() {
			return fiber.NewError(fiber.StatusBadRequest, "malformed JSON: data after the object")
		}
	case fiber.MIMEApplicationForm, fiber.MIMEMultipartForm:
		if err := c.BodyParser(dst); err != nil {
			return fiber.NewError(fiber.StatusBadRequest, "malformed form")
		}
	default:
		return fiber.ErrUnsupportedMediaType
	}
	if n, ok := dst.(interface{ normalize() }); ok {
		n.normalize()
	}
	return h.validate(c, dst)
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
	loc := h.meta(c).Locale
	fields := make(map[string]string, len(errs))
	for field, fe := range errs {
		var ve validation.Error
		if errors.As(fe, &ve) {
			fields[field] = loc.Format("err."+ve.Code(), ve.Params())
		} else {
			fields[field] = fe.Error()
		}
	}
	return &ValidationError{Fields: fields}
}
