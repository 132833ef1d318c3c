package store

import (
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Order statuses. A booking starts PENDING; an admin (or the company's
// auto-confirm setting) confirms it; on the day the crew's cleaner steps it
// ON_THE_WAY, IN_PROGRESS (arrived) and COMPLETED, or NO_ACCESS when nobody
// opens the door. CANCELLED ends it before the crew sets out.
const (
	StatusPending    = "PENDING"
	StatusConfirmed  = "CONFIRMED"
	StatusOnTheWay   = "ON_THE_WAY"
	StatusInProgress = "IN_PROGRESS"
	StatusCompleted  = "COMPLETED"
	StatusCancelled  = "CANCELLED"
	StatusNoAccess   = "NO_ACCESS"
)

// Statuses lists every status in the order a visit goes through them.
var Statuses = []string{StatusPending, StatusConfirmed, StatusOnTheWay, StatusInProgress, StatusCompleted, StatusCancelled, StatusNoAccess}

// statusGraph is every allowed step: from → the statuses it may go to.
var statusGraph = map[string][]string{
	StatusPending:    {StatusConfirmed, StatusCancelled},
	StatusConfirmed:  {StatusOnTheWay, StatusCancelled},
	StatusOnTheWay:   {StatusInProgress, StatusNoAccess, StatusCancelled},
	StatusInProgress: {StatusCompleted, StatusCancelled},
	StatusNoAccess:   {StatusCancelled},
}

// CanMove reports whether an order may go from status from to status to:
// the graph, checked by the store on every step it makes (filtered on
// from, so of two racing steps one wins). An admin may cancel any visit
// not completed or cancelled; COMPLETED and CANCELLED are final.
func CanMove(from, to string) bool {
	return slices.Contains(statusGraph[from], to)
}

// MayStep reports whether someone with role may step a visit from → to:
// the graph, then who. An ADMIN makes every step. A CLEANER (of the
// visit's crew, which the caller checks) makes the visit's steps on the
// day: on the way, arrived, done, or nobody home. A customer (USER, the
// order's owner) cancels a visit not yet begun; the handler adds the
// cut-off before its time.
func MayStep(role, from, to string) bool {
	if !CanMove(from, to) {
		return false
	}
	switch role {
	case RoleAdmin:
		return true
	case RoleCleaner:
		return to == StatusOnTheWay || to == StatusInProgress || to == StatusCompleted || to == StatusNoAccess
	case RoleUser:
		return to == StatusCancelled && (from == StatusPending || from == StatusConfirmed)
	}
	return false
}

// IsOpen reports whether an order in status s is still to be done: it holds
// its crew's time, and shows on the cleaner's day.
func IsOpen(s string) bool {
	return s == StatusPending || s == StatusConfirmed || s == StatusOnTheWay || s == StatusInProgress
}

// Upcoming reports whether a visit in status s has not begun: it may
// still move to another time or crew, and its customer may cancel it.
func Upcoming(s string) bool { return s == StatusPending || s == StatusConfirmed }

// Payment methods, recorded on site (not processed here).
const (
	PayCash  = "CASH"
	PayCard  = "CARD"
	PayClick = "CLICK"
	PayPayme = "PAYME"
)

// PaymentMethods lists the methods a cleaner may record.
var PaymentMethods = []string{PayCash, PayCard, PayClick, PayPayme}

// Payment is what the cleaner collected on site at completion.
type Payment struct {
	Amount   int64              `bson:"amount" json:"amount"` // so'm
	Method   string             `bson:"method" json:"method"`
	At       time.Time          `bson:"at" json:"at"`
	ByUserID primitive.ObjectID `bson:"byUserId" json:"byUserId"`
}

// ChecklistItem is one thing to do on every visit of a service, as the
// admin wrote it; its ID stays when the text is edited.
type ChecklistItem struct {
	ID   string `bson:"id" json:"id"`
	Text Texts  `bson:"text" json:"text"`
}

// ChecklistTick is one item of a visit's checklist as the cleaner left it
// (Order.Checklist holds them by the item's id).
type ChecklistTick struct {
	Done     bool               `bson:"done" json:"done"`
	At       time.Time          `bson:"at" json:"at"`
	ByUserID primitive.ObjectID `bson:"byUserId" json:"byUserId"`
}
