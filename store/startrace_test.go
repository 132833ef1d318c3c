package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"tozalash/store"
	"tozalash/store/storetest"
)

// Instances opening an empty shared database at once (MONGODB_URI) all
// open it: the indexes, the one-time marks and the keys are made once,
// whoever gets there first, the others finding them made.
func TestOpenRacesOnAnEmptyDatabase(t *testing.T) {
	uri := storetest.URI(t)
	for round := 0; round < 4; round++ {
		name := storetest.DBName(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		var wg sync.WaitGroup
		dbs := make([]*store.DB, 4)
		errs := make([]error, len(dbs))
		start := make(chan struct{})
		for i := range dbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				dbs[i], errs[i] = store.Open(ctx, store.Options{URI: uri, Database: name})
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: open %d: %v", round, i, err)
			}
		}
		for _, db := range dbs {
			if db != nil {
				defer db.Close(context.Background())
			}
		}
		if t.Failed() {
			cancel()
			return
		}
		specs, err := storetest.Client(t).Database(name).Collection("users").Indexes().ListSpecifications(ctx)
		if err != nil || len(specs) != 7 {
			t.Errorf("round %d: users' indexes = %d %v, want _id, email, username, role, expiresAt, phone, telegram.chatId", round, len(specs), err)
		}
		meta, err := dbs[0].RawFind(ctx, "meta")
		if err != nil || fmt.Sprint(meta) != fmt.Sprint([]bson.M{{"_id": "userKeys:v1"}, {"_id": "chatInbox:v2"}}) {
			t.Errorf("round %d: meta = %v %v", round, meta, err)
		}
		_ = dbs[0].Drop(ctx)
		cancel()
	}
}
