package store

import (
	"context"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// InboxPageSize is the rows an inbox page holds at most.
const InboxPageSize = inboxPageSize

// Unserialized makes d write as it would on MongoDB (no write mutex), for
// tests that run one writer at a time on FerretDB: the compare-and-set, the
// rows' version guards and the after-check run as they would there.
func Unserialized(d *DB) { d.writeMu = nil }

// PostHeld stores a message as Post does and returns the writes of the
// inboxes' rows and heads, to run later: a slow writer.
func (s *ChatStore) PostHeld(ctx context.Context, c *Conversation, m *Message, inboxes []string, senderInbox string) (func() error, error) {
	m.ID = primitive.NewObjectID()
	before, after, owners, err := s.post(ctx, newInboxHeads(), c, m, inboxes, senderInbox)
	if err != nil {
		return nil, err
	}
	return func() error { return s.follow(ctx, before, after, owners) }, nil
}
