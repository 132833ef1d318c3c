package views

import (
	"context"

	"tozalash/store"
)

// A plan's visit as its pages list it (#23): State is empty for a visit
// that goes ahead as booked, else one of the PlanVisit… states.
type PlanVisit struct {
	Date  string
	Time  string // the plan's usual time that day
	Price int64
	State string
	// Order is the visit's order, once made (nil before the job reaches
	// its date, or for a visit never placed).
	Order *store.Order
	// MayChange: the customer may still skip or move it (before the
	// cancellation window).
	MayChange bool
}

const (
	PlanVisitComing    = "coming"    // not made yet: the job makes it PlanWeeks ahead
	PlanVisitSkipped   = "skipped"   // the customer skipped it
	PlanVisitPaused    = "paused"    // inside a pause
	PlanVisitEnded     = "ended"     // past the plan's end
	PlanVisitCancelled = "cancelled" // its order was cancelled
	PlanVisitMissed    = "missed"    // no free time that day or the next
)

// Moved reports whether the visit takes place at another time than the
// plan's usual one.
func (v PlanVisit) Moved() bool {
	return v.Order != nil && v.Order.ScheduledAt.In(Tashkent).Format("2006-01-02 15:04") != v.Date+" "+v.Time
}

// PlanView is one plan on its page.
type PlanView struct {
	Plan        *store.Plan
	Status      string // as of today (a pause over is ACTIVE)
	ServiceName string
	Visits      []PlanVisit
	// Extras offered on the change form, and the service (for its sizes).
	Service *store.Service
	Admin   bool
}

// URL is the plan's page: under /my for its customer, /plans for an admin.
func (v PlanView) URL() string { return PlanPath(v.Admin, v.Plan.ID.Hex()) }

// ListURL is the list the plan's page goes back to.
func (v PlanView) ListURL() string { return PlanPath(v.Admin, "") }

// planLink is a plan's page for whoever reads.
func planLink(ctx context.Context, hexID string) string {
	return PlanPath(MetaFrom(ctx).User.IsAdmin(), hexID)
}

// PlanPath is plan hexID's page ("": the list) as an admin (under /plans)
// or its customer (under /my/plans) reaches it.
func PlanPath(admin bool, hexID string) string {
	base := "/my/plans"
	if admin {
		base = "/plans"
	}
	if hexID == "" {
		return base
	}
	return base + "/" + hexID
}
