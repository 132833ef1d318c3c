package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.MainCheckingIndexes(m)) }

func newService(name string, price int64) *store.Service {
	return &store.Service{Name: store.Texts{Uz: name}, Description: store.Texts{Uz: name + " tavsifi"}, Price: price, DurationMinutes: 120}
}

func TestServicesCRUD(t *testing.T) {
	ctx := context.Background()
	services := store.NewServiceStore(storetest.Open(t))

	a := newService("Kvartira tozalash", 350000)
	if err := services.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.ID.IsZero() || !a.Active || a.CreatedAt.IsZero() {
		t.Fatalf("create did not fill id, active, createdAt: %+v", a)
	}

	got, err := services.Get(ctx, a.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != a.Name || got.Price != 350000 || got.DurationMinutes != 120 {
		t.Fatalf("get = %+v, want %+v", got, a)
	}

	name, price := store.Texts{Uz: "Ofis tozalash", Ru: "Уборка офиса"}, int64(500000)
	up, err := services.Update(ctx, a.ID, store.ServiceChange{Name: &name, Price: &price})
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != name || up.Price != price || up.Description != a.Description {
		t.Fatalf("update = %+v", up)
	}

	archived, err := services.Delete(ctx, a.ID)
	if err != nil || archived {
		t.Fatalf("delete without orders = archived %v, %v; want a real delete", archived, err)
	}
	if _, err := services.Get(ctx, a.ID, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete = %v, want ErrNotFound", err)
	}
	if _, err := services.Delete(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete = %v, want ErrNotFound", err)
	}
	if _, err := services.Update(ctx, a.ID, store.ServiceChange{Name: &name}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing service = %v, want ErrNotFound", err)
	}
}

func TestServicesListPagesAndHidesArchived(t *testing.T) {
	ctx := context.Background()
	services := store.NewServiceStore(storetest.Open(t))
	var ids []primitive.ObjectID
	for i := 0; i < 5; i++ {
		s := newService("Xizmat", int64(i))
		if err := services.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	off := false
	if _, err := services.Update(ctx, ids[4], store.ServiceChange{Active: &off}); err != nil {
		t.Fatal(err)
	}

	page1, next, err := services.List(ctx, store.ServiceFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page1) != 2 || page1[0].ID != ids[3] || page1[1].ID != ids[2] || next != ids[2] {
		t.Fatalf("page 1 = %v next %v; want newest active first", idsOf(page1, serviceID), next)
	}
	page2, next, err := services.List(ctx, store.ServiceFilter{Limit: 2, Before: next})
	if err != nil {
		t.Fatal(err)
	}
	if len(page2) != 2 || page2[0].ID != ids[1] || page2[1].ID != ids[0] || !next.IsZero() {
		t.Fatalf("page 2 = %v next %v", idsOf(page2, serviceID), next)
	}
	all, _, err := services.List(ctx, store.ServiceFilter{Limit: 10, IncludeArchived: true})
	if err != nil || len(all) != 5 {
		t.Fatalf("with archived = %d, %v; want 5", len(all), err)
	}
	if _, err := services.Get(ctx, ids[4], false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("archived service for the public = %v, want ErrNotFound", err)
	}
	if _, _, err := services.List(ctx, store.ServiceFilter{Limit: 0}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("limit 0 = %v, want ErrInvalid", err)
	}
}

func TestDuplicateKeysAreConflicts(t *testing.T) {
	ctx := context.Background()
	users := store.NewUserStore(storetest.Open(t))
	if err := users.Create(ctx, &store.User{Username: "aziz", Email: "Aziz@Example.uz"}); err != nil {
		t.Fatal(err)
	}
	if err := users.Create(ctx, &store.User{Username: "other", Email: "aziz@example.uz"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same email in another case = %v, want ErrConflict", err)
	}
	if err := users.Create(ctx, &store.User{Username: "aziz", Email: "new@example.uz"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same username = %v, want ErrConflict", err)
	}
	u, err := users.GetByEmail(ctx, "AZIZ@example.uz")
	if err != nil || u.Username != "aziz" {
		t.Fatalf("get by email = %+v, %v", u, err)
	}
}

func TestBadIDsAreInvalid(t *testing.T) {
	for _, s := range []string{"", "xyz", "123", "6651f0c2a1b2c3d4e5f6a7b8zz", `{"$ne":""}`} {
		if _, err := store.ParseID(s); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ParseID(%q) = %v, want ErrInvalid", s, err)
		}
	}
	if _, err := store.ParseID("6651f0c2a1b2c3d4e5f6a7b8"); err != nil {
		t.Errorf("valid id rejected: %v", err)
	}
}

// FerretDB v1 loses concurrent $inc updates; the store's write path must not.
func TestConcurrentIncrementsAreExact(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	if !db.SerializesWrites() {
		t.Fatal("the embedded database must be detected as FerretDB")
	}
	counters := store.NewCounterStore(db)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := counters.Add(ctx, "hits", 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n, err := counters.Get(ctx, "hits")
	if err != nil || n != writers*each {
		t.Fatalf("counter = %d, %v; want %d", n, err, writers*each)
	}
}

func TestMarkOnceHasOneWinner(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, err := db.MarkOnce(ctx, "seed:demo")
			if err != nil {
				t.Error(err)
			}
			if first {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("winners = %d, want 1", winners)
	}
}

// idsOf lists the ids of xs, for messages and comparisons.
func idsOf[T any](xs []T, id func(*T) primitive.ObjectID) []primitive.ObjectID {
	out := make([]primitive.ObjectID, len(xs))
	for i := range xs {
		out[i] = id(&xs[i])
	}
	return out
}

func serviceID(s *store.Service) primitive.ObjectID { return s.ID }

func TestUserUpdateToATakenNameIsAConflict(t *testing.T) {
	ctx := context.Background()
	users := store.NewUserStore(storetest.Open(t))
	a := &store.User{Username: "anvar", Email: "anvar@example.uz"}
	b := &store.User{Username: "botir", Email: "botir@example.uz"}
	for _, u := range []*store.User{a, b} {
		if err := users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	name, email := "anvar", "ANVAR@example.uz"
	if _, err := users.Update(ctx, b.ID, store.UserChange{Username: &name}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("taken username = %v, want ErrConflict", err)
	}
	if _, err := users.Update(ctx, b.ID, store.UserChange{Email: &email}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("taken email = %v, want ErrConflict", err)
	}
}

// The 2FA updates are conditional: a used step or recovery code never
// works twice, also for racers.
func TestTwoFactorUpdatesAreOneShot(t *testing.T) {
	ctx := context.Background()
	users := store.NewUserStore(storetest.Open(t))
	u := &store.User{Username: "ikki", Email: "ikki@example.uz"}
	if err := users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := users.SetPendingTOTP(ctx, u.ID, "sealed"); err != nil {
		t.Fatal(err)
	}
	if err := users.EnableTOTP(ctx, u.ID, 100, []string{"h1", "h2"}); err != nil {
		t.Fatal(err)
	}
	if err := users.SetPendingTOTP(ctx, u.ID, "other"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a new secret while enabled = %v", err)
	}
	if err := users.UseTOTPStep(ctx, u.ID, 100); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the enrolment step again = %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if users.UseTOTPStep(ctx, u.ID, 101) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			if users.UseRecoveryCode(ctx, u.ID, "h1") == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 2 {
		t.Errorf("%d winners for one step and one recovery code, want 2", wins)
	}
	got, _ := users.Get(ctx, u.ID)
	if !got.TwoFactor.Enabled || got.TwoFactor.LastStep != 101 || len(got.RecoveryCodes) != 1 || got.RecoveryCodes[0] != "h2" {
		t.Errorf("after: %+v %v", got.TwoFactor, got.RecoveryCodes)
	}
	if err := users.DisableTOTP(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ = users.Get(ctx, u.ID); got.TwoFactor.Enabled || got.TwoFactor.Secret != "" || len(got.RecoveryCodes) != 0 {
		t.Errorf("after disable: %+v", got)
	}
}

func TestPruneSessions(t *testing.T) {
	ctx := context.Background()
	sessions := store.NewSessionStore(storetest.Open(t))
	now := time.Now().UTC().Truncate(time.Millisecond)
	old := now.Add(-48 * time.Hour)
	recent := now.Add(-time.Hour)
	mk := func(expires time.Time, revoked *time.Time) primitive.ObjectID {
		s := &store.Session{ID: primitive.NewObjectID(), UserID: primitive.NewObjectID(), RefreshHash: "h", UsedHashes: []string{}, CreatedAt: old, ExpiresAt: expires, RevokedAt: revoked}
		if err := sessions.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	live := mk(now.Add(time.Hour), nil)
	justRevoked := mk(now.Add(time.Hour), &recent)
	mk(now.Add(-time.Minute), nil) // expired
	mk(now.Add(time.Hour), &old)   // revoked long ago
	n, err := sessions.Prune(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2", n, err)
	}
	for _, id := range []primitive.ObjectID{live, justRevoked} {
		if _, err := sessions.Get(ctx, id); err != nil {
			t.Errorf("session %s pruned: %v", id.Hex(), err)
		}
	}
}

// Without the index Open adds, FerretDB's SQLite handler parses every row of
// a collection to find one _id.
func TestIDLookupsUseAnIndex(t *testing.T) {
	storetest.EmbeddedOnly(t)
	ctx := context.Background()
	db := storetest.Open(t)
	// A reconcile empties the read models; their index must stay.
	if _, err := db.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	// SQLite scans an empty table whatever its indexes: give each a row.
	probe := func(col string) {
		t.Helper()
		if _, err := db.InsertRaw(ctx, col, bson.M{"_id": primitive.NewObjectID()}); err != nil {
			t.Fatal(err)
		}
	}
	for _, col := range []string{"users", "services", "orders", "counters", "meta", "sessions", "tokens", "outbox", "orderPages", "customerOrders", "conversations", "messages", "chatInbox", "chatNotices", "outboxSent", "claims", "journal", "instances", "userKeys"} {
		probe(col)
	}
	plans, err := db.IDLookupPlans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) < 10 {
		t.Fatalf("plans for %d collections, want every collection", len(plans))
	}
	for col, plan := range plans {
		if !strings.Contains(plan, "USING INDEX") || strings.Contains(plan, "SCAN") {
			t.Errorf("%s: _id look-up plan %s, want an index search", col, plan)
		}
	}
}

// The catalogue is kept in memory: a write through the same database is
// seen at once, a write by another instance within about a second.
func TestCatalogueCacheFollowsWrites(t *testing.T) {
	ctx := context.Background()
	name := storetest.DBName(t)
	one, other := store.NewServiceStore(storetest.OpenNamed(t, name)), store.NewServiceStore(storetest.OpenNamed(t, name))
	a := newService("Oyna yuvish", 90000)
	if err := one.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if list, _, _ := one.List(ctx, store.ServiceFilter{Limit: 10}); len(list) != 1 {
		t.Fatalf("own write not seen: %d services", len(list))
	}
	if _, _, err := other.List(ctx, store.ServiceFilter{Limit: 10}); err != nil { // other caches it now
		t.Fatal(err)
	}
	price := int64(95000)
	if _, err := one.Update(ctx, a.ID, store.ServiceChange{Price: &price}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		got, err := other.Get(ctx, a.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if got.Price == price {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other instance still shows %d", got.Price)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Accounts are found by email or username through their keys: in any case
// of the email, after a change of either, never after a delete; of eight
// signups with one email at once, one wins; a reconcile rebuilds the keys of
// accounts written without them.
func TestUserKeys(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	users := store.NewUserStore(db)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := users.Create(ctx, &store.User{Username: fmt.Sprintf("dilnoza%d", i), Email: "Dilnoza@Example.uz"})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, store.ErrConflict) {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d signups with one email succeeded", wins)
	}
	u, err := users.GetByEmail(ctx, "DILNOZA@example.uz")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := users.GetByUsername(ctx, u.Username); err != nil || got.ID != u.ID {
		t.Errorf("by username: %v %v", got, err)
	}
	email, name := "dilnoza.new@example.uz", "dilnoza_new"
	if _, err := users.Update(ctx, u.ID, store.UserChange{Email: &email, Username: &name}); err != nil {
		t.Fatal(err)
	}
	if _, err := users.GetByEmail(ctx, "dilnoza@example.uz"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old email still finds the account: %v", err)
	}
	if got, err := users.GetByEmail(ctx, email); err != nil || got.Username != name {
		t.Errorf("the new email: %v %v", got, err)
	}
	other := &store.User{Username: "boshqa", Email: "boshqa@example.uz"}
	if err := users.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Update(ctx, other.ID, store.UserChange{Email: &email}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("taking another's email = %v", err)
	}
	if got, _ := users.GetByEmail(ctx, "boshqa@example.uz"); got == nil {
		t.Error("a refused change lost the account's own email")
	}
	if err := users.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := users.GetByUsername(ctx, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted account is found: %v", err)
	}
	if err := users.Create(ctx, &store.User{Username: name, Email: email}); err != nil {
		t.Errorf("a deleted account's email and name are free again: %v", err)
	}
	// Written as an older version did: no keys, until a reconcile.
	old := store.User{ID: primitive.NewObjectID(), Username: "eski", Email: "eski@example.uz", Role: store.RoleUser}
	if _, err := db.InsertRaw(ctx, "users", old); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := users.GetByEmail(ctx, "eski@example.uz"); err != nil || got.ID != old.ID {
		t.Errorf("after a reconcile: %v %v", got, err)
	}
}
