package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// Ending a user's sessions (a password change, a reset) ends every live one
// of theirs and no one else's.
func TestRevokeAllEndsOneUsersSessions(t *testing.T) {
	ctx := context.Background()
	sessions := store.NewSessionStore(storetest.Open(t))
	alice, bob := primitive.NewObjectID(), primitive.NewObjectID()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := liveSessions(t, sessions, now, alice, alice, bob)
	if err := sessions.RevokeAll(ctx, alice, now); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		s, err := sessions.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if revoked := s.RevokedAt != nil; revoked != (i < 2) {
			t.Errorf("session %d of %s: revoked %v", i, s.UserID.Hex(), revoked)
		}
	}
}

// liveSessions starts a session, live for an hour from now, for each of
// users, and returns their ids.
func liveSessions(t *testing.T, sessions *store.SessionStore, now time.Time, users ...primitive.ObjectID) []primitive.ObjectID {
	t.Helper()
	var ids []primitive.ObjectID
	for _, u := range users {
		s := &store.Session{ID: primitive.NewObjectID(), UserID: u, RefreshHash: "h", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := sessions.Create(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	return ids
}

// The first admin is made at start only when there is none.
func TestAdminExists(t *testing.T) {
	ctx := context.Background()
	users := store.NewUserStore(storetest.Open(t))
	if ok, err := users.AdminExists(ctx); err != nil || ok {
		t.Fatalf("empty database: %v, %v", ok, err)
	}
	if err := users.Create(ctx, &store.User{Username: "customer", Email: "c@example.uz", Role: store.RoleUser}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := users.AdminExists(ctx); ok {
		t.Fatal("a customer counted as an admin")
	}
	if err := users.Create(ctx, &store.User{Username: "boss", Email: "b@example.uz", Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if ok, err := users.AdminExists(ctx); err != nil || !ok {
		t.Fatalf("with an admin: %v, %v", ok, err)
	}
}

// A deleted account is owed no more emails; notices come due at their time.
func TestChatNoticesDueAndForgotten(t *testing.T) {
	ctx := context.Background()
	chat := store.NewChatStore(storetest.Open(t))
	alice, bob := primitive.NewObjectID(), primitive.NewObjectID()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := chat.Owe(ctx, alice, store.SupportConversationID(alice), now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := chat.Owe(ctx, bob, store.SupportConversationID(bob), now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	due, err := chat.DueNotices(ctx, now.Add(2*time.Minute))
	if err != nil || len(due) != 1 || due[0].UserID != alice {
		t.Fatalf("due in 2 minutes: %+v, %v; want alice's", due, err)
	}
	if err := chat.ForgetUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	due, err = chat.DueNotices(ctx, now.Add(2*time.Hour))
	if err != nil || len(due) != 1 || due[0].UserID != bob {
		t.Errorf("due in 2 hours after alice left: %+v, %v; want bob's", due, err)
	}
}

// A change of email or password forgets the reset link and a verification
// link of another address; the current address's verification link stays.
func TestForgetLinks(t *testing.T) {
	ctx := context.Background()
	tokens := store.NewTokenStore(storetest.Open(t))
	later := time.Now().Add(time.Hour)
	issue := func(user primitive.ObjectID, purpose, email string) {
		t.Helper()
		if err := tokens.Issue(ctx, store.OneTimeToken{UserID: user, Purpose: purpose, Hash: "h-" + purpose, Email: email, ExpiresAt: later}); err != nil {
			t.Fatal(err)
		}
	}
	live := func(user primitive.ObjectID, purpose string) bool {
		_, err := tokens.Peek(ctx, purpose, user, "h-"+purpose, time.Now())
		return err == nil
	}
	moved, stayed := primitive.NewObjectID(), primitive.NewObjectID()
	issue(moved, store.PurposeResetPassword, "old@example.uz")
	issue(moved, store.PurposeVerifyEmail, "old@example.uz")
	issue(stayed, store.PurposeResetPassword, "same@example.uz")
	issue(stayed, store.PurposeVerifyEmail, "same@example.uz")
	if err := tokens.ForgetLinks(ctx, moved, "new@example.uz"); err != nil {
		t.Fatal(err)
	}
	if err := tokens.ForgetLinks(ctx, stayed, "same@example.uz"); err != nil {
		t.Fatal(err)
	}
	if live(moved, store.PurposeResetPassword) || live(moved, store.PurposeVerifyEmail) || live(stayed, store.PurposeResetPassword) {
		t.Error("a reset link, or a verification link of an old address, outlived the change")
	}
	if !live(stayed, store.PurposeVerifyEmail) {
		t.Error("the verification link of the current address was deleted")
	}
}

// A change of the account's security ends the user's other sessions and
// keeps the one that made it.
func TestRevokeOthersKeepsOne(t *testing.T) {
	ctx := context.Background()
	sessions := store.NewSessionStore(storetest.Open(t))
	alice, bob := primitive.NewObjectID(), primitive.NewObjectID()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := liveSessions(t, sessions, now, alice, alice, alice, bob)
	ended, err := sessions.RevokeOthers(ctx, alice, ids[1], now)
	if err != nil || len(ended) != 2 || !(ended[0] == ids[0] && ended[1] == ids[2] || ended[0] == ids[2] && ended[1] == ids[0]) {
		t.Fatalf("ended %v, %v; want sessions 0 and 2", ended, err)
	}
	for i, id := range ids {
		s, err := sessions.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if revoked := s.RevokedAt != nil; revoked != (i == 0 || i == 2) {
			t.Errorf("session %d of %s: revoked %v", i, s.UserID.Hex(), revoked)
		}
	}
}

// Accounts that never verified their email go after UnverifiedTTL, with
// their tokens and sessions, and free their email and username; verified
// ones, and verified ones awaiting a new address's verification, stay. Of
// two instances sweeping in the same hour, one does it.
func TestExpireUnverified(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	other := storetest.OpenNamed(t, db.Name())
	users, sessions, tokens := store.NewUserStore(db), store.NewSessionStore(db), store.NewTokenStore(db)
	squat := &store.User{Username: "squat", Email: "owner@example.uz", PasswordHash: "x"}
	kept := &store.User{Username: "kept", Email: "kept@example.uz", PasswordHash: "x"}
	moved := &store.User{Username: "moved", Email: "moved@example.uz", PasswordHash: "x"}
	for _, u := range []*store.User{squat, kept, moved} {
		if err := users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		if u.ExpiresAt == nil || u.ExpiresAt.Sub(u.CreatedAt) != store.UnverifiedTTL {
			t.Fatalf("a new unverified account expires at %v", u.ExpiresAt)
		}
	}
	verified, unverified := true, false
	if _, err := users.Update(ctx, kept.ID, store.UserChange{IsVerified: &verified}); err != nil {
		t.Fatal(err)
	}
	newEmail := "moved-new@example.uz"
	if _, err := users.Update(ctx, moved.ID, store.UserChange{IsVerified: &verified}); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Update(ctx, moved.ID, store.UserChange{Email: &newEmail, IsVerified: &unverified}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	sess := liveSessions(t, sessions, now, squat.ID)[0]
	if err := tokens.Issue(ctx, store.OneTimeToken{UserID: squat.ID, Purpose: store.PurposeVerifyEmail, Hash: "v", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	// Within the week nothing goes.
	if n, err := db.ExpireUnverified(ctx, now.Add(store.UnverifiedTTL-time.Hour)); err != nil || n != 0 {
		t.Fatalf("before the expiry: %d, %v", n, err)
	}
	// After it, one instance sweeps in that hour; the other finds it
	// claimed. Half past: a second later is the same hour.
	later := now.Add(store.UnverifiedTTL + time.Hour).Truncate(time.Hour).Add(30 * time.Minute)
	n, err := db.ExpireUnverified(ctx, later)
	if err != nil || n != 1 {
		t.Fatalf("after the expiry: %d, %v; want 1", n, err)
	}
	if _, err := other.ExpireUnverified(ctx, later.Add(time.Second)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second instance in the same hour: %v, want ErrConflict", err)
	}
	if _, err := users.Get(ctx, squat.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the unverified account: %v", err)
	}
	for _, u := range []*store.User{kept, moved} {
		if _, err := users.Get(ctx, u.ID); err != nil {
			t.Errorf("%s went: %v", u.Username, err)
		}
	}
	if _, err := sessions.Get(ctx, sess); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("its session: %v", err)
	}
	if _, err := tokens.Peek(ctx, store.PurposeVerifyEmail, squat.ID, "v", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("its verification token: %v", err)
	}
	// The email and the username are free.
	again := &store.User{Username: "squat", Email: "owner@example.uz", PasswordHash: "y"}
	if err := users.Create(ctx, again); err != nil {
		t.Fatalf("the freed email and username: %v", err)
	}
}

// The admin's booking finds a customer by phone: the oldest account with
// it, ErrNotFound for none.
func TestGetByPhone(t *testing.T) {
	ctx := context.Background()
	users := store.NewUserStore(storetest.Open(t))
	var made []*store.User
	for _, name := range []string{"nodira", "nodira2"} {
		u := &store.User{Username: name, Email: name + "@example.uz", Role: store.RoleUser, Phone: "+998901112233"}
		if err := users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		made = append(made, u)
	}
	got, err := users.GetByPhone(ctx, "+998901112233")
	if err != nil || got.ID != made[0].ID {
		t.Errorf("found %v %v, want the older account %s", got, err, made[0].ID.Hex())
	}
	if _, err := users.GetByPhone(ctx, "+998900000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a phone nobody has: %v", err)
	}
}
