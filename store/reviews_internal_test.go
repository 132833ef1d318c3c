package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// The dashboard's tallies read the same whether the cache has them (one
// after another, no command) or has none of them (eight at a time): each
// in its place, those without reviews empty.
func TestTalliesReadTheSameColdAndWarm(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t, "tallies")
	var mu sync.Mutex
	now := time.Date(2026, 12, 9, 5, 0, 0, 0, time.UTC)
	db.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	reviews := NewReviewStore(db)
	services := []primitive.ObjectID{primitive.NewObjectID(), primitive.NewObjectID()}
	var crews []primitive.ObjectID
	for range 20 {
		crews = append(crews, primitive.NewObjectID())
	}
	// Every third crew, and the second service, have reviews: as many as
	// their place in the list, so that a tally in the wrong place shows.
	rated := func(id string, n int) {
		rows := bson.D{}
		for k := range n {
			rows = append(rows, bson.E{Key: fmt.Sprint("o", k), Value: ReviewRow{OrderID: fmt.Sprint("o", k), Rating: 1 + k%5, At: now}})
		}
		if _, err := db.col(colReviewTallies).InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "v", Value: int64(n)}, {Key: "rows", Value: rows}}); err != nil {
			t.Fatal(err)
		}
	}
	rated(serviceTally(services[1]), 7)
	for i := 0; i < len(crews); i += 3 {
		rated(crewTally(crews[i]), i+1)
	}
	check := func(when string, ofServices, ofCrews []*Tally) {
		t.Helper()
		if len(ofServices) != 2 || len(ofServices[0].Rows) != 0 || len(ofServices[1].Rows) != 7 {
			t.Fatalf("%s: the services' tallies hold %v rows", when, rowCounts(ofServices))
		}
		for i, tl := range ofCrews {
			want := 0
			if i%3 == 0 {
				want = i + 1
			}
			if len(tl.Rows) != want || tl.V != int64(want) {
				t.Fatalf("%s: crew %d's tally holds %d rows (v %d), want %d; all: %v", when, i, len(tl.Rows), tl.V, want, rowCounts(ofCrews))
			}
		}
	}

	ids := []string{serviceTally(services[0]), serviceTally(services[1])}
	for _, id := range crews {
		ids = append(ids, crewTally(id))
	}
	if !reviews.readAtOnce(ids) {
		t.Fatal("none cached, and read one after another")
	}
	before := db.Commands()
	s, c, err := reviews.Tallies(ctx, services, crews)
	if err != nil {
		t.Fatal(err)
	}
	check("none cached", s, c)
	if n := db.Commands() - before; n != int64(len(services)+len(crews)) {
		t.Errorf("none cached: %d commands, want one a tally (%d)", n, len(services)+len(crews))
	}
	before = db.Commands()
	s, c, err = reviews.Tallies(ctx, services, crews)
	if err != nil {
		t.Fatal(err)
	}
	check("all cached", s, c)
	if n := db.Commands() - before; n != 0 {
		t.Errorf("all cached: %d commands, want none", n)
	}
	if reviews.readAtOnce(ids) {
		t.Error("all cached, and read at once")
	}
	mu.Lock()
	now = now.Add(cacheTTL)
	mu.Unlock()
	if db.cachedFresh(colReviewTallies, serviceTally(services[1])) {
		t.Fatal("an answer a cacheTTL old counts as fresh")
	}
	if !reviews.readAtOnce(ids) {
		t.Error("all expired, and read one after another")
	}
	// The first service's page keeps its tally fresh; the crews' expire.
	if _, err := reviews.ServiceTally(ctx, services[0]); err != nil {
		t.Fatal(err)
	}
	if !reviews.readAtOnce(ids) {
		t.Error("the crews' tallies expired, the first service's fresh: read one after another")
	}
	s, c, err = reviews.Tallies(ctx, services, crews)
	if err != nil {
		t.Fatal(err)
	}
	check("all expired", s, c)
}

func rowCounts(ts []*Tally) []int {
	out := make([]int, len(ts))
	for i, t := range ts {
		out[i] = len(t.Rows)
	}
	return out
}
