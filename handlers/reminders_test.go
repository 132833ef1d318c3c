package handlers

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"tozalash/store"
)

// The reminders' words in Uzbek (the test customers' language).
const (
	dayReminder   = "24 soatdan keyin"
	hoursReminder = "2 soatdan keyin"
)

// reminders counts the emails to address whose text has part and names
// the order number no ("#12"), sent by any of apps (each instance's worker
// sends what it queued, to its own test SMTP server).
func reminders(apps []*testApp, address, part, no string) int {
	n := 0
	for _, a := range apps {
		for _, m := range a.smtp.Messages() {
			if len(m.To) == 1 && strings.EqualFold(m.To[0], address) && strings.Contains(m.Text, part) && names(m.Text, no) {
				n++
			}
		}
	}
	return n
}

// reminderText waits for the email to address with part from any of apps.
func reminderText(t *testing.T, apps []*testApp, address, part, no string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, a := range apps {
			for _, m := range a.smtp.Messages() {
				if len(m.To) == 1 && strings.EqualFold(m.To[0], address) && strings.Contains(m.Text, part) && names(m.Text, no) {
					return m.Text
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q email to %s about %s within 10 s", part, address, no)
		}
		runtime.Gosched()
	}
}

// sendReminders runs the check on every instance at once, as several
// instances' runs might, and waits for the worker to send what it queued.
func sendReminders(t *testing.T, apps ...*testApp) int {
	t.Helper()
	var wg sync.WaitGroup
	counts := make([]int, len(apps))
	for i, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := a.h.SendReminders(context.Background())
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	return total
}

// at moves the test clock to d before the visit o.
func (f *orderFixture) at(o *store.Order, d time.Duration) {
	f.clock.advance(time.Until(o.ScheduledAt.Add(-d)) - f.clock.shiftNow())
}

// A day and two hours before a visit its customer is reminded once, by two
// instances checking at once and again; the reminder names the time, the
// address, the crew, the price and the order's link. A visit cancelled
// meanwhile gets none; a moved one gets them for its new time; one booked
// within the day gets only the two-hour one.
func TestRemindersADayAndTwoHoursBefore(t *testing.T) {
	f := newOrderFixture(t)
	other := newTestAppWith(t, f.a.db, Config{Now: f.clock.Now}) // a second instance
	a := f.a
	visit := f.bookAt(t, f.alice, "remind-me", slot(3, 10, 0))
	cancelled := f.bookAt(t, f.bob, "cancel-me", slot(3, 11, 0))
	moved := f.bookAt(t, f.bob, "move-me", slot(3, 12, 0))
	if r := a.api(f.bob).do("PATCH", "/orders/"+cancelled.ID.Hex(), `{"status":"CANCELLED"}`); r.status != 200 {
		t.Fatalf("cancel = %d %s", r.status, r.body)
	}
	if r := a.api(f.bob).do("PATCH", "/orders/"+moved.ID.Hex(), `{"scheduledAt":"`+slot(3, 15, 0)+`"}`); r.status != 200 {
		t.Fatalf("move = %d %s", r.status, r.body)
	}
	no := func(o *store.Order) string { return "#" + itoa(o.Seq) }

	// Not yet: a day and a minute before.
	f.at(visit, 24*time.Hour+time.Minute)
	if n := sendReminders(t, a, other); n != 0 {
		t.Errorf("a day and a minute before: %d reminders", n)
	}
	// A day before: the day reminder, once, whoever checks.
	f.at(visit, 24*time.Hour-time.Minute)
	if n := sendReminders(t, a, other); n != 1 {
		t.Errorf("a day before: %d reminders queued by two instances, want 1", n)
	}
	apps := []*testApp{a, other}
	msg := reminderText(t, apps, "alice@example.uz", dayReminder, no(visit))
	local := visit.ScheduledAt.In(store.Tashkent).Format("02.01.2006 15:04")
	for _, want := range []string{local, "Chilonzor 9-kvartal, 12-uy", visit.CrewName, "/orders/" + visit.ID.Hex(), no(visit)} {
		if !strings.Contains(msg, want) {
			t.Errorf("the day reminder lacks %q:\n%s", want, msg)
		}
	}
	if n := sendReminders(t, a, other); n != 0 {
		t.Errorf("checked again: %d more", n)
	}
	// The cancelled visit's time (an hour later) passes its day mark: none.
	f.at(cancelled, 24*time.Hour-time.Minute)
	sendReminders(t, a, other)
	// Two hours before: the other reminder, once.
	f.at(visit, 2*time.Hour-time.Minute)
	if n := sendReminders(t, a, other); n < 1 {
		t.Errorf("two hours before: %d reminders", n)
	}
	reminderText(t, apps, "alice@example.uz", hoursReminder, no(visit))
	if n := sendReminders(t, a, other); n != 0 {
		t.Errorf("checked again: %d more", n)
	}
	// The moved visit (12:00 → 15:00): its reminders at 15:00's marks.
	f.at(moved, 2*time.Hour-time.Minute) // two hours before 12:00: nothing
	sendReminders(t, a, other)
	movedNow, _ := a.h.orders.Get(context.Background(), moved.ID)
	f.at(movedNow, 2*time.Hour-time.Minute)
	sendReminders(t, a, other)
	moveText := reminderText(t, apps, "bob@example.uz", hoursReminder, no(moved))

	// What each got, counted once the worker had time to send everything.
	for _, c := range []struct {
		who, part string
		o         *store.Order
		want      int
	}{
		{"alice@example.uz", dayReminder, visit, 1},
		{"alice@example.uz", hoursReminder, visit, 1},
		{"bob@example.uz", dayReminder, cancelled, 0},
		{"bob@example.uz", hoursReminder, cancelled, 0},
		{"bob@example.uz", hoursReminder, moved, 1},
	} {
		if got := reminders(apps, c.who, c.part, no(c.o)); got != c.want {
			t.Errorf("%s got %d %q reminders of %s, want %d", c.who, got, c.part, no(c.o), c.want)
		}
	}
	if !strings.Contains(moveText, movedNow.ScheduledAt.In(store.Tashkent).Format("15:04")) || !strings.Contains(movedNow.ScheduledAt.In(store.Tashkent).Format("15:04"), "15:00") {
		t.Errorf("the moved visit's reminder names another time:\n%s", moveText)
	}
}

// A visit booked within the day before it: no day reminder (its
// confirmation was one), the two-hour one all the same.
func TestReminderOfALateBooking(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	o := f.bookAt(t, f.alice, "late", soonSlot(time.Now()).Format(time.RFC3339))
	if n := sendReminders(t, a); n != 0 {
		t.Errorf("%v before a visit booked within the day: %d reminders", time.Until(o.ScheduledAt).Round(time.Minute), n)
	}
	f.at(o, 2*time.Hour-time.Minute)
	if n := sendReminders(t, a); n != 1 {
		t.Errorf("two hours before: %d reminders, want 1", n)
	}
}

// soonSlot is the first time the test crews (08:00–20:00) take a visit of
// three hours booked at now, past the three hours' lead: always within the
// next day.
func soonSlot(now time.Time) time.Time {
	t := now.In(store.Tashkent).Add(4 * time.Hour).Truncate(30 * time.Minute)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, store.Tashkent)
	switch {
	case t.Before(day.Add(8 * time.Hour)):
		return day.Add(8 * time.Hour)
	case t.After(day.Add(17 * time.Hour)):
		return day.AddDate(0, 0, 1).Add(8 * time.Hour)
	}
	return t
}

// names reports whether text names order number no ("#1", not "#12").
func names(text, no string) bool {
	for i := strings.Index(text, no); i >= 0; {
		end := i + len(no)
		if end == len(text) || text[end] < '0' || text[end] > '9' {
			return true
		}
		next := strings.Index(text[end:], no)
		if next < 0 {
			return false
		}
		i = end + next
	}
	return false
}
