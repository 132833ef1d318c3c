package views

import (
	"context"
	"embed"
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"tozalash/store"
)

//go:embed locales/*.toml
var localeFiles embed.FS

// Languages the UI speaks, the default first.
var Languages = []string{"uz", "ru", "en"}

// Catalog holds every UI string in every language. Plain strings are resolved
// once at start, so a page looks them up in a map instead of running go-i18n
// for each of its dozens of strings; only messages with parameters go through
// go-i18n per call.
type Catalog struct {
	plain      map[string]map[string]string // lang → id → text
	localizers map[string]*i18n.Localizer
	ids        map[string][]string // lang → sorted ids
	matcher    language.Matcher
}

// LoadCatalog reads the embedded catalogs.
func LoadCatalog() (*Catalog, error) {
	bundle := i18n.NewBundle(language.Uzbek)
	bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	c := &Catalog{
		plain:      map[string]map[string]string{},
		localizers: map[string]*i18n.Localizer{},
		ids:        map[string][]string{},
	}
	var tags []language.Tag
	for _, lang := range Languages {
		data, err := localeFiles.ReadFile("locales/" + lang + ".toml")
		if err != nil {
			return nil, err
		}
		file, err := bundle.ParseMessageFileBytes(data, lang+".toml")
		if err != nil {
			return nil, fmt.Errorf("locale %s: %w", lang, err)
		}
		c.plain[lang] = map[string]string{}
		for _, m := range file.Messages {
			c.ids[lang] = append(c.ids[lang], m.ID)
			if !strings.Contains(m.Other, "{{") {
				c.plain[lang][m.ID] = m.Other
			}
		}
		sort.Strings(c.ids[lang])
		c.localizers[lang] = i18n.NewLocalizer(bundle, lang)
		tags = append(tags, language.MustParse(lang))
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// Has reports whether id is a message of the catalogs.
func (c *Catalog) Has(id string) bool {
	_, ok := c.plain[Languages[0]][id]
	return ok
}

// IDs lists the message ids of one language, sorted.
func (c *Catalog) IDs(lang string) []string { return c.ids[lang] }

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Pick chooses the language of a request: the lang cookie when it names a
// supported language, else the Accept-Language header, else Uzbek.
func (c *Catalog) Pick(cookie, acceptLanguage string) string {
	if Supported(cookie) {
		return cookie
	}
	if acceptLanguage == "" {
		return Languages[0]
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Languages[0]
	}
	_, i, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return Languages[0]
	}
	return Languages[i]
}

// T returns the message id in lang; a missing one shows as its id, which a
// test of the catalogs prevents.
func (c *Catalog) T(lang, id string) string {
	if s, ok := c.plain[lang][id]; ok {
		return s
	}
	return c.Format(lang, id, nil)
}

// Format fills the message id's {{.Name}} parameters from data.
func (c *Catalog) Format(lang, id string, data map[string]any) string {
	loc, ok := c.localizers[lang]
	if !ok {
		loc = c.localizers[Languages[0]]
	}
	s, err := loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if err != nil {
		return id
	}
	return s
}

// Locale is the catalog bound to the language of one request.
type Locale struct {
	Lang string
	cat  *Catalog
}

// Locale binds the catalog to lang.
func (c *Catalog) Locale(lang string) Locale { return Locale{Lang: lang, cat: c} }

// T returns the message id in this locale's language.
func (l Locale) T(id string) string { return l.cat.T(l.Lang, id) }

// Format fills the parameters of message id.
func (l Locale) Format(id string, data map[string]any) string { return l.cat.Format(l.Lang, id, data) }

type metaKey struct{}

// Meta is what every page needs besides its own data: the language, where it
// is, and (later) who is looking.
type Meta struct {
	Locale
	Path      string // the request path and query, for the language switch
	RequestID string
	Flash     *Flash      // a message left by the previous request, shown once
	User      *store.User // who is signed in, or nil
	CSRF      string      // the token forms and htmx send back
}

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind string // success | info | error
	Text string
}

// WithMeta stores m in ctx for the components to find.
func WithMeta(ctx context.Context, m *Meta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// MetaFrom returns the page meta stored in ctx.
func MetaFrom(ctx context.Context) *Meta {
	if m, ok := ctx.Value(metaKey{}).(*Meta); ok {
		return m
	}
	return &Meta{}
}

// t is the templates' shorthand for a UI string in the request's language.
func t(ctx context.Context, id string) string {
	m := MetaFrom(ctx)
	if m.cat == nil {
		return id
	}
	return m.T(id)
}
