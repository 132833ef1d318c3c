package views

import (
	"net/url"
	"time"

	"tozalash/store"
)

// CleanerDay is a cleaner's day on their phone: the visits of their crews
// on Date in order, and the next day's below.
type CleanerDay struct {
	Date     time.Time
	Today    bool // Date is today (the list says so, and shows the next day)
	Crews    []string
	Visits   []CleanerVisit
	Next     []CleanerVisit // the next day's visits
	NextDate time.Time
}

// CleanerVisit is one visit as its cleaner sees it: what to do, where and
// for whom, and the steps theirs to make. Address, Phone and Notes are
// empty once the visit is more than a day past (Hidden): a cleaner keeps
// no customer's details beyond the work.
type CleanerVisit struct {
	Order       *store.Order
	ServiceName string
	Items       []PriceRow // the lines to do: rooms, bathrooms, area, extras
	FirstName   string     // the customer's
	Address     string
	Phone       string
	Notes       string
	Hidden      bool
	Steps       []string // the statuses the cleaner may step it to now
	NotToday    bool     // setting out waits for the visit's day
	NotStarted  bool     // completing waits for the visit's time
	Checklist   []VisitTick
	CanTick     bool
	Form        FormState // the completion's values and errors
}

// VisitTick is one item of a visit's checklist in the reader's language.
type VisitTick struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	Done bool   `json:"done"`
}

// MapURL is a link that opens address in the phone's map app.
func MapURL(address string) string {
	return "https://www.google.com/maps/search/?api=1&query=" + url.QueryEscape(address)
}

// mayStep reports whether v offers step to now.
func (v CleanerVisit) mayStep(to string) bool {
	for _, s := range v.Steps {
		if s == to {
			return true
		}
	}
	return false
}

// visitHours is "10:30–13:00" in Tashkent.
func visitHours(o *store.Order) string {
	from := o.ScheduledAt.In(Tashkent).Format("15:04")
	if o.EndsAt.IsZero() {
		return from
	}
	return from + "–" + o.EndsAt.In(Tashkent).Format("15:04")
}
