package handlers

import (
	"testing"

	"tozalash/store/storetest"
)

// An attack is one way in found by the review of #18 ("Accounts an attacker
// can neither take over nor lock out"), replayed against a running app: run
// tries it, as the attacker would, and fails the test if it works. Each
// runs on an app of its own. The tables are split by subject (this file:
// lockout and enumeration; attacks_2fa_test.go; attacks_recovery_test.go).
type attack struct {
	gap  string // the number for it, e.g. "1" or "9c"
	name string // what the attacker tries
	run  func(t *testing.T, a *testApp)
	cfg  Config // the app's settings beyond the tests' defaults
}

func runAttacks(t *testing.T, attacks []attack) {
	t.Helper()
	for _, at := range attacks {
		t.Run("gap "+at.gap+": "+at.name, func(t *testing.T) {
			a := newTestAppWith(t, storetest.Open(t), at.cfg)
			at.run(t, a)
		})
	}
}
