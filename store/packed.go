package store

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// The entries of the documents that hold many of them (a list's rows, a
// day's visits) are stored packed: each one's BSON as one binary value.
// FerretDB decodes and encodes the whole document at every update of one
// entry, at a cost that grows with the document's fields: a page's twenty
// rows of twenty fields each made the update of a full page about three
// times that of a one-row page (3.5 against 1.1 ms here); packed, an entry
// is one field, and the full page's update costs 1.1 ms. An entry stored
// before, as a subdocument, reads as well and is packed when next set.
// Nothing queries inside these entries: their documents are read by _id.

// pack is v's BSON as a binary value (a MarshalBSONValue).
func pack(v any) (bsontype.Type, []byte, error) {
	raw, err := bson.Marshal(v)
	if err != nil {
		return 0, nil, err
	}
	return bson.TypeBinary, bsoncore.AppendBinary(nil, bson.TypeBinaryGeneric, raw), nil
}

// unpack decodes into v an entry stored packed, or as a subdocument (an
// UnmarshalBSONValue); what names the entry in an error.
func unpack(t bsontype.Type, data []byte, v any, what string) error {
	switch t {
	case bson.TypeBinary:
		_, raw, _, ok := bsoncore.ReadBinary(data)
		if !ok {
			return errors.New(what + ": malformed binary")
		}
		data = raw
	case bson.TypeEmbeddedDocument:
	case bson.TypeNull: // as a subdocument's null read before: the zero entry
		return nil
	default:
		return fmt.Errorf("%s stored as %s", what, t)
	}
	return bson.Unmarshal(data, v)
}
