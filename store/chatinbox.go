package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// The inboxes: the conversations each owner follows (a user by the hex of
// their id, or support, SupportInbox, which every ADMIN shares), latest
// first, with unread counts. No document grows with the conversations or
// the messages (an inbox used to be one document with an entry per
// conversation: support's grew with every customer who ever wrote, and
// every message rewrote it whole):
//
//	conversations  {…, v, last: {b, at}, inbox: {<owner>: {s, u, t, e}}}: the
//	               truth. For each of its owners (two) the conversation's place
//	               s in the owner's list, the unread count u, the title t, the
//	               last "you have messages" email e; v counts the changes.
//	chatInbox      {_id: "<owner>", n, u}: the head, the last place given and
//	               the owner's unread total (the badge), and
//	               {_id: "<owner>:<s/25>", items: {<conversation>: row}}: a page
//	               of at most 25 rows, each a copy of a conversation as the
//	               owner sees it, at its place s, copied at version v.
//
// A conversation with news takes a new place from its owner's head ($inc n)
// unless it is already in the newest page; its row is written there and
// removed from the page it left. So the latest conversations are in the
// newest pages, and a list is the head and a few pages back by _id, like the
// order lists (rowpages.go); a long talk in one conversation does not move
// it, so pages do not fill up with holes. Within a page rows go by the time
// of their last message.
//
// Every change of a conversation is one atomic update of its document: on
// MongoDB a compare-and-set on v, tried again when another change came first;
// on FerretDB under the write mutex, which serializes it anyway (and a filter
// beyond _id would scan). The rows and the heads follow it: a row is written
// only over an older copy (by v), the writer that moves a row removes the
// copy left behind, and on MongoDB every writer then checks that the
// conversation is still in the page it wrote and removes its copy if not;
// so writers in several instances leave one row per conversation (a reader
// skips a second copy seen in the moment between). A head's unread total
// moves by each committed change's exact difference ($inc). A crash between
// these writes leaves a row or a total wrong until the next change;
// Reconcile rebuilds them all from the conversations.
const (
	inboxPageSize = 25
	// inboxPageReads bounds the pages one list reads per inbox: a list that
	// needs more ends early, with a cursor where it stopped.
	inboxPageReads = 20
	// changeTries bounds the compare-and-set attempts of one change.
	changeTries = 100
	// cursorEnd is an inbox read to its end, in a cursor of several.
	cursorEnd = "-"
)

// inboxEntry is a conversation as one owner follows it.
type inboxEntry struct {
	S int64     `bson:"s"` // its place in the owner's list
	U int64     `bson:"u"` // unread messages
	T string    `bson:"t"`
	E time.Time `bson:"e,omitempty"` // the last "you have messages" email
}

// lastMessage is the preview of a conversation's newest message.
type lastMessage struct {
	B  string    `bson:"b"`
	At time.Time `bson:"at"`
}

type inboxHead struct {
	N int64 `bson:"n"` // the last place given
	U int64 `bson:"u"` // unread messages in all the owner's conversations
}

// inboxRow is a conversation's copy in an inbox page.
type inboxRow struct {
	C  string    `bson:"c"`
	K  string    `bson:"k"`
	T  string    `bson:"t"`
	B  string    `bson:"b"`
	At time.Time `bson:"at"`
	U  int64     `bson:"u"`
	S  int64     `bson:"s"`
	V  int64     `bson:"v"`
}

// A page stores each row as {v, p}: its version, which the writes'
// conditions read on MongoDB (putRow, dropRow), beside the whole row packed
// (see pack), so that a page of 25 rows is 50 fields, not 200, for
// FerretDB to decode and encode at each update. A row stored before, as a
// whole subdocument, reads as well.
func (r inboxRow) MarshalBSONValue() (bsontype.Type, []byte, error) {
	type plain inboxRow
	raw, err := bson.Marshal(plain(r))
	if err != nil {
		return 0, nil, err
	}
	return bson.TypeEmbeddedDocument, bsoncore.BuildDocumentFromElements(nil,
		bsoncore.AppendInt64Element(nil, "v", r.V),
		bsoncore.AppendBinaryElement(nil, "p", bson.TypeBinaryGeneric, raw)), nil
}

func (r *inboxRow) UnmarshalBSONValue(t bsontype.Type, data []byte) error {
	type plain inboxRow
	if t != bson.TypeEmbeddedDocument {
		return unpack(t, data, (*plain)(r), "an inbox row")
	}
	if p, err := bson.Raw(data).LookupErr("p"); err == nil {
		return unpack(p.Type, p.Value, (*plain)(r), "an inbox row")
	}
	return bson.Unmarshal(data, (*plain)(r))
}

type inboxPageDoc struct {
	Items map[string]inboxRow `bson:"items"`
}

func inboxPage(seq int64) int64 { return seq / inboxPageSize }

func inboxPageID(owner string, page int64) string {
	return owner + ":" + strconv.FormatInt(page, 10)
}

// Item is the conversation as owner's list shows it; false when owner does
// not follow it.
func (c *Conversation) Item(owner string) (InboxItem, bool) {
	e, ok := c.Inbox[owner]
	if !ok {
		return InboxItem{}, false
	}
	at := c.Last.At
	if at.IsZero() {
		at = c.CreatedAt
	}
	return InboxItem{ConversationID: c.ID, Kind: c.Kind, Title: e.T, LastBody: c.Last.B, LastAt: at, Unread: e.U, EmailedAt: e.E}, true
}

func (c *Conversation) row(owner string) inboxRow {
	it, _ := c.Item(owner)
	return inboxRow{C: c.ID, K: c.Kind, T: it.Title, B: it.LastBody, At: it.LastAt, U: it.Unread, S: c.Inbox[owner].S, V: c.V}
}

func (r *inboxRow) item() InboxItem {
	return InboxItem{ConversationID: r.C, Kind: r.K, Title: r.T, LastBody: r.B, LastAt: r.At, Unread: r.U}
}

// head returns owner's head, through the document cache; a zero one when
// there is none.
func (s *ChatStore) head(ctx context.Context, owner string) (inboxHead, error) {
	return s.headBy(ctx, s.db.findByID, owner)
}

// headFresh is head from the database itself.
func (s *ChatStore) headFresh(ctx context.Context, owner string) (inboxHead, error) {
	return s.headBy(ctx, s.db.findByIDFresh, owner)
}

func (s *ChatStore) headBy(ctx context.Context, find byID, owner string) (inboxHead, error) {
	var h inboxHead
	err := find(ctx, colChatInbox, owner, &h)
	if errors.Is(err, ErrNotFound) {
		return h, nil
	}
	return h, err
}

// Unread is the badge of the inboxes of owners (a user's; for an ADMIN
// also support's): the unread messages in all their conversations, read
// from the heads alone.
func (s *ChatStore) Unread(ctx context.Context, owners ...string) (int64, error) {
	var n int64
	for _, owner := range owners {
		h, err := s.head(ctx, owner)
		if err != nil {
			return 0, err
		}
		n += h.U
	}
	return n, nil
}

// inboxHeads are the heads a write has read or moved, by owner, and the
// places it holds in their lists: the messages of one group (postQueue)
// share them, so support's head is read once a group, not once a
// message, and moved once, by as many places as the group's messages to
// it may need (expect), handed out in order. A place held and not needed
// (its conversation was in the newest page already) stays unused: a gap,
// which the lists allow (readInbox reads on past a thin page). (On
// MongoDB another instance may move a head meanwhile: a conversation then
// keeps a place in a page that is no longer the newest, as it would had
// it been placed a moment before.)
type inboxHeads struct {
	read  map[string]inboxHead
	held  map[string][2]int64 // places taken and not handed out: from, to
	ahead map[string]int64    // places the messages still to come may need
}

func newInboxHeads() *inboxHeads {
	return &inboxHeads{read: map[string]inboxHead{}, held: map[string][2]int64{}, ahead: map[string]int64{}}
}

// expect notes that a message still to come will ask owner's list for a
// place; unexpect, that it did, or will not.
func (h *inboxHeads) expect(owner string) { h.ahead[owner]++ }

func (h *inboxHeads) unexpect(owner string) { h.ahead[owner] = max(h.ahead[owner]-1, 0) }

// place returns where a conversation at place cur (0: none yet) goes in
// owner's list when it has news: where it is, if that is the newest page,
// else a new place.
func (s *ChatStore) place(ctx context.Context, heads *inboxHeads, owner string, cur int64) (int64, error) {
	defer heads.unexpect(owner)
	if cur > 0 {
		h, ok := heads.read[owner]
		if !ok {
			// Whether cur is in the newest page is read afresh where
			// other instances move heads: a head a second old would keep
			// a conversation with news below newer pages.
			read := s.headFresh
			if s.db.onlyWriter() {
				read = s.head
			}
			var err error
			if h, err = read(ctx, owner); err != nil {
				return 0, err
			}
			heads.read[owner] = h
		}
		if inboxPage(cur) == inboxPage(h.N) {
			return cur, nil
		}
	}
	if held := heads.held[owner]; held[0] > 0 && held[0] <= held[1] {
		heads.held[owner] = [2]int64{held[0] + 1, held[1]}
		return held[0], nil
	}
	n := min(max(heads.ahead[owner], 1), inboxPageSize) // this one and those to come: gaps of a page at most
	var h inboxHead
	err := s.db.findAndUpsertByID(ctx, colChatInbox, owner, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: n}}}}, true, &h)
	if err != nil {
		return 0, err
	}
	heads.read[owner] = h
	heads.held[owner] = [2]int64{h.N - n + 2, h.N}
	return h.N - n + 1, nil
}

// errNoChange: an edit that finds nothing to do.
var errNoChange = errors.New("no change")

// change reads conversation id, lets edit change a copy of it and commits
// that as one atomic step (see above), trying again from a fresh read when
// another change came first. edit returns the owners whose entries it
// changed, or errNoChange. change returns the conversation before and after;
// the caller then calls follow. Call it within db.write.
func (s *ChatStore) change(ctx context.Context, id string, edit func(next *Conversation) ([]string, error)) (before, after *Conversation, owners []string, err error) {
	for try := 0; try < changeTries; try++ {
		// The first read may come from the cache where a stale one
		// cannot be written back (see DB.catchesStaleReads); the tries
		// after a refused condition read afresh. Where other instances
		// write, a cached copy that finds nothing to do, or no
		// conversation, is asked again too: no condition would catch it.
		fromCache := try == 0 && s.db.catchesStaleReads()
		recheck := fromCache && !s.db.onlyWriter()
		get := s.getFresh
		if fromCache {
			get = s.Get
		}
		cur, err := get(ctx, id)
		if recheck && errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, nil, err
		}
		next := *cur
		next.Inbox = maps.Clone(cur.Inbox)
		if next.Inbox == nil {
			next.Inbox = map[string]inboxEntry{}
		}
		owners, err := edit(&next)
		if recheck && errors.Is(err, errNoChange) {
			continue
		}
		if err != nil {
			return nil, nil, nil, err
		}
		next.V = cur.V + 1
		filter := bson.D{{Key: "_id", Value: id}}
		if !s.db.SerializesWrites() {
			var v any = cur.V
			if cur.V == 0 {
				v = nil // a conversation older than versions (see rebuildChatInboxes)
			}
			filter = append(filter, bson.E{Key: "v", Value: v})
		}
		set := bson.D{{Key: "n", Value: next.N}, {Key: "v", Value: next.V}, {Key: "last", Value: next.Last}}
		for _, o := range owners {
			e := next.Inbox[o]
			set = append(set, bson.E{Key: "inbox." + o + ".s", Value: e.S}, bson.E{Key: "inbox." + o + ".u", Value: e.U}, bson.E{Key: "inbox." + o + ".t", Value: e.T})
		}
		res, err := s.db.col(colConversations).UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: set}})
		if err != nil {
			return nil, nil, nil, translate(err)
		}
		if res.MatchedCount == 1 {
			return cur, &next, owners, nil
		}
	}
	return nil, nil, nil, fmt.Errorf("%w: conversation %s changed %d times meanwhile", ErrConflict, id, changeTries)
}

// convChange is a committed change of a conversation, from before to
// after, that changed the entries of owners.
type convChange struct {
	before, after *Conversation
	owners        []string
}

// follow brings the heads and pages of owners in line with a committed
// change from before to after (see above).
func (s *ChatStore) follow(ctx context.Context, before, after *Conversation, owners []string) error {
	return s.followAll(ctx, []convChange{{before, after, owners}})
}

// followAll is follow for the changes of one write, in order: each
// owner's unread total moves once, by the sum of the changes. On the
// embedded database, whose writes are serialized (no row needs a
// condition), each page is written once with every row the changes put
// there or took away, the last change of a row winning; elsewhere each
// row is written on its own condition (see putRow).
func (s *ChatStore) followAll(ctx context.Context, changes []convChange) error {
	col := s.db.col(colChatInbox)
	unread := map[string]int64{}
	var owners []string
	for _, ch := range changes {
		for _, o := range ch.owners {
			if _, ok := unread[o]; !ok {
				owners = append(owners, o)
			}
			unread[o] += ch.after.Inbox[o].U - ch.before.Inbox[o].U
		}
	}
	for _, o := range owners {
		if d := unread[o]; d != 0 {
			if _, err := col.UpdateOne(ctx, bson.D{{Key: "_id", Value: o}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "u", Value: d}}}},
				options.Update().SetUpsert(true)); err != nil {
				return err
			}
		}
	}
	if s.db.SerializesWrites() {
		return s.writePages(ctx, changes)
	}
	for _, ch := range changes {
		if err := s.followRows(ctx, ch.before, ch.after, ch.owners); err != nil {
			return err
		}
	}
	return nil
}

// pageEdit is what one write does to one inbox page: rows set or removed,
// by key, the last word on a key winning.
type pageEdit struct {
	keys []string
	put  map[string]*inboxRow // nil: removed
}

// writePages writes the changes' rows into the pages, one update a page
// (on the embedded database: serialized, so without conditions).
func (s *ChatStore) writePages(ctx context.Context, changes []convChange) error {
	pages := map[string]*pageEdit{}
	var order []string
	edit := func(owner string, seq int64, key string, r *inboxRow) {
		id := inboxPageID(owner, inboxPage(seq))
		e := pages[id]
		if e == nil {
			e = &pageEdit{put: map[string]*inboxRow{}}
			pages[id] = e
			order = append(order, id)
		}
		if _, ok := e.put[key]; !ok {
			e.keys = append(e.keys, key)
		}
		e.put[key] = r
	}
	for _, ch := range changes {
		for _, o := range ch.owners {
			r := ch.after.row(o)
			key := "items." + inboxKey(r.C)
			if old := ch.before.Inbox[o].S; old > 0 && inboxPage(old) != inboxPage(r.S) {
				edit(o, old, key, nil)
			}
			edit(o, r.S, key, &r)
		}
	}
	for _, id := range order {
		e := pages[id]
		var set, unset bson.D
		for _, k := range e.keys {
			if r := e.put[k]; r != nil {
				set = append(set, bson.E{Key: k, Value: r})
			} else {
				unset = append(unset, bson.E{Key: k, Value: ""})
			}
		}
		var update bson.D
		if len(set) > 0 {
			update = append(update, bson.E{Key: "$set", Value: set})
		}
		if len(unset) > 0 {
			update = append(update, bson.E{Key: "$unset", Value: unset})
		}
		_, err := s.db.col(colChatInbox).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update, options.Update().SetUpsert(len(set) > 0))
		if err != nil {
			return translate(err)
		}
	}
	return nil
}

// followRows writes one change's rows where writes are not serialized
// (MongoDB): each row only over an older copy,
// the copy left behind removed, and then a check that the conversation is
// still in the page written.
func (s *ChatStore) followRows(ctx context.Context, before, after *Conversation, owners []string) error {
	for _, o := range owners {
		if err := s.putRow(ctx, o, after.row(o)); err != nil {
			return err
		}
		if old := before.Inbox[o].S; old > 0 && inboxPage(old) != inboxPage(after.Inbox[o].S) {
			if err := s.dropRow(ctx, o, after.ID, old, bson.D{{Key: "$lt", Value: after.V}}); err != nil {
				return err
			}
		}
	}
	// Another instance may have moved the conversation on before this
	// row was written, and removed the old copy before it was there.
	now, err := s.getFresh(ctx, after.ID)
	if err != nil {
		return err
	}
	for _, o := range owners {
		if mine := after.Inbox[o].S; inboxPage(now.Inbox[o].S) != inboxPage(mine) {
			if err := s.dropRow(ctx, o, after.ID, mine, after.V); err != nil {
				return err
			}
		}
	}
	return nil
}

// putRow writes r into owner's page of its place, unless a newer copy is
// there already (followRows).
func (s *ChatStore) putRow(ctx context.Context, owner string, r inboxRow) error {
	key := "items." + inboxKey(r.C)
	filter := bson.D{{Key: "_id", Value: inboxPageID(owner, inboxPage(r.S))}, {Key: "$or", Value: bson.A{
		bson.D{{Key: key, Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: key + ".v", Value: bson.D{{Key: "$lt", Value: r.V}}}},
	}}}
	_, err := s.db.col(colChatInbox).UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{{Key: key, Value: r}}}}, options.Update().SetUpsert(true))
	if err = translate(err); isConflict(err) {
		return nil // the page holds a newer copy: the upsert's insert met it
	}
	return err
}

// dropRow removes conversation conv's row from owner's page of place seq if
// its version matches v, a value or a condition (followRows).
func (s *ChatStore) dropRow(ctx context.Context, owner, conv string, seq int64, v any) error {
	key := "items." + inboxKey(conv)
	filter := bson.D{{Key: "_id", Value: inboxPageID(owner, inboxPage(seq))}, {Key: key + ".v", Value: v}}
	_, err := s.db.col(colChatInbox).UpdateOne(ctx, filter, bson.D{{Key: "$unset", Value: bson.D{{Key: key, Value: ""}}}})
	return err
}

// InboxList is a page of conversations, the latest first.
type InboxList struct {
	Items  []InboxItem
	Unread int64  // in all the conversations of the inboxes read: the badge
	Next   string // the cursor of the next page; empty on the last
}

// Inbox returns up to limit conversations of the inboxes of owners (a user's;
// for an ADMIN also support's), the latest first, after cursor before (empty:
// from the newest), and the cursor of the next page. It reads the heads and
// pages back from the newest, by _id.
func (s *ChatStore) Inbox(ctx context.Context, before string, limit int, owners ...string) (InboxList, error) {
	if limit < 1 || limit > 100 {
		return InboxList{}, fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	}
	parts := make([]string, len(owners))
	if before != "" {
		parts = strings.Split(before, "|")
		if len(parts) != len(owners) {
			return InboxList{}, fmt.Errorf("%w: cursor %q", ErrInvalid, truncate(before, 40))
		}
	}
	var list InboxList
	streams := make([][]pagedRow, len(owners))
	nexts := make([]string, len(owners))
	for i, o := range owners {
		rows, next, unread, err := s.readInbox(ctx, o, parts[i], limit)
		if err != nil {
			return InboxList{}, err
		}
		streams[i], nexts[i] = rows, next
		list.Unread += max(unread, 0)
	}
	// Merge by time; each inbox's cursor moves past what was taken of it.
	taken := make([]int, len(owners))
	for len(list.Items) < limit {
		best := -1
		for i, rows := range streams {
			if taken[i] < len(rows) && (best < 0 || rows[taken[i]].before(&streams[best][taken[best]])) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		list.Items = append(list.Items, streams[best][taken[best]].item())
		taken[best]++
	}
	done := true
	for i, rows := range streams {
		switch {
		case taken[i] == len(rows): // all it gave: its own cursor
		case taken[i] > 0:
			nexts[i] = rows[taken[i]-1].cursor()
		default:
			nexts[i] = parts[i]
		}
		done = done && nexts[i] == cursorEnd
	}
	if !done {
		list.Next = strings.Join(nexts, "|")
	}
	return list, nil
}

// pagedRow is a row and the page it was read from.
type pagedRow struct {
	inboxRow
	page int64
}

// before says whether r comes before o in a list: later, or as late and
// first by id.
func (r *pagedRow) before(o *pagedRow) bool {
	return r.At.After(o.At) || r.At.Equal(o.At) && r.C < o.C
}

func (r *pagedRow) cursor() string {
	return strconv.FormatInt(r.page, 10) + "." + strconv.FormatInt(r.At.UnixMilli(), 10) + "." + r.C
}

// readInbox reads up to limit rows of owner's inbox after cursor: "" from
// the newest, "<page>" from that page's first, "<page>.<ms>.<conversation>"
// after that row, cursorEnd nothing. It returns the cursor after them
// (cursorEnd at the end) and the owner's unread total.
func (s *ChatStore) readInbox(ctx context.Context, owner, cursor string, limit int) ([]pagedRow, string, int64, error) {
	h, err := s.head(ctx, owner)
	if err != nil || cursor == cursorEnd || h.N == 0 {
		return nil, cursorEnd, h.U, err
	}
	from := inboxPage(h.N)
	var after *pagedRow
	if cursor != "" {
		f := strings.SplitN(cursor, ".", 3)
		p, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || p < 0 || len(f) == 2 {
			return nil, "", 0, fmt.Errorf("%w: cursor %q", ErrInvalid, truncate(cursor, 40))
		}
		if len(f) == 3 {
			ms, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return nil, "", 0, fmt.Errorf("%w: cursor %q", ErrInvalid, truncate(cursor, 40))
			}
			after = &pagedRow{inboxRow: inboxRow{C: f[2], At: time.UnixMilli(ms).UTC()}, page: p}
		}
		if p <= from {
			from = p
		} else {
			after = nil // past the newest page: from the newest
		}
	}
	var out []pagedRow
	seen := map[string]bool{}
	p, reads := from, 0
	for ; p >= 0 && len(out) <= limit; p-- {
		if reads == inboxPageReads {
			break
		}
		reads++
		var doc inboxPageDoc
		err := translate(s.db.col(colChatInbox).FindOne(ctx, bson.D{{Key: "_id", Value: inboxPageID(owner, p)}}).Decode(&doc))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, "", 0, err
		}
		rows := make([]pagedRow, 0, len(doc.Items))
		for _, r := range doc.Items {
			rows = append(rows, pagedRow{r, p})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].before(&rows[j]) })
		for _, r := range rows {
			if r.C == "" || seen[r.C] || after != nil && p == after.page && !after.before(&r) {
				continue
			}
			seen[r.C] = true // a copy met again further back is one left for a moment by a move
			out = append(out, r)
		}
	}
	switch {
	case len(out) > limit:
		out = out[:limit]
		return out, out[limit-1].cursor(), h.U, nil
	case p < 0:
		return out, cursorEnd, h.U, nil
	}
	return out, strconv.FormatInt(p, 10), h.U, nil // out of reads: on from page p
}

// forgetInbox removes owner's head and pages. Call it within db.write.
func (s *ChatStore) forgetInbox(ctx context.Context, owner string) error {
	h, err := s.head(ctx, owner)
	if err != nil {
		return err
	}
	col := s.db.col(colChatInbox)
	for p := inboxPage(h.N); p >= 0; p-- {
		if _, err := col.DeleteOne(ctx, bson.D{{Key: "_id", Value: inboxPageID(owner, p)}}); err != nil {
			return err
		}
	}
	_, err = col.DeleteOne(ctx, bson.D{{Key: "_id", Value: owner}})
	return err
}

// legacyInbox is an inbox as one document, as it was before pages:
// {_id: owner, items: {<conversation>: item}}.
type legacyInbox struct {
	ID    string               `bson:"_id"`
	Items map[string]InboxItem `bson:"items"`
}

// rebuildChatInboxes writes every inbox again from the conversations,
// keeping the owners keep accepts (nil: all): in Reconcile, and once at the
// first start of a database whose inboxes were one document each (their
// titles, unread counts and email times move into the conversations
// first, each inbox numbered by time). The caller holds the write lock.
func (d *DB) rebuildChatInboxes(ctx context.Context, keep func(owner string) bool) error {
	s := NewChatStore(d)
	cur, err := d.col(colChatInbox).Find(ctx, bson.D{})
	if err != nil {
		return err
	}
	for cur.Next(ctx) {
		var old legacyInbox
		if err := cur.Decode(&old); err != nil {
			cur.Close(ctx)
			return err
		}
		if strings.Contains(old.ID, ":") || len(old.Items) == 0 {
			continue // a page, or a head
		}
		items := make([]InboxItem, 0, len(old.Items))
		for _, it := range old.Items {
			items = append(items, it)
		}
		sort.Slice(items, func(i, j int) bool { return items[j].LastAt.After(items[i].LastAt) })
		for i, it := range items {
			e := inboxEntry{S: int64(i) + 1, U: it.Unread, T: it.Title, E: it.EmailedAt}
			if _, err := d.col(colConversations).UpdateOne(ctx, bson.D{{Key: "_id", Value: it.ConversationID}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "inbox." + old.ID, Value: e}}}}); err != nil {
				cur.Close(ctx)
				return err
			}
		}
	}
	cur.Close(ctx)
	if err := cur.Err(); err != nil {
		return err
	}
	if _, err := d.col(colChatInbox).DeleteMany(ctx, bson.D{}); err != nil {
		return err
	}

	heads := map[string]*inboxHead{}
	cur, err = d.col(colConversations).Find(ctx, bson.D{})
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var c Conversation
		if err := cur.Decode(&c); err != nil {
			return err
		}
		var fix bson.D
		if c.V == 0 {
			c.V = 1
			fix = append(fix, bson.E{Key: "v", Value: c.V})
		}
		if c.Last.At.IsZero() && c.N > 0 {
			items, err := s.bucket(ctx, c.ID, c.N)
			if err != nil {
				return err
			}
			if len(items) > 0 {
				m := items[len(items)-1]
				c.Last = lastMessage{B: preview(m.Body), At: m.CreatedAt}
				fix = append(fix, bson.E{Key: "last", Value: c.Last})
			}
		}
		if fix != nil {
			if _, err := d.col(colConversations).UpdateOne(ctx, bson.D{{Key: "_id", Value: c.ID}}, bson.D{{Key: "$set", Value: fix}}); err != nil {
				return err
			}
		}
		for owner, e := range c.Inbox {
			if e.S == 0 || keep != nil && !keep(owner) {
				continue
			}
			if err := s.putRow(ctx, owner, c.row(owner)); err != nil {
				return err
			}
			h := heads[owner]
			if h == nil {
				h = &inboxHead{}
				heads[owner] = h
			}
			h.N, h.U = max(h.N, e.S), h.U+e.U
		}
	}
	if err := cur.Err(); err != nil {
		return err
	}
	for owner, h := range heads {
		if _, err := d.col(colChatInbox).UpdateOne(ctx, bson.D{{Key: "_id", Value: owner}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: h.N}, {Key: "u", Value: h.U}}}}, options.Update().SetUpsert(true)); err != nil {
			return err
		}
	}
	return nil
}

// ensureChatInboxes moves a database made before the paged inboxes to them,
// once.
func (d *DB) ensureChatInboxes(ctx context.Context) error {
	first, err := d.MarkOnce(ctx, "chatInbox:v2")
	if err != nil || !first {
		return err
	}
	return d.write(func() error { return d.rebuildChatInboxes(ctx, nil) })
}
