package store_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"tozalash/store/storetest"
)

// On the embedded database only _id's and the unique indexes are made:
// every other one would cost each insert and update a JSON extraction and
// serve no query. One left by an older version is dropped at start.
func TestEmbeddedKeepsOnlyTheIndexesThatKeepRules(t *testing.T) {
	storetest.EmbeddedOnly(t)
	ctx := context.Background()
	client := storetest.Client(t)
	name := storetest.DBName(t)
	storetest.OpenNamed(t, name)
	names := func(col string) string {
		t.Helper()
		specs, err := client.Database(name).Collection(col).Indexes().ListSpecifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range specs {
			out = append(out, s.Name)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	if got := names("orders"); got != "_id_ userId_1_idempotencyKey_1" {
		t.Errorf("orders' indexes: %s", got)
	}
	if got := names("users"); got != "_id_ email_1 username_1" {
		t.Errorf("users' indexes: %s", got)
	}
	// An index from before, not unique: gone at the next start.
	if _, err := client.Database(name).Collection("outbox").Indexes().CreateOne(ctx,
		mongo.IndexModel{Keys: bson.D{{Key: "status", Value: 1}, {Key: "nextAttemptAt", Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	if got := names("outbox"); got != "_id_ status_1_nextAttemptAt_1" {
		t.Fatalf("outbox's indexes before the start: %s", got)
	}
	storetest.OpenNamed(t, name)
	if got := names("outbox"); got != "_id_" {
		t.Errorf("outbox's indexes after a start: %s", got)
	}
}
