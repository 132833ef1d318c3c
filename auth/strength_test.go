package auth

import (
	"strings"
	"testing"
)

func TestPasswordWeakness(t *testing.T) {
	umida := PasswordContext("umida.karimova@example.uz", "umida_k")
	for _, c := range []struct {
		password string
		want     Weakness
	}{
		{"password123", WeakCommon},
		{"Password1", WeakCommon},
		{"qwerty123", WeakCommon},
		{"iloveyou", WeakCommon},
		{"P@ssw0rd", WeakCommon}, // l33t changes little
		{"        ", WeakPattern},
		{"aaaaaaaaaaaa", WeakPattern},
		{"zxcvbnm,./", WeakPattern},
		{"abcdefgh", WeakPattern},
		{"12345678", WeakCommon},
		{"tozalash2026", WeakPersonal},
		{"Tozalash-2026", WeakPersonal},
		{"umida.karimova@example.uz", WeakPersonal},
		{"umida_k1990", WeakPersonal},
		{"karimova1", WeakPersonal},
		{"k9#Lp2!q", WeakShort}, // random, but 8 characters are 10^8 guesses at most
		// Strong enough: no composition rules, any script, spaces count.
		{"toza-uy-2026", ""},
		{"correct horse battery staple", ""},
		{"чистый дом 2026", ""},
		{"Toshkentda-qor-yog'di", ""},
		{strings.Repeat("😀", 64), ""},
	} {
		if got := PasswordWeakness(c.password, umida...); got != c.want {
			t.Errorf("%q: weakness %q, want %q", c.password, got, c.want)
		}
	}
}

// The passwords of the project's tests, its demo and its documentation
// must pass for the accounts they are used with.
func TestProjectPasswordsAreStrong(t *testing.T) {
	for _, p := range []string{"toza-uy-2026", "yangi-parol-2026", "yaxshi-parol-2026", "boshqa-parol-1", "ikkinchi-parol-2026",
		"toza-uy-2026-parol", "boshliq-parol-2026", "admin-parol-2026", "bench-parol-2026", "parol-emas-2026", "Toza-Uy-2026!",
		"Yangi-Parol-2026", "ishchi-parol-2026", "чистый дом 2026", "begona-kalit-2026", "kuchli-kalit-2026"} {
		for _, who := range [][2]string{{"boss@tozalash.uz", "boss"}, {"umida@example.uz", "umida"}, {"admin@example.uz", "admin"}} {
			if w := PasswordWeakness(p, PasswordContext(who[0], who[1])...); w != "" {
				t.Errorf("%q for %s: %s", p, who[0], w.Describe())
			}
		}
	}
}

// Only the first 64 characters are estimated: a weak start is refused
// whatever follows, a strong one is not weakened by what follows.
func TestPasswordWeaknessOfLongPasswords(t *testing.T) {
	if w := PasswordWeakness(strings.Repeat("a", 64) + "x7#Kp-Lq9!zR2@vN"); w != WeakPattern {
		t.Errorf("64 a's and a random tail: %q, want %q", w, WeakPattern)
	}
	if w := PasswordWeakness("x7#Kp-Lq9!zR2@vN" + strings.Repeat("a", 112)); w != "" {
		t.Errorf("a random start and 112 a's: %q", w)
	}
}

// The cost of one check: a usual password, and 64-character ones (the
// most estimated): generated with symbols (the slowest found: symbols that
// stand for letters multiply the alternatives), a passphrase, l33t
// characters only, emoji.
func BenchmarkPasswordWeakness(b *testing.B) {
	ctx := PasswordContext("umida.karimova@example.uz", "umida_k")
	for _, c := range []struct{ name, password string }{
		{"usual12", "toza-uy-2026"},
		{"random64", "gT4#vB9!qL2@xN7$kR5%mW8^pZ3&hJ6*dF1(sA0)yC4-eU7_iO2+"[:52] + "tY5=rE8~wQ1<"},
		{"passphrase64", "the quick brown cleaner sweeps the yard of the old house at dawn"},
		{"leet64", strings.Repeat("4@8({[<3&6!|1|7+%2$0", 4)[:64]},
		{"emoji64", strings.Repeat("😀", 64)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				PasswordWeakness(c.password, ctx...)
			}
		})
	}
}
