package auth

import "sync"

var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not the password of anyone")
	return h
})

// CheckNoUser spends the time of a password check when there is no user,
// so a login for an unknown email takes as long as a wrong password.
func CheckNoUser(password string) {
	_, _ = CheckPassword(dummyHash(), password)
}
