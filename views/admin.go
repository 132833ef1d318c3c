package views

import "strings"

// AdminSection is one entry of the admin's navigation: its label (a locale
// key), where it leads, and the paths that belong to it.
type AdminSection struct {
	Key      string   // locale key of the label
	Href     string   // where the link leads
	Prefixes []string // paths of the section: the path itself, or below it
	TestID   string
}

// AdminSections is the one list of the admin's sections, in the order the
// navigation shows them: a page whose path belongs to one is laid out with
// AdminLayout for an admin (see handlers' render). A new section (settings,
// schedule, crews) is one more line here.
var AdminSections = []AdminSection{
	{Key: "admin.nav.dashboard", Href: "/admin", Prefixes: []string{"/admin"}, TestID: "dashboard"},
	{Key: "admin.nav.orders", Href: "/orders", Prefixes: []string{"/orders"}, TestID: "orders"},
	{Key: "admin.nav.plans", Href: "/plans", Prefixes: []string{"/plans", "/my/plans"}, TestID: "plans"},
	{Key: "admin.nav.schedule", Href: "/admin/schedule", Prefixes: []string{"/admin/schedule"}, TestID: "schedule"},
	{Key: "admin.nav.services", Href: "/services", Prefixes: []string{"/services"}, TestID: "services"},
	{Key: "admin.nav.users", Href: "/users", Prefixes: []string{"/users"}, TestID: "users"},
	{Key: "admin.nav.support", Href: "/chat", Prefixes: []string{"/chat"}, TestID: "support"},
	{Key: "admin.nav.outbox", Href: "/admin/outbox", Prefixes: []string{"/admin/outbox"}, TestID: "outbox"},
	{Key: "admin.nav.crews", Href: "/admin/crews", Prefixes: []string{"/admin/crews", "/admin/closures", "/admin/cleaners"}, TestID: "crews"},
	{Key: "nav.settings", Href: "/admin/settings", Prefixes: []string{"/admin/settings"}, TestID: "settings"},
	{Key: "nav.promoCodes", Href: "/admin/promo-codes", Prefixes: []string{"/admin/promo-codes"}, TestID: "promo-codes"},
}

// AdminSectionOf is the section path belongs to (the longest matching
// prefix: /admin/outbox is the outbox, /admin/statistics the dashboard),
// and whether it belongs to any.
func AdminSectionOf(path string) (AdminSection, bool) {
	var best AdminSection
	n := -1
	for _, s := range AdminSections {
		for _, p := range s.Prefixes {
			if (path == p || strings.HasPrefix(path, p+"/") || strings.HasPrefix(path, p+"?")) && len(p) > n {
				best, n = s, len(p)
			}
		}
	}
	return best, n >= 0
}
