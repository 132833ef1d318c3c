package handlers

import (
	"bytes"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// compressor compresses a response for the encodings its request accepts
// (brotli, gzip, deflate, in that order of preference).
var compressor = fasthttp.CompressHandlerBrotliLevel(func(*fasthttp.RequestCtx) {},
	fasthttp.CompressBrotliDefaultCompression, fasthttp.CompressDefaultCompression)

// compressAnswers compresses every HTML and JSON answer whose client
// accepts it, signed-in pages included: their CSRF token is masked afresh
// in each response (maskCSRF), so that compression tells nothing of it
// (BREACH). Answers already compressed (the kept public pages, static
// files) and other types (the CSV export's stream) pass as they are.
//
// The 2FA pages go as they are: they show the TOTP secret and the recovery
// codes, which no mask covers, beside the request's URL (the language
// switch repeats it), so a compressed length could tell them.
func compressAnswers(c *fiber.Ctx) error {
	if strings.HasPrefix(c.Path(), "/auth/2fa/") {
		return c.Next()
	}
	if err := c.Next(); err != nil {
		return err
	}
	ct := c.Response().Header.ContentType()
	if !bytes.HasPrefix(ct, []byte(fiber.MIMETextHTML)) && !bytes.HasPrefix(ct, []byte(fiber.MIMEApplicationJSON)) {
		return nil
	}
	c.Vary(fiber.HeaderAcceptEncoding)
	if len(c.Response().Header.ContentEncoding()) == 0 && len(c.Request().Header.Peek(fiber.HeaderAcceptEncoding)) > 0 {
		compressor(c.Context())
	}
	return nil
}
