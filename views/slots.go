package views

import (
	"strconv"
	"time"

	"tozalash/store"
)

// SlotPicker is a booking form's choice of a day and a start time (#21):
// a strip of days, each with its number of free start times (a full day
// shown as full, not offered), and the chosen day's free times. GET
// /availability answers it to htmx when the day, the size, the extras or
// the frequency change; without JavaScript the form's "show times" posts
// the form for it.
type SlotPicker struct {
	Days       []SlotDay
	Date       string   // the chosen day, "" when the strip has no free time
	Times      []string // its free start times, "09:00"
	Time       string   // the chosen one of Times, or ""
	From       string   // the strip's first day
	Prev, Next string   // the first days of the strips around it, "" at an end
	Minutes    int      // the visit's duration the times are for
	Admin      bool     // the admin's form: short notice allowed
	OrderID    string   // the order page's picker: the visit moved, its own time free
	// Alternatives are the free times near one just taken (a 409).
	Alternatives []SlotChoice
}

// SlotDay is a day of the strip and its number of free start times.
type SlotDay struct {
	Date string // 2026-12-05
	Free int
}

// SlotChoice is a free time offered after a 409: Value "2026-12-07 09:00"
// (the form's "pick"), Label as the message writes it.
type SlotChoice struct{ Value, Label string }

// slotDay is the parts of a day's chip: its weekday's short name and
// "05.12".
func slotDay(date string) (weekday, day string) {
	d, err := time.ParseInLocation(time.DateOnly, date, store.Tashkent)
	if err != nil {
		return "", date
	}
	return "booking.slots.wd." + strconv.Itoa(int(d.Weekday())), d.Format("02.01")
}

// slotParams are the form's fields GET /availability does not take.
const slotParams = "not _csrf,idempotencyKey,address,phone,notes,customerEmail,customerPhone,customerName"
