package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/mail"
	"tozalash/store"
	"tozalash/telegram"
	"tozalash/views"
)

// Telegram (#24). A customer connects the company's bot from their profile
// with a one-time link (t.me/<bot>?start=<token>); the bot's updates come
// by webhook (POST /telegram/webhook) or, without a public https address,
// by long polling from one instance at a time (RunTelegram). Everything
// the bot says goes through the outbox, as email does: durable, retried,
// sent once (see tell).

// TelegramConfig is the bot; an empty Token turns Telegram off.
type TelegramConfig struct {
	Token, Username, APIURL, WebhookSecret string
	// PollTimeout is a long poll's wait (25 s when zero).
	PollTimeout time.Duration
}

func (c TelegramConfig) on() bool { return c.Token != "" }

// webhook reports whether updates come by webhook: a secret to check
// them by, and a public https address to send them to.
func (h *Handler) webhook() bool {
	return h.cfg.Telegram.WebhookSecret != "" && strings.HasPrefix(h.cfg.BaseURL, "https://")
}

type telegramLinkOut struct {
	URL string `json:"url"`
}

// ConnectTelegram is POST /me/telegram: a one-time link (15 minutes) that
// opens the bot, which connects the chat it is opened in. JSON clients get
// {"url"}; a form post goes there (303). 404 while Telegram is off.
func (h *Handler) ConnectTelegram(c *fiber.Ctx) error {
	if !h.cfg.Telegram.on() {
		return fiber.ErrNotFound
	}
	token, err := h.telegrams.NewLinkToken(ctx(c), currentUser(c).ID, h.now())
	if err != nil {
		return err
	}
	link := "https://t.me/" + h.cfg.Telegram.Username + "?start=" + token
	c.Set(fiber.HeaderCacheControl, "no-store")
	if wantsJSON(c) {
		return c.JSON(telegramLinkOut{URL: link})
	}
	if isFragment(c) {
		c.Set("HX-Redirect", link)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(link, fiber.StatusSeeOther)
}

// DisconnectTelegram is DELETE /me/telegram (and the profile's form, POST
// /me/telegram/disconnect): the bot says nothing more to this customer.
func (h *Handler) DisconnectTelegram(c *fiber.Ctx) error {
	if !h.cfg.Telegram.on() {
		return fiber.ErrNotFound
	}
	if err := h.telegrams.Disconnect(ctx(c), currentUser(c).ID); err != nil {
		return err
	}
	h.auth.forgetUser(currentUser(c).ID)
	if wantsJSON(c) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return h.done(c, "/me", "telegram.disconnected") // not "/me#…": htmx would only scroll
}

// TelegramWebhook is POST /telegram/webhook: an update from Telegram,
// whose X-Telegram-Bot-Api-Secret-Token must be the configured secret
// (401 otherwise, nothing done). It answers 200 once the update is
// handled; Telegram sends it again otherwise, and handling it twice says
// nothing twice (the bot's answers are keyed by the update).
func (h *Handler) TelegramWebhook(c *fiber.Ctx) error {
	secret := h.cfg.Telegram.WebhookSecret
	if !h.cfg.Telegram.on() || secret == "" {
		return fiber.ErrNotFound
	}
	if subtle.ConstantTimeCompare([]byte(c.Get("X-Telegram-Bot-Api-Secret-Token")), []byte(secret)) != 1 {
		// Telegram's client, not a person's: a plain 401, never the
		// sign-in page a browser would be sent to.
		return c.Status(fiber.StatusUnauthorized).JSON(fiber.Map{"error": "unauthorized"})
	}
	var u telegram.Update
	if err := c.BodyParser(&u); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "not a Telegram update")
	}
	if err := h.telegramUpdate(ctx(c), u); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
}

// RunTelegram gets the bot's updates until ctx ends. With a webhook it
// tells Telegram where to send them, once, and returns. Otherwise it long
// polls: of the instances sharing the database, one at a time, the one
// that claimed the current minute; the next update to ask for is kept in
// the database, so whoever polls next goes on from there.
func (h *Handler) RunTelegram(ctx context.Context) {
	if !h.cfg.Telegram.on() {
		return
	}
	if h.webhook() {
		if err := h.tg.SetWebhook(ctx, h.cfg.BaseURL+"/telegram/webhook", h.cfg.Telegram.WebhookSecret); err != nil && ctx.Err() == nil {
			h.log.Warn("telegram: setting the webhook", "error", err)
		}
		return
	}
	if err := h.tg.DeleteWebhook(ctx); err != nil && ctx.Err() == nil {
		h.log.Warn("telegram: removing a webhook", "error", err)
	}
	wait := h.cfg.Telegram.PollTimeout
	if wait <= 0 {
		wait = 25 * time.Second
	}
	for ctx.Err() == nil {
		now := time.Now()
		period := telegramPollPeriod
		if err := h.db.ClaimRun(ctx, "telegram-poll", period, now); err != nil {
			if !errors.Is(err, store.ErrConflict) && ctx.Err() == nil {
				h.log.Warn("telegram: claiming the poll", "error", err)
			}
			// Another instance polls this period: try the next.
			next := now.Truncate(period).Add(period)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(next)):
			}
			continue
		}
		end := now.Truncate(period).Add(period)
		for ctx.Err() == nil && time.Until(end) >= time.Second { // a long poll of a second at least
			if err := h.pollTelegram(ctx, min(wait, time.Until(end))); err != nil && ctx.Err() == nil {
				h.log.Warn("telegram: polling", "error", err)
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Second):
				}
			}
		}
	}
}

// telegramPollPeriod is how long one instance polls before the claim is
// asked for again.
const telegramPollPeriod = time.Minute

// pollTelegram asks for the next updates, waiting up to wait, handles
// them and records how far it got.
func (h *Handler) pollTelegram(ctx context.Context, wait time.Duration) error {
	offset, err := h.db.TelegramOffset(ctx)
	if err != nil {
		return err
	}
	updates, err := h.tg.GetUpdates(ctx, offset, wait.Truncate(time.Second))
	if err != nil {
		return err
	}
	for _, u := range updates {
		if err := h.telegramUpdate(ctx, u); err != nil {
			return err // asked for again next time (and then skipped: FirstSight)
		}
		if err := h.db.SetTelegramOffset(ctx, u.UpdateID+1); err != nil {
			return err
		}
	}
	return nil
}

// telegramUpdate handles one update: the bot's commands in a private
// chat. /start <token> connects the chat, /orders lists the customer's
// next visits, /stop disconnects; anything else gets the list of
// commands. The answer is in the customer's language, or else the
// Telegram user's.
func (h *Handler) telegramUpdate(ctx context.Context, u telegram.Update) error {
	m := u.Message
	if m == nil || m.Chat.Type != "private" || m.From == nil || m.From.IsBot {
		return nil // not a person writing to the bot
	}
	first, err := h.telegrams.FirstSight(ctx, u.UpdateID, m.Date, h.now())
	if err != nil || !first {
		return err // handled before: nothing twice
	}
	chat := m.Chat.ID
	lang := telegramLang(m.From.LanguageCode)
	customer, err := h.telegrams.UserOfChat(ctx, chat)
	switch {
	case err == nil:
		lang = localeOf(customer)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	loc := h.catalog.Locale(lang)
	command, arg, _ := strings.Cut(strings.TrimSpace(m.Text), " ")
	command, _, _ = strings.Cut(command, "@") // "/orders@TozalashBot" in a menu
	var answer string
	switch command {
	case "/start":
		var id string
		var who *store.User
		id, who, err = h.telegramStart(ctx, chat, m.From, strings.TrimSpace(arg))
		if err != nil {
			return err
		}
		if who != nil { // connected: in their language, naming the account
			loc = h.catalog.Locale(localeOf(who))
		}
		answer = loc.Format(id, map[string]any{"Name": telegramAccountName(who)})
	case "/orders":
		if customer == nil {
			answer = loc.T("telegram.notConnected")
			break
		}
		answer, err = h.telegramOrders(ctx, customer)
		if err != nil {
			return err
		}
	case "/stop":
		if _, err := h.telegrams.DisconnectChat(ctx, chat); err != nil {
			return err
		}
		answer = loc.T("telegram.stopped")
	default:
		answer = loc.T("telegram.help")
	}
	return h.botSays(ctx, chat, "update|"+strconv.FormatInt(u.UpdateID, 10), answer)
}

// telegramStart connects chat by the link's token, and says which message
// to answer with, and whose account it connected (nil: none).
func (h *Handler) telegramStart(ctx context.Context, chat int64, from *telegram.User, token string) (string, *store.User, error) {
	if token == "" {
		return "telegram.welcome", nil, nil
	}
	customer, err := h.telegrams.Connect(ctx, token, chat, from.Username, h.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "telegram.linkUsed", nil, nil
	case errors.Is(err, store.ErrLinkExpired):
		return "telegram.linkExpired", nil, nil
	case err != nil:
		return "", nil, err
	}
	h.auth.forgetUser(customer.ID)
	return "telegram.connected", customer, nil
}

// telegramAccountName is how the bot names the account it connected, so
// that a person who opened someone else's link sees whose it was: the
// username and the email's first letter and domain.
func telegramAccountName(u *store.User) string {
	if u == nil {
		return ""
	}
	local, domain, ok := strings.Cut(u.Email, "@")
	if !ok || local == "" {
		return u.Username
	}
	_, size := utf8.DecodeRuneInString(local)
	return u.Username + " (" + local[:size] + "***@" + domain + ")"
}

// telegramLang is the app's language for a Telegram user's: Uzbek first.
func telegramLang(code string) string {
	switch strings.ToLower(strings.SplitN(code, "-", 2)[0]) {
	case "ru":
		return "ru"
	case "en":
		return "en"
	}
	return "uz"
}

// telegramOrders is the answer to /orders: the customer's next visits,
// with their links.
func (h *Handler) telegramOrders(ctx context.Context, customer *store.User) (string, error) {
	lang := localeOf(customer)
	loc := h.catalog.Locale(lang)
	rows, err := h.orders.CalendarVisits(ctx, customer.ID, h.now(), 200)
	if err != nil {
		return "", err
	}
	rows = slices.DeleteFunc(rows, func(r store.OrderSummary) bool { return !store.Upcoming(r.Status) })
	slices.SortFunc(rows, func(a, b store.OrderSummary) int { return a.ScheduledAt.Compare(b.ScheduledAt) })
	if len(rows) == 0 {
		return loc.T("telegram.noOrders"), nil
	}
	var b strings.Builder
	b.WriteString(loc.T("telegram.nextOrders"))
	for _, r := range rows[:min(len(rows), 5)] {
		b.WriteString("\n\n" + views.OrderNo(r.Seq) + " · " + store.ServiceTitle(r.ServiceNames, r.ServiceName, lang, "") + "\n" +
			r.ScheduledAt.In(views.Tashkent).Format("02.01.2006 15:04") + " · " + loc.T("status."+r.Status) + "\n" +
			h.cfg.BaseURL + "/orders/" + r.ID.Hex())
	}
	return b.String(), nil
}

// botSays queues text to chat, once for key.
func (h *Handler) botSays(ctx context.Context, chat int64, key, text string) error {
	err := h.outbox.EnqueueOnce(ctx, "telegram|"+key, &store.Email{Channel: store.ChannelTelegram, ChatID: chat, To: "telegram:" + strconv.FormatInt(chat, 10), Text: text})
	if err == nil {
		h.emailQueued()
	}
	if errors.Is(err, store.ErrConflict) {
		return nil // said already
	}
	return err
}

// tell sends message e, an email to customer u, on the channels u wants
// for event ("": every channel u has, for news of an order they must
// hear of), or only on those of only: the email as it is, and on Telegram
// its subject and text. With a key each goes out once, however often it
// is asked for (ErrConflict when every one of them was queued before).
func (h *Handler) tell(ctx context.Context, u *store.User, event, key string, e *store.Email, only ...string) error {
	wants := func(channel string) bool {
		if len(only) > 0 && !slices.Contains(only, channel) {
			return false
		}
		if channel == store.ChannelTelegram && !h.telegramReaches(u) {
			return false
		}
		if channel == store.ChannelEmail {
			return h.wantsEmail(u, event)
		}
		return event == "" || u.Wants(event, channel)
	}
	var msgs []*store.Email
	var keys []string
	if wants(store.ChannelEmail) {
		msgs, keys = append(msgs, e), append(keys, key)
	}
	if wants(store.ChannelTelegram) {
		msgs = append(msgs, telegramCopy(e, u))
		if key != "" {
			keys = append(keys, key+"|telegram")
		} else {
			keys = append(keys, "")
		}
	}
	queued, conflicts := 0, 0
	for i, m := range msgs {
		var err error
		if keys[i] == "" {
			err = h.outbox.Enqueue(ctx, m)
		} else {
			err = h.outbox.EnqueueOnce(ctx, keys[i], m)
		}
		switch {
		case errors.Is(err, store.ErrConflict):
			conflicts++
		case err != nil:
			return err
		default:
			queued++
		}
	}
	if queued > 0 {
		h.emailQueued()
	}
	if conflicts > 0 && queued == 0 {
		return store.ErrConflict
	}
	return nil
}

// telegramReaches reports whether a message to u can go by Telegram now.
func (h *Handler) telegramReaches(u *store.User) bool {
	return h.cfg.Telegram.on() && u.Telegram != nil
}

// wantsEmail reports whether u hears of event ("": news every channel
// carries) by email: chosen, or chosen only on a Telegram that cannot
// reach them (off, or disconnected since: by /stop, or by blocking the
// bot), so that nothing they asked for is lost.
func (h *Handler) wantsEmail(u *store.User, event string) bool {
	return event == "" || u.Wants(event, store.ChannelEmail) ||
		slices.Contains(u.NotifyChoices()[event], store.ChannelTelegram) && !h.telegramReaches(u)
}

// telegramCopy is email e as the bot says it to u: its subject, then its
// text without the email's signature.
func telegramCopy(e *store.Email, u *store.User) *store.Email {
	text, _, _ := strings.Cut(e.Text, "\n\n-- \n")
	chat := u.Telegram.ChatID
	return &store.Email{Channel: store.ChannelTelegram, ChatID: chat, UserID: u.ID, To: "telegram:" + strconv.FormatInt(chat, 10), Subject: e.Subject,
		Text: strings.TrimSpace(e.Subject + "\n\n" + text)}
}

// notifyEvent is the customer's choice an order's email follows (see
// store.NotifyEvents): "" for news they hear of on every channel.
func notifyEvent(event string) string {
	switch event {
	case "created", store.StatusConfirmed:
		return "confirmed"
	case store.StatusOnTheWay:
		return "onTheWay"
	case store.StatusCompleted:
		return "completed"
	case "reminder" + reminderDay, "reminder" + reminderHours:
		return "reminder"
	}
	return ""
}

// notifyOut is GET/PUT /me/notifications' JSON.
type notifyOut struct {
	Events   store.NotifyPrefs `json:"events"`
	Telegram *telegramState    `json:"telegram,omitempty"` // absent while Telegram is off
}

type telegramState struct {
	Connected bool                `json:"connected"`
	Link      *store.TelegramLink `json:"link,omitempty"`
}

func (h *Handler) notifyOf(u *store.User) notifyOut {
	out := notifyOut{Events: u.NotifyChoices()}
	if h.cfg.Telegram.on() {
		out.Telegram = &telegramState{Connected: u.Telegram != nil, Link: u.Telegram}
	}
	return out
}

// Notifications is GET /me/notifications: the customer's channels for
// each event, as JSON or the page of checkboxes.
func (h *Handler) Notifications(c *fiber.Ctx) error {
	u := currentUser(c)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, fiber.StatusOK, h.notifyOf(u), page{
		title: h.meta(c).T("notify.title"),
		body:  views.NotificationsPage(h.notifyView(u, views.FormState{})),
	})
}

func (h *Handler) notifyView(u *store.User, f views.FormState) views.NotifyView {
	return views.NotifyView{Choices: u.NotifyChoices(), Events: store.NotifyEvents, Channels: h.notifyChannels(), TelegramOn: h.cfg.Telegram.on(),
		Telegram: u.Telegram, Form: f}
}

// notifyChannels are the channels a customer may choose here.
func (h *Handler) notifyChannels() []string {
	if h.cfg.Telegram.on() {
		return store.NotifyChannels
	}
	return []string{store.ChannelEmail}
}

type notifyIn struct {
	Events store.NotifyPrefs `json:"events"`
}

// UpdateNotifications is PUT /me/notifications {"events":{…}} (JSON) and
// the page's form (POST, a checkbox "<event>.<channel>" for each choice):
// the events given get exactly the channels given; 422 for an unknown
// event or channel, nothing written. While Telegram is off, an event's
// Telegram choice is kept as it was.
func (h *Handler) UpdateNotifications(c *fiber.Ctx) error {
	u := currentUser(c)
	var in notifyIn
	if wantsJSON(c) || strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		if err := c.BodyParser(&in); err != nil || in.Events == nil {
			return &ValidationError{Fields: map[string]string{"events": h.meta(c).T("notify.invalid")}}
		}
	} else {
		in.Events = store.NotifyPrefs{}
		for _, e := range store.NotifyEvents {
			in.Events[e] = []string{}
			for _, ch := range h.notifyChannels() {
				if c.FormValue(e+"."+ch) != "" {
					in.Events[e] = append(in.Events[e], ch)
				}
			}
		}
	}
	if err := in.Events.Validate(); err != nil {
		return &ValidationError{Fields: map[string]string{"events": h.meta(c).T("notify.invalid") + " (" + strings.TrimPrefix(err.Error(), "invalid: ") + ")"}}
	}
	if !h.cfg.Telegram.on() { // the form had no Telegram boxes: keep those choices
		before := u.NotifyChoices()
		for e, chosen := range in.Events {
			if slices.Contains(before[e], store.ChannelTelegram) {
				in.Events[e] = append(slices.DeleteFunc(chosen, func(ch string) bool { return ch == store.ChannelTelegram }), store.ChannelTelegram)
			}
		}
	}
	saved, err := h.users.SetNotify(ctx(c), u.ID, in.Events)
	if err != nil {
		return err
	}
	h.auth.forgetUser(u.ID)
	if wantsJSON(c) {
		return c.JSON(h.notifyOf(saved))
	}
	return h.done(c, "/me/notifications", "notify.saved")
}

// TelegramSender is the outbox worker's way to the bot (nil while
// Telegram is off): a chat that blocked the bot is disconnected.
func (h *Handler) TelegramSender() mail.Sender {
	if h.tg == nil {
		return nil
	}
	return mail.Telegram{Bot: h.tg, Current: h.currentChat, Blocked: func(ctx context.Context, chat int64) {
		u, err := h.telegrams.DisconnectChat(ctx, chat)
		if err != nil {
			h.log.Warn("telegram: disconnecting a chat that blocked the bot", "error", err)
			return
		}
		if u != nil {
			h.auth.forgetUser(u.ID)
		}
	}}
}

// offerTelegram puts the profile's Telegram part where the page shows it,
// while Telegram is on.
func (h *Handler) offerTelegram(c *fiber.Ctx) {
	if h.cfg.Telegram.on() && !wantsJSON(c) {
		c.SetUserContext(views.WithTelegramCard(ctx(c), views.TelegramCardView{Bot: h.cfg.Telegram.Username, Link: currentUser(c).Telegram}))
	}
}

// telegramBooking tells the customer of their new booking on Telegram,
// if they want it there: its email (msg, as written for the booking's
// commit) went with the commit, the message goes now that the order has
// its number.
func (h *Handler) telegramBooking(ctx context.Context, o *store.Order, u *store.User, msg *store.Email) {
	if h.tg == nil || !u.Wants("confirmed", store.ChannelTelegram) {
		return
	}
	msg.Numbered(o.Seq) // done by the commit when it queued msg; not when email was not wanted
	err := h.tell(ctx, u, "confirmed", "booking|"+o.ID.Hex(), msg, store.ChannelTelegram)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		h.log.Warn("telegram: the booking's message could not be queued", "order", o.ID.Hex(), "error", err)
	}
}

// currentChat is the customer's Telegram chat now (0: none, or no
// customer any more).
func (h *Handler) currentChat(ctx context.Context, user primitive.ObjectID) (int64, error) {
	u, err := h.users.Get(ctx, user)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil || u.Telegram == nil {
		return 0, err
	}
	return u.Telegram.ChatID, nil
}
