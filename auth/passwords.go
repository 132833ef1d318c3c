package auth

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed common-passwords.txt
var commonPasswordList string

var commonPasswords = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool, 1000)
	for _, line := range strings.Split(commonPasswordList, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
})

// IsCommonPassword reports whether p is among the 1,000 most common
// passwords, in any letter case.
func IsCommonPassword(p string) bool { return commonPasswords()[strings.ToLower(p)] }

var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not the password of anyone")
	return h
})

// CheckNoUser spends the time of a password check when there is no user,
// so a login for an unknown email takes as long as a wrong password.
func CheckNoUser(password string) {
	_, _ = CheckPassword(dummyHash(), password)
}
