package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// NormalizeEmail is the form an email address is kept and looked up in:
// trimmed, in Unicode NFKC (a full-width ＡＤＭＩＮ@… is ADMIN@…, a ligature
// two letters) and lower-cased, so that two spellings a person reads as
// one address are one account.
func NormalizeEmail(s string) string {
	return strings.ToLower(norm.NFKC.String(strings.TrimSpace(s)))
}

// EmailHasLookalikes reports whether a (normalized) email address holds
// anything beyond ASCII and Latin letters: a letter of another script
// (Cyrillic "а" for Latin "a", Greek "ο" for "o"), a combining mark or an
// invisible character. Such an address is refused: mixed with Latin
// letters it reads as another account's, and wholly in another script it
// can still spell one (Cyrillic "асе" is Latin "ace").
func EmailHasLookalikes(email string) bool {
	for _, r := range email {
		if r >= utf8.RuneSelf && !(unicode.IsLetter(r) && unicode.Is(unicode.Latin, r)) {
			return true
		}
	}
	return false
}
