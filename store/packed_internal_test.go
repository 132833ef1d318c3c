package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// A list's rows and a day's visits are stored packed; those stored before,
// as subdocuments, read the same, and a row set again is packed.
func TestPackedEntriesReadOldOnesAndPackNewOnes(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t, "packed")
	at := time.Date(2026, 12, 9, 5, 0, 0, 0, time.UTC)
	old := OrderSummary{ID: primitive.NewObjectID(), UserID: primitive.NewObjectID(), ServiceName: "Kvartira", Status: StatusPending, Price: 350000, ScheduledAt: at, Seq: 7, CustomerSeq: 1}
	page := customerPages(old.UserID)
	if _, err := db.col(colCustomerOrders).InsertOne(ctx, bson.D{{Key: "_id", Value: page.id(1)}, {Key: "rows", Value: bson.D{{Key: old.ID.Hex(), Value: old}}}}); err != nil {
		t.Fatal(err)
	}
	crew := primitive.NewObjectID()
	visit := dayVisit{Crew: crew, From: at, Until: at.Add(3 * time.Hour), EndsAt: at.Add(2 * time.Hour)}
	// As stored before packing: a subdocument.
	if _, err := db.col(colScheduleDays).InsertOne(ctx, bson.D{{Key: "_id", Value: "2026-12-09"}, {Key: "visits", Value: bson.D{{Key: old.ID.Hex(), Value: bson.D{
		{Key: "c", Value: visit.Crew}, {Key: "f", Value: visit.From}, {Key: "u", Value: visit.Until}, {Key: "e", Value: visit.EndsAt}}}}}}); err != nil {
		t.Fatal(err)
	}

	rows, err := page.read(ctx, db, 1)
	if err != nil || rows[old.ID.Hex()].ServiceName != "Kvartira" || rows[old.ID.Hex()].Price != 350000 || !rows[old.ID.Hex()].ScheduledAt.Equal(at) {
		t.Fatalf("a row stored as a subdocument reads as %+v, %v", rows, err)
	}
	day, err := NewScheduleStore(db).Day(ctx, "2026-12-09")
	if err != nil || len(day) != 1 || day[0].CrewID != crew || !day[0].Until.Equal(visit.Until) || !day[0].EndsAt.Equal(visit.EndsAt) {
		t.Fatalf("a visit stored as a subdocument reads as %+v, %v", day, err)
	}

	changed := old
	changed.Status = StatusConfirmed
	if err := page.set(ctx, db, 1, changed); err != nil {
		t.Fatal(err)
	}
	next := OrderSummary{ID: primitive.NewObjectID(), UserID: old.UserID, ServiceName: "Ofis", Status: StatusPending, ScheduledAt: at, Seq: 8, CustomerSeq: 2}
	if err := page.setMany(ctx, db, []int64{2}, []OrderSummary{next}); err != nil {
		t.Fatal(err)
	}
	o := &Order{ID: next.ID, CrewID: crew, ScheduledAt: at.Add(4 * time.Hour), ReservedUntil: at.Add(7 * time.Hour), EndsAt: at.Add(6 * time.Hour), Status: StatusPending}
	if err := setDayVisits(ctx, db, []*Order{o}); err != nil {
		t.Fatal(err)
	}
	var raw bson.Raw
	if err := db.col(colCustomerOrders).FindOne(ctx, bson.D{{Key: "_id", Value: page.id(1)}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	for _, id := range []primitive.ObjectID{old.ID, next.ID} {
		if v := raw.Lookup("rows", id.Hex()); v.Type != bson.TypeBinary {
			t.Errorf("a row set is stored as %s, want packed (binary)", v.Type)
		}
	}
	if err := db.col(colScheduleDays).FindOne(ctx, bson.D{{Key: "_id", Value: "2026-12-09"}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if v := raw.Lookup("visits", next.ID.Hex()); v.Type != bson.TypeBinary {
		t.Errorf("a visit set is stored as %s, want packed (binary)", v.Type)
	}
	rows, err = page.read(ctx, db, 1)
	if err != nil || rows[old.ID.Hex()].Status != StatusConfirmed || rows[next.ID.Hex()].ServiceName != "Ofis" || len(rows) != 2 {
		t.Errorf("after the sets the page reads %+v, %v", rows, err)
	}
	day, err = NewScheduleStore(db).Day(ctx, "2026-12-09")
	if err != nil || len(day) != 2 || day[1].OrderID != next.ID || !day[1].EndsAt.Equal(o.EndsAt) {
		t.Errorf("after the set the day reads %+v, %v", day, err)
	}
}

// A null entry reads as the zero entry, as it did as a subdocument; an
// entry of another type is an error naming it.
func TestUnpackNullAndOtherTypes(t *testing.T) {
	var page rowPage
	if err := bson.Unmarshal(mustMarshal(t, bson.D{{Key: "rows", Value: bson.D{{Key: "a", Value: nil}}}}), &page); err != nil || page.Rows["a"].Status != "" {
		t.Errorf("a null row reads as %+v, %v; want the zero row", page.Rows["a"], err)
	}
	if err := bson.Unmarshal(mustMarshal(t, bson.D{{Key: "rows", Value: bson.D{{Key: "a", Value: "text"}}}}), &page); err == nil || !strings.Contains(err.Error(), "a list's row stored as string") {
		t.Errorf("a row stored as a string reads with error %v", err)
	}
}

func mustMarshal(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Messages are pushed into their bucket packed; one stored before as a
// subdocument reads as well, in its place.
func TestMessagesPackedAndOldOnesRead(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t, "packedmessages")
	chat := NewChatStore(db)
	a, b := primitive.NewObjectID(), primitive.NewObjectID()
	c := &Conversation{ID: DirectConversationID(a, b), Kind: ChatDirect, Members: []primitive.ObjectID{a, b}}
	if _, _, err := chat.Open(ctx, c, map[string]string{a.Hex(): "b", b.Hex(): "a"}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"Salom", "Ertaga soat 10 da"} {
		if err := chat.Post(ctx, c, &Message{SenderID: a, SenderName: "alice", Body: body}, []string{b.Hex()}, a.Hex()); err != nil {
			t.Fatal(err)
		}
	}
	c, err := chat.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	first, err := chat.bucket(ctx, c.ID, 1)
	if err != nil || len(first) != 2 {
		t.Fatalf("bucket: %d, %v", len(first), err)
	}
	// The first as an older release stored it: a subdocument.
	old := first[0]
	old.Staff, old.AgentName = true, "Tozalash · Aziz"
	if _, err := db.col(colMessages).UpdateOne(ctx, bson.D{{Key: "_id", Value: bucketID(c.ID, 1)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "items.0", Value: old}}}}); err != nil {
		t.Fatal(err)
	}
	var raw bson.Raw
	if err := db.col(colMessages).FindOne(ctx, bson.D{{Key: "_id", Value: bucketID(c.ID, 1)}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if v := raw.Lookup("items", "0"); v.Type != bson.TypeEmbeddedDocument {
		t.Fatalf("the old message is stored as %s", v.Type)
	}
	if v := raw.Lookup("items", "1"); v.Type != bson.TypeBinary {
		t.Errorf("a message pushed is stored as %s, want packed (binary)", v.Type)
	}
	got, more, err := chat.History(ctx, c, primitive.NilObjectID, 10)
	if err != nil || more || len(got) != 2 {
		t.Fatalf("history: %d %v %v", len(got), more, err)
	}
	if got[0].ID != old.ID || got[0].Body != "Salom" || !got[0].Staff || got[0].AgentName != "Tozalash · Aziz" || got[0].Seq != 1 || !got[0].CreatedAt.Equal(old.CreatedAt) {
		t.Errorf("the old message reads %+v", got[0])
	}
	if got[1].Body != "Ertaga soat 10 da" || got[1].SenderID != a || got[1].SenderName != "alice" || got[1].Seq != 2 || got[1].Staff {
		t.Errorf("the packed message reads %+v", got[1])
	}
}

// An inbox page stores each row as its version beside the row packed; a
// row stored before as a whole subdocument reads as well, and the
// versioned writes of MongoDB (putRow) replace it only with a newer one.
func TestInboxRowsPackedBesideTheirVersion(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t, "packedrows")
	chat := NewChatStore(db)
	at := time.Date(2026, 12, 9, 5, 0, 0, 0, time.UTC)
	old := inboxRow{C: "conv-old", K: ChatSupport, T: "mijoz", B: "Salom", At: at, U: 2, S: 3, V: 7}
	page := inboxPageID(SupportInbox, inboxPage(old.S))
	// As stored before: the whole row a subdocument.
	type plain inboxRow
	if _, err := db.col(colChatInbox).InsertOne(ctx, bson.D{{Key: "_id", Value: page}, {Key: "items", Value: bson.D{{Key: inboxKey(old.C), Value: plain(old)}}}}); err != nil {
		t.Fatal(err)
	}
	if err := chat.putRow(ctx, SupportInbox, inboxRow{C: old.C, S: old.S, V: 6, B: "older"}); err != nil {
		t.Fatal(err)
	}
	next := inboxRow{C: "conv-new", K: ChatSupport, T: "boshqa", B: "Rahmat", At: at.Add(time.Minute), U: 1, S: 4, V: 2}
	if err := chat.putRow(ctx, SupportInbox, next); err != nil {
		t.Fatal(err)
	}
	var doc inboxPageDoc
	if err := db.col(colChatInbox).FindOne(ctx, bson.D{{Key: "_id", Value: page}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Items[inboxKey(old.C)] != old {
		t.Errorf("the old row reads %+v, want %+v (an older version does not replace it)", doc.Items[inboxKey(old.C)], old)
	}
	if doc.Items[inboxKey(next.C)] != next {
		t.Errorf("the new row reads %+v, want %+v", doc.Items[inboxKey(next.C)], next)
	}
	var raw bson.Raw
	if err := db.col(colChatInbox).FindOne(ctx, bson.D{{Key: "_id", Value: page}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	stored, err := raw.LookupErr("items", inboxKey(next.C))
	if err != nil {
		t.Fatal(err)
	}
	if elems, _ := stored.Document().Elements(); len(elems) != 2 || stored.Document().Lookup("v").Int64() != next.V || stored.Document().Lookup("p").Type != bson.TypeBinary {
		t.Errorf("a row is stored as %s, want {v, p} with p packed", stored)
	}
	if _, err := db.col(colChatInbox).InsertOne(ctx, bson.D{{Key: "_id", Value: SupportInbox}, {Key: "n", Value: next.S}, {Key: "u", Value: old.U + next.U}}); err != nil {
		t.Fatal(err)
	}
	list, err := chat.Inbox(ctx, "", 10, SupportInbox)
	if err != nil || len(list.Items) != 2 || list.Items[0].ConversationID != next.C || list.Items[1].LastBody != "Salom" {
		t.Errorf("the list reads %+v, %v", list.Items, err)
	}
}

// An order's timeline and price lines are stored packed; an order stored
// before, with them as subdocuments, reads the same, and a change pushes
// its entry packed beside the old ones.
func TestOrdersTimelineAndLinesPackedAndOldOnesRead(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t, "packedorders")
	orders := NewOrderStore(db)
	at := time.Date(2026, 12, 9, 5, 0, 0, 0, time.UTC)
	id, user := primitive.NewObjectID(), primitive.NewObjectID()
	// As stored before packing.
	if _, err := db.col(colOrders).InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "userId", Value: user}, {Key: "customerName", Value: "Dilnoza"},
		{Key: "serviceName", Value: "Kvartira"}, {Key: "status", Value: StatusPending}, {Key: "price", Value: int64(350000)},
		{Key: "lines", Value: bson.A{bson.D{{Key: "kind", Value: "base"}, {Key: "unitPrice", Value: int64(350000)}, {Key: "quantity", Value: int64(1)}, {Key: "amount", Value: int64(350000)}}}},
		{Key: "scheduledAt", Value: at}, {Key: "address", Value: "Yunusobod 4"}, {Key: "phone", Value: "+998901234567"}, {Key: "notes", Value: ""},
		{Key: "history", Value: bson.A{bson.D{{Key: "status", Value: StatusPending}, {Key: "type", Value: ChangeStatus}, {Key: "to", Value: StatusPending}, {Key: "at", Value: at.Add(-time.Hour)}, {Key: "byUserId", Value: user}, {Key: "byName", Value: "Dilnoza"}}}},
		{Key: "idempotencyKey", Value: "before-packing"}, {Key: "createdAt", Value: at.Add(-time.Hour)}, {Key: "updatedAt", Value: at.Add(-time.Hour)}, {Key: "seq", Value: int64(1)}, {Key: "cseq", Value: int64(1)}}); err != nil {
		t.Fatal(err)
	}
	o, err := orders.Get(ctx, id)
	if err != nil || len(o.History) != 1 || o.History[0].ByName != "Dilnoza" || !o.History[0].At.Equal(at.Add(-time.Hour)) || len(o.Lines) != 1 || o.Lines[0].Amount != 350000 || o.Lines[0].Kind != "base" {
		t.Fatalf("an order stored with subdocuments reads as %+v, %v", o, err)
	}

	if _, err := orders.Transition(ctx, id, StatusConfirmed, StatusChange{ByUserID: primitive.NewObjectID(), ByName: "Admin"}); err != nil {
		t.Fatal(err)
	}
	var raw bson.Raw
	if err := db.col(colOrders).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if v := raw.Lookup("history", "0"); v.Type != bson.TypeEmbeddedDocument {
		t.Errorf("the old entry is stored as %s, want it left as it was", v.Type)
	}
	if v := raw.Lookup("history", "1"); v.Type != bson.TypeBinary {
		t.Errorf("the new entry is stored as %s, want packed (binary)", v.Type)
	}
	o, err = orders.Get(ctx, id)
	if err != nil || len(o.History) != 2 || o.History[1].Status != StatusConfirmed || o.History[1].ByName != "Admin" || o.History[0].ByName != "Dilnoza" {
		t.Fatalf("after the change the order reads as %+v, %v", o, err)
	}

	made := &Order{UserID: user, CustomerName: "Dilnoza", ServiceName: "Ofis", Price: 500000, ScheduledAt: at.Add(24 * time.Hour),
		Lines: []PriceLine{{Kind: "base", UnitPrice: 500000, Quantity: 1, Amount: 500000}}, Address: "Chilonzor 9", Phone: "+998901234567", IdempotencyKey: "after-packing"}
	if err := orders.Create(ctx, made); err != nil {
		t.Fatal(err)
	}
	if err := db.col(colOrders).FindOne(ctx, bson.D{{Key: "_id", Value: made.ID}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"history", "lines"} {
		if v := raw.Lookup(field, "0"); v.Type != bson.TypeBinary {
			t.Errorf("a new order's %s entry is stored as %s, want packed (binary)", field, v.Type)
		}
	}
	if got, err := orders.Get(ctx, made.ID); err != nil || len(got.Lines) != 1 || got.Lines[0].Amount != 500000 || len(got.History) != 1 || got.History[0].Status != StatusPending {
		t.Errorf("a new order reads as %+v, %v", got, err)
	}
}
