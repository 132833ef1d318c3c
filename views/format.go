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
	sep := "\u00a0"
	if lang == "en" {
		sep = ","
	}
	digits := strconv.FormatInt(amount, 10)
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	switch lang {
	case "ru":
		b.WriteString("\u00a0сум")
	case "en":
		b.WriteString("\u00a0UZS")
	default:
		b.WriteString("\u00a0so‘m")
	}
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
