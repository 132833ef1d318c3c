package demo

import (
	"context"
	"testing"
	"time"

	"tozalash/store"
	"tozalash/store/storetest"
)

// The demo's regular cleaning is made once, weekly, with the weekly
// discount, its visits left to the plans job (from three days on).
func TestSeedPlansMakesOneWeeklyPlan(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	if _, err := Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, want := range []bool{true, false} {
		made, err := SeedPlans(ctx, db, now)
		if err != nil || made != want {
			t.Fatalf("seeding %d: made %v, %v; want %v", i+1, made, err, want)
		}
	}
	u, err := store.NewUserStore(db).GetByEmail(ctx, Customers[0].Email)
	if err != nil {
		t.Fatal(err)
	}
	plans, err := store.NewPlanStore(db).ForCustomer(ctx, u.ID)
	if err != nil || len(plans) != 1 {
		t.Fatalf("plans = %v, %v: want one", plans, err)
	}
	p := plans[0]
	if cur := p.Current(); cur.Frequency != store.FrequencyWeekly || cur.Anchor != store.AddDays(store.LocalDate(now), 3) || len(cur.Quote.Discounts) != 1 {
		t.Errorf("the demo plan's terms = %+v", cur)
	}
	if p.Through >= p.Current().Anchor {
		t.Errorf("through %s: the job would skip its first visit on %s", p.Through, p.Current().Anchor)
	}
}
