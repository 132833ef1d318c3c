package store_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// bigPrice needs all 64 bits: a double (what JSON numbers become in many
// tools) would round it.
const bigPrice int64 = 1<<53 + 1

// fillForBackup writes some of everything: an account with 2FA and recovery
// codes, a service, orders with a status history, a conversation with
// messages, an email in the outbox and sessions.
func fillForBackup(t *testing.T, db *store.DB) (user primitive.ObjectID, order *store.Order) {
	t.Helper()
	ctx := context.Background()
	users := store.NewUserStore(db)
	u := &store.User{Username: "aziza", Email: "aziza@example.uz", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Role: store.RoleUser, IsVerified: true, Locale: "uz"}
	if err := users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := users.SetPendingTOTP(ctx, u.ID, "sealed-secret"); err != nil {
		t.Fatal(err)
	}
	if err := users.EnableTOTP(ctx, u.ID, 58_000_123, []string{"hash-1", "hash-2", "hash-3"}); err != nil {
		t.Fatal(err)
	}
	admin := &store.User{Username: "admin", Email: "admin@example.uz", Role: store.RoleAdmin, IsVerified: true, Locale: "ru"}
	if err := users.Create(ctx, admin); err != nil {
		t.Fatal(err)
	}

	svc := &store.Service{Name: store.Texts{Uz: "Gilam yuvish", Ru: "Стирка ковров"}, Description: store.Texts{Uz: "Gilamlarni yuvish", Ru: "Стирка ковров"},
		Price: 120_000, DurationMinutes: 90, Active: true}
	if err := store.NewServiceStore(db).Create(ctx, svc); err != nil {
		t.Fatal(err)
	}

	orders := store.NewOrderStore(db)
	for i, key := range []string{"k1", "k2", "k3"} {
		o := newOrder(u.ID, svc.ID, key)
		o.ServiceName, o.ServiceNames, o.CustomerName = svc.Name.Uz, svc.Name, u.Username
		o.ScheduledAt = time.Date(2031, 5, 17, 9, 30, 0, 123_000_000, time.UTC).Add(time.Duration(i) * time.Hour)
		if i == 0 {
			o.Price = bigPrice
			order = o
		}
		if err := orders.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := orders.Advance(ctx, order.ID, store.StatusCompleted, store.StatusChange{ByUserID: admin.ID, ByName: "admin", Reason: "done"}); err != nil {
		t.Fatal(err)
	}

	chat := store.NewChatStore(db)
	conv, _, err := chat.Open(ctx, &store.Conversation{ID: store.SupportConversationID(u.ID), Kind: store.ChatSupport, Members: []primitive.ObjectID{u.ID}},
		map[string]string{u.ID.Hex(): "", store.SupportInbox: u.Username})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		m := &store.Message{SenderID: u.ID, SenderName: u.Username, Body: fmt.Sprintf("Salom %d — \"qo‘ng‘iroq\" <b>\n", i)}
		if err := chat.Post(ctx, conv, m, []string{store.SupportInbox}, u.ID.Hex()); err != nil {
			t.Fatal(err)
		}
	}

	if err := store.NewOutboxStore(db).Enqueue(ctx, &store.Email{To: u.Email, Subject: "Buyurtma", HTML: "<p>ok</p>", Text: "ok"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := 0; i < 2; i++ {
		s := &store.Session{ID: primitive.NewObjectID(), UserID: u.ID, RefreshHash: fmt.Sprint("h", i), UsedHashes: []string{"old"},
			CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), RotatedAt: now, UserAgent: "test", IP: "127.0.0.1"}
		if err := store.NewSessionStore(db).Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return u.ID, order
}

// archiveFiles reads a backup archive into its files.
func archiveFiles(t *testing.T, archive []byte) (map[string][]byte, []string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = b
		names = append(names, hdr.Name)
	}
	return files, names
}

// collectionNames are the collections the manifest of a backup lists.
func collectionNames(t *testing.T, files map[string][]byte) []string {
	t.Helper()
	var m struct {
		Format      int
		Collections map[string]int64
	}
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	if m.Format != store.BackupFormat {
		t.Fatalf("manifest format %d", m.Format)
	}
	var names []string
	for name := range m.Collections {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// documents returns a collection's documents sorted by _id, as the driver
// decodes them (types kept: int64, DateTime, ObjectID…).
func documents(t *testing.T, db *store.DB, name string) []bson.M {
	t.Helper()
	docs, err := db.RawFind(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	key := func(d bson.M) string { return fmt.Sprintf("%T %v", d["_id"], d["_id"]) }
	sort.Slice(docs, func(i, j int) bool { return key(docs[i]) < key(docs[j]) })
	return docs
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := storetest.Open(t)
	userID, order := fillForBackup(t, src)

	var archive bytes.Buffer
	rep, err := src.Backup(ctx, &archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"users", "services", "orders", "conversations", "messages", "chatInbox", "outbox", "sessions", "userKeys", "counters", "meta", "orderPages", "customerOrders"} {
		if rep.Counts[name] == 0 {
			t.Errorf("backup of %s: no documents (%v)", name, rep.Counts)
		}
	}
	if rep.Counts["users"] != 2 || rep.Counts["orders"] != 3 || rep.Counts["sessions"] != 2 || rep.Counts["outbox"] != 1 {
		t.Errorf("counts %v", rep.Counts)
	}
	files, order1 := archiveFiles(t, archive.Bytes())
	names := collectionNames(t, files)
	if len(order1) != len(names)+1 || order1[len(order1)-1] != "manifest.json" {
		t.Errorf("archive entries %v", order1)
	}

	dst := storetest.Open(t)
	got, err := dst.Restore(ctx, bytes.NewReader(archive.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Counts, rep.Counts) {
		t.Errorf("restored %v, backed up %v", got.Counts, rep.Counts)
	}

	// Every collection, document by document, with its types.
	for _, name := range names {
		a, b := documents(t, src, name), documents(t, dst, name)
		if int64(len(a)) != rep.Counts[name] {
			t.Errorf("%s: %d documents, the backup says %d", name, len(a), rep.Counts[name])
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs after the round trip:\n%v\n%v", name, a, b)
		}
	}
	// And as canonical Extended JSON, field order included: a backup of
	// the restored database holds the same lines.
	var again bytes.Buffer
	if _, err := dst.Backup(ctx, &again); err != nil {
		t.Fatal(err)
	}
	files2, _ := archiveFiles(t, again.Bytes())
	for _, name := range names {
		if !bytes.Equal(files[name+".json"], files2[name+".json"]) {
			t.Errorf("%s.json differs after the round trip:\n%s\n%s", name, files[name+".json"], files2[name+".json"])
		}
	}

	// Through the stores: 2FA, the order's int64 price, times and history,
	// the messages.
	u, err := store.NewUserStore(dst).Get(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	if !u.TwoFactor.Enabled || u.TwoFactor.Secret != "sealed-secret" || u.TwoFactor.LastStep != 58_000_123 ||
		!reflect.DeepEqual(u.RecoveryCodes, []string{"hash-1", "hash-2", "hash-3"}) {
		t.Errorf("restored account: %+v %v", u.TwoFactor, u.RecoveryCodes)
	}
	o, err := store.NewOrderStore(dst).Get(ctx, order.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Price != bigPrice || !o.ScheduledAt.Equal(time.Date(2031, 5, 17, 9, 30, 0, 123_000_000, time.UTC)) ||
		o.Status != store.StatusCompleted || len(o.History) != 5 || o.History[4].Reason != "done" {
		t.Errorf("restored order: price %d, scheduled %v, status %s, history %+v", o.Price, o.ScheduledAt, o.Status, o.History)
	}
	chat := store.NewChatStore(dst)
	conv, err := chat.Get(ctx, store.SupportConversationID(userID))
	if err != nil {
		t.Fatal(err)
	}
	msgs, _, err := chat.History(ctx, conv, primitive.NilObjectID, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || !strings.HasPrefix(msgs[0].Body, "Salom") {
		t.Errorf("restored messages: %+v", msgs)
	}

	// The counters recomputed from the restored collections match.
	if _, err := dst.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sa, err := src.Statistics(ctx, now, 7)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := dst.Statistics(ctx, now, 7)
	if err != nil {
		t.Fatal(err)
	}
	if sa.Users != sb.Users || sa.Services != sb.Services || sa.Orders.N != sb.Orders.N || sa.Orders.Revenue != sb.Orders.Revenue ||
		!reflect.DeepEqual(sa.Orders.ByStatus, sb.Orders.ByStatus) || sb.Orders.Revenue != bigPrice {
		t.Errorf("statistics after restore and reconcile %+v, before %+v", sb, sa)
	}
	list, _, err := store.NewOrderStore(dst).ForCustomer(ctx, userID, primitive.NilObjectID, 10)
	if err != nil || len(list) != 3 {
		t.Errorf("the customer's list after restore: %d orders, %v", len(list), err)
	}
}

// The archive is what mongoimport reads: one canonical Extended JSON
// document per line, types spelled out.
func TestBackupFormatIsMongoimportJSON(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	_, order := fillForBackup(t, db)
	var archive bytes.Buffer
	if _, err := db.Backup(ctx, &archive); err != nil {
		t.Fatal(err)
	}
	files, _ := archiveFiles(t, archive.Bytes())
	text := string(files["orders.json"])
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("orders.json does not end a line: %q", text)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("orders.json: %d lines, want 3", len(lines))
	}
	var prev string
	for i, line := range lines {
		var doc bson.Raw
		if err := bson.UnmarshalExtJSON([]byte(line), true, &doc); err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, line)
		}
		id := doc.Lookup("_id").ObjectID().Hex()
		if id <= prev {
			t.Errorf("line %d: _id %s after %s, want sorted", i+1, id, prev)
		}
		prev = id
	}
	first := lines[0]
	if !strings.Contains(first, `"_id":{"$oid":"`+order.ID.Hex()+`"}`) ||
		!strings.Contains(first, fmt.Sprintf(`"price":{"$numberLong":"%d"}`, bigPrice)) ||
		!strings.Contains(first, `"scheduledAt":{"$date":{"$numberLong":"1936776600123"}}`) {
		t.Errorf("orders.json line 1 is not canonical Extended JSON:\n%s", first)
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(first), true, &doc); err != nil {
		t.Fatal(err)
	}
	if p, ok := doc.Lookup("price").Int64OK(); !ok || p != bigPrice {
		t.Errorf("price = %v, want int64 %d", doc.Lookup("price"), bigPrice)
	}
	if at, ok := doc.Lookup("scheduledAt").DateTimeOK(); !ok || at != 1936776600123 {
		t.Errorf("scheduledAt = %v", doc.Lookup("scheduledAt"))
	}
	var m struct {
		Format   int
		Database string
		Time     time.Time
	}
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || m.Format != 1 || m.Database == "" || time.Since(m.Time) > time.Minute {
		t.Errorf("manifest %s: %v", files["manifest.json"], err)
	}
}

// A backup never holds a live one-time link: an email still to send that
// carries one is left out, and one given up on keeps everything but the
// link; the archive restores as it says.
func TestBackupHoldsNoOneTimeLinks(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	outbox := store.NewOutboxStore(db)
	waiting := enqueueOutbox(t, outbox, "kutmoqda@example.uz") // its text has a verification link
	failed := enqueueOutbox(t, outbox, "yetmadi@example.uz")
	failOutbox(t, outbox, failed, 5, true)
	plain := &store.Email{To: "buyurtma@example.uz", Subject: "Buyurtma", HTML: `<a href="http://localhost:3000/orders/1">#1</a>`, Text: "http://localhost:3000/orders/1"}
	if err := outbox.Enqueue(ctx, plain); err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	rep, err := db.Backup(ctx, &archive)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := archiveFiles(t, archive.Bytes())
	text := string(files["outbox.json"])
	if rep.Counts["outbox"] != 2 || strings.Contains(text, "token=abc") || strings.Contains(text, waiting.ID.Hex()) {
		t.Errorf("outbox in the backup (%d emails):\n%s\nwant the failed one without its link and the plain one", rep.Counts["outbox"], text)
	}
	for _, want := range []string{failed.ID.Hex(), "yetmadi@example.uz", `"status":"failed"`, "token=REMOVED", plain.ID.Hex(), "http://localhost:3000/orders/1"} {
		if !strings.Contains(text, want) {
			t.Errorf("outbox in the backup lacks %q:\n%s", want, text)
		}
	}
	dst := storetest.Open(t)
	if got, err := dst.Restore(ctx, bytes.NewReader(archive.Bytes())); err != nil || got.Counts["outbox"] != 2 {
		t.Errorf("restore = %v, %v", got.Counts, err)
	}
}

// A database that holds anything is refused, and nothing is written to it.
func TestRestoreWantsAnEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	src := storetest.Open(t)
	fillForBackup(t, src)
	var archive bytes.Buffer
	if _, err := src.Backup(ctx, &archive); err != nil {
		t.Fatal(err)
	}
	dst := storetest.Open(t)
	other := &store.User{Username: "boshqa", Email: "boshqa@example.uz"}
	if err := store.NewUserStore(dst).Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	var before bytes.Buffer
	if _, err := dst.Backup(ctx, &before); err != nil {
		t.Fatal(err)
	}
	_, err := dst.Restore(ctx, bytes.NewReader(archive.Bytes()))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("restore into a database with an account = %v, want ErrConflict", err)
	}
	var after bytes.Buffer
	if _, err := dst.Backup(ctx, &after); err != nil {
		t.Fatal(err)
	}
	fb, names := archiveFiles(t, before.Bytes())
	fa, _ := archiveFiles(t, after.Bytes())
	for _, name := range names {
		if name != "manifest.json" && !bytes.Equal(fb[name], fa[name]) {
			t.Errorf("%s changed by a refused restore", name)
		}
	}

	// The same archive restores into its own database too: no.
	if _, err := src.Restore(ctx, bytes.NewReader(archive.Bytes())); !errors.Is(err, store.ErrConflict) {
		t.Errorf("restore into the backed-up database = %v, want ErrConflict", err)
	}
}

// A damaged archive fails, and writes nothing: it is read whole first.
func TestRestoreRefusesDamagedArchives(t *testing.T) {
	ctx := context.Background()
	src := storetest.Open(t)
	fillForBackup(t, src)
	var good bytes.Buffer
	if _, err := src.Backup(ctx, &good); err != nil {
		t.Fatal(err)
	}
	files, names := archiveFiles(t, good.Bytes())

	// rebuild makes an archive of files (in the order of names), with edit
	// applied to them first.
	rebuild := func(edit func(map[string][]byte) []string) []byte {
		fs := map[string][]byte{}
		for k, v := range files {
			fs[k] = v
		}
		order := append([]string(nil), names...)
		if edit != nil {
			if o := edit(fs); o != nil {
				order = o
			}
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		for _, name := range order {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Size: int64(len(fs[name]))}); err != nil {
				t.Fatal(err)
			}
			tw.Write(fs[name])
		}
		tw.Close()
		zw.Close()
		return buf.Bytes()
	}
	if rebuilt := rebuild(nil); len(rebuilt) == 0 {
		t.Fatal("empty archive")
	}
	badLine := func(fs map[string][]byte) []string {
		lines := bytes.SplitAfter(fs["orders.json"], []byte("\n"))
		lines[1] = []byte(`{"_id":{"$oid":"not-an-id"},"price":1}` + "\n")
		fs["orders.json"] = bytes.Join(lines, nil)
		return nil
	}
	cases := []struct {
		name    string
		archive []byte
		want    string
	}{
		{"truncated gzip", good.Bytes()[:good.Len()*2/3], "the archive is cut short"},
		{"truncated at the end", good.Bytes()[:good.Len()-4], "the archive is cut short"},
		{"truncated in the middle", good.Bytes()[:good.Len()/2], "the archive is cut short"},
		{"truncated early", good.Bytes()[:200], "the archive is cut short"},
		{"not gzip", []byte("users.json\n{}\n"), "not a gzip archive"},
		{"a bad JSON line", rebuild(badLine), "orders.json: line 2"},
		{"not JSON at all", rebuild(func(fs map[string][]byte) []string {
			fs["messages.json"] = append(fs["messages.json"], "{oops\n"...)
			return nil
		}), "messages.json: line"},
		{"an unknown file", rebuild(func(fs map[string][]byte) []string {
			fs["secrets.json"] = []byte("{}\n")
			return append(append([]string(nil), names...), "secrets.json")
		}), `unknown file "secrets.json"`},
		{"a line missing", rebuild(func(fs map[string][]byte) []string {
			lines := bytes.SplitAfter(fs["users.json"], []byte("\n"))
			fs["users.json"] = bytes.Join(lines[1:], nil)
			return nil
		}), "users.json holds 1 documents, the manifest says 2"},
		{"no manifest", rebuild(func(fs map[string][]byte) []string {
			var o []string
			for _, n := range names {
				if n != "manifest.json" {
					o = append(o, n)
				}
			}
			return o
		}), "no manifest.json"},
		{"a collection missing", rebuild(func(fs map[string][]byte) []string {
			var o []string
			for _, n := range names {
				if n != "orders.json" {
					o = append(o, n)
				}
			}
			return o
		}), "orders.json, listed in the manifest, is missing"},
	}
	dst := storetest.Open(t)
	for _, c := range cases {
		_, err := dst.Restore(ctx, bytes.NewReader(c.archive))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: restore = %v, want an error with %q", c.name, err, c.want)
		}
	}
	// Nothing of them went in: the good archive still restores.
	rep, err := dst.Restore(ctx, bytes.NewReader(rebuild(nil)))
	if err != nil {
		t.Fatalf("the good archive after the damaged ones: %v", err)
	}
	if rep.Counts["orders"] != 3 || rep.Counts["users"] != 2 {
		t.Errorf("restored %v", rep.Counts)
	}
}
