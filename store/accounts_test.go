package store_test

import (
	"context"
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
	var ids []primitive.ObjectID
	for _, u := range []primitive.ObjectID{alice, alice, bob} {
		s := &store.Session{ID: primitive.NewObjectID(), UserID: u, RefreshHash: "h", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := sessions.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
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
