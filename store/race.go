package store

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Helpers for writes that other instances may race (MONGODB_URI, several
// instances starting on one database at once): each step either succeeds
// once for all of them or finds that another did it.

// isDuplicate reports a unique index refusing a write: E11000, or
// FerretDB's SQLite message for it.
func isDuplicate(err error) bool {
	return err != nil && (mongo.IsDuplicateKeyError(err) || strings.Contains(err.Error(), "UNIQUE constraint failed"))
}

// upsertByID applies update to the document id of col, creating it when
// missing. Two upserts of a missing document at once can both try the
// insert, and the loser gets a duplicate key (MongoDB and FerretDB alike):
// then the document exists, and the update is applied to it.
func (d *DB) upsertByID(ctx context.Context, col string, id any, update bson.D) error {
	filter := bson.D{{Key: "_id", Value: id}}
	_, err := d.col(col).UpdateOne(ctx, filter, update, options.Update().SetUpsert(true))
	if isDuplicate(err) {
		_, err = d.col(col).UpdateOne(ctx, filter, update, options.Update().SetUpsert(true))
	}
	return err
}

// findAndUpsertByID is upsertByID returning the document into out: as it
// is after the update when after is set, else as it was (mongo.ErrNoDocuments
// when this call made it).
func (d *DB) findAndUpsertByID(ctx context.Context, col string, id any, update bson.D, after bool, out any) error {
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.Before)
	if after {
		opts.SetReturnDocument(options.After)
	}
	filter := bson.D{{Key: "_id", Value: id}}
	err := d.col(col).FindOneAndUpdate(ctx, filter, update, opts).Decode(out)
	if isDuplicate(err) {
		err = d.col(col).FindOneAndUpdate(ctx, filter, update, opts).Decode(out)
	}
	return err
}

// insertAbsent inserts docs, leaving alone each whose unique key another
// document holds already; only other errors are returned.
func (d *DB) insertAbsent(ctx context.Context, col string, docs []any) error {
	if len(docs) == 0 {
		return nil
	}
	_, err := d.col(col).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bulk mongo.BulkWriteException
	if err == nil || !errors.As(err, &bulk) || bulk.WriteConcernError != nil {
		return err
	}
	for _, we := range bulk.WriteErrors {
		if !isDuplicate(we) {
			return we
		}
	}
	return nil
}

// deleteIf deletes the document id of col if it still has the fields of
// cond, and reports whether it did: one filtered delete on MongoDB; on
// FerretDB, which would scan the collection for any filter but a bare _id,
// a read by _id, the check and a delete by _id (the caller holds the
// write lock; see updateIf).
func (d *DB) deleteIf(ctx context.Context, col string, id any, cond bson.D) (bool, error) {
	if d.filtersItself() {
		res, err := d.col(col).DeleteOne(ctx, append(bson.D{{Key: "_id", Value: id}}, cond...))
		if err != nil {
			return false, err
		}
		return res.DeletedCount == 1, nil
	}
	if ok, err := d.hasFields(ctx, col, id, cond); !ok || err != nil {
		return false, err
	}
	res, err := d.col(col).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return false, err
	}
	return res.DeletedCount == 1, nil
}

// createIndex makes ix. Instances starting together on one database all
// ask for it; should the database refuse one of them (an index build of
// the same keys in progress, "already exists"), the index standing
// afterwards with those keys and that uniqueness is as good.
func (d *DB) createIndex(ctx context.Context, ix index) error {
	_, err := d.col(ix.collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetUnique(ix.unique)})
	if err == nil {
		return nil
	}
	specs, lerr := d.col(ix.collection).Indexes().ListSpecifications(ctx)
	if lerr != nil {
		return err
	}
	want, merr := bson.Marshal(ix.keys)
	if merr != nil {
		return err
	}
	for _, s := range specs {
		if bytes.Equal(s.KeysDocument, want) && (s.Unique != nil && *s.Unique) == ix.unique {
			return nil
		}
	}
	return err
}

// bulkUpsert sends models (upserts by _id, one per document), in commands
// of at most maxUpdatesPerCommand. An upsert that loses the insert race to
// another instance is tried again, once the document exists.
func (d *DB) bulkUpsert(ctx context.Context, col string, models []mongo.WriteModel) error {
	for len(models) > 0 {
		n := min(len(models), maxUpdatesPerCommand)
		if err := d.bulkUpsertCommand(ctx, col, models[:n]); err != nil {
			return err
		}
		models = models[n:]
	}
	return nil
}

// maxUpdatesPerCommand bounds the statements of one update command. The
// embedded FerretDB keeps each statement's read of SQLite open until the
// whole command ends, and its pool has 100 connections: a command of 100
// updates waits for a connection it holds itself, and every query of the
// app behind it (measured: the load test's group of bookings of 200
// customers stopped the database for good).
const maxUpdatesPerCommand = 25

func (d *DB) bulkUpsertCommand(ctx context.Context, col string, models []mongo.WriteModel) error {
	_, err := d.col(col).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	var bulk mongo.BulkWriteException
	if err == nil || !errors.As(err, &bulk) || bulk.WriteConcernError != nil {
		return translate(err)
	}
	var again []mongo.WriteModel
	for _, we := range bulk.WriteErrors {
		if !isDuplicate(we) || we.Index < 0 || we.Index >= len(models) {
			return we
		}
		again = append(again, models[we.Index])
	}
	_, err = d.col(col).BulkWrite(ctx, again, options.BulkWrite().SetOrdered(false))
	return translate(err)
}
