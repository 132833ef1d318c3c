package views

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCatalogsHaveTheSameKeys(t *testing.T) {
	c, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	base := set(c.IDs("uz"))
	if len(base) < 50 {
		t.Fatalf("uz catalog has only %d messages", len(base))
	}
	for _, lang := range Languages[1:] {
		other := set(c.IDs(lang))
		for id := range base {
			if !other[id] {
				t.Errorf("%s lacks %q", lang, id)
			}
		}
		for id := range other {
			if !base[id] {
				t.Errorf("%s has %q, which uz lacks", lang, id)
			}
		}
	}
}

// Every message id a template or handler names must be in the catalogs.
func TestEveryUsedKeyExists(t *testing.T) {
	c, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	known := set(c.IDs("uz"))
	used := regexp.MustCompile(`(?:\bt\(ctx, |\.T\(|\.Format\(|"title": |setFlash\(c, "[a-z]+", |done\(c, [^,]+, |notice = |notice := |queueEmail\([^,]+, [^,]+, [^,]+, )"([a-zA-Z0-9_.]*[a-zA-Z0-9_])"`)
	files, _ := filepath.Glob("*.templ")
	more, _ := filepath.Glob("../handlers/*.go")
	files = append(files, more...)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			n++
			if !known[m[1]] {
				t.Errorf("%s uses %q, which the catalogs lack", f, m[1])
			}
		}
	}
	if n < 40 {
		t.Fatalf("found only %d uses of message ids; the pattern is stale", n)
	}
	// The error handler builds ids from error codes.
	for _, code := range []string{"bad_request", "unauthorized", "forbidden", "not_found", "method_not_allowed", "conflict",
		"too_large", "unsupported_media_type", "validation", "rate_limited", "unavailable", "internal",
		"csrf", "not_verified", "invalid_credentials", "invalid_token", "session_ended", "self",
		"two_factor_on", "two_factor_off", "invalid_code", "two_factor_restart", "two_factor_required", "too_late"} {
		for _, part := range []string{".title", ".message"} {
			if !known["error."+code+part] {
				t.Errorf("catalog lacks error.%s%s", code, part)
			}
		}
	}
}

func TestPick(t *testing.T) {
	c, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cookie, accept, want string }{
		{"", "", "uz"},
		{"ru", "en", "ru"},
		{"xx", "en-US,en;q=0.9", "en"},
		{"", "ru-RU,ru;q=0.9", "ru"},
		{"", "uz-Latn-UZ", "uz"},
		{"", "de-DE, fr;q=0.5", "uz"},
		{"", "garbage;;;q=", "uz"},
		{"", "de, en;q=0.5", "en"},
	} {
		if got := c.Pick(tc.cookie, tc.accept); got != tc.want {
			t.Errorf("Pick(%q, %q) = %q, want %q", tc.cookie, tc.accept, got, tc.want)
		}
	}
}

func TestPriceAndDuration(t *testing.T) {
	for _, tc := range []struct {
		lang   string
		amount int64
		want   string
	}{
		{"uz", 350000, "350\u00a0000\u00a0so‘m"},
		{"ru", 1200000, "1\u00a0200\u00a0000\u00a0сум"},
		{"en", 90000, "90,000\u00a0UZS"},
		{"uz", 0, "0\u00a0so‘m"},
		{"en", 100, "100\u00a0UZS"},
		{"uz", -35000, "-35\u00a0000\u00a0so‘m"}, // a discount's row
		{"en", -1500000, "-1,500,000\u00a0UZS"},
		{"ru", -999, "-999\u00a0сум"},
	} {
		if got := Price(tc.lang, tc.amount); got != tc.want {
			t.Errorf("Price(%s, %d) = %q, want %q", tc.lang, tc.amount, got, tc.want)
		}
	}
	for _, tc := range []struct {
		lang    string
		minutes int
		want    string
	}{
		{"uz", 90, "1\u00a0soat 30\u00a0daqiqa"},
		{"ru", 180, "3\u00a0ч"},
		{"en", 45, "45\u00a0min"},
	} {
		if got := Duration(tc.lang, tc.minutes); got != tc.want {
			t.Errorf("Duration(%s, %d) = %q, want %q", tc.lang, tc.minutes, got, tc.want)
		}
	}
}

func set(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
