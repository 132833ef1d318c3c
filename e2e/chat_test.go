package e2e

import (
	"context"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// orderThread puts an order conversation of customer into the store with
// one answer of support in it, as if support had written about the order.
func (s *site) orderThread(t *testing.T, customer, agent *store.User, body string) string {
	t.Helper()
	chats := store.NewChatStore(s.db)
	order := primitive.NewObjectID()
	conv := &store.Conversation{ID: store.OrderConversationID(order), Kind: store.ChatOrder, Members: []primitive.ObjectID{customer.ID}, OrderID: order}
	conv, _, err := chats.Open(context.Background(), conv, map[string]string{customer.ID.Hex(): "Gilam yuvish · 06.12", store.SupportInbox: customer.Username})
	if err != nil {
		t.Fatal(err)
	}
	m := &store.Message{SenderID: agent.ID, SenderName: agent.Username, Body: body}
	if err := chats.Post(context.Background(), conv, m, []string{customer.ID.Hex()}, store.SupportInbox); err != nil {
		t.Fatal(err)
	}
	return conv.ID
}

// waitResponse waits for the page's answer to a request whose URL has
// part, and returns its status.
func (b *browser) waitResponse(t *testing.T, events iter.Seq2[network.EventResponseReceived, error], part string) int64 {
	t.Helper()
	for ev, err := range events {
		if err != nil {
			t.Fatalf("no answer to %s: %v", part, err)
		}
		if strings.Contains(ev.Response.URL, part) {
			return ev.Response.Status
		}
	}
	t.Fatalf("no answer to %s", part)
	return 0
}

// A conversation opened by its link (/chat?c=order:…) shows its messages,
// and the catch-up the page asks for when its socket opens (the id
// escaped, order%3A…) is answered, not "Sahifa topilmadi".
func TestChatOpensOrderConversationByLink(t *testing.T) {
	s := startApp(t)
	boss := s.createUser(t, "boss", "boss@tozalash.uz", "boshliq-parol-2026", store.RoleAdmin)
	madina := s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
	conv := s.orderThread(t, madina, boss, "Ertaga soat 10 da kelamiz.")

	b := newBrowser(t, 1280, 900)
	b.login(t, s.base, "madina@example.uz", "toza-uy-2026")
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	responses := chromedp.Events(ctx, network.ResponseReceived)
	b.do(t,
		chromedp.Navigate(s.base+"/chat?c="+conv),
		chromedp.WaitVisible(chromedp.CSS(`#chat-log [data-testid="chat-message"]`)),
	)
	if status := b.waitResponse(t, responses, "/chat/conversations/order%3A"+strings.TrimPrefix(conv, "order:")+"/messages"); status != 200 {
		t.Errorf("the catch-up answered %d", status)
	}
	b.do(t, htmxSettled)
	if body := b.text(t, `#chat-log [data-testid="chat-body"]`); body != "Ertaga soat 10 da kelamiz." {
		t.Errorf("the conversation shows %q", body)
	}
	if toast := get(t, b, chromedp.Evaluate[string](`document.querySelector('[data-testid="toast"]').innerText.trim()`)); toast != "" {
		t.Errorf("the page shows %q", toast)
	}
	b.checkNoProblems(t)
}
