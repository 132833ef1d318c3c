package store_test

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// BenchmarkChatPost is one message to support from one of 200 customers
// who have written (go test -bench ChatPost ./store): the conversation, the
// bucket, both inboxes' rows and heads.
func BenchmarkChatPost(b *testing.B) {
	ctx := context.Background()
	chat := store.NewChatStore(storetest.Open(b))
	var convs []*store.Conversation
	for i := 0; i < 200; i++ {
		u := primitive.NewObjectID()
		c, _, err := chat.Open(ctx, &store.Conversation{ID: store.SupportConversationID(u), Kind: store.ChatSupport, Members: []primitive.ObjectID{u}},
			map[string]string{u.Hex(): "", store.SupportInbox: fmt.Sprint("mijoz-", i)})
		if err != nil {
			b.Fatal(err)
		}
		convs = append(convs, c)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := convs[i%len(convs)]
		if err := chat.Post(ctx, c, &store.Message{SenderID: c.Members[0], Body: "Salom, ertaga kelasizmi?"}, []string{store.SupportInbox}, c.Members[0].Hex()); err != nil {
			b.Fatal(err)
		}
	}
}
