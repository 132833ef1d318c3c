package handlers

import (
	"bytes"
	"compress/gzip"
	"sync"
)

// csrfMark stands for the visitor's CSRF token in a kept page: the pages
// are the same for every anonymous visitor but for it. (It has the shape of
// the real tokens, 43 base64url characters, so escaping treats both alike.)
const csrfMark = "c5rf_mark_of_a_kept_page_000000000000000000"

// pageCache keeps the pages every anonymous visitor sees alike (the home
// page, the catalogue, a service), rendered, by language and URL, for one
// version of the catalogue: serving one is copying its bytes around the
// visitor's token, no templates. It forgets everything when the catalogue
// changes, and when it is full (a bound against made-up URLs).
type pageCache struct {
	mu      sync.Mutex
	version int64
	pages   map[string]*keptPage
}

// keptPage is one kept page: split at csrfMark, and gzipped as a visitor
// without a token gets it (most first visits: a quarter of the bytes on a
// phone's connection).
type keptPage struct {
	parts [][]byte
	gz    []byte
}

const pageCacheMax = 512

func (pc *pageCache) get(key string, version int64) (*keptPage, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.version != version {
		return nil, false
	}
	k, ok := pc.pages[key]
	return k, ok
}

func (pc *pageCache) put(key string, version int64, page []byte) *keptPage {
	k := &keptPage{parts: bytes.Split(page, []byte(csrfMark))}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(bytes.Join(k.parts, nil))
	if zw.Close() == nil {
		k.gz = gz.Bytes()
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.version != version || len(pc.pages) >= pageCacheMax {
		pc.version, pc.pages = version, map[string]*keptPage{}
	}
	pc.pages[key] = k
	return k
}
