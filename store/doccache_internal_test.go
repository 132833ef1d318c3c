package store

import (
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

// The budget holds whatever the look-ups were: documents, and ids that do
// not exist (a made-up id a request asks for is kept as "none" and must
// count too).
func TestDocumentCacheStaysWithinItsBudget(t *testing.T) {
	c := newDocCache()
	c.max = 100 * (entryCost + 30)
	now := time.Now()
	doc, _ := bson.Marshal(bson.D{{Key: "n", Value: 1}})
	for i := 0; i < 10_000; i++ {
		key := fmt.Sprintf("made-up-id-%d", i)
		e, _, fresh, _ := c.entry(colOrders, key, now)
		if fresh {
			t.Fatalf("%s: fresh before any fill", key)
		}
		if i%2 == 0 {
			c.fill(e, nil, now) // not found
		} else {
			c.fill(e, doc, now)
		}
	}
	if c.bytes > c.max || len(c.cols[colOrders]) > 120 {
		t.Errorf("after 10,000 look-ups the cache holds %d entries, %d bytes, over its %d", len(c.cols[colOrders]), c.bytes, c.max)
	}
	total := 0
	for _, e := range c.cols[colOrders] {
		total += e.size
	}
	if total != c.bytes {
		t.Errorf("the entries add up to %d bytes, the count says %d", total, c.bytes)
	}
	// A failed look-up leaves nothing behind.
	e, _, _, _ := c.entry(colOrders, "failed", now)
	c.forget(colOrders, "failed", e)
	if _, ok := c.cols[colOrders]["failed"]; ok {
		t.Error("a failed look-up stayed in the cache")
	}
}

// A reader that comes while another asks the database for the document
// waits for its answer, and then has it; a write that drops the entry
// meanwhile wakes it to ask for itself.
func TestDocumentCacheReadersWaitForTheOneAsking(t *testing.T) {
	c := newDocCache()
	now := time.Now()
	doc, _ := bson.Marshal(bson.D{{Key: "n", Value: 1}})
	e, _, fresh, wait := c.entry(colOrders, "hot", now)
	if fresh || wait != nil {
		t.Fatal("the first reader is told to wait")
	}
	_, _, _, wait = c.entry(colOrders, "hot", now)
	if wait == nil {
		t.Fatal("a second reader is not told to wait for the first")
	}
	c.fill(e, doc, now)
	select {
	case <-wait:
	default:
		t.Fatal("the fill did not wake the waiting reader")
	}
	if _, raw, fresh, _ := c.entry(colOrders, "hot", now); !fresh || len(raw) != len(doc) {
		t.Fatal("the waiting reader does not find the answer")
	}

	_, _, _, _ = c.entry(colOrders, "written", now)
	_, _, _, wait = c.entry(colOrders, "written", now)
	c.drop([]cacheKey{{col: colOrders, id: "written"}})
	select {
	case <-wait:
	default:
		t.Fatal("a write dropping the entry did not wake the waiting reader")
	}
	if _, _, fresh, wait := c.entry(colOrders, "written", now); fresh || wait != nil {
		t.Fatal("after the write the reader does not ask for itself")
	}
}
