// Package ics writes iCalendar files (RFC 5545): a customer's visits as
// events, for the confirmation email, the order page's ".ics" link and the
// private calendar feed a phone subscribes to.
//
// It is written here rather than with github.com/arran4/golang-ical: the
// app emits one VTIMEZONE and plain VEVENTs only, and owning these few
// lines lets the tests pin every RFC rule the output must follow (CRLF,
// folding at 75 octets that never splits a UTF-8 character — the text is
// Uzbek and Russian — TEXT escaping, the required properties) to code whose
// behaviour we choose, instead of to a library's.
package ics

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TZID is the time zone of every visit. Times are written as local
// Tashkent times with TZID rather than in UTC: the visit is an appointment
// at a wall-clock time in Tashkent, a calendar shows it as booked, and the
// file reads as the customer said it. Tashkent has kept UTC+5 without
// daylight saving since 1992, so one STANDARD rule describes it exactly.
const TZID = "Asia/Tashkent"

// tashkent is UTC+5 as a fixed zone: the same as the tz database's, and
// needs no tzdata on the machine.
var tashkent = time.FixedZone(TZID, 5*60*60)

// Event is one visit.
type Event struct {
	// UID is the same for an order across every version of its file
	// ("<order id>@<host>"), so a calendar updates the event instead of
	// adding a second one.
	UID string
	// Sequence grows each time the visit moves (or is cancelled): a
	// calendar takes the higher one as the newer version.
	Sequence    int
	Start, End  time.Time
	Summary     string
	Location    string
	Description string
	URL         string
	// Cancelled keeps a cancelled visit in the feed as STATUS:CANCELLED,
	// which is what makes a subscribed calendar take it away; a visit
	// silently dropped stays on the phone.
	Cancelled bool
	// Tentative is a visit not yet confirmed by the company.
	Tentative           bool
	Created, LastChange time.Time
}

// Calendar is one file: METHOD:PUBLISH (the events are published, not an
// invitation to answer).
type Calendar struct {
	Name   string // X-WR-CALNAME, the name a subscribed calendar shows; "" for none
	Stamp  time.Time
	Events []Event
}

// Bytes is cal as an iCalendar file.
func (cal Calendar) Bytes() []byte {
	var w writer
	w.line("BEGIN:VCALENDAR")
	w.line("VERSION:2.0")
	w.line("PRODID:-//Tozalash//Tozalash//UZ")
	w.line("CALSCALE:GREGORIAN")
	w.line("METHOD:PUBLISH")
	if cal.Name != "" {
		w.line("X-WR-CALNAME:" + EscapeText(cal.Name))
		w.line("X-WR-TIMEZONE:" + TZID)
	}
	w.line("BEGIN:VTIMEZONE")
	w.line("TZID:" + TZID)
	w.line("BEGIN:STANDARD")
	w.line("DTSTART:19700101T000000")
	w.line("TZOFFSETFROM:+0500")
	w.line("TZOFFSETTO:+0500")
	w.line("TZNAME:+05")
	w.line("END:STANDARD")
	w.line("END:VTIMEZONE")
	stamp := utc(cal.Stamp)
	for _, e := range cal.Events {
		w.line("BEGIN:VEVENT")
		w.line("UID:" + EscapeText(e.UID))
		w.line("DTSTAMP:" + stamp)
		if !e.Created.IsZero() {
			w.line("CREATED:" + utc(e.Created))
		}
		if !e.LastChange.IsZero() {
			w.line("LAST-MODIFIED:" + utc(e.LastChange))
		}
		w.line("SEQUENCE:" + strconv.Itoa(e.Sequence))
		w.line("DTSTART;TZID=" + TZID + ":" + local(e.Start))
		w.line("DTEND;TZID=" + TZID + ":" + local(e.End))
		w.line("SUMMARY:" + EscapeText(e.Summary))
		if e.Location != "" {
			w.line("LOCATION:" + EscapeText(e.Location))
		}
		if e.Description != "" {
			w.line("DESCRIPTION:" + EscapeText(e.Description))
		}
		if e.URL != "" {
			w.line("URL:" + e.URL)
		}
		switch {
		case e.Cancelled:
			w.line("STATUS:CANCELLED")
		case e.Tentative:
			w.line("STATUS:TENTATIVE")
		default:
			w.line("STATUS:CONFIRMED")
		}
		w.line("TRANSP:OPAQUE")
		w.line("END:VEVENT")
	}
	w.line("END:VCALENDAR")
	return []byte(w.b.String())
}

// utc is t as a UTC DATE-TIME ("...Z"), which DTSTAMP, CREATED and
// LAST-MODIFIED must be.
func utc(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// local is t as a Tashkent local DATE-TIME, for a property with TZID.
func local(t time.Time) string { return t.In(tashkent).Format("20060102T150405") }

// EscapeText escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon,
// comma and newline; other control characters, which TEXT may not hold,
// are dropped.
func EscapeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case ';':
			b.WriteString(`\;`)
		case ',':
			b.WriteString(`\,`)
		case '\n', '\r':
			b.WriteString(`\n`)
		default:
			if r < 0x20 && r != '\t' || r == 0x7f {
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MaxLineOctets is the longest a content line may be, CRLF aside (RFC 5545
// 3.1).
const MaxLineOctets = 75

type writer struct{ b strings.Builder }

// line writes one content line, folded, ending in CRLF.
func (w *writer) line(s string) { w.b.WriteString(Fold(s)) }

// Fold is content line s folded (RFC 5545 3.1): no line longer than 75
// octets, each continuation starting with one space, every line ending in
// CRLF. It cuts between characters, never inside a UTF-8 sequence.
func Fold(s string) string {
	var b strings.Builder
	limit := MaxLineOctets
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = MaxLineOctets - 1 // the leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
	return b.String()
}

// Unfold is a file's content lines joined again (RFC 5545 3.1: a CRLF
// followed by a space or a tab is removed), each still ending in CRLF. An
// escaped TEXT value holds no CRLF, so only folds are removed.
func Unfold(file string) string {
	file = strings.ReplaceAll(file, "\r\n ", "")
	return strings.ReplaceAll(file, "\r\n\t", "")
}

// Refold is Unfold's file folded again: a value changed after the file
// was written (the booking's number, known only at commit) keeps every
// line within 75 octets.
func Refold(unfolded string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(unfolded, "\r\n"), "\r\n") {
		b.WriteString(Fold(l))
	}
	return b.String()
}
