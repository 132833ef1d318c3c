package ics_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"tozalash/ics"
	"tozalash/ics/icstest"
)

func TestFoldKeepsUTF8AndOctetLimit(t *testing.T) {
	// Cyrillic (2 octets), the Uzbek ‘ (3 octets) and an emoji (4 octets),
	// at every offset against the 75-octet limit.
	for pad := 0; pad < 8; pad++ {
		s := "SUMMARY:" + strings.Repeat("x", pad) + strings.Repeat("Уборка o‘g‘il 🧹 ", 20)
		folded := ics.Fold(s)
		if !strings.HasSuffix(folded, "\r\n") {
			t.Fatalf("no CRLF at the end: %q", folded)
		}
		lines := strings.Split(strings.TrimSuffix(folded, "\r\n"), "\r\n")
		var back strings.Builder
		for i, l := range lines {
			if len(l) > ics.MaxLineOctets {
				t.Fatalf("pad %d line %d: %d octets", pad, i, len(l))
			}
			if !utf8.ValidString(l) {
				t.Fatalf("pad %d line %d cut inside a character: %q", pad, i, l)
			}
			if i > 0 {
				if l[0] != ' ' {
					t.Fatalf("continuation without a space: %q", l)
				}
				l = l[1:]
			}
			back.WriteString(l)
		}
		if back.String() != s {
			t.Fatalf("unfolded differs:\n%q\n%q", back.String(), s)
		}
	}
	if got := ics.Fold(strings.Repeat("a", 75)); got != strings.Repeat("a", 75)+"\r\n" {
		t.Fatalf("75 octets folded: %q", got)
	}
	if got := ics.Fold(strings.Repeat("a", 76)); got != strings.Repeat("a", 75)+"\r\n a\r\n" {
		t.Fatalf("76 octets: %q", got)
	}
}

func TestEscapeText(t *testing.T) {
	for in, want := range map[string]string{
		`a\b`:                       `a\\b`,
		"a;b,c":                     `a\;b\,c`,
		"line1\nline2":              `line1\nline2`,
		"line1\r\nline2":            `line1\nline2`,
		"bell\x07":                  "bell",
		"Toshkent, Chilonzor; 5-uy": `Toshkent\, Chilonzor\; 5-uy`,
	} {
		if got := ics.EscapeText(in); got != want {
			t.Errorf("EscapeText(%q) = %q, want %q", in, got, want)
		}
		if got := icstest.Unescape(ics.EscapeText(in)); in != "bell\x07" && got != strings.ReplaceAll(in, "\r\n", "\n") {
			t.Errorf("Unescape(EscapeText(%q)) = %q", in, got)
		}
	}
}

func TestCalendarFollowsRFC5545(t *testing.T) {
	start := time.Date(2026, 12, 10, 5, 0, 0, 0, time.UTC) // 10:00 in Tashkent
	long := strings.Repeat("Ko‘p xonali kvartira, Чиланзар; подъезд 3\\4\n", 4)
	cal := ics.Calendar{Name: "Tozalash", Stamp: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), Events: []ics.Event{
		{UID: "abc@tozalash.uz", Sequence: 2, Start: start, End: start.Add(3 * time.Hour), Summary: "Общая уборка, #1042",
			Location: long, Description: long, URL: "https://tozalash.uz/orders/abc", Created: start.Add(-48 * time.Hour), LastChange: start.Add(-time.Hour)},
		{UID: "def@tozalash.uz", Start: start, End: start.Add(time.Hour), Summary: "Umumiy tozalash #7", Cancelled: true},
	}}
	body := cal.Bytes()
	events, err := icstest.Parse(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if len(events) != 2 {
		t.Fatalf("%d events", len(events))
	}
	e := events[0]
	for prop, want := range map[string]string{
		"UID": "abc@tozalash.uz", "SEQUENCE": "2", "DTSTAMP": "20261206T120000Z",
		"LAST-MODIFIED": "20261210T040000Z", "STATUS": "CONFIRMED",
	} {
		if got := e.Value(prop); got != want {
			t.Errorf("%s = %q, want %q", prop, got, want)
		}
	}
	if e["DTSTART"] != "DTSTART;TZID=Asia/Tashkent:20261210T100000" || e["DTEND"] != "DTEND;TZID=Asia/Tashkent:20261210T130000" {
		t.Errorf("times: %s %s", e["DTSTART"], e["DTEND"])
	}
	if got := icstest.Unescape(e.Value("LOCATION")); got != long {
		t.Errorf("LOCATION round trip: %q", got)
	}
	if icstest.Unescape(e.Value("SUMMARY")) != "Общая уборка, #1042" {
		t.Errorf("SUMMARY %q", e.Value("SUMMARY"))
	}
	if events[1].Value("STATUS") != "CANCELLED" {
		t.Errorf("cancelled: %v", events[1])
	}
	for _, want := range []string{"\r\nMETHOD:PUBLISH\r\n", "\r\nBEGIN:VTIMEZONE\r\nTZID:Asia/Tashkent\r\n", "TZOFFSETTO:+0500\r\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %q", want)
		}
	}
}

func TestParseRefusesBrokenFiles(t *testing.T) {
	good := string(ics.Calendar{Stamp: time.Now(), Events: []ics.Event{{UID: "u", Start: time.Now(), End: time.Now(), Summary: "s"}}}.Bytes())
	if _, err := icstest.Parse([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"LF only":         strings.ReplaceAll(good, "\r\n", "\n"),
		"long line":       strings.Replace(good, "SUMMARY:s", "SUMMARY:"+strings.Repeat("s", 80), 1),
		"unescaped comma": strings.Replace(good, "SUMMARY:s", "SUMMARY:a,b", 1),
		"no DTSTAMP":      strings.Replace(good, "DTSTAMP:", "X-STAMP:", 1),
		"no VTIMEZONE":    strings.Replace(good, "TZID:Asia/Tashkent\r\n", "TZID:Europe/Moscow\r\n", 1),
		"split UTF-8":     strings.Replace(good, "SUMMARY:s", "SUMMARY:"+"\xd0\r\n \xaf", 1), // "Я" cut in two
	} {
		if _, err := icstest.Parse([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
