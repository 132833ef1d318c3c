package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// #24: a customer on a phone opens their completed visit, rates it 5 with
// a comment (the stars are radio buttons), and the service page then shows
// the new average and the comment under their first name only.
func TestCustomerRatesACompletedVisit(t *testing.T) {
	s := startApp(t)
	ctx := context.Background()
	u := s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
	name := "Madina Yusupova"
	if _, err := store.NewUserStore(s.db).Update(ctx, u.ID, store.UserChange{Name: &name}); err != nil {
		t.Fatal(err)
	}
	customer := newBrowser(t, 390, 844)
	customer.login(t, s.base, "madina@example.uz", "toza-uy-2026")
	path := bookThroughForm(t, s, customer, "Chilonzor 9-kvartal, 12-uy")
	id, err := primitive.ObjectIDFromHex(strings.TrimPrefix(path, "/orders/"))
	if err != nil {
		t.Fatal(err)
	}
	orders := store.NewOrderStore(s.db)
	o, err := orders.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// The visit is done: its time has come, the crew arrived and finished.
	s.clock.advance(time.Until(o.ScheduledAt) + 3*time.Hour)
	if _, err := orders.Advance(ctx, id, store.StatusInProgress, store.StatusChange{ByName: "crew"}); err != nil {
		t.Fatal(err)
	}
	if _, err := orders.Move(ctx, id, store.Step{To: store.StatusCompleted, By: store.StatusChange{ByName: "crew"}, ScheduledAt: o.ScheduledAt}); err != nil {
		t.Fatal(err)
	}

	customer.do(t,
		chromedp.Navigate(s.base+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="review-form"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="review-rating-5"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="review-comment-field"]`), "Hammasi toza, rahmat!"),
		chromedp.Click(chromedp.CSS(`[data-testid="review-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="order-review-stars"]`)),
	)
	if got := customer.text(t, `[data-testid="order-review-stars"]`); got != "★★★★★" {
		t.Errorf("the order page shows %q", got)
	}
	customer.do(t,
		chromedp.Navigate(s.base+"/services/"+o.ServiceID.Hex()),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="service-reviews"]`)),
	)
	if got := customer.text(t, `[data-testid="service-rating"]`); got != "5.0 ★ (1)" {
		t.Errorf("the service page's rating is %q", got)
	}
	if got := customer.text(t, `[data-testid="review-name"]`); got != "Madina" {
		t.Errorf("the review is signed %q, want the first name only", got)
	}
	if got := customer.text(t, `[data-testid="review-comment"]`); got != "Hammasi toza, rahmat!" {
		t.Errorf("the comment is %q", got)
	}
	customer.do(t, chromedp.ScrollIntoView(chromedp.CSS(`[data-testid="service-reviews"]`)))
	customer.screenshot(t, "review-on-service-page")
	customer.checkNoProblems(t)
}
