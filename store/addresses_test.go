package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// Adds racing from two stores on one database (two instances) keep every
// address they were told was saved, and never pass the maximum.
func TestAddressesRacingKeepTheMaximum(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	one, two := store.NewAddressStore(db), store.NewAddressStore(db)
	user, other := primitive.NewObjectID(), primitive.NewObjectID()
	var mu sync.Mutex
	saved, refused := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 2*store.MaxAddresses; i++ {
		s := one
		if i%2 == 1 {
			s = two
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Add(ctx, user, store.Address{Address: "Chilonzor 9-kvartal"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				saved++
			case errors.Is(err, store.ErrTooMany):
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	items, err := one.List(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if saved != store.MaxAddresses || refused != store.MaxAddresses || len(items) != store.MaxAddresses {
		t.Errorf("saved %d, refused %d, stored %d; want %d each", saved, refused, len(items), store.MaxAddresses)
	}
	// Another user's id reaches none of them.
	if err := two.Delete(ctx, other, items[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another user's delete: %v", err)
	}
	if _, err := two.Update(ctx, other, items[0].ID, store.Address{Address: "Boshqa"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another user's update: %v", err)
	}
	if err := one.DeleteForUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	if items, _ := two.List(ctx, user); len(items) != 0 {
		t.Errorf("%d left after deleting the user's", len(items))
	}
}
