package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// A customer's Telegram (#24): the chat with the company's bot that their
// messages go to, connected by a one-time link from their profile.
//
//	telegramTokens {_id: sha256 hex of a link's token, userId, expiresAt}:
//	               deleted by the one use it has
//	telegramChats  {_id: "<chat id>", userId}: whose a chat is, for the
//	               bot's commands
//	users.telegram {chatId, username, connectedAt}: where the customer's
//	               messages go
//
// A connection writes the chat first and the user second; a disconnection
// the other way round; a chat counts as the customer's only when both say
// so (UserOfChat), so a write cut off halfway connects nobody.
const (
	colTelegramTokens = "telegramTokens"
	colTelegramChats  = "telegramChats"
)

// TelegramLinkTTL is how long a connect link works.
const TelegramLinkTTL = 15 * time.Minute

// ErrLinkExpired is a connect link used after TelegramLinkTTL.
var ErrLinkExpired = fmt.Errorf("%w: the link expired", ErrInvalid)

// TelegramLink is a customer's connected chat.
type TelegramLink struct {
	ChatID      int64     `bson:"chatId" json:"chatId"`
	Username    string    `bson:"username,omitempty" json:"username,omitempty"`
	ConnectedAt time.Time `bson:"connectedAt" json:"connectedAt"`
}

type telegramToken struct {
	Hash      string             `bson:"_id"`
	UserID    primitive.ObjectID `bson:"userId"`
	ExpiresAt time.Time          `bson:"expiresAt"`
}

type telegramChat struct {
	ID     string             `bson:"_id"`
	UserID primitive.ObjectID `bson:"userId"`
}

// TelegramStore keeps the customers' Telegram chats.
type TelegramStore struct {
	db    *DB
	users *UserStore
}

// NewTelegramStore returns the Telegram chats of db.
func NewTelegramStore(db *DB) *TelegramStore {
	return &TelegramStore{db: db, users: NewUserStore(db)}
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// NewLinkToken makes a one-time token connecting user's Telegram, valid
// for TelegramLinkTTL from now: 32 characters a Telegram start parameter
// allows (A–Z, a–z, 0–9, _ and -). Only its hash is stored.
func (s *TelegramStore) NewLinkToken(ctx context.Context, user primitive.ObjectID, now time.Time) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	_, err := s.db.col(colTelegramTokens).InsertOne(ctx, telegramToken{Hash: tokenHash(token), UserID: user, ExpiresAt: now.Add(TelegramLinkTTL).UTC()})
	return token, translate(err)
}

// Connect uses token (once: it is deleted, whatever happens next) to make
// chat the customer's Telegram, replacing the one they had; a chat that
// was another customer's is theirs no more. ErrNotFound for a token never
// made or used already, ErrLinkExpired for one too old.
func (s *TelegramStore) Connect(ctx context.Context, token string, chat int64, username string, now time.Time) (*User, error) {
	var t telegramToken
	err := s.db.col(colTelegramTokens).FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: tokenHash(token)}}).Decode(&t)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, translate(err)
	}
	if !now.Before(t.ExpiresAt) {
		return nil, ErrLinkExpired
	}
	u, err := s.users.Get(ctx, t.UserID)
	if err != nil {
		return nil, err
	}
	if before, err := s.UserOfChat(ctx, chat); err == nil && before.ID != u.ID {
		if err := s.setLink(ctx, before.ID, nil); err != nil {
			return nil, err
		}
	}
	if u.Telegram != nil && u.Telegram.ChatID != chat {
		if _, err := s.db.deleteIf(ctx, colTelegramChats, chatKey(u.Telegram.ChatID), bson.D{{Key: "userId", Value: u.ID}}); err != nil {
			return nil, translate(err)
		}
	}
	if err := s.db.write(func() error {
		_, err := s.db.col(colTelegramChats).ReplaceOne(ctx, bson.D{{Key: "_id", Value: chatKey(chat)}}, telegramChat{ID: chatKey(chat), UserID: u.ID}, options.Replace().SetUpsert(true))
		return translate(err)
	}); err != nil {
		return nil, err
	}
	u.Telegram = &TelegramLink{ChatID: chat, Username: username, ConnectedAt: now.UTC().Truncate(time.Millisecond)}
	return u, s.setLink(ctx, u.ID, u.Telegram)
}

func chatKey(chat int64) string { return strconv.FormatInt(chat, 10) }

// setLink sets (nil: removes) the user's Telegram.
func (s *TelegramStore) setLink(ctx context.Context, user primitive.ObjectID, link *TelegramLink) error {
	update := bson.D{{Key: "$unset", Value: bson.D{{Key: "telegram", Value: ""}}}}
	if link != nil {
		update = bson.D{{Key: "$set", Value: bson.D{{Key: "telegram", Value: link}}}}
	}
	return s.db.write(func() error {
		_, err := s.db.col(colUsers).UpdateOne(ctx, bson.D{{Key: "_id", Value: user}}, update)
		return translate(err)
	})
}

// UserOfChat is the customer whose Telegram chat is; ErrNotFound when it
// is nobody's.
func (s *TelegramStore) UserOfChat(ctx context.Context, chat int64) (*User, error) {
	var c telegramChat
	if err := s.db.col(colTelegramChats).FindOne(ctx, bson.D{{Key: "_id", Value: chatKey(chat)}}).Decode(&c); err != nil {
		return nil, translate(err)
	}
	u, err := s.users.Get(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	if u.Telegram == nil || u.Telegram.ChatID != chat {
		return nil, ErrNotFound // connected elsewhere since, or cut off halfway
	}
	return u, nil
}

// Disconnect forgets the customer's Telegram; nothing to forget is no
// error.
func (s *TelegramStore) Disconnect(ctx context.Context, user primitive.ObjectID) error {
	u, err := s.users.Get(ctx, user)
	if err != nil {
		return err
	}
	if u.Telegram == nil {
		return nil
	}
	if err := s.setLink(ctx, u.ID, nil); err != nil {
		return err
	}
	_, err = s.db.deleteIf(ctx, colTelegramChats, chatKey(u.Telegram.ChatID), bson.D{{Key: "userId", Value: u.ID}})
	return translate(err)
}

// DisconnectChat forgets chat, whoever's it is (the customer said /stop,
// or blocked the bot); the customer, if any, is returned. Every account
// still sending to chat (a connection cut off halfway, two links opened at
// once in it) stops: a search of the users by chat, which on the embedded
// database reads them all, for a command people rarely send.
func (s *TelegramStore) DisconnectChat(ctx context.Context, chat int64) (*User, error) {
	u, err := s.UserOfChat(ctx, chat)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if u != nil {
		if err := s.Disconnect(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	cur, err := s.db.col(colUsers).Find(ctx, bson.D{{Key: "telegram.chatId", Value: chat}}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	var others []User
	if err := cur.All(ctx, &others); err != nil {
		return nil, translate(err)
	}
	for _, o := range others {
		if err := s.setLink(ctx, o.ID, nil); err != nil {
			return nil, err
		}
	}
	_, err = s.db.col(colTelegramChats).DeleteOne(ctx, bson.D{{Key: "_id", Value: chatKey(chat)}})
	return u, translate(err)
}

// The events a customer is told of, and the channels they may choose for
// each (#24): a booking made or confirmed, the reminders before a visit,
// the crew on the way, the visit done (and the request to rate it), a chat
// message while they were away. Other news of an order (a change, a
// cancellation, a regular visit moved) goes on every channel they have.
var (
	NotifyEvents   = []string{"confirmed", "reminder", "onTheWay", "completed", "chat"}
	NotifyChannels = []string{ChannelEmail, ChannelTelegram}
)

// Channels of a message.
const (
	ChannelEmail    = "email"
	ChannelTelegram = "telegram"
)

// NotifyPrefs are a customer's channels by event; an event absent means
// every channel (the default).
type NotifyPrefs map[string][]string

// Validate refuses unknown events and channels.
func (p NotifyPrefs) Validate() error {
	for event, channels := range p {
		if !slices.Contains(NotifyEvents, event) {
			return fmt.Errorf("%w: events.%s: no such event", ErrInvalid, event)
		}
		for _, ch := range channels {
			if !slices.Contains(NotifyChannels, ch) {
				return fmt.Errorf("%w: events.%s: no such channel %q", ErrInvalid, event, ch)
			}
		}
	}
	return nil
}

// Wants reports whether u is to be told of event on channel: chosen (or
// not chosen against, by default), and for Telegram, connected.
func (u *User) Wants(event, channel string) bool {
	if channel == ChannelTelegram && u.Telegram == nil {
		return false
	}
	chosen, ok := u.Notify[event]
	return !ok || slices.Contains(chosen, channel)
}

// NotifyChoices are u's channels for every event, as Wants answers for
// a connected Telegram.
func (u *User) NotifyChoices() NotifyPrefs {
	out := NotifyPrefs{}
	for _, e := range NotifyEvents {
		chosen, ok := u.Notify[e]
		if !ok {
			chosen = NotifyChannels
		}
		out[e] = append([]string{}, chosen...)
	}
	return out
}

// SetNotify stores the customer's choices: every event, those not given
// keeping theirs.
func (s *UserStore) SetNotify(ctx context.Context, id primitive.ObjectID, prefs NotifyPrefs) (*User, error) {
	if err := prefs.Validate(); err != nil {
		return nil, err
	}
	set := bson.D{}
	for _, e := range NotifyEvents {
		if chosen, ok := prefs[e]; ok {
			var clean []string
			for _, ch := range NotifyChannels { // each once, in order
				if slices.Contains(chosen, ch) {
					clean = append(clean, ch)
				}
			}
			if clean == nil {
				clean = []string{}
			}
			set = append(set, bson.E{Key: "notify." + e, Value: clean})
		}
	}
	if len(set) > 0 {
		if err := s.db.write(func() error {
			res, err := s.db.col(colUsers).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}})
			if err == nil && res.MatchedCount == 0 {
				return ErrNotFound
			}
			return translate(err)
		}); err != nil {
			return nil, err
		}
	}
	return s.Get(ctx, id)
}

// telegramOffset is the counters' document holding the next Telegram
// update to ask for (long polling: whoever polls next goes on from it).
const telegramOffset = "telegramOffset"

// TelegramOffset is the next update to ask Telegram for.
func (d *DB) TelegramOffset(ctx context.Context) (int64, error) {
	var doc struct {
		Next int64 `bson:"next"`
	}
	err := d.col(colCounters).FindOne(ctx, bson.D{{Key: "_id", Value: telegramOffset}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	return doc.Next, translate(err)
}

// SetTelegramOffset records the next update to ask for: the one after the
// last Telegram gave. It may go back: Telegram starts its numbering again
// after a quiet week, and only asking past what it gave confirms it.
func (d *DB) SetTelegramOffset(ctx context.Context, next int64) error {
	return d.upsertByID(ctx, colCounters, telegramOffset, bson.D{{Key: "$set", Value: bson.D{{Key: "next", Value: next}}}})
}

// colTelegramUpdates records the bot's updates handled, so that one handled
// again (a webhook retried, a poll read again at a hand-over, Telegram's
// numbering started again) does nothing twice: {_id: "<update>@<unix
// date>"} (Telegram reuses numbers after a quiet week; with the message's
// date they are unique), at.
const colTelegramUpdates = "telegramUpdates"

// FirstSight records update id of date as handled, and reports whether it
// was not before. It is recorded before it is acted on: one cut off midway
// is not done again (the person writes again), rather than done twice.
func (s *TelegramStore) FirstSight(ctx context.Context, id, date int64, now time.Time) (bool, error) {
	_, err := s.db.col(colTelegramUpdates).InsertOne(ctx, bson.D{{Key: "_id", Value: strconv.FormatInt(id, 10) + "@" + strconv.FormatInt(date, 10)}, {Key: "at", Value: now.UTC()}})
	switch err = translate(err); {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrConflict):
		return false, nil
	}
	return false, err
}

// telegramKeep is how long handled updates and unused link tokens are
// kept: Telegram gives an update again for at most a day.
const telegramKeep = 7 * 24 * time.Hour

// Prune deletes the link tokens expired and the updates handled more than
// telegramKeep ago (run hourly, by any instance: deleting twice is
// harmless).
func (s *TelegramStore) Prune(ctx context.Context, now time.Time) error {
	if _, err := s.db.col(colTelegramTokens).DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: now}}}}); err != nil {
		return translate(err)
	}
	_, err := s.db.col(colTelegramUpdates).DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: now.Add(-telegramKeep)}}}})
	return translate(err)
}
