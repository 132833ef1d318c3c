package demo

import (
	"context"
	"reflect"
	"regexp"
	"testing"
	"unicode/utf8"

	"tozalash/store"
	"tozalash/store/storetest"
)

// Every demo service has a checklist of 4–8 items, each in three
// languages, under ids the admin's form would accept and the cleaner's
// ticks can key on (no dot, no $); seeded, the store holds them as written.
func TestDemoChecklists(t *testing.T) {
	id := regexp.MustCompile(`^[a-z0-9]{1,16}$`)
	for _, s := range Catalogue {
		if n := len(s.Checklist); n < 4 || n > 8 {
			t.Errorf("%s: %d checklist items, want 4–8", s.Name.Uz, n)
		}
		seen := map[string]bool{}
		for _, it := range s.Checklist {
			if !id.MatchString(it.ID) || seen[it.ID] {
				t.Errorf("%s: item id %q is malformed or twice", s.Name.Uz, it.ID)
			}
			seen[it.ID] = true
			for _, text := range []string{it.Text.Uz, it.Text.Ru, it.Text.En} {
				if text == "" || utf8.RuneCountInString(text) > 200 {
					t.Errorf("%s/%s: a text empty or over 200 characters: %+v", s.Name.Uz, it.ID, it.Text)
				}
			}
		}
	}

	ctx := context.Background()
	db := storetest.Open(t)
	if _, err := Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	all, err := store.NewServiceStore(db).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range Catalogue {
		for _, got := range all {
			if got.Name.Uz == want.Name.Uz && !reflect.DeepEqual(got.Checklist, want.Checklist) {
				t.Errorf("%s seeded with %+v", want.Name.Uz, got.Checklist)
			}
		}
	}
}
