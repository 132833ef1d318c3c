package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// #22: a cleaner on a phone taps through a visit (on the way, arrived, the
// checklist, done with the payment) while the customer's order page, open
// in a second window, shows each step without a reload. A tick made
// without a connection waits on the phone and is saved once it is back.
func TestCleanerTapsThroughAVisitTheCustomerFollows(t *testing.T) {
	s := startApp(t)
	ctx := context.Background()
	s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
	cleanerUser := s.createUser(t, "Bekzod", "bekzod@tozalash.uz", "chang-yutgich-2026", store.RoleCleaner)

	customer := newBrowser(t, 390, 844)
	customer.login(t, s.base, "madina@example.uz", "toza-uy-2026")
	path := bookThroughForm(t, s, customer, "Chilonzor 9-kvartal, 12-uy")
	id, err := primitive.ObjectIDFromHex(strings.TrimPrefix(path, "/orders/"))
	if err != nil {
		t.Fatal(err)
	}
	orders, schedule, services := store.NewOrderStore(s.db), store.NewScheduleStore(s.db), store.NewServiceStore(s.db)
	o, err := orders.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// The office: the cleaner in the visit's crew, the service's checklist,
	// the booking confirmed.
	if err := schedule.AddMember(ctx, o.CrewID, cleanerUser.ID, cleanerUser.Username); err != nil {
		t.Fatal(err)
	}
	checklist := []store.ChecklistItem{
		{ID: "dust", Text: store.Texts{Uz: "Changni artish", Ru: "Протереть пыль", En: "Dust the surfaces"}},
		{ID: "floor", Text: store.Texts{Uz: "Polni yuvish", Ru: "Вымыть пол", En: "Mop the floors"}},
	}
	if _, err := services.Update(ctx, o.ServiceID, store.ServiceChange{Checklist: &checklist}); err != nil {
		t.Fatal(err)
	}
	if _, err := orders.Move(ctx, id, store.Step{To: store.StatusConfirmed, By: store.StatusChange{ByName: "Ofis"}}); err != nil {
		t.Fatal(err)
	}
	// The visit's day, a few minutes after its time.
	s.clock.advance(time.Until(o.ScheduledAt) + 5*time.Minute)

	// The customer opens their order and leaves the page as it is: a mark
	// set in it now would be gone after any reload.
	customer.do(t,
		chromedp.Navigate(s.base+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="order-progress"]`)),
		htmxReady,
		chromedp.Evaluate[chromedp.Void](`window.sameVisit = true`),
	)
	reached := func(step string) string {
		return `document.querySelector('[data-testid="progress-` + step + `"]').dataset.reached === "true"`
	}
	if get(t, customer, chromedp.Evaluate[bool](reached(store.StatusOnTheWay))) {
		t.Fatal("the customer's page says the crew is on the way before it set out")
	}

	cleaner := newBrowser(t, 390, 844)
	cleaner.login(t, s.base, "bekzod@tozalash.uz", "chang-yutgich-2026")
	cleaner.do(t,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="myday"]`)), // signing in lands on the day
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="myday-visit"][data-order="`+id.Hex()+`"]`)),
	)
	if got := cleaner.text(t, `[data-testid="myday-visit"] [data-testid="visit-address"]`); got != "Chilonzor 9-kvartal, 12-uy" {
		t.Errorf("the day shows the address %q", got)
	}
	cleaner.screenshot(t, "cleaner-day-phone")
	cleaner.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="myday-visit"][data-order="`+id.Hex()+`"] [data-testid="visit-open"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="visit-step-ON_THE_WAY"]`)),
		htmxReady,
	)
	cleaner.screenshot(t, "cleaner-visit-phone")

	// One tap each; the customer's page follows by itself.
	for _, step := range []struct{ tap, next, badge string }{
		{store.StatusOnTheWay, `[data-testid="visit-step-IN_PROGRESS"]`, "Yo‘lda"},
		{store.StatusInProgress, `[data-testid="visit-complete-form"]`, "Tozalanmoqda"},
	} {
		cleaner.do(t,
			chromedp.Click(chromedp.CSS(`[data-testid="visit-step-`+step.tap+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(step.next)),
			htmxSettled,
		)
		customer.do(t, chromedp.Poll[chromedp.Void](reached(step.tap)))
		if got := customer.text(t, `#order-status`); got != step.badge {
			t.Errorf("after %s the customer's badge reads %q, want %q", step.tap, got, step.badge)
		}
	}
	customer.screenshot(t, "customer-follows-crew-phone")

	// Ticking: one with the connection, one without it.
	cleaner.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="checklist-item"][data-item="dust"] button`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-item="dust"]').dataset.done === "true"`),
	)
	waitTick(t, orders, id, "dust")
	offline(t, cleaner, true)
	cleaner.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="checklist-item"][data-item="floor"] button`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-item="floor"]').dataset.waiting === "true"`),
	)
	cleaner.screenshot(t, "cleaner-tick-offline-phone")
	if o, _ := orders.Get(ctx, id); o.Checklist["floor"].Done {
		t.Fatal("a tick reached the server while the phone was offline")
	}
	offline(t, cleaner, false)
	cleaner.do(t, chromedp.Poll[chromedp.Void](`document.querySelector('[data-item="floor"]').dataset.waiting === "false"`))
	waitTick(t, orders, id, "floor")

	// Done, paid in cash: the amount is the visit's price, as the form
	// offers it.
	cleaner.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="field-payment-method-CASH"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="visit-step-COMPLETED"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="visit-paid"]`)),
	)
	cleaner.screenshot(t, "cleaner-visit-done-phone")
	customer.do(t,
		chromedp.Poll[chromedp.Void](reached(store.StatusCompleted)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="progress-paid"]`)),
	)
	if got := customer.text(t, `#order-status`); got != "Bajarildi" {
		t.Errorf("at the end the customer's badge reads %q", got)
	}
	if !get(t, customer, chromedp.Evaluate[bool](`window.sameVisit === true`)) {
		t.Error("the customer's page was reloaded to show the steps")
	}
	customer.screenshot(t, "customer-visit-done-phone")
	done, err := orders.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != store.StatusCompleted || done.Payment == nil || done.Payment.Method != store.PayCash || done.Payment.Amount != o.Price || done.Payment.ByUserID != cleanerUser.ID {
		t.Errorf("the visit at the end: %s %+v", done.Status, done.Payment)
	}
	customer.checkNoProblems(t)
	cleaner.checkNoProblems(t)
}

// waitTick waits until item of order id's checklist is saved as done.
func waitTick(t *testing.T, orders *store.OrderStore, id primitive.ObjectID, item string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if o, err := orders.Get(context.Background(), id); err == nil && o.Checklist[item].Done {
			return
		}
		time.Sleep(50 * time.Millisecond) // the browser's request, not time itself, is waited for
	}
	t.Fatalf("the tick of %q was not saved", item)
}

// emulateNetworkConditions is the DevTools command that takes a tab off
// the network and back, the page told (navigator.onLine and its events).
var emulateNetworkConditions = cdp.Command[emulateNetworkParams, cdp.Empty]{Method: "Network.emulateNetworkConditions"}

type emulateNetworkParams struct {
	Offline            bool    `json:"offline"`
	Latency            float64 `json:"latency"`
	DownloadThroughput float64 `json:"downloadThroughput"`
	UploadThroughput   float64 `json:"uploadThroughput"`
}

// offline takes b's tab off the network, or puts it back.
func offline(t *testing.T, b *browser, off bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, emulateNetworkConditions, emulateNetworkParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatal(err)
	}
}
