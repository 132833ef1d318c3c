package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tozalash/handlers"
	"tozalash/store"
	"tozalash/telegram/telegramtest"
)

// On a phone: the profile offers Telegram; once the bot is started with
// the link, the profile shows the chat; the notification choices are
// ticked and saved; and Telegram is disconnected again.
func TestPhoneTelegramAndNotificationChoices(t *testing.T) {
	const token, secret = "42:e2e-token", "e2e-webhook-secret-0123456789"
	bot := telegramtest.New(t, token)
	s := startAppWith(t, func(base string, cfg *handlers.Config) {
		cfg.Telegram = handlers.TelegramConfig{Token: token, Username: "TozalashBot", APIURL: bot.URL, WebhookSecret: secret}
	})
	u := s.createUser(t, "nodira", "nodira@example.uz", "toza-uy-2026", store.RoleUser)
	b := newBrowser(t, 390, 844)
	b.login(t, s.base, "nodira@example.uz", "toza-uy-2026")
	b.do(t,
		chromedp.Navigate(s.base+"/me"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="telegram-connect"]`)),
	)
	// The button opens the bot with a one-time link (t.me is outside the
	// test): the person presses Start there, which the webhook brings.
	link, err := store.NewTelegramStore(s.db).NewLinkToken(context.Background(), u.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m := telegramtest.TextMessage(555, telegramtest.User{ID: 555, FirstName: "Nodira", Username: "nodira_tg", LanguageCode: "uz"}, "/start "+link)
	body, _ := json.Marshal(telegramtest.Update{UpdateID: 1, Message: &m})
	req, _ := http.NewRequest("POST", s.base+"/telegram/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("the webhook: %v %v", res, err)
	}
	res.Body.Close()
	if said := bot.WaitFor(555, "nodira", 10*time.Second); !strings.Contains(said.Text, "Tayyor") {
		t.Errorf("the bot said: %s", said.Text)
	}
	b.do(t,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="telegram-connected"]`)),
	)
	if got := b.text(t, `[data-testid="telegram-connected"]`); !strings.Contains(got, "@nodira_tg") {
		t.Errorf("the profile says %q", got)
	}
	// The choices: reminders by Telegram alone.
	b.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="notifications-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="notify-form"]`)),
		htmxReady,
		chromedp.Click(chromedp.CSS(`[data-testid="notify-reminder-email"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="notify-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash-slot"] [role="status"], [data-testid="flash-slot"] p`)),
	)
	b.screenshot(t, "telegram-notifications-phone")
	checked := func(box string) bool {
		return get(t, b, chromedp.Evaluate[bool](`document.querySelector('[data-testid="`+box+`"]').checked`))
	}
	if checked("notify-reminder-email") || !checked("notify-reminder-telegram") || !checked("notify-confirmed-email") {
		t.Errorf("after saving: reminder by email %v, by Telegram %v; confirmed by email %v", checked("notify-reminder-email"), checked("notify-reminder-telegram"), checked("notify-confirmed-email"))
	}
	if saved, _ := store.NewUserStore(s.db).Get(context.Background(), u.ID); strings.Join(saved.NotifyChoices()["reminder"], ",") != "telegram" {
		t.Errorf("stored: %v", saved.NotifyChoices())
	}
	// Disconnected from the profile (its confirmation accepted).
	b.do(t,
		chromedp.Navigate(s.base+"/me"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="telegram-disconnect"]`)),
		htmxReady,
		chromedp.Click(chromedp.CSS(`[data-testid="telegram-disconnect"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="telegram-connect"]`)),
	)
	b.checkNoProblems(t)
}
