// Package static holds the built CSS, the vendored JavaScript and the images,
// embedded in the binary, with content-hashed URLs for long caching.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"
)

//go:embed css/app.css js img
var files embed.FS

// Asset is one file ready to serve.
type Asset struct {
	Body        []byte
	ContentType string
	Version     string // a short hash of Body
	Gzip        []byte // Body compressed, for text files
}

// Assets are all embedded files by their path under static/, read and hashed
// once.
var Assets = sync.OnceValue(func() map[string]Asset {
	out := map[string]Asset{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		a := Asset{Body: body, ContentType: ct, Version: hex.EncodeToString(sum[:])[:12]}
		if strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") || strings.Contains(ct, "svg") {
			a.Gzip = gzipped(body)
		}
		out[p] = a
		return nil
	})
	return out
})

// URL returns the versioned URL of a file under static/, such as
// "/static/css/app.css?v=1a2b3c4d5e6f"; a new build changes the URL, so the
// file can be cached for a year.
func URL(name string) string {
	if a, ok := Assets()[name]; ok {
		return "/static/" + name + "?v=" + a.Version
	}
	return "/static/" + name
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}
