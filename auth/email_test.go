package auth

import "testing"

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		" Admin@Example.UZ ": "admin@example.uz",
		"ＡＤＭＩＮ@example.uz":   "admin@example.uz",
		"admin＠ｅｘａｍｐｌｅ.uz":   "admin@example.uz",
		"ﬁle@example.uz":     "file@example.uz", // a ligature
		"josé@example.uz":    "josé@example.uz",
	} {
		if got := NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEmailHasLookalikes(t *testing.T) {
	for email, want := range map[string]bool{
		"admin@example.uz":       false,
		"josé.müller@example.de": false, // Latin letters beyond ASCII
		"аdmin@example.uz":       true,  // Cyrillic а
		"admin@ехample.uz":       true,  // Cyrillic е and х in the domain
		"αdmin@example.uz":       true,  // Greek
		"иван@пример.рф":         true,  // wholly Cyrillic
		"adm\u200bin@example.uz": true,  // a zero-width space
		"admi\u0307n@example.uz": true,  // a combining mark
		"admin٣@example.uz":      true,  // an Arabic-Indic digit
	} {
		if got := EmailHasLookalikes(NormalizeEmail(email)); got != want {
			t.Errorf("EmailHasLookalikes(%q) = %v, want %v", email, got, want)
		}
	}
}
