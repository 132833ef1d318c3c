package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/telegram/telegramtest"
)

const (
	botToken      = "123456:test-token"
	webhookSecret = "s3cret-hook"
)

// telegramFixture is an order fixture whose app has the company's bot,
// on a fake Bot API; alice's Telegram is chat aliceChat once connected.
type telegramFixture struct {
	*orderFixture
	t       *testing.T
	bot     *telegramtest.Server
	updates int64 // the last update's id
}

const aliceChat = 7_001

func newTelegramFixture(t *testing.T, cfg Config) *telegramFixture {
	bot := telegramtest.New(t, botToken)
	cfg.Telegram = TelegramConfig{Token: botToken, Username: "TozalashBot", APIURL: bot.URL, WebhookSecret: webhookSecret, PollTimeout: time.Second}
	return &telegramFixture{orderFixture: newOrderFixtureWith(t, cfg), t: t, bot: bot}
}

// update posts m to the webhook as Telegram would (secret: the header).
func (f *telegramFixture) update(secret string, m telegramtest.Message) response {
	f.t.Helper()
	f.updates++
	b, _ := json.Marshal(telegramtest.Update{UpdateID: f.updates, Message: &m})
	h := map[string]string{}
	if secret != "" {
		h["X-Telegram-Bot-Api-Secret-Token"] = secret
	}
	return f.a.do(request{method: "POST", path: "/telegram/webhook", body: string(b), contentType: "application/json", headers: h})
}

// person is a Telegram user writing from chat, in lang.
func person(chat int64, lang string) telegramtest.User {
	return telegramtest.User{ID: chat, FirstName: "Alisa", Username: "alisa_" + strconv.FormatInt(chat, 10), LanguageCode: lang}
}

// linkToken asks for a connect link as token's user and returns its token.
func (f *telegramFixture) linkToken(token string) string {
	f.t.Helper()
	r := f.a.api(token).do("POST", "/me/telegram", "")
	if r.status != 200 {
		f.t.Fatalf("POST /me/telegram = %d %s", r.status, r.body)
	}
	link, _ := jsonField(f.t, r.body, "url").(string)
	prefix := "https://t.me/TozalashBot?start="
	if !strings.HasPrefix(link, prefix) || len(link) == len(prefix) {
		f.t.Fatalf("the connect link = %q", link)
	}
	return strings.TrimPrefix(link, prefix)
}

// connectAlice connects alice's Telegram to aliceChat (what the bot said
// before is forgotten, so its answer is this connection's).
func (f *telegramFixture) connectAlice() {
	f.t.Helper()
	f.bot.Reset()
	if r := f.update(webhookSecret, telegramtest.TextMessage(aliceChat, person(aliceChat, "uz"), "/start "+f.linkToken(f.alice))); r.status != 200 {
		f.t.Fatalf("webhook = %d %s", r.status, r.body)
	}
	f.bot.WaitFor(aliceChat, "Tayyor", 10*time.Second)
}

func (f *telegramFixture) user(t *testing.T, id primitive.ObjectID) *store.User {
	t.Helper()
	u, err := f.a.h.users.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Connecting by the profile's one-time link: the bot answers in the
// customer's language, the profile shows the chat; a link used twice, or
// too late, or an update without the webhook's secret connects nothing.
func TestTelegramConnectByDeepLink(t *testing.T) {
	f := newTelegramFixture(t, Config{})
	token := f.linkToken(f.alice)
	start := telegramtest.TextMessage(aliceChat, person(aliceChat, "ru"), "/start "+token)
	for _, c := range []struct {
		name, secret string
	}{{"no secret", ""}, {"a wrong secret", "guess"}} {
		if r := f.update(c.secret, start); r.status != 401 {
			t.Errorf("%s: webhook = %d, want 401", c.name, r.status)
		}
	}
	if u := f.user(t, f.aliceU.ID); u.Telegram != nil {
		t.Fatalf("connected without the secret: %+v", u.Telegram)
	}
	if r := f.update(webhookSecret, start); r.status != 200 {
		t.Fatalf("webhook = %d %s", r.status, r.body)
	}
	// alice's language is Uzbek, whatever her Telegram's.
	f.bot.WaitFor(aliceChat, "Tayyor!", 10*time.Second)
	if u := f.user(t, f.aliceU.ID); u.Telegram == nil || u.Telegram.ChatID != aliceChat || u.Telegram.Username != "alisa_7001" {
		t.Fatalf("alice's Telegram = %+v", u.Telegram)
	}
	// Telegram sending the update again says nothing twice.
	f.updates--
	if r := f.update(webhookSecret, start); r.status != 200 {
		t.Fatalf("the update again = %d", r.status)
	}
	// The same link from another chat: used, in that user's language.
	const other = 7_002
	f.update(webhookSecret, telegramtest.TextMessage(other, person(other, "ru"), "/start "+token))
	f.bot.WaitFor(other, "больше не действует", 10*time.Second)
	// A link opened 16 minutes on: expired.
	late := f.linkToken(f.bob)
	f.clock.advance(16 * time.Minute)
	f.update(webhookSecret, telegramtest.TextMessage(other, person(other, "en"), "/start "+late))
	f.bot.WaitFor(other, "has expired", 10*time.Second)
	if u := f.user(t, f.bobU.ID); u.Telegram != nil {
		t.Errorf("bob connected by an expired link: %+v", u.Telegram)
	}
	if u := f.user(t, f.aliceU.ID); u.Telegram == nil || u.Telegram.ChatID != aliceChat {
		t.Errorf("alice's Telegram after the other chat's tries = %+v", u.Telegram)
	}
	if n := len(f.bot.Sent()); n != 3 {
		t.Errorf("the bot said %d things, want 3 (connected, used, expired): %+v", n, f.bot.Sent())
	}
	// What the customer sees.
	if r := f.a.api(f.alice).do("GET", "/me", ""); !strings.Contains(r.body, `"chatId":7001`) {
		t.Errorf("GET /me: %s", r.body)
	}
	b := f.signIn("alice@example.uz")
	page := b.get("/me")
	if !strings.Contains(page.body, `data-testid="telegram-connected"`) || !strings.Contains(page.body, "@alisa_7001") {
		t.Errorf("the profile does not show the chat")
	}
	// The bot's commands.
	f.book(t, f.alice, "tg-orders")
	f.update(webhookSecret, telegramtest.TextMessage(aliceChat, person(aliceChat, "uz"), "/orders"))
	list := f.bot.WaitFor(aliceChat, "Yaqin tashriflaringiz", 10*time.Second)
	if !strings.Contains(list.Text, "/orders/") {
		t.Errorf("/orders answered: %s", list.Text)
	}
	f.update(webhookSecret, telegramtest.TextMessage(aliceChat, person(aliceChat, "uz"), "/stop"))
	f.bot.WaitFor(aliceChat, "uzildi", 10*time.Second)
	if u := f.user(t, f.aliceU.ID); u.Telegram != nil {
		t.Errorf("after /stop: %+v", u.Telegram)
	}
	f.update(webhookSecret, telegramtest.TextMessage(aliceChat, person(aliceChat, "uz"), "/orders"))
	f.bot.WaitFor(aliceChat, "hech bir hisobga ulanmagan", 10*time.Second)
	// The profile's button connects again; its form disconnects.
	f.connectAlice()
	r := b.postForm("/me/telegram/disconnect", url.Values{})
	if r.status != 303 && r.status != 200 {
		t.Fatalf("disconnect form = %d", r.status)
	}
	if u := f.user(t, f.aliceU.ID); u.Telegram != nil {
		t.Errorf("after the profile's disconnect: %+v", u.Telegram)
	}
}

// Without a token, Telegram is off: the profile says nothing of it and
// its routes are not there.
func TestTelegramOff(t *testing.T) {
	f := newOrderFixture(t)
	if r := f.a.api(f.alice).do("POST", "/me/telegram", ""); r.status != 404 {
		t.Errorf("POST /me/telegram = %d, want 404", r.status)
	}
	if r := f.a.do(request{method: "POST", path: "/telegram/webhook", body: "{}", contentType: "application/json", headers: map[string]string{"X-Telegram-Bot-Api-Secret-Token": webhookSecret}}); r.status != 404 {
		t.Errorf("the webhook = %d, want 404", r.status)
	}
	b := f.signIn("alice@example.uz")
	if page := b.get("/me"); strings.Contains(page.body, "telegram-card") {
		t.Errorf("the profile offers Telegram while it is off")
	}
	if r := f.a.api(f.alice).do("GET", "/me/notifications", ""); r.status != 200 || strings.Contains(r.body, `"telegram":{`) {
		t.Errorf("GET /me/notifications = %d %s", r.status, r.body)
	}
}

// The choices by event: each event's channels, an unknown event or channel
// refused with nothing written; a booking and the reminders then go on the
// channels chosen.
func TestTelegramNotificationChoices(t *testing.T) {
	f := newTelegramFixture(t, Config{})
	f.connectAlice()
	api := f.a.api(f.alice)
	r := api.do("GET", "/me/notifications", "")
	if r.status != 200 || !strings.Contains(r.body, `"reminder":["email","telegram"]`) || !strings.Contains(r.body, `"connected":true`) {
		t.Fatalf("the defaults = %d %s", r.status, r.body)
	}
	for _, bad := range []string{`{"events":{"birthday":["email"]}}`, `{"events":{"reminder":["sms"]}}`, `{}`, `[`} {
		if r := api.do("PUT", "/me/notifications", bad); r.status != 422 && r.status != 400 {
			t.Errorf("PUT %s = %d %s, want 422", bad, r.status, r.body)
		}
	}
	if u := f.user(t, f.aliceU.ID); len(u.Notify) != 0 {
		t.Fatalf("a refused change wrote %v", u.Notify)
	}
	// Reminders on Telegram only; the booking on both (the default).
	r = api.do("PUT", "/me/notifications", `{"events":{"reminder":["telegram","telegram"],"chat":[]}}`)
	if r.status != 200 || !strings.Contains(r.body, `"reminder":["telegram"]`) || !strings.Contains(r.body, `"chat":[]`) || !strings.Contains(r.body, `"confirmed":["email","telegram"]`) {
		t.Fatalf("PUT = %d %s", r.status, r.body)
	}
	// Three days ahead: a visit booked within the day before it gets no
	// day reminder (the confirmation was one), whatever the hour the test
	// runs at.
	o := f.bookAt(t, f.alice, "tg-choices", slot(3, 10, 0))
	f.a.smtp.WaitForText("alice@example.uz", views0(o), 10*time.Second)
	f.bot.WaitFor(aliceChat, views0(o), 10*time.Second)
	f.at(o, 23*time.Hour+50*time.Minute)
	if n := sendReminders(t, f.a); n != 1 {
		t.Fatalf("reminders queued = %d, want 1", n)
	}
	f.bot.WaitFor(aliceChat, dayReminder, 10*time.Second)
	if n := reminders([]*testApp{f.a}, "alice@example.uz", dayReminder, views0(o)); n != 0 {
		t.Errorf("%d reminder emails, want none (Telegram only)", n)
	}
	// The confirmation by Telegram alone: the commit queues no email (one
	// would be in the queue by the 201), and the message still carries the
	// order's number.
	emails := func() (n int) {
		for _, col := range []string{"outbox", "outboxSent"} {
			docs, err := f.a.db.RawFind(context.Background(), col)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				if d["channel"] != store.ChannelTelegram && d["to"] == "alice@example.uz" {
					n++
				}
			}
		}
		return n
	}
	if r := api.do("PUT", "/me/notifications", `{"events":{"confirmed":["telegram"]}}`); r.status != 200 {
		t.Fatalf("PUT = %d %s", r.status, r.body)
	}
	before := emails()
	alone := f.bookAt(t, f.alice, "tg-alone", slot(4, 10, 0))
	if n := emails() - before; n != 0 {
		t.Errorf("%d emails queued for a confirmation wanted by Telegram alone", n)
	}
	f.bot.WaitFor(aliceChat, views0(alone), 10*time.Second)
	// The page's form: unticked boxes are channels dropped.
	b := f.signIn("alice@example.uz")
	if page := b.get("/me/notifications"); !strings.Contains(page.body, `data-testid="notify-reminder-telegram"`) {
		t.Fatalf("the page has no Telegram box")
	}
	form := url.Values{"confirmed.email": {"on"}, "reminder.email": {"on"}, "reminder.telegram": {"on"}, "completed.telegram": {"on"}}
	if r := b.postForm("/me/notifications", form); r.status != 303 && r.status != 200 {
		t.Fatalf("the form = %d %s", r.status, r.body)
	}
	got := f.user(t, f.aliceU.ID).NotifyChoices()
	want := store.NotifyPrefs{"confirmed": {"email"}, "reminder": {"email", "telegram"}, "onTheWay": {}, "completed": {"telegram"}, "chat": {}}
	for e, ch := range want {
		if strings.Join(got[e], ",") != strings.Join(ch, ",") {
			t.Errorf("%s: %v, want %v", e, got[e], ch)
		}
	}
}

// views0 is an order's number as the messages write it.
func views0(o *store.Order) string { return "#" + strconv.FormatInt(o.Seq, 10) }

// Reminders on Telegram: once with two instances racing for them, none for
// a visit cancelled meanwhile.
func TestTelegramRemindersOnceAndNotForCancelled(t *testing.T) {
	f := newTelegramFixture(t, Config{})
	f.connectAlice()
	if r := f.a.api(f.alice).do("PUT", "/me/notifications", `{"events":{"reminder":["telegram"]}}`); r.status != 200 {
		t.Fatal(r.body)
	}
	other := newTestAppWith(t, f.a.db, Config{Now: f.clock.Now, Telegram: f.a.h.cfg.Telegram}) // a second instance
	cancelled := f.book(t, f.alice, "tg-cancelled")                                            // tomorrow
	kept := f.book(t, f.alice, "tg-kept")                                                      // the day after
	if r := f.a.api(f.alice).do("PATCH", "/orders/"+cancelled.ID.Hex(), `{"status":"CANCELLED"}`); r.status != 200 {
		t.Fatalf("cancel = %d %s", r.status, r.body)
	}
	f.at(cancelled, 2*time.Hour-5*time.Minute)
	if n := sendReminders(t, f.a, other); n != 0 {
		t.Errorf("%d reminders of a cancelled visit", n)
	}
	f.at(kept, 2*time.Hour-5*time.Minute)
	sendReminders(t, f.a, other, f.a, other)
	f.bot.WaitFor(aliceChat, hoursReminder, 10*time.Second)
	n := 0
	for _, s := range f.bot.Sent() {
		if strings.Contains(s.Text, hoursReminder) {
			n++
			if !strings.Contains(s.Text, views0(kept)) {
				t.Errorf("a reminder of another visit: %s", s.Text)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d two-hour reminders on Telegram, want 1", n)
	}
}

// Telegram's 429 is honoured (the message goes again after retry_after,
// not given up); a chat that blocked the bot (403) is disconnected and
// its message not tried again.
func TestTelegramSendingRetriesAndBlocked(t *testing.T) {
	f := newTelegramFixture(t, Config{})
	f.connectAlice()
	f.bot.FailNext(429, 1)
	o := f.book(t, f.alice, "tg-429")
	f.bot.WaitFor(aliceChat, views0(o), 15*time.Second)
	var attempts any
	var waited time.Duration
	waitUntil(t, "the booking's Telegram message recorded as sent", func() bool {
		sent, _ := f.a.db.RawFind(context.Background(), "outboxSent")
		for _, d := range sent {
			if d["channel"] == store.ChannelTelegram && d["subject"] != "" { // the booking's (the bot's answers have none)
				attempts = d["attempts"]
				waited = d["sentAt"].(primitive.DateTime).Time().Sub(d["createdAt"].(primitive.DateTime).Time())
				return true
			}
		}
		return false
	})
	// The worker's own back-off here is 100 ms: a second later is
	// Telegram's retry_after; and a 429 is no failed try.
	if (attempts != int32(1) && attempts != int64(1)) || waited < time.Second {
		t.Errorf("the booking's Telegram message went on try %v, %v after it was queued; want the first counted (a 429 is not a failed try), after retry_after's 1 s", attempts, waited)
	}
	f.bot.Block(aliceChat)
	blocked := f.book(t, f.alice, "tg-403")
	f.a.smtp.WaitForText("alice@example.uz", views0(blocked), 10*time.Second)
	waitUntil(t, "the chat that blocked the bot disconnected", func() bool { return f.user(t, f.aliceU.ID).Telegram == nil })
	waitUntil(t, "the blocked message failed, not to be tried again", func() bool {
		docs, _ := f.a.db.RawFind(context.Background(), "outbox")
		for _, d := range docs {
			if d["channel"] == store.ChannelTelegram && d["status"] == store.EmailFailed && strings.Contains(d["lastError"].(string), "403") {
				return true
			}
		}
		return false
	})
}

// Without a public https address the updates come by long polling, one
// instance at a time, from where the last poll left off.
func TestTelegramLongPolling(t *testing.T) {
	f := newTelegramFixture(t, Config{}) // BASE_URL is http: no webhook
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.a.h.RunTelegram(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	if u, _ := f.bot.Webhook(); u != "" {
		t.Errorf("a webhook was set: %s", u)
	}
	id := f.bot.PushUpdate(telegramtest.TextMessage(aliceChat, person(aliceChat, "uz"), "/start "+f.linkToken(f.alice)))
	f.bot.WaitFor(aliceChat, "Tayyor", 10*time.Second)
	if u := f.user(t, f.aliceU.ID); u.Telegram == nil || u.Telegram.ChatID != aliceChat {
		t.Fatalf("alice's Telegram = %+v", u.Telegram)
	}
	waitUntil(t, "the poll's offset recorded", func() bool {
		next, err := f.a.db.TelegramOffset(context.Background())
		return err == nil && next == id+1
	})
}

// signIn is a browser signed in as email (the fixture's password).
func (f *orderFixture) signIn(email string) *browser {
	b := f.a.browser()
	if r := b.postForm("/auth/login", url.Values{"email": {email}, "password": {"toza-uy-2026"}, "next": {"/me"}}); r.status != 303 {
		f.a.t.Fatalf("login form = %d", r.status)
	}
	return b
}

// What was chosen for Telegram alone goes by email once Telegram cannot
// reach the customer (they said /stop); a message queued for their chat
// before they disconnected is not sent to it; an old /stop handled again
// (a webhook retried) does not disconnect them a second time.
func TestTelegramNothingLostNothingMisdirected(t *testing.T) {
	f := newTelegramFixture(t, Config{})
	f.connectAlice()
	if r := f.a.api(f.alice).do("PUT", "/me/notifications", `{"events":{"reminder":["telegram"]}}`); r.status != 200 {
		t.Fatal(r.body)
	}
	o := f.book(t, f.alice, "tg-fallback")
	stop := telegramtest.TextMessage(aliceChat, person(aliceChat, "uz"), "/stop")
	f.update(webhookSecret, stop)
	f.bot.WaitFor(aliceChat, "uzildi", 10*time.Second)
	stopID := f.updates
	f.at(o, 2*time.Hour-5*time.Minute)
	if n := sendReminders(t, f.a); n != 1 {
		t.Fatalf("reminders queued = %d, want 1", n)
	}
	reminderText(t, []*testApp{f.a}, "alice@example.uz", hoursReminder, views0(o))

	// Connected again; a message held back by Telegram (429) is for this
	// chat, and the customer disconnects before it goes.
	f.connectAlice()
	f.bot.FailNext(429, 1)
	held := f.book(t, f.alice, "tg-held")
	waitUntil(t, "the booking's Telegram message throttled", func() bool {
		docs, _ := f.a.db.RawFind(context.Background(), "outbox")
		for _, d := range docs {
			if d["channel"] == store.ChannelTelegram && strings.Contains(fmt.Sprint(d["lastError"]), "429") {
				return true
			}
		}
		return false
	})
	if r := f.a.api(f.alice).do("DELETE", "/me/telegram", ""); r.status != 204 {
		t.Fatalf("DELETE /me/telegram = %d", r.status)
	}
	waitUntil(t, "the held message given up", func() bool {
		docs, _ := f.a.db.RawFind(context.Background(), "outbox")
		for _, d := range docs {
			if d["channel"] == store.ChannelTelegram && d["status"] == store.EmailFailed && strings.Contains(fmt.Sprint(d["lastError"]), "no longer this chat") {
				return true
			}
		}
		return false
	})
	for _, s := range f.bot.Sent() {
		if strings.Contains(s.Text, views0(held)) {
			t.Errorf("sent to a chat no longer the customer's: %s", s.Text)
		}
	}

	// The old /stop again: handled once, it does nothing now.
	f.connectAlice()
	b, _ := json.Marshal(telegramtest.Update{UpdateID: stopID, Message: &stop})
	if r := f.a.do(request{method: "POST", path: "/telegram/webhook", body: string(b), contentType: "application/json",
		headers: map[string]string{"X-Telegram-Bot-Api-Secret-Token": webhookSecret}}); r.status != 200 {
		t.Fatalf("the old update = %d", r.status)
	}
	if u := f.user(t, f.aliceU.ID); u.Telegram == nil {
		t.Error("an old /stop handled again disconnected the customer")
	}
}
