package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// TestStatusSteps is every (role, from, to) against the contract's graph
// (DESIGN.md, "Cleaners and visit steps"): a pair not listed is refused.
func TestStatusSteps(t *testing.T) {
	const (
		P, C, W, I = store.StatusPending, store.StatusConfirmed, store.StatusOnTheWay, store.StatusInProgress
		D, X, N    = store.StatusCompleted, store.StatusCancelled, store.StatusNoAccess
	)
	allowed := map[string]map[[2]string]bool{
		store.RoleAdmin: {{P, C}: true, {P, X}: true, {C, W}: true, {C, X}: true, {W, I}: true, {W, N}: true, {W, X}: true,
			{I, D}: true, {I, X}: true, {N, X}: true},
		store.RoleCleaner: {{C, W}: true, {W, I}: true, {W, N}: true, {I, D}: true},
		store.RoleUser:    {{P, X}: true, {C, X}: true},
		"":                {},
	}
	for role, want := range allowed {
		for _, from := range store.Statuses {
			for _, to := range store.Statuses {
				if got := store.MayStep(role, from, to); got != want[[2]string{from, to}] {
					t.Errorf("MayStep(%q, %s, %s) = %v", role, from, to, got)
				}
				if got, admin := store.CanMove(from, to), allowed[store.RoleAdmin][[2]string{from, to}]; got != admin {
					t.Errorf("CanMove(%s, %s) = %v, want %v", from, to, got, admin)
				}
			}
		}
	}
	for _, final := range []string{D, X} {
		for _, to := range store.Statuses {
			if store.CanMove(final, to) {
				t.Errorf("%s is final, yet moves to %s", final, to)
			}
		}
	}
}

// TestVisitStepsAndPayment walks a visit through its day: each step in the
// history, the payment with the completion counted as collected beside the
// revenue booked, and the steps the graph refuses written nowhere.
func TestVisitStepsAndPayment(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	orders := store.NewOrderStore(db)
	cleaner := primitive.NewObjectID()
	o := newOrder(account(t, db, "malika"), primitive.NewObjectID(), "visit")
	if err := orders.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	by := store.StatusChange{ByUserID: cleaner, ByName: "Bekzod"}
	if _, err := orders.Move(ctx, o.ID, store.Step{To: store.StatusOnTheWay, By: by}); !errors.Is(err, store.ErrBadTransition) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("PENDING to ON_THE_WAY = %v, want a bad transition", err)
	}
	if _, err := orders.Move(ctx, o.ID, store.Step{To: store.StatusConfirmed, Payment: &store.Payment{Amount: 1, Method: store.PayCash}}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a payment with a confirmation = %v, want ErrInvalid", err)
	}
	for _, to := range []string{store.StatusConfirmed, store.StatusOnTheWay, store.StatusInProgress} {
		if _, err := orders.Move(ctx, o.ID, store.Step{To: to, By: by}); err != nil {
			t.Fatalf("to %s: %v", to, err)
		}
	}
	done, err := orders.Move(ctx, o.ID, store.Step{To: store.StatusCompleted, By: by, Payment: &store.Payment{Amount: 100000, Method: store.PayClick}})
	if err != nil {
		t.Fatal(err)
	}
	if p := done.Payment; p == nil || p.Amount != 100000 || p.Method != store.PayClick || p.ByUserID != cleaner || p.At.IsZero() {
		t.Errorf("payment = %+v", done.Payment)
	}
	var path []string
	for _, h := range done.History {
		path = append(path, h.Status)
	}
	if want := "PENDING CONFIRMED ON_THE_WAY IN_PROGRESS COMPLETED"; strings.Join(path, " ") != want {
		t.Errorf("history = %v, want %s", path, want)
	}
	tt, err := orders.Totals(ctx)
	if err != nil || tt.Revenue != o.Price || tt.Collected != 100000 || tt.ByStatus[store.StatusCompleted] != 1 || tt.ByStatus[store.StatusInProgress] != 0 {
		t.Errorf("totals = %+v %v", tt, err)
	}
	if _, err := orders.Move(ctx, o.ID, store.Step{To: store.StatusCancelled}); !errors.Is(err, store.ErrBadTransition) {
		t.Errorf("cancelling a completed visit = %v", err)
	}
	rows, _, err := orders.ForCustomer(ctx, o.UserID, primitive.NilObjectID, 5)
	if err != nil || len(rows) != 1 || !rows[0].Paid || rows[0].Status != store.StatusCompleted {
		t.Errorf("the customer's row = %+v %v", rows, err)
	}
}
