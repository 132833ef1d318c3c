package handlers

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/auth"
	"tozalash/ics"
	"tozalash/store"
	"tozalash/views"
)

// Calendar (#24): a visit as an iCalendar event — in the booking's
// confirmation email, behind the order page's ".ics" link — and each
// customer's private feed of their visits, which a phone calendar
// subscribes to. See docs/calendar.md.

const (
	// feedPast is how far back the feed goes: last month's visits stay on
	// the phone's calendar, older ones drop off.
	feedPast = 30 * 24 * time.Hour
	// feedVisits bounds the feed: the customer's latest bookings, whatever
	// their history (a weekly plan of years).
	feedVisits = 200
	// feedCache lets a phone (or the browser) keep the feed five minutes:
	// private, so no shared cache keeps a URL whose secret is the key.
	feedCache = "private, max-age=300"
	// icsType is the answer's and the attachment's type.
	icsType = "text/calendar; charset=utf-8"
)

// feedSecret is a feed URL's secret: auth.RandomSecret(32), 43 URL-safe
// characters. Anything else is not looked up.
var feedSecret = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// calendarVisit is what a visit's event is made of, read from the order or
// from its row in the customer's list.
type calendarVisit struct {
	ID               primitive.ObjectID
	Seq              int64
	Start, End       time.Time
	Status           string
	Service          string // its name in the reader's language
	Address          string
	Price            int64
	Crew             string
	Moves            int
	Created, Updated time.Time
}

func orderVisit(o *store.Order, service string) calendarVisit {
	return calendarVisit{ID: o.ID, Seq: o.Seq, Start: o.ScheduledAt, End: o.VisitEnd(), Status: o.Status, Service: service,
		Address: o.Address, Price: o.Price, Crew: o.CrewName, Moves: o.Moves(), Created: o.CreatedAt, Updated: o.UpdatedAt}
}

func rowVisit(r store.OrderSummary, service string) calendarVisit {
	return calendarVisit{ID: r.ID, Seq: r.Seq, Start: r.ScheduledAt, End: r.VisitEnd, Status: r.Status, Service: service,
		Address: r.Address, Price: r.Price, Crew: r.CrewName, Moves: r.Moves, Created: r.MadeAt, Updated: r.UpdatedAt}
}

// calendarUID is the visit's event's UID: the same for the order however
// it changes, so a calendar updates the event it has.
func (h *Handler) calendarUID(id primitive.ObjectID) string {
	host := "tozalash"
	if u, err := url.Parse(h.cfg.BaseURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return id.Hex() + "@" + host
}

// visitEvent is v as an event in lang: the service and the order's number,
// the address, and the price, the crew and the order's page.
func (h *Handler) visitEvent(v calendarVisit, lang string) ics.Event {
	loc := h.catalog.Locale(lang)
	number := store.OrderNumberMark // a booking not yet numbered (see store.OrderNumberMark)
	if v.Seq > 0 {
		number = views.OrderNo(v.Seq)
	}
	link := h.cfg.BaseURL + "/orders/" + v.ID.Hex()
	desc := loc.T("service.price") + ": " + views.Price(lang, v.Price) + "\n"
	if v.Crew != "" {
		desc += loc.T("orders.crew") + ": " + v.Crew + "\n"
	}
	desc += link
	cancelled := v.Status == store.StatusCancelled
	seq := v.Moves
	if cancelled {
		seq++ // a cancellation is a newer version of the event too
	}
	return ics.Event{UID: h.calendarUID(v.ID), Sequence: seq, Start: v.Start, End: v.End,
		Summary: v.Service + " " + number, Location: v.Address, Description: desc, URL: link,
		Cancelled: cancelled, Tentative: v.Status == store.StatusPending, Created: v.Created, LastChange: v.Updated}
}

// googleCalendarLink is the page that adds e to a Google Calendar (times
// in UTC, as the link wants them).
func googleCalendarLink(e ics.Event) string {
	const layout = "20060102T150405Z"
	q := url.Values{}
	q.Set("action", "TEMPLATE")
	q.Set("text", e.Summary)
	q.Set("dates", e.Start.UTC().Format(layout)+"/"+e.End.UTC().Format(layout))
	q.Set("details", e.Description)
	q.Set("location", e.Location)
	return "https://calendar.google.com/calendar/render?" + q.Encode()
}

// orderCalendarFile is o's .ics as an email attachment, in lang.
func (h *Handler) orderCalendarFile(o *store.Order, service, lang string) store.Attachment {
	cal := ics.Calendar{Stamp: h.now(), Events: []ics.Event{h.visitEvent(orderVisit(o, service), lang)}}
	return store.Attachment{Name: "tozalash-order.ics", ContentType: icsType + "; method=PUBLISH", Content: string(cal.Bytes())}
}

// OrderCalendar is GET /orders/:id/calendar.ics: the visit as a file to
// open in a calendar, for the order's owner or an admin.
func (h *Handler) OrderCalendar(c *fiber.Ctx) error {
	if currentUser(c).IsCleaner() {
		return fmt.Errorf("%w: order", store.ErrNotFound) // the contract: the owner or an admin
	}
	o, err := h.orderFor(c)
	if err != nil {
		return err
	}
	lang := h.meta(c).Lang
	svc, err := h.services.Get(ctx(c), o.ServiceID, true)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	name := store.ServiceTitle(o.ServiceNames, o.ServiceName, lang, currentName(svc, lang))
	cal := ics.Calendar{Stamp: h.now(), Events: []ics.Event{h.visitEvent(orderVisit(o, name), lang)}}
	c.Set(fiber.HeaderContentType, icsType)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="tozalash-`+strconv.FormatInt(o.Seq, 10)+`.ics"`)
	return c.Send(cal.Bytes())
}

// calendarFeedURL is u's feed URL, their feed made on first use. The
// secret is kept sealed with the server's key (the profile shows the URL
// again) and looked up by its hash; when it cannot be opened (the key
// changed) a new feed replaces it.
func (h *Handler) calendarFeedURL(c *fiber.Ctx, u *store.User) (string, error) {
	f, err := h.calendars.Current(ctx(c), u.ID)
	if errors.Is(err, store.ErrNotFound) {
		secret := auth.RandomSecret(32)
		err = h.calendars.Replace(ctx(c), store.CalendarFeed{UserID: u.ID, Hash: auth.Hash(secret), Sealed: h.secrets.Seal(secret), CreatedAt: h.now().UTC()}, true)
		if !errors.Is(err, store.ErrConflict) {
			return h.feedURL(secret), err
		}
		// Another request made it first: theirs, read once (a second
		// conflict is the 409 it is, not a loop).
		f, err = h.calendars.Current(ctx(c), u.ID)
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrConflict
		}
	}
	if err != nil {
		return "", err
	}
	secret, err := h.secrets.Open(f.Sealed)
	if err != nil {
		return h.rotateCalendarFeed(c, u)
	}
	return h.feedURL(secret), nil
}

func (h *Handler) rotateCalendarFeed(c *fiber.Ctx, u *store.User) (string, error) {
	secret := auth.RandomSecret(32)
	err := h.calendars.Replace(ctx(c), store.CalendarFeed{UserID: u.ID, Hash: auth.Hash(secret), Sealed: h.secrets.Seal(secret), CreatedAt: h.now().UTC()}, false)
	return h.feedURL(secret), err
}

func (h *Handler) feedURL(secret string) string {
	return h.cfg.BaseURL + "/calendar/" + secret + ".ics"
}

// offerCalendarFeed puts the user's feed URL where the profile page shows
// it.
func (h *Handler) offerCalendarFeed(c *fiber.Ctx) error {
	if wantsJSON(c) {
		return nil
	}
	feed, err := h.calendarFeedURL(c, currentUser(c))
	if err != nil {
		return err
	}
	c.SetUserContext(views.WithCalendarFeed(ctx(c), feed))
	return nil
}

type calendarURLOut struct {
	URL string `json:"url"`
}

// MyCalendar is GET /me/calendar: the user's private feed URL.
func (h *Handler) MyCalendar(c *fiber.Ctx) error {
	feed, err := h.calendarFeedURL(c, currentUser(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(calendarURLOut{URL: feed})
}

// RotateCalendar is POST /me/calendar/rotate: a new feed URL; the old one
// answers 404 from now on.
func (h *Handler) RotateCalendar(c *fiber.Ctx) error {
	feed, err := h.rotateCalendarFeed(c, currentUser(c))
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(calendarURLOut{URL: feed})
	}
	return h.done(c, "/me#calendar", "flash.calendarRotated")
}

// CalendarFeed is GET /calendar/:secret.ics: no login, the secret is the
// key. A wrong or replaced secret is a plain 404, the same as any unknown
// page.
func (h *Handler) CalendarFeed(c *fiber.Ctx) error {
	secret := c.Params("secret")
	if !feedSecret.MatchString(secret) {
		return fiber.ErrNotFound
	}
	owner, err := h.calendars.Owner(ctx(c), auth.Hash(secret))
	if errors.Is(err, store.ErrNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	u, err := h.users.Get(ctx(c), owner)
	if errors.Is(err, store.ErrNotFound) {
		return fiber.ErrNotFound // the account is gone
	}
	if err != nil {
		return err
	}
	lang := localeOf(u)
	now := h.now()
	rows, err := h.orders.CalendarVisits(ctx(c), u.ID, now.Add(-feedPast), feedVisits)
	if err != nil {
		return err
	}
	svcs, err := h.services.All(ctx(c))
	if err != nil {
		return err
	}
	current := map[primitive.ObjectID]string{}
	for i := range svcs {
		current[svcs[i].ID] = svcs[i].Name.In(lang)
	}
	cal := ics.Calendar{Name: h.catalog.Locale(lang).T("calendar.feedName"), Stamp: now}
	for _, r := range rows {
		name := store.ServiceTitle(r.ServiceNames, r.ServiceName, lang, current[r.ServiceID])
		v := rowVisit(r, name)
		if r.VisitEnd.IsZero() {
			// A row written before rows carried the visit's end: the
			// order itself says it, and how often it moved.
			o, err := h.orders.Get(ctx(c), r.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			v = orderVisit(o, name)
		}
		cal.Events = append(cal.Events, h.visitEvent(v, lang))
	}
	c.Set(fiber.HeaderContentType, icsType)
	c.Set(fiber.HeaderCacheControl, feedCache)
	c.Set("X-Robots-Tag", "noindex")
	return c.Send(cal.Bytes())
}
