package handlers

import (
	"bytes"
	"sync"
)

// csrfMark stands for the visitor's CSRF token in a kept page: the pages
// are the same for every anonymous visitor but for it. (It has the shape of
// the real tokens, so escaping treats both alike.)
const csrfMark = "00000000-0000-4000-8000-c5rf0000mark"

// pageCache keeps the pages every anonymous visitor sees alike (the home
// page, the catalogue, a service), rendered, by language and URL, for one
// version of the catalogue: serving one is copying its bytes around the
// visitor's token, no templates. It forgets everything when the catalogue
// changes, and when it is full (a bound against made-up URLs).
type pageCache struct {
	mu      sync.Mutex
	version int64
	pages   map[string][][]byte // the page split at csrfMark
}

const pageCacheMax = 512

func (pc *pageCache) get(key string, version int64) ([][]byte, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.version != version {
		return nil, false
	}
	parts, ok := pc.pages[key]
	return parts, ok
}

func (pc *pageCache) put(key string, version int64, page []byte) [][]byte {
	parts := bytes.Split(page, []byte(csrfMark))
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.version != version || len(pc.pages) >= pageCacheMax {
		pc.version, pc.pages = version, map[string][][]byte{}
	}
	pc.pages[key] = parts
	return parts
}
