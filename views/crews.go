package views

import (
	"strings"
	"time"

	"tozalash/store"
)

// StrandedVisit is a visit to come its crew no longer works for (its hours,
// a closure, or the crew made inactive or gone): the admin moves,
// reassigns or cancels it on the order's page.
type StrandedVisit struct {
	OrderID     string    `json:"orderId"`
	Number      int64     `json:"number"`
	Customer    string    `json:"customer"`
	CrewID      string    `json:"crewId"`
	CrewName    string    `json:"crewName"`
	ScheduledAt time.Time `json:"scheduledAt"`
	EndsAt      time.Time `json:"endsAt"`
}

// CrewRowsAction is where the hours' row buttons of a crew's form post
// (cr nil: the new crew's).
func CrewRowsAction(cr *store.Crew) string {
	if cr == nil {
		return "/admin/crews/new/hour-rows"
	}
	return "/admin/crews/" + cr.ID.Hex() + "/hour-rows"
}

// dayIntervals writes a day's intervals, "08:00–13:00, 14:00–19:00".
func dayIntervals(ivs [][2]string) string {
	parts := make([]string, 0, len(ivs))
	for _, iv := range ivs {
		parts = append(parts, iv[0]+"–"+iv[1])
	}
	return strings.Join(parts, ", ")
}

// visitSpan is a visit's day and times, "07.12.2026 10:00–13:00".
func visitSpan(v StrandedVisit) string {
	return localTime(v.ScheduledAt) + "–" + v.EndsAt.In(Tashkent).Format("15:04")
}

// crewNameOf is the name of crew id among crews ("" when none is).
func crewNameOf(crews []store.Crew, id string) string {
	for _, c := range crews {
		if c.ID.Hex() == id {
			return c.Name
		}
	}
	return ""
}

// serviceNames are the names of a crew's services in lang.
func crewServiceNames(lang string, cr *store.Crew, services []store.Service) string {
	var names []string
	for _, id := range cr.ServiceIDs {
		for _, s := range services {
			if s.ID == id {
				names = append(names, s.Text(lang).Name)
			}
		}
	}
	return strings.Join(names, ", ")
}
