package e2e

import (
	"context"
	"errors"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/handlers"
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

// The app opened on another name of the same site (the server listens on
// 127.0.0.1; BASE_URL says localhost). Without that origin in
// ALLOWED_ORIGINS the socket is refused: the widget says the chat is not
// connected and a message typed stays in the box, nothing stored. With it,
// the message goes and the box empties once the server acknowledged it.
func TestChatOnAnotherHostName(t *testing.T) {
	for _, allowed := range []bool{false, true} {
		name := map[bool]string{false: "not allowed", true: "allowed"}[allowed]
		t.Run(name, func(t *testing.T) {
			s := startAppWith(t, func(base string, cfg *handlers.Config) {
				cfg.BaseURL = strings.Replace(base, "127.0.0.1", "localhost", 1)
				if allowed {
					cfg.AllowedOrigins = []string{base}
				}
			})
			madina := s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
			b := newBrowser(t, 1280, 900)
			b.login(t, s.base, "madina@example.uz", "toza-uy-2026")
			const text = "Salom! Gilamni qachon olib ketasiz?"
			b.do(t,
				chromedp.Navigate(s.base+"/services"),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="chat-open"]`)),
				htmxReady,
				chromedp.Click(chromedp.CSS(`[data-testid="chat-open"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="chat-start-support"]`)),
				chromedp.Click(chromedp.CSS(`[data-testid="chat-start-support"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="chat-text"]`)),
				htmxSettled,
			)
			notice := `document.querySelector('[data-testid="chat-widget"] [data-testid="chat-notice"]')`
			if !allowed { // the refusal is seen before anyone sends
				b.poll(t, notice+`.offsetParent !== null`)
			}
			b.do(t,
				chromedp.SendKeys(chromedp.CSS(`[data-testid="chat-text"]`), text),
				chromedp.Click(chromedp.CSS(`[data-testid="chat-send"]`)),
			)
			conv := store.SupportConversationID(madina.ID)
			if !allowed {
				b.poll(t, notice+`.offsetParent !== null && `+notice+`.innerText.includes("Chat ulanmagan")`)
				if v := get(t, b, chromedp.Evaluate[string](`document.getElementById('chat-text').value`)); v != text {
					t.Errorf("the box holds %q after a send that could not go", v)
				}
				if n := get(t, b, chromedp.Evaluate[int](`document.querySelectorAll('#chat-log [data-testid="chat-message"]').length`)); n != 0 {
					t.Errorf("%d messages shown", n)
				}
				if msgs := s.history(t, conv); len(msgs) != 0 {
					t.Errorf("%d messages stored", len(msgs))
				}
				b.screenshot(t, "chat-not-connected")
				return
			}
			b.poll(t, `document.querySelectorAll('#chat-log [data-testid="chat-message"]').length === 1`)
			b.poll(t, `document.getElementById('chat-text').value === ""`) // acknowledged
			if shown := get(t, b, chromedp.Evaluate[bool](notice+`.offsetParent !== null`)); shown {
				t.Errorf("the widget shows a notice: %q", b.text(t, `[data-testid="chat-widget"] [data-testid="chat-notice"]`))
			}
			if msgs := s.history(t, conv); len(msgs) != 1 || msgs[0].Body != text {
				t.Errorf("stored: %+v", msgs)
			}
			// A message the server refuses (blank) is marked not sent; the
			// text stays.
			b.do(t,
				chromedp.SendKeys(chromedp.CSS(`[data-testid="chat-text"]`), "   "),
				chromedp.Click(chromedp.CSS(`[data-testid="chat-send"]`)),
			)
			b.poll(t, notice+`.offsetParent !== null && `+notice+`.innerText.includes("Xabar yuborilmadi")`)
			if v := get(t, b, chromedp.Evaluate[string](`document.getElementById('chat-text').value`)); v != "   " {
				t.Errorf("the box holds %q after a refused message", v)
			}
			b.checkNoProblems(t)
		})
	}
}

// history is what the store holds of a conversation (none: nothing).
func (s *site) history(t *testing.T, id string) []store.Message {
	t.Helper()
	chats := store.NewChatStore(s.db)
	conv, err := chats.Get(context.Background(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	msgs, _, err := chats.History(context.Background(), conv, primitive.NilObjectID, 50)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// Pages open no chat socket until the chat is opened; the badge still
// shows what another user sent meanwhile (it asks /chat/unread). Opening
// the widget opens exactly one socket.
func TestChatSocketOnlyWhenOpened(t *testing.T) {
	s := startApp(t)
	boss := s.createUser(t, "boss", "boss@tozalash.uz", "boshliq-parol-2026", store.RoleAdmin)
	madina := s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
	b := newBrowser(t, 1280, 900)
	var mu sync.Mutex
	var sockets []string
	// Listen, not Events: it sees each event before the reply to a later
	// command, so a count read after a step includes what that step opened.
	if err := chromedp.Listen(b.ctx, func(ev any) {
		if ws, ok := ev.(*network.EventWebSocketCreated); ok {
			mu.Lock()
			sockets = append(sockets, ws.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	opened := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(sockets)
	}
	badge := `document.querySelector('[data-testid="chat-widget"] [data-testid="chat-badge"]')`
	b.login(t, s.base, "madina@example.uz", "toza-uy-2026")
	for i, path := range []string{"/services", "/orders", "/me"} {
		b.do(t, chromedp.Navigate(s.base+path), chromedp.WaitVisible(chromedp.CSS(`[data-testid="chat-open"]`)), htmxReady)
		if i == 1 { // support writes to her while she has no socket
			s.orderThread(t, madina, boss, "Buyurtmangiz tasdiqlandi.")
		}
		if i == 2 { // the next page's badge has it
			b.poll(t, badge+`.textContent === "1" && !`+badge+`.classList.contains("hidden")`)
		}
	}
	b.do(t, htmxSettled)
	if n := opened(); n != 0 {
		t.Fatalf("three pages opened %d chat sockets: %v", n, sockets)
	}
	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="chat-open"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="chat-inbox"] [data-testid="chat-conversation"]`)), // the socket's list
		chromedp.Click(chromedp.CSS(`[data-testid="chat-conversation"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#chat-log [data-testid="chat-message"]`)),
		htmxSettled,
	)
	b.poll(t, badge+`.classList.contains("hidden")`) // read now, told by the socket
	if n := opened(); n != 1 {
		t.Errorf("opening the chat opened %d sockets: %v", n, sockets)
	}
	b.checkNoProblems(t)
}
