package storetest

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/event"

	"tozalash/store"
)

// A queryShape is what decides which index can serve a query: the
// collection and the fields its filter names (but _id).
type queryShape struct {
	collection string
	fields     string // sorted, comma-separated
}

// queries records the shapes of the queries the store issued in this test
// binary, with the command that first showed each.
var queries = struct {
	sync.Mutex
	seen map[queryShape]string
}{seen: map[queryShape]string{}}

// recordQuery notes the shapes of a command's filters.
func recordQuery(e *event.CommandStartedEvent) {
	cmd := e.Command
	col, _ := cmd.Lookup(e.CommandName).StringValueOK()
	var filters []bson.Raw
	add := func(v bson.RawValue) {
		if d, ok := v.DocumentOK(); ok {
			filters = append(filters, d)
		}
	}
	switch e.CommandName {
	case "find":
		add(cmd.Lookup("filter"))
	case "count", "findAndModify":
		add(cmd.Lookup("query"))
	case "aggregate": // CountDocuments: its $match
		if stages, ok := cmd.Lookup("pipeline").ArrayOK(); ok {
			if vals, err := stages.Values(); err == nil && len(vals) > 0 {
				if st, ok := vals[0].DocumentOK(); ok {
					add(st.Lookup("$match"))
				}
			}
		}
	case "update", "delete":
		for _, seq := range []string{"updates", "deletes"} {
			if arr, ok := cmd.Lookup(seq).ArrayOK(); ok {
				vals, _ := arr.Values()
				for _, v := range vals {
					if st, ok := v.DocumentOK(); ok {
						add(st.Lookup("q"))
					}
				}
			}
		}
	default:
		return
	}
	queries.Lock()
	defer queries.Unlock()
	for _, f := range filters {
		for _, fields := range shapesOf(f) {
			s := queryShape{col, fields}
			if _, ok := queries.seen[s]; !ok && fields != "" {
				queries.seen[s] = e.CommandName
			}
		}
	}
}

// shapesOf lists the field sets of a filter: one, or one per $or branch.
// A filter with _id by equality is served by _id's own index: none.
func shapesOf(f bson.Raw) []string {
	elems, err := f.Elements()
	if err != nil {
		return nil
	}
	var fields []string
	var branches []string
	for _, el := range elems {
		k := el.Key()
		switch {
		case k == "$or":
			arr, _ := el.Value().ArrayOK()
			vals, _ := arr.Values()
			for _, v := range vals {
				if d, ok := v.DocumentOK(); ok {
					branches = append(branches, shapesOf(d)...)
				}
			}
		case k == "_id":
			if d, ok := el.Value().DocumentOK(); !ok || !isOperatorDoc(d) {
				return nil // by _id
			}
		case strings.HasPrefix(k, "$"):
		default:
			fields = append(fields, k)
		}
	}
	if len(branches) > 0 && len(fields) == 0 {
		return branches
	}
	sort.Strings(fields)
	return []string{strings.Join(fields, ",")}
}

func isOperatorDoc(d bson.Raw) bool {
	elems, err := d.Elements()
	return err == nil && len(elems) > 0 && strings.HasPrefix(elems[0].Key(), "$")
}

// serves reports whether ix can serve a query naming fields: the index's
// leading keys are those fields, in any order.
func serves(ix store.DeclaredIndex, fields string) bool {
	want := strings.Split(fields, ",")
	if len(ix.Keys) < len(want) {
		return false
	}
	lead := append([]string(nil), ix.Keys[:len(want)]...)
	sort.Strings(lead)
	return strings.Join(lead, ",") == fields
}

// checkIndexes writes to w each query shape seen and the declared index that
// serves it on MongoDB, and reports those no index serves; with unused, it
// also reports the non-unique indexes that served no query seen. It
// returns whether all is well.
func checkIndexes(w io.Writer, unused bool) bool {
	queries.Lock()
	defer queries.Unlock()
	declared := store.DeclaredIndexes()
	used := make([]bool, len(declared))
	var shapes []queryShape
	for s := range queries.seen {
		shapes = append(shapes, s)
	}
	sort.Slice(shapes, func(i, j int) bool {
		return shapes[i].collection+" "+shapes[i].fields < shapes[j].collection+" "+shapes[j].fields
	})
	ok := true
	for _, s := range shapes {
		by := ""
		for i, ix := range declared {
			if ix.Collection == s.collection && serves(ix, s.fields) {
				used[i] = true
				if by == "" {
					by = strings.Join(ix.Keys, "_")
				}
			}
		}
		if by == "" {
			ok = false
			fmt.Fprintf(w, "storetest: %s query on {%s} (%s) has no index on MongoDB: declare one in store.indexes\n", s.collection, s.fields, queries.seen[s])
		}
	}
	if unused {
		for i, ix := range declared {
			if !used[i] && !ix.Unique {
				ok = false
				fmt.Fprintf(w, "storetest: index %s {%s} serves no query the tests issued: drop it, or test the query it is for\n", ix.Collection, strings.Join(ix.Keys, ","))
			}
		}
	}
	return ok
}
