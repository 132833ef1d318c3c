package store

import (
	"encoding/json"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
)

// Texts is one text in the three languages of the site. Uzbek is required;
// a missing Russian or English falls back to it (In).
type Texts struct {
	Uz string `bson:"uz" json:"uz"`
	Ru string `bson:"ru" json:"ru"`
	En string `bson:"en" json:"en"`
}

// In is the text in lang, Uzbek when lang is missing or unknown.
func (t Texts) In(lang string) string {
	switch {
	case lang == "ru" && t.Ru != "":
		return t.Ru
	case lang == "en" && t.En != "":
		return t.En
	}
	return t.Uz
}

// UnmarshalBSONValue reads the document {uz, ru, en}, and the legacy shape
// too: a plain string, which is the Uzbek text (services and orders written
// before the catalogue had three languages).
func (t *Texts) UnmarshalBSONValue(typ bsontype.Type, data []byte) error {
	switch typ {
	case bsontype.String:
		var s string
		if err := bson.UnmarshalValue(typ, data, &s); err != nil {
			return err
		}
		*t = Texts{Uz: s}
		return nil
	case bsontype.EmbeddedDocument:
		type plain Texts // without this method
		var p plain
		if err := bson.Unmarshal(data, &p); err != nil {
			return err
		}
		*t = Texts(p)
		return nil
	case bsontype.Null, bsontype.Undefined:
		*t = Texts{}
		return nil
	}
	return fmt.Errorf("texts: cannot decode %s", typ)
}

// ServiceTitle is the name of an order's service in lang: the order's own
// snapshot of it (every language, kept at booking, so that renaming the
// service never rewrites an order). An order booked before snapshots kept
// every language has its Uzbek name only (uz); it shows the catalogue's
// current name in lang (current, "" when the service is gone; archived ones
// count) when the service still exists, else that Uzbek name.
func ServiceTitle(snapshot Texts, uz, lang, current string) string {
	switch {
	case snapshot.Uz != "":
		return snapshot.In(lang)
	case current != "":
		return current
	}
	return uz
}

// UnmarshalJSON reads {"uz","ru","en"}, or a plain string as the Uzbek text
// (what clients of the one-language catalogue send).
func (t *Texts) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = Texts{Uz: s}
		return nil
	}
	type plain Texts // without this method
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*t = Texts(p)
	return nil
}
