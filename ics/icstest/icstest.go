// Package icstest checks iCalendar output against the rules of RFC 5545
// that the app's files depend on, independently of the writer: tests of
// the writer and of the handlers that serve its files both use it.
package icstest

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Event is one VEVENT's properties as unfolded lines, by name (the part
// before ":" or ";"): "DTSTART" → "DTSTART;TZID=Asia/Tashkent:2026…".
type Event map[string]string

// Value is the value of property name (after the first ":").
func (e Event) Value(name string) string {
	line := e[name]
	if i := strings.IndexByte(line, ':'); i >= 0 {
		return line[i+1:]
	}
	return ""
}

// Parse checks body against the rules and returns its events, in order:
// every line ends in CRLF, none is longer than 75 octets, a continuation
// line starts with one space and no line is cut inside a UTF-8 character;
// the file is one VCALENDAR with VERSION, PRODID, METHOD:PUBLISH and a
// VTIMEZONE for each TZID used; each VEVENT has UID, DTSTAMP (UTC),
// DTSTART, DTEND and no TEXT value with an unescaped comma, semicolon or
// newline.
func Parse(body []byte) ([]Event, error) {
	if !bytes.HasSuffix(body, []byte("\r\n")) {
		return nil, fmt.Errorf("the file does not end in CRLF")
	}
	raw := strings.Split(strings.TrimSuffix(string(body), "\r\n"), "\r\n")
	var lines []string
	for i, l := range raw {
		if strings.ContainsAny(l, "\r\n") {
			return nil, fmt.Errorf("line %d: a bare CR or LF: %q", i+1, l)
		}
		if len(l) > 75 {
			return nil, fmt.Errorf("line %d: %d octets, more than 75: %q", i+1, len(l), l)
		}
		if !utf8.ValidString(l) {
			return nil, fmt.Errorf("line %d: cut inside a UTF-8 character: %q", i+1, l)
		}
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			if len(lines) == 0 {
				return nil, fmt.Errorf("line 1 is a continuation")
			}
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) < 2 || lines[0] != "BEGIN:VCALENDAR" || lines[len(lines)-1] != "END:VCALENDAR" {
		return nil, fmt.Errorf("not one VCALENDAR")
	}
	top := map[string]bool{}
	zones := map[string]bool{}
	used := map[string]bool{}
	var events []Event
	var cur Event
	depth := []string{}
	for _, l := range lines {
		name := l
		if i := strings.IndexAny(l, ":;"); i >= 0 {
			name = l[:i]
		}
		switch name {
		case "BEGIN":
			comp := strings.TrimPrefix(l, "BEGIN:")
			depth = append(depth, comp)
			if comp == "VEVENT" {
				cur = Event{}
			}
			continue
		case "END":
			comp := strings.TrimPrefix(l, "END:")
			if len(depth) == 0 || depth[len(depth)-1] != comp {
				return nil, fmt.Errorf("END:%s does not close %v", comp, depth)
			}
			depth = depth[:len(depth)-1]
			if comp == "VEVENT" {
				for _, p := range []string{"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"} {
					if _, ok := cur[p]; !ok {
						return nil, fmt.Errorf("a VEVENT without %s: %v", p, cur)
					}
				}
				if !strings.HasSuffix(cur.Value("DTSTAMP"), "Z") {
					return nil, fmt.Errorf("DTSTAMP is not UTC: %s", cur["DTSTAMP"])
				}
				events = append(events, cur)
				cur = nil
			}
			continue
		}
		if !strings.Contains(l, ":") {
			return nil, fmt.Errorf("a line without a value: %q", l)
		}
		if i := strings.Index(l, "TZID="); i >= 0 && name != "TZID" {
			tz := l[i+5:]
			tz = tz[:strings.IndexAny(tz, ":;")]
			used[tz] = true
		}
		switch {
		case len(depth) == 1:
			top[name] = true
		case depth[len(depth)-1] == "VTIMEZONE" && name == "TZID":
			zones[strings.TrimPrefix(l, "TZID:")] = true
		case cur != nil && len(depth) == 2:
			if _, twice := cur[name]; twice {
				return nil, fmt.Errorf("%s twice in one VEVENT", name)
			}
			cur[name] = l
			if text[name] {
				if err := checkEscaped(cur.Value(name)); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
			}
		}
	}
	for _, p := range []string{"VERSION", "PRODID", "METHOD"} {
		if !top[p] {
			return nil, fmt.Errorf("no %s", p)
		}
	}
	if !strings.Contains(string(body), "\r\nMETHOD:PUBLISH\r\n") {
		return nil, fmt.Errorf("METHOD is not PUBLISH")
	}
	for tz := range used {
		if !zones[tz] {
			return nil, fmt.Errorf("TZID=%s without its VTIMEZONE", tz)
		}
	}
	return events, nil
}

// text are the TEXT properties the app writes.
var text = map[string]bool{"SUMMARY": true, "LOCATION": true, "DESCRIPTION": true}

// checkEscaped reports a TEXT value's comma, semicolon or backslash that is
// not escaped, and a backslash escape RFC 5545 does not know.
func checkEscaped(v string) error {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case ',', ';':
			return fmt.Errorf("unescaped %q in %q", v[i], v)
		case '\\':
			if i+1 == len(v) || !strings.ContainsRune(`\;,nN`, rune(v[i+1])) {
				return fmt.Errorf("a bad escape in %q", v)
			}
			i++
		}
	}
	return nil
}

// Unescape is a TEXT value as written before escaping.
func Unescape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
			if v[i] == 'n' || v[i] == 'N' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(v[i])
			}
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
