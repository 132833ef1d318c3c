package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// The slot tests' expected values are worked out by hand from the rules
// (the crews' hours below, the closures, a 30-minute buffer, 180 minutes'
// lead, 60 days' horizon), never by the code under test.

// local is a Tashkent wall-clock time, "2027-03-02 14:00".
func local(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.ParseInLocation("2006-01-02 15:04", s, store.Tashkent)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// 2027-03-01 is a Monday; the booking questions are asked at 08:00 that
// morning, so nothing before 11:00 that day may be booked (the lead) and
// nothing after Friday 2027-04-30 (the horizon: today and 60 days).
var (
	svc, other, night, nobody                    = primitive.NewObjectID(), primitive.NewObjectID(), primitive.NewObjectID(), primitive.NewObjectID()
	crewA, crewB, crewC, crewN, crewOff          = primitive.NewObjectID(), primitive.NewObjectID(), primitive.NewObjectID(), primitive.NewObjectID(), primitive.NewObjectID()
	weekdaysSplit                                = [][2]string{{"08:00", "13:00"}, {"14:00", "19:00"}}
	nineToSix                                    = [][2]string{{"09:00", "18:00"}}
	crewNames                                    = map[primitive.ObjectID]string{crewA: "A", crewB: "B", crewC: "C", crewN: "N", crewOff: "Off"}
	tue, wed, thu, monMar1, sat, lastDay, beyond = "2027-03-02", "2027-03-03", "2027-03-04", "2027-03-01", "2027-03-06", "2027-04-30", "2027-05-01"
)

// testCrews: A works two intervals a weekday and Saturday morning (Sunday
// off) and does svc; B works 9 to 6 Monday to Saturday and does svc and
// other; C does only other; N works Tuesday's first three hours, for
// night; Off would do svc at any hour but is not active.
func testCrews() []store.Crew {
	return []store.Crew{
		{ID: crewA, Name: "A", Active: true, ServiceIDs: []primitive.ObjectID{svc},
			Hours: store.WeekHours{"mon": weekdaysSplit, "tue": weekdaysSplit, "wed": weekdaysSplit, "thu": weekdaysSplit, "fri": weekdaysSplit, "sat": {{"09:00", "14:00"}}}},
		{ID: crewB, Name: "B", Active: true, ServiceIDs: []primitive.ObjectID{svc, other},
			Hours: store.WeekHours{"mon": nineToSix, "tue": nineToSix, "wed": nineToSix, "thu": nineToSix, "fri": nineToSix, "sat": nineToSix}},
		{ID: crewC, Name: "C", Active: true, ServiceIDs: []primitive.ObjectID{other}, Hours: store.WeekHours{"tue": {{"10:00", "12:00"}}}},
		{ID: crewN, Name: "N", Active: true, ServiceIDs: []primitive.ObjectID{night}, Hours: store.WeekHours{"mon": {{"22:00", "24:00"}}, "tue": {{"00:00", "03:00"}}}},
		{ID: crewOff, Name: "Off", Active: false, ServiceIDs: []primitive.ObjectID{svc, nobody},
			Hours: store.WeekHours{"mon": {{"00:00", "24:00"}}, "tue": {{"00:00", "24:00"}}, "wed": {{"00:00", "24:00"}}}},
	}
}

// held is a reservation of crew from..until (local times of date, "09:00").
func held(t *testing.T, crew primitive.ObjectID, date, from, until string) store.Reservation {
	return store.Reservation{OrderID: primitive.NewObjectID(), CrewID: crew, From: local(t, date+" "+from).UTC(), Until: local(t, date+" "+until).UTC()}
}

func names(crews []*store.Crew) string {
	var out []string
	for _, c := range crews {
		out = append(out, crewNames[c.ID])
	}
	return strings.Join(out, ",")
}

func TestScheduleReservedMinutes(t *testing.T) {
	r := store.DefaultScheduleRules()
	for _, c := range []struct{ buffer, minutes, want int }{
		{30, 120, 150}, // 2 h and the buffer: five cells
		{30, 100, 150}, // 130 rounded up to the next half hour
		{30, 90, 120},
		{30, 60, 90},
		{0, 100, 120},
		{0, 120, 120},
		{45, 60, 120}, // 105 → 120
	} {
		r.BufferMinutes = c.buffer
		if got := r.ReservedMinutes(c.minutes); got != c.want {
			t.Errorf("buffer %d, visit %d: reserved %d, want %d", c.buffer, c.minutes, got, c.want)
		}
	}
}

func TestScheduleCheck(t *testing.T) {
	now := local(t, monMar1+" 08:00")
	holiday := store.Closure{Date: wed, Reason: "bayram"}
	bShortTue := store.Closure{Date: tue, CrewID: crewB, From: "15:00", To: "24:00"}
	cases := []struct {
		name     string
		service  primitive.ObjectID
		minutes  int
		at       string
		slot     int // the grid; 0: 30
		buffer   int // -1: none; 0: the default 30
		booked   []store.Reservation
		closures []store.Closure
		want     string // the crews free, in order
		err      error
	}{
		{name: "A's first interval only, B starts at 9", service: svc, minutes: 120, at: tue + " 08:00", want: "A"},
		{name: "A's visit would cross its 13:00 break", service: svc, minutes: 120, at: tue + " 11:30", want: "B"},
		{name: "A ends at 13:00 exactly", service: svc, minutes: 120, at: tue + " 11:00", want: "A,B"},
		{name: "both, as listed when neither has visits", service: svc, minutes: 120, at: tue + " 14:00", want: "A,B"},
		{name: "B ends at 18:00, A at 19:00", service: svc, minutes: 120, at: tue + " 17:00", want: "A"},
		{name: "after everyone's hours", service: svc, minutes: 120, at: tue + " 17:30", err: store.ErrOutsideHours},
		{name: "before everyone's hours", service: svc, minutes: 60, at: tue + " 07:30", err: store.ErrOutsideHours},
		{name: "Sunday is everyone's day off", service: svc, minutes: 60, at: "2027-03-07 10:00", err: store.ErrOutsideHours},
		{name: "A's Saturday", service: svc, minutes: 120, at: sat + " 12:00", want: "A,B"},
		{name: "A's Saturday ends at 14:00", service: svc, minutes: 120, at: sat + " 12:30", want: "B"},
		{name: "a service no crew does (Off does it, but is not active)", service: nobody, minutes: 60, at: tue + " 10:00", err: store.ErrNoCrew},
		{name: "only C and B do other", service: other, minutes: 60, at: tue + " 10:00", want: "B,C"},
		{name: "off the 30-minute grid", service: svc, minutes: 60, at: tue + " 09:15", err: store.ErrOffGrid},
		{name: "on the 60-minute grid", service: svc, minutes: 60, at: tue + " 09:00", slot: 60, want: "A,B"},
		{name: "off the 60-minute grid", service: svc, minutes: 60, at: tue + " 09:30", slot: 60, err: store.ErrOffGrid},
		{name: "the lead: 10:30 is less than 3 h from 08:00", service: svc, minutes: 60, at: monMar1 + " 10:30", err: store.ErrTooSoon},
		{name: "the lead: 11:00 is 3 h from 08:00", service: svc, minutes: 60, at: monMar1 + " 11:00", want: "A,B"},
		{name: "the horizon's last day", service: svc, minutes: 60, at: lastDay + " 17:00", want: "A,B"},
		{name: "the day after the horizon", service: svc, minutes: 60, at: beyond + " 09:00", err: store.ErrTooFar},
		// The buffer and the reservations.
		{name: "B busy until 11:30 (a visit 9 to 11 and its buffer)", service: svc, minutes: 120, at: tue + " 11:00",
			booked: []store.Reservation{held(t, crewB, tue, "09:00", "11:30")}, want: "A"},
		{name: "B free once the buffer is over", service: svc, minutes: 120, at: tue + " 11:30",
			booked: []store.Reservation{held(t, crewB, tue, "09:00", "11:30")}, want: "B"},
		{name: "the visit's buffer runs into B's next visit", service: svc, minutes: 120, at: tue + " 12:00",
			booked: []store.Reservation{held(t, crewB, tue, "14:00", "16:30")}, err: store.ErrSlotTaken},
		{name: "no buffer: the visit ends as B's next begins", service: svc, minutes: 120, at: tue + " 12:00", buffer: -1,
			booked: []store.Reservation{held(t, crewB, tue, "14:00", "16:30")}, want: "B"},
		{name: "the least busy crew first", service: svc, minutes: 60, at: tue + " 14:00",
			booked: []store.Reservation{held(t, crewA, tue, "08:00", "10:30"), held(t, crewB, tue, "09:00", "10:00")}, want: "B,A"},
		{name: "every crew that works then is busy", service: svc, minutes: 120, at: tue + " 14:00",
			booked: []store.Reservation{held(t, crewA, tue, "14:00", "16:30"), held(t, crewB, tue, "15:00", "17:30")}, err: store.ErrSlotTaken},
		// The closures.
		{name: "a holiday closes every crew", service: svc, minutes: 60, at: wed + " 10:00", closures: []store.Closure{holiday}, err: store.ErrOutsideHours},
		{name: "the day after the holiday", service: svc, minutes: 60, at: thu + " 10:00", closures: []store.Closure{holiday}, want: "A,B"},
		{name: "B's shorter day: the visit would run past 15:00", service: svc, minutes: 120, at: tue + " 14:00", closures: []store.Closure{bShortTue}, want: "A"},
		{name: "B's shorter day: a visit ending at 15:00", service: svc, minutes: 120, at: tue + " 13:00", closures: []store.Closure{bShortTue}, want: "B"},
		{name: "B's shorter day is B's alone, and that Tuesday's", service: other, minutes: 60, at: tue + " 10:00", closures: []store.Closure{bShortTue}, want: "B,C"},
		{name: "B's shorter day, A busy: taken", service: svc, minutes: 120, at: tue + " 14:00", closures: []store.Closure{bShortTue},
			booked: []store.Reservation{held(t, crewA, tue, "14:00", "16:30")}, err: store.ErrSlotTaken},
		// Tashkent's day: 00:30 on Tuesday is 19:30 UTC on Monday.
		{name: "00:30 local is Tuesday's, not Monday's (UTC)", service: night, minutes: 60, at: tue + " 00:30", want: "N"},
		{name: "Monday's last visit runs past midnight", service: night, minutes: 60, at: tue + " 00:30",
			booked: []store.Reservation{{OrderID: primitive.NewObjectID(), CrewID: crewN, From: local(t, monMar1+" 23:30"), Until: local(t, tue+" 01:00")}}, err: store.ErrSlotTaken},
		{name: "a late visit's buffer runs into Tuesday's first visit", service: night, minutes: 60, at: monMar1 + " 23:00",
			booked: []store.Reservation{{OrderID: primitive.NewObjectID(), CrewID: crewN, From: local(t, tue+" 00:00"), Until: local(t, tue+" 01:30")}}, err: store.ErrSlotTaken},
		{name: "a late visit whose buffer ends as Tuesday's first visit begins", service: night, minutes: 60, at: monMar1 + " 22:30",
			booked: []store.Reservation{{OrderID: primitive.NewObjectID(), CrewID: crewN, From: local(t, tue+" 00:00"), Until: local(t, tue+" 01:30")}}, want: "N"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rules := store.DefaultScheduleRules()
			if c.slot != 0 {
				rules.SlotMinutes = c.slot
			}
			switch {
			case c.buffer < 0:
				rules.BufferMinutes = 0
			case c.buffer > 0:
				rules.BufferMinutes = c.buffer
			}
			s := &store.Schedule{Crews: testCrews(), Closures: c.closures, Rules: rules, Booked: map[string][]store.Reservation{}}
			for _, r := range c.booked {
				d := store.LocalDate(r.From)
				s.Booked[d] = append(s.Booked[d], r)
			}
			crews, err := s.Check(c.service, c.minutes, local(t, c.at), now)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("Check = %s, %v; want %v", names(crews), err, c.err)
				}
				return
			}
			if err != nil || names(crews) != c.want {
				t.Fatalf("Check = %q, %v; want %q", names(crews), err, c.want)
			}
		})
	}
}

// Monday's 23:30 visit that ends 01:00 on Tuesday is Monday's (by local
// date), and 00:30 local on Tuesday is still Monday in UTC.
func TestScheduleLocalDates(t *testing.T) {
	at := local(t, tue+" 00:30")
	if u := at.UTC(); u.Day() != 1 || u.Hour() != 19 || u.Minute() != 30 {
		t.Fatalf("00:30 in Tashkent is %v UTC", u)
	}
	if d := store.LocalDate(at.UTC()); d != tue {
		t.Errorf("LocalDate(%v) = %s, want %s", at.UTC(), d, tue)
	}
}

// busyTuesday: A has a visit 10 to 12 (held until 12:30) and another 14 to
// 16 (until 16:30); B one 9 to 11 (until 11:30) and a shorter day, closed
// from 15:00; Wednesday is a holiday.
func busyTuesday(t *testing.T, slot int, afternoon bool) *store.Schedule {
	rules := store.DefaultScheduleRules()
	rules.SlotMinutes = slot
	booked := []store.Reservation{held(t, crewA, tue, "10:00", "12:30"), held(t, crewB, tue, "09:00", "11:30")}
	if afternoon {
		booked = append(booked, held(t, crewA, tue, "14:00", "16:30"))
	}
	return &store.Schedule{Crews: testCrews(), Rules: rules, Booked: map[string][]store.Reservation{tue: booked},
		Closures: []store.Closure{{Date: tue, CrewID: crewB, From: "15:00", To: "24:00"}, {Date: wed, Reason: "bayram"}}}
}

func TestScheduleFreeTimes(t *testing.T) {
	now := local(t, monMar1+" 08:00")
	// Monday: from 11:00 (the lead); A until 17:00 (ends 19:00), B 9 to 4
	// in between. Tuesday, grid 30: A's mornings are gone (its 10:00
	// visit), B from 11:30 to 13:00 (its visit, then its shorter day), A's
	// afternoon from 14:00 to 17:00; 13:30 is nobody's. Wednesday: the
	// holiday.
	mon := []string{"11:00", "11:30", "12:00", "12:30", "13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00"}
	tue30 := []string{"11:30", "12:00", "12:30", "13:00", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00"}
	tue60 := []string{"12:00", "13:00", "14:00", "15:00", "16:00", "17:00"}
	for _, c := range []struct {
		slot int
		want map[string][]string
	}{
		{30, map[string][]string{monMar1: mon, tue: tue30, wed: {}}},
		{60, map[string][]string{monMar1: {"11:00", "12:00", "13:00", "14:00", "15:00", "16:00", "17:00"}, tue: tue60, wed: {}}},
	} {
		days := busyTuesday(t, c.slot, false).FreeTimes(svc, 120, monMar1, wed, now)
		if len(days) != 3 {
			t.Fatalf("grid %d: %d days, want 3", c.slot, len(days))
		}
		for _, d := range days {
			if strings.Join(d.Times, " ") != strings.Join(c.want[d.Date], " ") || d.Times == nil {
				t.Errorf("grid %d, %s: %v, want %v", c.slot, d.Date, d.Times, c.want[d.Date])
			}
		}
	}
	// The horizon: the days asked for past its last day are not listed.
	if days := busyTuesday(t, 30, false).FreeTimes(svc, 60, "2027-04-29", "2027-05-02", now); len(days) != 2 || days[1].Date != lastDay {
		t.Errorf("past the horizon: %+v", days)
	}
}

func TestScheduleAlternatives(t *testing.T) {
	now := local(t, monMar1+" 08:00")
	s := busyTuesday(t, 60, true)
	at := local(t, tue+" 14:00")
	if _, err := s.Check(svc, 120, at, now); !errors.Is(err, store.ErrSlotTaken) {
		t.Fatalf("14:00 = %v, want taken", err)
	}
	// Tuesday, grid 60: A is free at 17:00 only (its 14:00 visit until
	// 16:30), B at 12:00 and 13:00. Later that day first, then earlier,
	// then Wednesday (the holiday: none), then Thursday's from 08:00.
	want := []string{tue + " 17:00", tue + " 12:00", tue + " 13:00", thu + " 08:00", thu + " 09:00"}
	check := func(got []time.Time, want []string) {
		t.Helper()
		var g []string
		for _, x := range got {
			g = append(g, x.In(store.Tashkent).Format("2006-01-02 15:04"))
		}
		if strings.Join(g, ",") != strings.Join(want, ",") {
			t.Errorf("alternatives %v, want %v", g, want)
		}
	}
	check(s.Alternatives(svc, 120, at, now, 2, 5), want)
	check(s.Alternatives(svc, 120, at, now, 1, 5), want[:3]) // Wednesday has none
	check(s.Alternatives(svc, 120, at, now, 2, 2), want[:2])
}

func TestScheduleCrewFree(t *testing.T) {
	s := busyTuesday(t, 30, true)
	at := local(t, tue+" 14:00")
	own := s.Booked[tue][2].OrderID // A's 14:00 visit
	for _, c := range []struct {
		name  string
		crew  primitive.ObjectID
		visit primitive.ObjectID
		err   error
	}{
		{"A, for its own visit", crewA, own, nil},
		{"A, for another visit", crewA, primitive.NewObjectID(), store.ErrCrewBusy},
		{"B, closed from 15:00", crewB, own, store.ErrCrewOffDuty},
		{"C does not do svc", crewC, own, store.ErrCrewNotForJob},
		{"Off is not active", crewOff, own, store.ErrCrewNotForJob},
		{"no such crew", primitive.NewObjectID(), own, store.ErrNotFound},
	} {
		if err := s.CrewFree(c.crew, svc, 120, at, c.visit); !errors.Is(err, c.err) || (c.err == nil && err != nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}
}

// A visit being moved sees its own reservation as free (#21): A's 14:00
// visit may move to 14:30 on A, which FreeTimes, for anyone else, does
// not offer.
func TestScheduleFreeTimesMove(t *testing.T) {
	now := local(t, monMar1+" 08:00")
	s := busyTuesday(t, 30, true)
	own := s.Booked[tue][2].OrderID // A's 14:00 visit, held until 16:30
	// B from 11:30 to 13:00 (its visit, then closed from 15:00); A's
	// afternoon from 16:30 only, or from 14:00 for its own visit.
	others := []string{"11:30", "12:00", "12:30", "13:00", "16:30", "17:00"}
	moved := []string{"11:30", "12:00", "12:30", "13:00", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00"}
	for _, c := range []struct {
		name  string
		visit primitive.ObjectID
		want  []string
	}{
		{"a new visit", primitive.NilObjectID, others},
		{"another visit", primitive.NewObjectID(), others},
		{"the 14:00 visit itself", own, moved},
	} {
		days := s.FreeTimesMove(svc, 120, tue, tue, now, c.visit)
		if len(days) != 1 || strings.Join(days[0].Times, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: %+v, want %v", c.name, days, c.want)
		}
	}
	if days := s.FreeTimes(svc, 120, tue, tue, now); len(days) != 1 || strings.Join(days[0].Times, " ") != strings.Join(others, " ") {
		t.Errorf("FreeTimes: %+v, want %v", days, others)
	}

	// Grid 60, asked at 13:00: later that day first, then earlier.
	s60 := busyTuesday(t, 60, true)
	own60 := s60.Booked[tue][2].OrderID
	at := local(t, tue+" 13:00")
	alts := func(visit primitive.ObjectID) string {
		var g []string
		for _, x := range s60.AlternativesMove(svc, 120, at, now, 0, 10, visit) {
			g = append(g, x.In(store.Tashkent).Format("15:04"))
		}
		return strings.Join(g, " ")
	}
	if got, want := alts(primitive.NewObjectID()), "17:00 12:00 13:00"; got != want {
		t.Errorf("alternatives for another visit %q, want %q", got, want)
	}
	if got, want := alts(own60), "14:00 15:00 16:00 17:00 12:00 13:00"; got != want {
		t.Errorf("alternatives for the visit itself %q, want %q", got, want)
	}

	// The crews that could take it: at 14:00 only A (its own visit; B is
	// closed, C does not do svc); at 12:00 only B (A busy until 12:30).
	for _, c := range []struct {
		at    string
		visit primitive.ObjectID
		want  string
	}{
		{"14:00", own, "A"},
		{"14:00", primitive.NewObjectID(), ""},
		{"12:00", own, "B"},
	} {
		if got := names(s.FreeCrews(svc, 120, local(t, tue+" "+c.at), c.visit)); got != c.want {
			t.Errorf("free crews at %s: %q, want %q", c.at, got, c.want)
		}
	}
}
