package views

import (
	"strconv"
	"strings"
	"time"

	"tozalash/store"
)

// UnverifiedDays is how many days an account may stay unverified before it
// is deleted (store.UnverifiedTTL), as the sign-up notice and the
// verification email say.
func UnverifiedDays() int { return int(store.UnverifiedTTL / (24 * time.Hour)) }

// Price formats an amount of so'm the way the language writes it:
// "350 000 so'm", "350 000 сум", "350,000 UZS".
func Price(lang string, amount int64) string {
	sep, unit := "\u00a0", "\u00a0so‘m"
	switch lang {
	case "ru":
		unit = "\u00a0сум"
	case "en":
		sep, unit = ",", "\u00a0UZS"
	}
	// One allocation: the digits are formatted on the stack, the text
	// into a builder of its size (the price panel writes several amounts
	// a keystroke).
	var buf [24]byte
	digits := strconv.AppendInt(buf[:0], amount, 10)
	var b strings.Builder
	b.Grow(2*len(digits) + len(unit))
	if digits[0] == '-' {
		b.WriteByte('-')
		digits = digits[1:]
	}
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteByte(d)
	}
	b.WriteString(unit)
	return b.String()
}

// Duration formats minutes as hours and minutes in the language.
func Duration(lang string, minutes int) string {
	h, m := minutes/60, minutes%60
	units := map[string][2]string{
		"uz": {"soat", "daqiqa"},
		"ru": {"ч", "мин"},
		"en": {"h", "min"},
	}[lang]
	if units[0] == "" {
		units = [2]string{"soat", "daqiqa"}
	}
	var parts []string
	if h > 0 {
		parts = append(parts, strconv.Itoa(h)+"\u00a0"+units[0])
	}
	if m > 0 || h == 0 {
		parts = append(parts, strconv.Itoa(m)+"\u00a0"+units[1])
	}
	return strings.Join(parts, " ")
}
