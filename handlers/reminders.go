package handlers

import (
	"context"
	"errors"
	"sync"
	"time"

	"tozalash/store"
)

// Reminders (#24): 24 hours and 2 hours before a visit its customer is
// reminded of it. The visits come from the schedule's days (a read by _id
// a day: the reservations of today and the next day), each checked against
// its order as it is now, so a visit cancelled meanwhile is not reminded of
// and a moved one is reminded of at its new time. Each reminder is queued
// with a key naming the order, the kind and the visit's time; the outbox
// takes a key once on every database (a unique _id), so two instances, or
// a run after a crash, send it once.
//
// Which instance runs the check each interval is claimed in the database
// (claims keyed by the interval), like the plans job.

// ReminderEvery is how often the reminders are looked for.
const ReminderEvery = time.Minute

// Reminder kinds, by how long before the visit they go.
const (
	reminderDay   = "24h"
	reminderHours = "2h"
)

// reminderLead is how long before its visit each reminder goes.
var reminderLead = map[string]time.Duration{reminderDay: 24 * time.Hour, reminderHours: 2 * time.Hour}

// RunReminders sends the reminders due every interval until ctx ends.
func (h *Handler) RunReminders(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := h.db.ClaimRun(ctx, "reminders", every, h.now()); err == nil {
			if _, err := h.SendReminders(ctx); err != nil && ctx.Err() == nil {
				h.log.Warn("reminders", "error", err)
			}
		} else if !errors.Is(err, store.ErrConflict) && ctx.Err() == nil {
			h.log.Warn("reminders: claiming the run", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SendReminders queues the reminders due now and reports how many it
// queued (those queued before are not counted). A visit's day reminder
// goes from 24 hours before it until 2 hours before, and only for a visit
// booked more than a day ahead (a later booking's confirmation is the
// reminder); the two-hour one from then until the visit.
func (h *Handler) SendReminders(ctx context.Context) (int, error) {
	now := h.now()
	sent := 0
	for _, date := range []string{store.LocalDate(now), store.LocalDate(now.Add(24 * time.Hour))} {
		visits, err := h.schedule.Day(ctx, date)
		if err != nil {
			return sent, err
		}
		for _, r := range visits {
			kind := reminderDue(r.From, now)
			if kind == "" {
				continue
			}
			ok, err := h.remind(ctx, r, kind)
			if err != nil {
				if ctx.Err() != nil {
					return sent, err
				}
				h.log.Warn("reminders: a visit", "order", r.OrderID.Hex(), "kind", kind, "error", err)
				continue
			}
			if ok {
				sent++
			}
		}
		if store.LocalDate(now) == store.LocalDate(now.Add(24*time.Hour)) {
			break
		}
	}
	return sent, nil
}

// reminderDue is the reminder a visit at at is due for at now, or "".
func reminderDue(at, now time.Time) string {
	switch {
	case !now.Before(at):
		return ""
	case !now.Before(at.Add(-reminderLead[reminderHours])):
		return reminderHours
	case !now.Before(at.Add(-reminderLead[reminderDay])):
		return reminderDay
	}
	return ""
}

// remind queues reminder kind of reservation r's visit, unless the visit
// is no longer at r's time or no longer going ahead, or it was queued
// before. It reports whether it queued it now.
// The day reminder's words say the visit may still be moved or cancelled
// on its page (until customerCutoff before it, which is the two-hour
// reminder's time); the two-hour one's say to call instead.
func (h *Handler) remind(ctx context.Context, r store.Reservation, kind string) (bool, error) {
	o, err := h.orders.Get(ctx, r.OrderID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !store.Upcoming(o.Status) || !o.ScheduledAt.Equal(r.From) {
		return false, nil // cancelled, or moved: its new time has its own
	}
	if kind == reminderDay && o.CreatedAt.After(o.ScheduledAt.Add(-reminderLead[reminderDay])) {
		return false, nil // booked within the day: the confirmation was its reminder
	}
	key := "reminder|" + kind + "|" + o.ID.Hex() + "|" + o.ScheduledAt.UTC().Format(time.RFC3339)
	if h.reminded.has(key) {
		return false, nil
	}
	customer, err := h.users.Get(ctx, o.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // the account is gone
	}
	if err != nil {
		return false, err
	}
	e, err := h.orderEmailMessage(ctx, o, customer, "reminder"+kind)
	if err != nil {
		return false, err
	}
	err = h.tell(ctx, customer, "reminder", key, e)
	if errors.Is(err, store.ErrConflict) {
		h.reminded.add(key) // queued before, here or on another instance
		return false, nil
	}
	if err != nil {
		return false, err
	}
	h.reminded.add(key)
	return true, nil
}

// queuedKeys are the reminders this instance saw queued, so that the
// check each minute does not ask the outbox again for every visit of the
// day: only a saving, since the outbox takes each key once anyway. Keys
// are forgotten after a day and a bit, when their visits are past.
type queuedKeys struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

const queuedKeysFor = 26 * time.Hour

func (q *queuedKeys) has(key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.seen[key]
	return ok
}

func (q *queuedKeys) add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	if q.seen == nil {
		q.seen = map[string]time.Time{}
	}
	q.seen[key] = now
	if len(q.seen)%1024 == 0 {
		for k, at := range q.seen {
			if now.Sub(at) > queuedKeysFor {
				delete(q.seen, k)
			}
		}
	}
}
