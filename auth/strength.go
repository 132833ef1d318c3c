package auth

import (
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
)

// Password strength is estimated by zxcvbn (the Go port of Dropbox's
// zxcvbn 4.4.2, github.com/trustelem/zxcvbn): it finds the likeliest way a
// cracker would build the password from its frequency dictionaries (30,000
// common passwords, English words from Wikipedia and film subtitles, names
// and surnames), the user's own words, keyboard patterns, repeats,
// sequences and dates, and scores the guesses that takes from 0 to 4.
// There are no composition rules (ASVS 5.0 6.2.5): a long phrase of
// ordinary words passes, "Password1!" does not.
const (
	// MinPasswordScore is the score a new password needs: 3, about 10^8
	// guesses or more, which zxcvbn calls "safely unguessable: moderate
	// protection from an offline attack on a slow hash" (ours is argon2id).
	MinPasswordScore = 3
	// strengthRunes is how much of a password is estimated: its first 64
	// characters. The estimate's cost grows faster than the length (a
	// random 128-character one took 185 ms); a password whose first 64
	// characters are strong is at least as strong, and one whose first 64
	// are weak is refused for them, so the cut never lets a weak password
	// through.
	strengthRunes = 64
)

// CompanyWords are the app's own words, which a cracker aiming at its
// users tries first (ASVS 5.0 6.2.11).
var CompanyWords = []string{"tozalash", "tozalash.uz"}

// Weakness says why a password is refused; the empty Weakness is none.
type Weakness string

// The reasons a password is refused, from the part of it that makes it
// easiest to guess.
const (
	WeakCommon   Weakness = "common"   // a common password, or a dictionary word or name with little added
	WeakPersonal Weakness = "personal" // the user's email or name, or the company's name, with little added
	WeakPattern  Weakness = "pattern"  // a keyboard pattern, a repeat, a sequence or a date
	WeakShort    Weakness = "short"    // nothing in a dictionary, but too short to be hard to guess
)

// Describe says in English why the password is refused (the app's users
// get their own language from the handlers; this is for the command line).
func (w Weakness) Describe() string {
	switch w {
	case WeakCommon:
		return "it is a common password, or a common word or name with little added"
	case WeakPersonal:
		return "it contains the email, the username or the company's name"
	case WeakPattern:
		return "it is a keyboard pattern, a repeat, a sequence or a date"
	case WeakShort:
		return "it is too short to be hard to guess: add a few more characters or words"
	}
	return ""
}

// PasswordContext is what a cracker knows of a user: the email, its local
// part and the words in it, the username and the words in it, beside the
// company's words.
func PasswordContext(email, username string) []string {
	words := append([]string{}, CompanyWords...)
	add := func(s string) {
		s = strings.ToLower(s)
		if s == "" {
			return
		}
		words = append(words, s)
		parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune("._-+", r) })
		if len(parts) > 1 {
			for _, p := range parts {
				if utf8.RuneCountInString(p) >= 3 {
					words = append(words, p)
				}
			}
		}
	}
	if email != "" {
		words = append(words, strings.ToLower(email))
		local, _, _ := strings.Cut(email, "@")
		add(local)
	}
	add(username)
	return words
}

// PasswordWeakness estimates password against context (PasswordContext)
// and returns why it is refused, or "" when it scores MinPasswordScore or
// more. A usual password costs a few ms; 64 characters full of the
// symbols that stand for letters (l33t: @ ! $ 1 | 7 …) up to about 100 ms
// (BenchmarkPasswordWeakness), as much as a hash: the app runs it where it
// runs the hashes, in their bound (Hasher.HashNew).
func PasswordWeakness(password string, context ...string) Weakness {
	if utf8.RuneCountInString(password) > strengthRunes {
		n := 0
		for i := range password {
			if n == strengthRunes {
				password = password[:i]
				break
			}
			n++
		}
	}
	res := zxcvbn.PasswordStrength(password, context)
	if res.Score >= MinPasswordScore {
		return ""
	}
	return weakness(res.Sequence)
}

// weakness names the reason from the matches zxcvbn built the password of:
// the user's or the company's words first (the one reason a user may not
// see by themselves), else the longest part.
func weakness(seq []*match.Match) Weakness {
	var longest *match.Match
	for _, m := range seq {
		if m.Pattern == "dictionary" && m.DictionaryName == "user_inputs" {
			return WeakPersonal
		}
		if longest == nil || runes(m) > runes(longest) || (runes(m) == runes(longest) && longest.Pattern == "bruteforce") {
			longest = m
		}
	}
	switch {
	case longest == nil || longest.Pattern == "bruteforce":
		return WeakShort
	case longest.Pattern == "dictionary":
		return WeakCommon
	default: // spatial, repeat, sequence, regex (a recent year), date
		return WeakPattern
	}
}

func runes(m *match.Match) int { return utf8.RuneCountInString(m.Token) }
