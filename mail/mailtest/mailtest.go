// Package mailtest is a real SMTP server for tests: it receives what the app
// sends and lets the test read it, and it can be stopped and started again
// to play an SMTP outage.
package mailtest

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one received email, decoded.
type Message struct {
	From    string
	To      []string
	Subject string
	Text    string
	HTML    string
	Raw     string
	// Attachments are the parts sent as files (Content-Disposition
	// attachment), decoded.
	Attachments []Attachment
}

// Attachment is one file of a message.
type Attachment struct {
	Filename    string // the disposition's filename
	ContentType string // the media type, without parameters: "text/calendar"
	Params      map[string]string
	Content     string
}

// Links returns the http(s) links of the plain-text part.
func (m Message) Links() []string { return linkPattern.FindAllString(m.Text, -1) }

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+`)

// Server is the capturing SMTP server.
type Server struct {
	Host string
	Port int

	t        testing.TB
	mu       sync.Mutex
	messages []Message
	srv      *smtp.Server
	ln       net.Listener
	arrived  chan struct{}
}

// Start listens on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, arrived: make(chan struct{}, 100)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.AllowInsecureAuth = true
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop closes the server: the app's SMTP is down.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// The listener is closed here too: a Close that comes before Serve
		// has taken it up would otherwise leave the port bound.
		_ = ln.Close()
		_ = srv.Close()
	}
}

// Restart listens again on the same port: the app's SMTP is back.
func (s *Server) Restart() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port))); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("restart SMTP: %v", err)
	}
	s.serve(ln)
}

// Messages returns what has arrived so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitFor returns the first message to the address that arrives within
// timeout, counting those that came before.
func (s *Server) WaitFor(to string, timeout time.Duration) Message {
	s.t.Helper()
	return s.WaitForText(to, "", timeout)
}

// WaitForText returns the first message to the address whose text part
// contains part.
func (s *Server) WaitForText(to, part string, timeout time.Duration) Message {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		for _, m := range s.Messages() {
			for _, rcpt := range m.To {
				if strings.EqualFold(rcpt, to) && strings.Contains(m.Text, part) {
					return m
				}
			}
		}
		select {
		case <-s.arrived:
		case <-deadline:
			s.t.Fatalf("no email to %s with %q within %v (got %d others)", to, part, timeout, len(s.Messages()))
		}
	}
}

// Count returns how many messages went to the address.
func (s *Server) Count(to string) int {
	n := 0
	for _, m := range s.Messages() {
		for _, rcpt := range m.To {
			if strings.EqualFold(rcpt, to) {
				n++
			}
		}
	}
	return n
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := decode(raw)
	m.From, m.To = x.from, append([]string(nil), x.to...)
	x.s.mu.Lock()
	x.s.messages = append(x.s.messages, m)
	x.s.mu.Unlock()
	select {
	case x.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

// decode reads the subject and the text and HTML parts of a MIME message.
func decode(raw []byte) Message {
	m := Message{Raw: string(raw)}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m
	}
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if !strings.HasPrefix(mt, "multipart/") {
		m.Text = readPart(msg.Body, msg.Header.Get("Content-Transfer-Encoding"))
		return m
	}
	readParts(&m, msg.Body, params["boundary"])
	return m
}

// readParts reads the parts of a multipart body into m, going into the
// nested ones: a message with attachments is multipart/mixed holding the
// multipart/alternative of its text and HTML.
func readParts(m *Message, body io.Reader, boundary string) {
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextPart()
		if err != nil {
			return
		}
		pt, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if strings.HasPrefix(pt, "multipart/") {
			readParts(m, p, params["boundary"])
			continue
		}
		content := readPart(p, p.Header.Get("Content-Transfer-Encoding"))
		if disp, dparams, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition")); disp == "attachment" {
			m.Attachments = append(m.Attachments, Attachment{Filename: dparams["filename"], ContentType: pt, Params: params, Content: content})
			continue
		}
		switch pt {
		case "text/plain":
			m.Text = content
		case "text/html":
			m.HTML = content
		}
	}
}

func readPart(r io.Reader, encoding string) string {
	switch {
	case strings.EqualFold(encoding, "quoted-printable"):
		r = quotedprintable.NewReader(r)
	case strings.EqualFold(encoding, "base64"):
		r = base64.NewDecoder(base64.StdEncoding, r) // it skips the lines' CRLF
	}
	b, _ := io.ReadAll(r)
	return string(b)
}
