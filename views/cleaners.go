package views

import (
	"encoding/json"

	"tozalash/store"
)

// CleanerView is a cleaner as the admin's list shows it: the account, the
// crews it is in, and whether it accepted its invitation (set its
// password, which verified the address).
type CleanerView struct {
	store.User
	Crews    []CrewRef `json:"crews"`
	Accepted bool      `json:"accepted"`
}

// MarshalJSON: the account's public form, with its crews and state.
func (v CleanerView) MarshalJSON() ([]byte, error) {
	return marshalWith(v.User, map[string]any{"crews": v.Crews, "accepted": v.Accepted})
}

// CrewRef names a crew.
type CrewRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// marshalWith is v's JSON object with the fields of extra added.
func marshalWith(v any, extra map[string]any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, x := range extra {
		m[k] = x
	}
	return json.Marshal(m)
}
