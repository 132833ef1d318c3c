package store

import (
	"bytes"
	"fmt"
	"sort"
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
		e, _, fresh, _, _ := c.entry(colOrders, key, now)
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
	e, _, _, _, _ := c.entry(colOrders, "failed", now)
	c.forget(colOrders, "failed", e)
	if _, ok := c.cols[colOrders]["failed"]; ok {
		t.Error("a failed look-up stayed in the cache")
	}
}

// Answers past cacheTTL, never served again, leave the cache within a
// second of expiring, whatever room its budget has left; a fresh one and
// one being asked for stay.
func TestDocumentCacheDropsExpiredAnswers(t *testing.T) {
	c := newDocCache()
	start := time.Now()
	doc, _ := bson.Marshal(bson.D{{Key: "n", Value: 1}})
	for i := 0; i < 1000; i++ {
		e, _, _, _, _ := c.entry(colOrders, fmt.Sprint("old-", i), start)
		c.fill(e, doc, start)
	}
	later := start.Add(cacheTTL / 2)
	e, _, _, _, _ := c.entry(colOrders, "fresh", later)
	c.fill(e, doc, later)
	c.entry(colOrders, "asking", later) // a reader on its way to the database
	if n := len(c.cols[colOrders]); n != 1002 {
		t.Fatalf("before any answer expired the cache holds %d entries, want 1002", n)
	}
	c.entry(colOrders, "new", start.Add(cacheTTL)) // a look-up once the old ones expired
	var left []string
	for k := range c.cols[colOrders] {
		left = append(left, k)
	}
	sort.Strings(left)
	if fmt.Sprint(left) != "[asking fresh new]" {
		t.Errorf("after the old answers expired the cache holds %d entries (%v), want the fresh one, the one being asked for and the new one", len(left), left[:min(5, len(left))])
	}
	if want := 3*entryCost + len("fresh") + len(doc) + len("asking") + len("new"); c.bytes != want {
		t.Errorf("the budget counts %d bytes, want %d", c.bytes, want)
	}
}

// A reader that comes while another asks the database for the document
// waits for its answer, and then has it; a write that drops the entry
// meanwhile wakes it to ask for itself.
func TestDocumentCacheReadersWaitForTheOneAsking(t *testing.T) {
	c := newDocCache()
	now := time.Now()
	doc, _ := bson.Marshal(bson.D{{Key: "n", Value: 1}})
	e, _, fresh, _, wait := c.entry(colOrders, "hot", now)
	if fresh || wait != nil {
		t.Fatal("the first reader is told to wait")
	}
	_, _, _, _, wait = c.entry(colOrders, "hot", now)
	if wait == nil {
		t.Fatal("a second reader is not told to wait for the first")
	}
	c.fill(e, doc, now)
	select {
	case <-wait:
	default:
		t.Fatal("the fill did not wake the waiting reader")
	}
	if _, raw, fresh, _, _ := c.entry(colOrders, "hot", now); !fresh || len(raw) != len(doc) {
		t.Fatal("the waiting reader does not find the answer")
	}

	_, _, _, _, _ = c.entry(colOrders, "written", now)
	_, _, _, _, wait = c.entry(colOrders, "written", now)
	c.drop([]cacheKey{{col: colOrders, id: "written"}})
	select {
	case <-wait:
	default:
		t.Fatal("a write dropping the entry did not wake the waiting reader")
	}
	if _, _, fresh, _, wait := c.entry(colOrders, "written", now); fresh || wait != nil {
		t.Fatal("after the write the reader does not ask for itself")
	}
}

// An answer read all the time is asked again before it expires, by one
// reader, in the background: the others keep the answer they have. The
// same bytes keep the entry (and its shared decoding); other bytes replace
// it; a write meanwhile wins over the renewal.
func TestDocumentCacheRenewsAgeingAnswers(t *testing.T) {
	c := newDocCache()
	t0 := time.Now()
	doc, _ := bson.Marshal(bson.D{{Key: "n", Value: 1}})
	changed, _ := bson.Marshal(bson.D{{Key: "n", Value: 2}})
	e, _, _, _, _ := c.entry(colOrders, "hot", t0)
	c.fill(e, doc, t0)
	e.decoded = "decoded once"

	if _, _, fresh, refresh, _ := c.entry(colOrders, "hot", t0.Add(cacheRefreshAfter-time.Millisecond)); !fresh || refresh {
		t.Fatalf("a young answer: fresh %v, renew %v; want fresh, not renewed", fresh, refresh)
	}
	ageing := t0.Add(cacheRefreshAfter)
	if _, _, fresh, refresh, _ := c.entry(colOrders, "hot", ageing); !fresh || !refresh {
		t.Fatalf("an ageing answer: fresh %v, renew %v; want fresh and renewed", fresh, refresh)
	}
	if _, _, fresh, refresh, _ := c.entry(colOrders, "hot", ageing); !fresh || refresh {
		t.Fatal("a second reader of the ageing answer renews it too")
	}

	c.renew(colOrders, "hot", e, doc, ageing)
	later := t0.Add(cacheTTL + time.Millisecond) // past the first answer's time
	got, raw, fresh, _, _ := c.entry(colOrders, "hot", later)
	if !fresh || got != e || got.decoded != "decoded once" || !bytes.Equal(raw, doc) {
		t.Fatalf("renewed with the same bytes: fresh %v, same entry %v, decoding kept %v", fresh, got == e, got.decoded != nil)
	}

	renewing := ageing.Add(cacheRefreshAfter)
	if _, _, _, refresh, _ := c.entry(colOrders, "hot", renewing); !refresh {
		t.Fatal("the renewed answer is not renewed again as it ages")
	}
	c.renew(colOrders, "hot", e, changed, renewing)
	got, raw, fresh, _, _ = c.entry(colOrders, "hot", renewing)
	if !fresh || got == e || got.decoded != nil || !bytes.Equal(raw, changed) {
		t.Fatalf("renewed with other bytes: fresh %v, new entry %v, no decoding %v, the new bytes %v", fresh, got != e, got.decoded == nil, bytes.Equal(raw, changed))
	}

	// A write drops the entry while it is renewed: the renewal keeps nothing.
	next := renewing.Add(cacheRefreshAfter)
	if _, _, _, refresh, _ := c.entry(colOrders, "hot", next); !refresh {
		t.Fatal("not renewed")
	}
	c.drop([]cacheKey{{col: colOrders, id: "hot"}})
	c.renew(colOrders, "hot", got, changed, next)
	if _, _, fresh, _, _ := c.entry(colOrders, "hot", next); fresh {
		t.Fatal("a renewal read before a write stayed after it")
	}
}
