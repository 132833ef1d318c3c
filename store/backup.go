package store

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// A backup is a gzip-compressed tar archive:
//
//	<collection>.json  one document per line in canonical MongoDB Extended
//	                   JSON, sorted by _id: what `mongoimport --collection
//	                   <collection> --file <collection>.json` reads
//	manifest.json      {format, app, database, time, collections: {name: count}},
//	                   written last, once the counts are known
//
// Canonical Extended JSON keeps every BSON type: an int64 stays an int64
// ({"$numberLong": "…"}), a date keeps its milliseconds, an ObjectID its
// bytes, so a restore gives back the very documents.
const (
	// BackupFormat is the version of the archive's layout, in its manifest.
	BackupFormat = 1

	backupManifestName = "manifest.json"
	// maxBackupLine bounds one document's line: a BSON document is at most
	// 16 MiB, and its canonical JSON rarely much longer.
	maxBackupLine = 16 << 20
	// restoreBatch documents, and at most restoreBatchBytes, go in one
	// InsertMany.
	restoreBatch      = 500
	restoreBatchBytes = 16 << 20
)

// BackupReport says how many documents of each collection a backup wrote or
// a restore inserted.
type BackupReport struct {
	Counts map[string]int64 `json:"collections"`
}

// Names are the collections of the report, sorted.
func (r BackupReport) Names() []string {
	names := make([]string, 0, len(r.Counts))
	for name := range r.Counts {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Total is the number of documents of every collection.
func (r BackupReport) Total() int64 {
	var n int64
	for _, c := range r.Counts {
		n += c
	}
	return n
}

type backupManifest struct {
	Format      int              `json:"format"`
	App         string           `json:"app"`
	Database    string           `json:"database"`
	Time        time.Time        `json:"time"`
	Collections map[string]int64 `json:"collections"`
}

// Backup writes every collection of the app to w as a gzip'd tar archive
// (see BackupFormat). Each collection is streamed through one temporary
// file, since a tar entry needs its size first. It takes no lock: each
// collection is read in one pass while the app may go on writing, so for a
// copy of one instant stop the app first; the counters and read models are
// recomputed at restore anyway (Reconcile).
func (d *DB) Backup(ctx context.Context, w io.Writer) (BackupReport, error) {
	rep := BackupReport{Counts: map[string]int64{}}
	started := time.Now().UTC().Truncate(time.Second)
	tmp, err := os.CreateTemp("", "tozalash-backup-*.json")
	if err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for _, name := range collections {
		n, size, err := d.dumpCollection(ctx, name, tmp)
		if err != nil {
			return rep, fmt.Errorf("backup %s: %w", name, err)
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name + ".json", Mode: 0o600, Size: size, ModTime: started}
		if err := tw.WriteHeader(hdr); err != nil {
			return rep, fmt.Errorf("backup %s: %w", name, err)
		}
		if _, err := io.Copy(tw, io.NewSectionReader(tmp, 0, size)); err != nil {
			return rep, fmt.Errorf("backup %s: %w", name, err)
		}
		rep.Counts[name] = n
	}
	manifest, err := json.MarshalIndent(backupManifest{Format: BackupFormat, App: "tozalash",
		Database: d.db.Name(), Time: started, Collections: rep.Counts}, "", "  ")
	if err != nil {
		return rep, fmt.Errorf("backup manifest: %w", err)
	}
	manifest = append(manifest, '\n')
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: backupManifestName, Mode: 0o600, Size: int64(len(manifest)), ModTime: started}
	if err := tw.WriteHeader(hdr); err != nil {
		return rep, fmt.Errorf("backup manifest: %w", err)
	}
	if _, err := tw.Write(manifest); err != nil {
		return rep, fmt.Errorf("backup manifest: %w", err)
	}
	if err := tw.Close(); err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	if err := zw.Close(); err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	return rep, nil
}

// dumpCollection writes the documents of name into tmp, from its start, one
// canonical Extended JSON line each, and returns how many and the bytes.
func (d *DB) dumpCollection(ctx context.Context, name string, tmp *os.File) (n, size int64, err error) {
	if err := tmp.Truncate(0); err != nil {
		return 0, 0, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, 0, err
	}
	filter := bson.D{}
	if transient[name] {
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$exists", Value: false}}}} // none
	}
	cur, err := d.col(name).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return 0, 0, err
	}
	defer cur.Close(ctx)
	bw := bufio.NewWriterSize(tmp, 1<<20)
	for cur.Next(ctx) {
		// The marker of a server running now is no part of the data: a
		// restore of it would look like a crash.
		if id, _ := cur.Current.Lookup("_id").StringValueOK(); name == colMeta && id == metaRunning {
			continue
		}
		doc := cur.Current
		if name == colOutbox {
			if doc, err = emailForBackup(doc); err != nil {
				return n, 0, fmt.Errorf("document %d: %w", n+1, err)
			}
			if doc == nil {
				continue
			}
		}
		line, err := bson.MarshalExtJSON(doc, true, false)
		if err != nil {
			return n, 0, fmt.Errorf("document %d: %w", n+1, err)
		}
		if _, err := bw.Write(line); err != nil {
			return n, 0, err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return n, 0, err
		}
		n++
	}
	if err := cur.Err(); err != nil {
		return n, 0, err
	}
	if err := bw.Flush(); err != nil {
		return n, 0, err
	}
	size, err = tmp.Seek(0, io.SeekCurrent)
	return n, size, err
}

// emailForBackup is an outbox document as a backup holds it: never with a
// live one-time link. One still to send that carries a link is left out
// (nil): its link, the one way to its token, would outlive the token's
// half hour in every copy of the backup, and restored days later it would
// be sent dead. Any other keeps its recipient, subject, times and status,
// with any link blanked (RedactLinks; a failed email's are blanked when it
// fails already).
func emailForBackup(doc bson.Raw) (bson.Raw, error) {
	text, _ := doc.Lookup("text").StringValueOK()
	html, _ := doc.Lookup("html").StringValueOK()
	if !carriesLink(text) && !carriesLink(html) {
		return doc, nil
	}
	if status, _ := doc.Lookup("status").StringValueOK(); status == EmailPending {
		return nil, nil
	}
	var d bson.D
	if err := bson.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	for i, e := range d {
		if body, ok := e.Value.(string); ok && (e.Key == "text" || e.Key == "html") {
			d[i].Value = RedactLinks(body)
		}
	}
	return bson.Marshal(d)
}

// Restore inserts the documents of a Backup archive into this database,
// which must be empty: any document in one of the app's collections is
// ErrConflict, and nothing is written. The only documents an empty database
// may hold are the bare markers ({_id} alone) that opening it writes in
// meta; they give way to the archive's own.
//
// The whole archive is read and checked first (gzip checksum, tar entries,
// every line, the manifest's counts), decoded into a temporary file, so a
// damaged or truncated archive writes nothing. Then each collection goes in
// with ordered InsertMany batches. A failure past that point leaves the
// database partly restored: drop it before trying again.
//
// Restore writes the documents only; the caller recomputes the counters and
// read models (Reconcile) if it wants them to follow the restored orders.
func (d *DB) Restore(ctx context.Context, r io.Reader) (BackupReport, error) {
	rep := BackupReport{Counts: map[string]int64{}}
	if err := d.checkEmpty(ctx); err != nil {
		return rep, err
	}
	spool, err := os.CreateTemp("", "tozalash-restore-*.bson")
	if err != nil {
		return rep, fmt.Errorf("restore: %w", err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	sections, err := readBackup(r, spool)
	if err != nil {
		return rep, fmt.Errorf("restore: %w", err)
	}
	if err := d.checkEmpty(ctx); err != nil { // again: reading may have taken a while
		return rep, err
	}
	err = d.write(func() error {
		_, err := d.col(colMeta).DeleteMany(ctx, bson.D{})
		return translate(err)
	})
	if err != nil {
		return rep, fmt.Errorf("restore meta: %w", err)
	}
	for _, s := range sections {
		n, err := d.insertSection(ctx, s, spool)
		rep.Counts[s.name] = n
		if err != nil {
			return rep, fmt.Errorf("restore %s: %w (the database is partly restored: drop it before trying again)", s.name, err)
		}
	}
	// This instance's own copies of what was just replaced.
	d.catalog.mu.Lock()
	d.catalog.services = nil
	d.catalog.mu.Unlock()
	return rep, nil
}

// transient are the collections of the running instances (their list,
// the outbox's claims, the rate limits' counts, the events feed and who is
// connected): no part of the data, left out of a backup (a restored claim
// would hold its email back until its lease ended).
var transient = map[string]bool{colInstances: true, colClaims: true, colLimits: true, colEvents: true, colPresence: true}

// checkEmpty is nil when no collection of the app holds a document but for
// bare markers in meta, ErrConflict otherwise.
func (d *DB) checkEmpty(ctx context.Context) error {
	for _, name := range collections {
		if name == colMeta || transient[name] {
			continue
		}
		err := d.col(name).FindOne(ctx, bson.D{}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return fmt.Errorf("restore: is %s empty: %w", name, err)
		}
		return fmt.Errorf("%w: restore wants an empty database, and %s holds documents", ErrConflict, name)
	}
	cur, err := d.col(colMeta).Find(ctx, bson.D{}, options.Find().SetLimit(1000))
	if err != nil {
		return fmt.Errorf("restore: is %s empty: %w", colMeta, err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		if elems, err := cur.Current.Elements(); err != nil || len(elems) != 1 || elems[0].Key() != "_id" {
			return fmt.Errorf("%w: restore wants an empty database, and %s holds documents", ErrConflict, colMeta)
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("restore: is %s empty: %w", colMeta, err)
	}
	return nil
}

// spoolSection is one collection of a read archive: its documents as BSON,
// one after the other, at [off, off+size) of the spool file.
type spoolSection struct {
	name      string
	off, size int64
	n         int64
}

// readBackup reads a whole archive, checking everything, and writes each
// collection's documents as BSON into spool.
func readBackup(r io.Reader, spool *os.File) ([]spoolSection, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a gzip archive: %w", err)
	}
	known := map[string]bool{}
	for _, c := range collections {
		known[c] = true
	}
	var (
		sections []spoolSection
		manifest *backupManifest
		off      int64
	)
	seen := map[string]bool{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", readErr(err))
		}
		if seen[hdr.Name] {
			return nil, fmt.Errorf("%s is twice in the archive", hdr.Name)
		}
		seen[hdr.Name] = true
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("unexpected entry %q in the archive", hdr.Name)
		}
		if hdr.Name == backupManifestName {
			manifest = new(backupManifest)
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(manifest); err != nil {
				return nil, fmt.Errorf("%s: %w", backupManifestName, err)
			}
			continue
		}
		name, ok := strings.CutSuffix(hdr.Name, ".json")
		if !ok || !known[name] {
			return nil, fmt.Errorf("unknown file %q in the archive: not a collection of this app", hdr.Name)
		}
		s := spoolSection{name: name, off: off}
		if s.n, s.size, err = spoolCollection(tr, spool); err != nil {
			return nil, fmt.Errorf("%s: %w", hdr.Name, err)
		}
		off += s.size
		sections = append(sections, s)
	}
	// The gzip checksum and length are checked only at the end of its stream.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Errorf("read archive: %w", readErr(err))
	}
	if manifest == nil {
		return nil, fmt.Errorf("no %s in the archive: not a tozalash backup", backupManifestName)
	}
	if manifest.Format != BackupFormat {
		return nil, fmt.Errorf("%s: format %d, this version reads %d", backupManifestName, manifest.Format, BackupFormat)
	}
	for _, s := range sections {
		if want, ok := manifest.Collections[s.name]; !ok || want != s.n {
			return nil, fmt.Errorf("%s.json holds %d documents, the manifest says %d", s.name, s.n, want)
		}
	}
	for name := range manifest.Collections {
		if !seen[name+".json"] {
			return nil, fmt.Errorf("%s.json, listed in the manifest, is missing", name)
		}
	}
	return sections, nil
}

// spoolCollection decodes every line of one collection's file and appends
// the documents as BSON to spool.
func spoolCollection(r io.Reader, spool *os.File) (n, size int64, err error) {
	// A scanner hands out the piece of line before a read error as a last
	// line: the read error, not that piece's, is the one to report.
	er := &errReader{r: r}
	sc := bufio.NewScanner(er)
	sc.Buffer(make([]byte, 0, 64<<10), maxBackupLine+1)
	bw := bufio.NewWriterSize(spool, 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var raw bson.Raw
		if err := bson.UnmarshalExtJSON(text, true, &raw); err != nil {
			if er.err != nil {
				return n, size, readErr(er.err)
			}
			return n, size, fmt.Errorf("line %d: %w", line, err)
		}
		if _, err := bw.Write(raw); err != nil {
			return n, size, err
		}
		n++
		size += int64(len(raw))
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line %d is longer than %d bytes", line+1, maxBackupLine)
		}
		return n, size, readErr(err)
	}
	return n, size, bw.Flush()
}

// errReader remembers the first error of r other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// readErr says what an unexpected end of the archive means.
func readErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("the archive is cut short: %w", err)
	}
	return err
}

// insertSection inserts the documents of s, read back from spool.
func (d *DB) insertSection(ctx context.Context, s spoolSection, spool *os.File) (int64, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(spool, s.off, s.size), 1<<20)
	var (
		batch   []any
		held, n int64
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := d.write(func() error {
			_, err := d.col(s.name).InsertMany(ctx, batch, options.InsertMany().SetOrdered(true))
			return translate(err)
		})
		if err != nil {
			return err
		}
		n += int64(len(batch))
		batch, held = batch[:0], 0
		return nil
	}
	var length [4]byte
	for {
		if _, err := io.ReadFull(r, length[:]); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return n, err
		}
		size := binary.LittleEndian.Uint32(length[:])
		if size < 5 || size > maxBackupLine {
			return n, fmt.Errorf("a document of %d bytes", size)
		}
		doc := make([]byte, size)
		copy(doc, length[:])
		if _, err := io.ReadFull(r, doc[4:]); err != nil {
			return n, err
		}
		batch = append(batch, bson.Raw(doc))
		held += int64(size)
		if len(batch) >= restoreBatch || held >= restoreBatchBytes {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	return n, flush()
}
