package views

import (
	"context"
	"net/url"

	"tozalash/store"
)

// bookURL is where a card's Book goes: the booking form of the service,
// or, for a visitor, the sign-up on the way there (next carried through
// the sign-up, the verification and the login).
func bookURL(ctx context.Context, s *store.Service) string {
	form := "/orders/new?serviceId=" + s.ID.Hex()
	if MetaFrom(ctx).User != nil {
		return form
	}
	return "/auth/signup?next=" + url.QueryEscape(form)
}
