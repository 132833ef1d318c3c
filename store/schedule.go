package store

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// The schedule (DESIGN.md, Schedule): crews work weekly hours, closures
// take days or hours away, and a visit reserves one crew from its start
// for its duration plus the travel buffer. A customer is offered a start
// time only when a crew that does the service is free for all of it.
//
// Times of day are local (Tashkent, UTC+5, no daylight saving): "08:00"
// is minute 480 of the day. The database keeps instants in UTC.

// Default schedule rules, for a company that has not set its own.
const (
	DefaultSlotMinutes   = 30
	DefaultBufferMinutes = 30
	DefaultLeadMinutes   = 180
	DefaultHorizonDays   = 60
)

// CellMinutes is the grain of a reservation: a crew's time is reserved in
// half hours (see reservations.go), so a slot grid is a multiple of it and
// a visit's reserved span is its duration plus the buffer, rounded up to it.
const CellMinutes = 30

// Bounds of the rules an admin sets.
const (
	MaxSlotMinutes   = 240
	MaxBufferMinutes = 240
	MaxLeadMinutes   = 14 * 24 * 60
	MaxHorizonDays   = 365
)

// ScheduleRules are the company's booking rules.
type ScheduleRules struct {
	SlotMinutes   int `bson:"slotMinutes" json:"slotMinutes"`     // the start times' grid
	BufferMinutes int `bson:"bufferMinutes" json:"bufferMinutes"` // a crew's travel between two visits
	LeadMinutes   int `bson:"leadMinutes" json:"leadMinutes"`     // the earliest booking, from now
	HorizonDays   int `bson:"horizonDays" json:"horizonDays"`     // the latest day, from today
}

// DefaultScheduleRules are the rules of a company that set none.
func DefaultScheduleRules() ScheduleRules {
	return ScheduleRules{SlotMinutes: DefaultSlotMinutes, BufferMinutes: DefaultBufferMinutes, LeadMinutes: DefaultLeadMinutes, HorizonDays: DefaultHorizonDays}
}

// Problem names the first rule out of bounds ("" when none is): its field
// and why.
func (r ScheduleRules) Problem() (field, why string) {
	switch {
	case r.SlotMinutes < CellMinutes || r.SlotMinutes > MaxSlotMinutes || r.SlotMinutes%CellMinutes != 0:
		return "slotMinutes", fmt.Sprintf("a multiple of %d from %d to %d", CellMinutes, CellMinutes, MaxSlotMinutes)
	case r.BufferMinutes < 0 || r.BufferMinutes > MaxBufferMinutes:
		return "bufferMinutes", fmt.Sprintf("from 0 to %d", MaxBufferMinutes)
	case r.LeadMinutes < 0 || r.LeadMinutes > MaxLeadMinutes:
		return "leadMinutes", fmt.Sprintf("from 0 to %d", MaxLeadMinutes)
	case r.HorizonDays < 1 || r.HorizonDays > MaxHorizonDays:
		return "horizonDays", fmt.Sprintf("from 1 to %d", MaxHorizonDays)
	}
	return "", ""
}

// ReservedMinutes is how long a visit of minutes holds its crew: the visit
// and the buffer, rounded up to whole cells.
func (r ScheduleRules) ReservedMinutes(minutes int) int {
	n := minutes + r.BufferMinutes
	return (n + CellMinutes - 1) / CellMinutes * CellMinutes
}

// Weekdays are the keys of WeekHours, Monday first.
var Weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// weekdayKey is the WeekHours key of d.
func weekdayKey(d time.Weekday) string { return Weekdays[(int(d)+6)%7] }

// WeekHours are a crew's working hours: for each weekday ("mon" … "sun"),
// its intervals (["08:00","13:00"], ["14:00","19:00"]); a day without any
// is a day off.
type WeekHours map[string][][2]string

// MarshalBSONValue stores h as {"mon": ["08:00-13:00", …]}: FerretDB
// refuses the nested arrays of its JSON form (["08:00","13:00"] in a
// day's list), so a crew with any hours could not be saved.
func (h WeekHours) MarshalBSONValue() (bsontype.Type, []byte, error) {
	d := bson.D{}
	for day, ivs := range h {
		list := make([]string, len(ivs))
		for i, iv := range ivs {
			list[i] = iv[0] + "-" + iv[1]
		}
		d = append(d, bson.E{Key: day, Value: list})
	}
	sort.Slice(d, func(i, j int) bool { return d[i].Key < d[j].Key })
	return bson.MarshalValue(d)
}

// UnmarshalBSONValue reads what MarshalBSONValue stores, and the
// [from, to] pairs a MongoDB may hold from before it.
func (h *WeekHours) UnmarshalBSONValue(t bsontype.Type, data []byte) error {
	var m map[string][]bson.RawValue
	if err := (bson.RawValue{Type: t, Value: data}).Unmarshal(&m); err != nil {
		return err
	}
	out := WeekHours{}
	for day, list := range m {
		ivs := make([][2]string, len(list))
		for i, v := range list {
			if s, ok := v.StringValueOK(); ok {
				from, to, _ := strings.Cut(s, "-")
				ivs[i] = [2]string{from, to}
			} else if err := v.Unmarshal(&ivs[i]); err != nil {
				return err
			}
		}
		out[day] = ivs
	}
	*h = out
	return nil
}

// DayMinutes is one interval of a day in minutes from midnight, [From, To).
type DayMinutes struct{ From, To int }

// ParseClock reads "HH:MM" (00:00 … 24:00) as minutes from midnight.
func ParseClock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, false
	}
	return hh*60 + mm, true
}

// Clock writes minutes from midnight as "HH:MM".
func Clock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// Check reports the first problem of h: an unknown day, a time that is
// not "HH:MM", an interval that ends before it starts, or two that
// overlap.
func (h WeekHours) Check() error {
	for day, ivs := range h {
		if !validWeekday(day) {
			return fmt.Errorf("%w: %q is not a day (mon … sun)", ErrInvalid, day)
		}
		if _, err := parseIntervals(ivs); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalid, day, err)
		}
	}
	return nil
}

func validWeekday(day string) bool {
	for _, d := range Weekdays {
		if d == day {
			return true
		}
	}
	return false
}

// parseIntervals reads a day's intervals, sorted; they may not overlap.
func parseIntervals(ivs [][2]string) ([]DayMinutes, error) {
	out := make([]DayMinutes, 0, len(ivs))
	for _, iv := range ivs {
		from, ok1 := ParseClock(iv[0])
		to, ok2 := ParseClock(iv[1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%q–%q: times are HH:MM", iv[0], iv[1])
		}
		if to <= from {
			return nil, fmt.Errorf("%s–%s ends before it starts", iv[0], iv[1])
		}
		out = append(out, DayMinutes{from, to})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From < out[j].From })
	for i := 1; i < len(out); i++ {
		if out[i].From < out[i-1].To {
			return nil, fmt.Errorf("%s–%s overlaps %s–%s", Clock(out[i-1].From), Clock(out[i-1].To), Clock(out[i].From), Clock(out[i].To))
		}
	}
	return out, nil
}

// On returns the intervals of weekday d (none on a day off).
func (h WeekHours) On(d time.Weekday) []DayMinutes {
	ivs, _ := parseIntervals(h[weekdayKey(d)]) // checked when saved
	return ivs
}

// Crew is a team that goes to visits together. ServiceIDs are the services
// it does; none named: every service. Members are the people in it, by
// name (MemberIDs, their accounts, once cleaners have them).
type Crew struct {
	ID         primitive.ObjectID   `bson:"_id" json:"id"`
	Name       string               `bson:"name" json:"name"`
	Members    []string             `bson:"members" json:"members"`
	MemberIDs  []primitive.ObjectID `bson:"memberIds" json:"memberIds"`
	ServiceIDs []primitive.ObjectID `bson:"serviceIds" json:"serviceIds"`
	Hours      WeekHours            `bson:"hours" json:"hours"`
	Active     bool                 `bson:"active" json:"active"`
	CreatedAt  time.Time            `bson:"createdAt" json:"createdAt"`
	UpdatedAt  time.Time            `bson:"updatedAt" json:"updatedAt"`
	// week is Hours read once (see prepare), Monday first.
	week *[7][]DayMinutes
}

// prepare reads the crew's hours once, for the many slots a schedule
// checks.
func (c *Crew) prepare() {
	var w [7][]DayMinutes
	for i, d := range Weekdays {
		w[i], _ = parseIntervals(c.Hours[d]) // checked when saved
	}
	c.week = &w
}

// hoursOn are the crew's intervals on weekday d.
func (c *Crew) hoursOn(d time.Weekday) []DayMinutes {
	if c.week == nil {
		return c.Hours.On(d)
	}
	return c.week[(int(d)+6)%7]
}

// Does reports whether the crew does service.
func (c *Crew) Does(service primitive.ObjectID) bool {
	if len(c.ServiceIDs) == 0 {
		return true
	}
	for _, id := range c.ServiceIDs {
		if id == service {
			return true
		}
	}
	return false
}

// Closure takes a day, or part of one, away from every crew (CrewID zero:
// a holiday) or from one. From and To empty: the whole day.
type Closure struct {
	ID        primitive.ObjectID `bson:"_id" json:"id"`
	Date      string             `bson:"date" json:"date"` // "2026-12-31", local
	CrewID    primitive.ObjectID `bson:"crewId,omitempty" json:"crewId,omitempty"`
	From      string             `bson:"from,omitempty" json:"from"`
	To        string             `bson:"to,omitempty" json:"to"`
	Reason    string             `bson:"reason" json:"reason"`
	CreatedAt time.Time          `bson:"createdAt" json:"createdAt"`
}

// minutes is the closed part of its day.
func (c *Closure) minutes() DayMinutes {
	if c.From == "" && c.To == "" {
		return DayMinutes{0, 24 * 60}
	}
	from, _ := ParseClock(c.From)
	to, ok := ParseClock(c.To)
	if !ok {
		to = 24 * 60
	}
	return DayMinutes{from, to}
}

// Check reports the first problem of c.
func (c *Closure) Check() error {
	if _, err := time.ParseInLocation(time.DateOnly, c.Date, Tashkent); err != nil {
		return fmt.Errorf("%w: date: YYYY-MM-DD", ErrInvalid)
	}
	if c.From == "" && c.To == "" {
		return nil
	}
	from, ok1 := ParseClock(c.From)
	to, ok2 := ParseClock(c.To)
	if !ok1 || !ok2 || to <= from {
		return fmt.Errorf("%w: from, to: HH:MM, the end after the start", ErrInvalid)
	}
	return nil
}

// Applies reports whether c closes crew.
func (c *Closure) Applies(crew primitive.ObjectID) bool { return c.CrewID.IsZero() || c.CrewID == crew }

// Reservation is a visit's hold on its crew, [From, Until): the visit and
// the buffer after it.
type Reservation struct {
	OrderID primitive.ObjectID `bson:"-" json:"orderId"`
	CrewID  primitive.ObjectID `bson:"c" json:"crewId"`
	From    time.Time          `bson:"f" json:"from"`
	Until   time.Time          `bson:"u" json:"until"`
	EndsAt  time.Time          `bson:"e" json:"endsAt"` // the visit's end, before the buffer
}

// Schedule is everything a day's free times depend on: the crews, the
// closures, the rules and the reservations of the days asked about (by
// local date).
type Schedule struct {
	Crews    []Crew
	Closures []Closure
	Rules    ScheduleRules
	Booked   map[string][]Reservation
	// byCrew is Booked by date and crew, as Load reads it, or made on the
	// first check (Booked is not changed after it): a month's free times
	// ask about every crew at every start time, and a busy day holds
	// hundreds of visits.
	byCrew map[string]map[primitive.ObjectID][]Reservation
	// From Load: the answers Booked and Crews were read from, and the
	// memo of free times that they validate (see dayTimesMemo).
	days  map[string]*bookedDay
	crews uint64
	memo  *dayTimesMemo
}

// LocalDate is the local date of t, "2006-01-02".
func LocalDate(t time.Time) string {
	// As Format(time.DateOnly) writes it, without the layout's parsing: a
	// month's free times name each day three times.
	y, m, d := t.In(Tashkent).Date()
	if y < 0 || y > 9999 {
		return t.In(Tashkent).Format(time.DateOnly)
	}
	b := [10]byte{byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + int(m)/10), byte('0' + int(m)%10), '-', byte('0' + d/10), byte('0' + d%10)}
	return string(b[:])
}

// Slot is a start time of a day and the crews free at it.
type Slot struct {
	At    time.Time
	Crews []*Crew
}

// Why a start time cannot be booked, beyond a crew being busy.
var (
	ErrOffGrid       = fmt.Errorf("%w: not a start time of the grid", ErrInvalid)
	ErrTooSoon       = fmt.Errorf("%w: too soon, or past", ErrInvalid)
	ErrTooFar        = fmt.Errorf("%w: beyond the booking horizon", ErrInvalid)
	ErrOutsideHours  = fmt.Errorf("%w: outside every crew's hours", ErrInvalid)
	ErrNoCrew        = fmt.Errorf("%w: no crew does this service", ErrInvalid)
	ErrSlotTaken     = fmt.Errorf("%w: every crew is busy then", ErrConflict)
	ErrCrewBusy      = fmt.Errorf("%w: the crew is busy then", ErrConflict)
	ErrCrewOffDuty   = fmt.Errorf("%w: the crew does not work then", ErrInvalid)
	ErrCrewNotForJob = fmt.Errorf("%w: the crew does not do this service", ErrInvalid)
)

// Check says whether a visit of service lasting minutes may start at at,
// now: nil when a crew is free for it, else why not (ErrOffGrid,
// ErrTooSoon, ErrTooFar, ErrNoCrew, ErrOutsideHours: the time is wrong
// whoever is booked; ErrSlotTaken: every crew that works then is busy).
// The reservations of at's date and the days around it (datesAround)
// must be in s.Booked.
func (s *Schedule) Check(service primitive.ObjectID, minutes int, at, now time.Time) ([]*Crew, error) {
	return s.CheckMove(service, minutes, at, now, primitive.NilObjectID)
}

// CheckMove is Check of visit moved to at: its own reservation is no
// crew's other visit.
func (s *Schedule) CheckMove(service primitive.ObjectID, minutes int, at, now time.Time, visit primitive.ObjectID) ([]*Crew, error) {
	free, err := s.freeCrews(service, minutes, at, now, visit, false)
	if err != nil {
		return nil, err
	}
	return s.leastBusy(free, LocalDate(at)), nil
}

// freeCrews is CheckMove's check, its crews unordered; with first, it
// stops at the first free crew (whether a time is free needs no more).
func (s *Schedule) freeCrews(service primitive.ObjectID, minutes int, at, now time.Time, visit primitive.ObjectID, first bool) ([]*Crew, error) {
	local := at.In(Tashkent)
	m := local.Hour()*60 + local.Minute()
	switch {
	case local.Second() != 0 || local.Nanosecond() != 0 || m%s.Rules.SlotMinutes != 0:
		return nil, ErrOffGrid
	case at.Before(now.Add(time.Duration(s.Rules.LeadMinutes) * time.Minute)):
		return nil, ErrTooSoon
	case !at.Before(s.horizonEnd(now)):
		return nil, ErrTooFar
	}
	var doers []*Crew
	for i := range s.Crews {
		if c := &s.Crews[i]; c.Active && c.Does(service) {
			doers = append(doers, c)
		}
	}
	if len(doers) == 0 {
		return nil, ErrNoCrew
	}
	var free []*Crew
	working := false
	dates := datesAround(at)
	for _, c := range doers {
		if s.works(c, at, minutes) {
			working = true
			if s.freeOn(dates, c.ID, at, s.Rules.ReservedMinutes(minutes), visit) {
				free = append(free, c)
				if first {
					break
				}
			}
		}
	}
	switch {
	case !working:
		return nil, ErrOutsideHours
	case len(free) == 0:
		return nil, ErrSlotTaken
	}
	return free, nil
}

// horizonEnd is the first instant past the last bookable day.
func (s *Schedule) horizonEnd(now time.Time) time.Time {
	l := now.In(Tashkent)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, Tashkent).AddDate(0, 0, s.Rules.HorizonDays+1)
}

// works reports whether crew c works for the whole visit [at, at+minutes):
// inside one of its intervals that day, and not closed.
func (s *Schedule) works(c *Crew, at time.Time, minutes int) bool {
	local := at.In(Tashkent)
	start := local.Hour()*60 + local.Minute()
	end := start + minutes
	inside := false
	for _, iv := range c.hoursOn(local.Weekday()) {
		if iv.From <= start && end <= iv.To {
			inside = true
			break
		}
	}
	if !inside || len(s.Closures) == 0 {
		return inside
	}
	date := local.Format(time.DateOnly)
	for i := range s.Closures {
		cl := &s.Closures[i]
		if cl.Date == date && cl.Applies(c.ID) {
			if x := cl.minutes(); x.From < end && start < x.To {
				return false
			}
		}
	}
	return true
}

// free reports whether crew is free for reserved minutes from at, apart
// from the reservation of order except (a visit being moved).
func (s *Schedule) free(crew primitive.ObjectID, at time.Time, reserved int, except primitive.ObjectID) bool {
	return s.freeOn(datesAround(at), crew, at, reserved, except)
}

// crewBooked are the reservations of crew on local date.
func (s *Schedule) crewBooked(date string, crew primitive.ObjectID) []Reservation {
	if s.byCrew == nil {
		s.byCrew = make(map[string]map[primitive.ObjectID][]Reservation, len(s.Booked))
		for date, rs := range s.Booked {
			m := map[primitive.ObjectID][]Reservation{}
			for _, r := range rs {
				m[r.CrewID] = append(m[r.CrewID], r)
			}
			s.byCrew[date] = m
		}
	}
	return s.byCrew[date][crew]
}

// Hold counts r as booked on s from now on: a batch placing many visits
// on one schedule read sees those it placed already. The days' answers
// read from the cache are shared, so r's day is copied first, and the
// free-times memo is not used for it any more (its answer changed).
func (s *Schedule) Hold(r Reservation) {
	date := LocalDate(r.From)
	s.crewBooked(date, r.CrewID) // builds byCrew
	if s.days[date] != nil {
		s.byCrew[date] = maps.Clone(s.byCrew[date])
		s.days[date] = nil
	}
	if s.byCrew[date] == nil {
		s.byCrew[date] = map[primitive.ObjectID][]Reservation{}
	}
	s.Booked[date] = append(slices.Clip(s.Booked[date]), r)
	s.byCrew[date][r.CrewID] = append(slices.Clip(s.byCrew[date][r.CrewID]), r)
}

// datesAround are the local dates whose reservations may meet a visit at
// at: the day before's (a last visit's buffer past midnight), its own, and
// the day after's (its own buffer past midnight, into the early visits of
// a crew that works through the night).
func datesAround(at time.Time) [3]string {
	return [3]string{LocalDate(at.AddDate(0, 0, -1)), LocalDate(at), LocalDate(at.AddDate(0, 0, 1))}
}

// freeOn is free, with at's datesAround.
func (s *Schedule) freeOn(dates [3]string, crew primitive.ObjectID, at time.Time, reserved int, except primitive.ObjectID) bool {
	until := at.Add(time.Duration(reserved) * time.Minute)
	for _, date := range dates {
		for _, r := range s.crewBooked(date, crew) {
			if r.OrderID != except && r.From.Before(until) && at.Before(r.Until) {
				return false
			}
		}
	}
	return true
}

// leastBusy orders crews by the minutes reserved on date, fewest first
// (then as listed), so that visits spread over the crews.
func (s *Schedule) leastBusy(crews []*Crew, date string) []*Crew {
	load := map[primitive.ObjectID]time.Duration{}
	for _, r := range s.Booked[date] {
		load[r.CrewID] += r.Until.Sub(r.From)
	}
	sort.SliceStable(crews, func(i, j int) bool { return load[crews[i].ID] < load[crews[j].ID] })
	return crews
}

// CrewFree checks one crew for a visit moved or reassigned to it: it does
// the service, works then and is free, apart from the visit itself.
func (s *Schedule) CrewFree(crew primitive.ObjectID, service primitive.ObjectID, minutes int, at time.Time, visit primitive.ObjectID) error {
	for i := range s.Crews {
		c := &s.Crews[i]
		if c.ID != crew {
			continue
		}
		switch {
		case !c.Active || !c.Does(service):
			return ErrCrewNotForJob
		case !s.works(c, at, minutes):
			return ErrCrewOffDuty
		case !s.free(crew, at, s.Rules.ReservedMinutes(minutes), visit):
			return ErrCrewBusy
		}
		return nil
	}
	return fmt.Errorf("%w: crew", ErrNotFound)
}

// FreeTimes lists, for each local date from first to last (at most the
// horizon), the start times at which a crew that does service is free for
// a visit of minutes, now. A day with none has an empty list.
func (s *Schedule) FreeTimes(service primitive.ObjectID, minutes int, first, last string, now time.Time) []DayTimes {
	return s.FreeTimesMove(service, minutes, first, last, now, primitive.NilObjectID)
}

// FreeTimesMove is FreeTimes for visit moved (a reschedule): its own
// reservation is no crew's other visit, so a time overlapping it is free.
func (s *Schedule) FreeTimesMove(service primitive.ObjectID, minutes int, first, last string, now time.Time, visit primitive.ObjectID) []DayTimes {
	from, err1 := time.ParseInLocation(time.DateOnly, first, Tashkent)
	to, err2 := time.ParseInLocation(time.DateOnly, last, Tashkent)
	if err1 != nil || err2 != nil {
		return nil
	}
	end := s.horizonEnd(now)
	var out []DayTimes
	for day := from; !day.After(to) && day.Before(end); day = day.AddDate(0, 0, 1) {
		out = append(out, DayTimes{Date: day.Format(time.DateOnly), Times: s.dayTimes(service, minutes, day, now, visit)})
	}
	return out
}

// DayTimes are a day's free start times ("09:00"), as local times of day.
type DayTimes struct {
	Date  string   `json:"date"`
	Times []string `json:"times"`
}

// dayTimes are the free start times of day (a local midnight): those at
// which Check finds a crew, found as it would (the same lead, horizon,
// hours, closures and reservations of the days around it): the
// day's free times (freeMinutes) from the earliest booking on, before the
// horizon's end.
func (s *Schedule) dayTimes(service primitive.ObjectID, minutes int, day, now time.Time, visit primitive.ObjectID) []string {
	mins, clocks := s.freeMinutes(service, minutes, day, visit)
	earliest, end := now.Add(time.Duration(s.Rules.LeadMinutes)*time.Minute), s.horizonEnd(now)
	lo, hi := 0, len(mins)
	for lo < hi && day.Add(time.Duration(mins[lo])*time.Minute).Before(earliest) {
		lo++
	}
	for hi > lo && !day.Add(time.Duration(mins[hi-1])*time.Minute).Before(end) {
		hi--
	}
	return clocks[lo:hi:hi] // shared with the memo: an append copies
}

// freeMinutes are the grid's start times of day (minutes from midnight,
// and as clocks) at which a crew that does service is free for a visit of
// minutes, at any time of booking. Each crew's reserved cells of the day
// are counted once, not its reservations scanned at every start time: a
// month of a busy company's days is thousands of start times. A schedule
// from Load remembers the answer in its memo (see dayTimesMemo).
func (s *Schedule) freeMinutes(service primitive.ObjectID, minutes int, day time.Time, visit primitive.ObjectID) ([]int, []string) {
	dates := datesAround(day)
	key := dayTimesKey{service: service, minutes: minutes, date: dates[1]}
	prev, today, next := s.days[dates[0]], s.days[dates[1]], s.days[dates[2]]
	memo := s.memo != nil && visit.IsZero() && prev != nil && today != nil && next != nil
	var from dayTimesFrom
	if memo {
		from = dayTimesFrom{crews: s.crews, rules: s.Rules, prev: prev.answer, day: today.answer, next: next.answer}
	}
	if memo {
		if e := s.memo.get(key, from); e != nil {
			return e.mins, e.clocks
		}
	}
	mins, clocks := []int{}, []string{}
	var doers []*Crew
	for i := range s.Crews {
		if c := &s.Crews[i]; c.Active && c.Does(service) {
			doers = append(doers, c)
		}
	}
	if len(doers) > 0 {
		span := s.Rules.ReservedMinutes(minutes) / CellMinutes
		busy := s.busyCells(day, doers, 24*60/CellMinutes+span, visit)
		for m := 0; m < 24*60; m += s.Rules.SlotMinutes {
			at := day.Add(time.Duration(m) * time.Minute)
			k := m / CellMinutes // a start time of the grid begins a cell
			for i, c := range doers {
				if busy[i][k+span] == busy[i][k] && s.works(c, at, minutes) {
					mins, clocks = append(mins, m), append(clocks, Clock(m))
					break
				}
			}
		}
	}
	if memo {
		s.memo.put(key, &dayTimesEntry{from: from, mins: mins, clocks: clocks})
	}
	return mins, clocks
}

// dayTimesMemo keeps each day's free times (freeMinutes) with what they
// were computed from: the crews' document, the rules, and the reservations
// of the day and the days either side (datesAround), each document by the number of the
// cache's answer it was decoded from (DB.answerSerial: the cache renews an
// answer that did not change in place, docCache.renew, so the number
// stays). A month's question then computes only the days whose
// reservations changed; an entry computed from anything else is not used.
// Numbers, not the answers themselves, so the memo keeps no old day alive.
// Shared by the requests of one process; bounded by dayTimesMemoMax
// entries (a few hundred bytes each).
type dayTimesMemo struct {
	mu sync.Mutex
	m  map[dayTimesKey]*dayTimesEntry
}

// dayTimesMemoMax bounds the memo: the services, the visits' lengths and
// the days of the horizon asked about; past it, it starts again.
const dayTimesMemoMax = 8192

type dayTimesKey struct {
	service primitive.ObjectID
	minutes int
	date    string
}

type dayTimesFrom struct {
	crews           uint64 // the answers' numbers (DB.answerSerial); 0: no document
	rules           ScheduleRules
	prev, day, next uint64
}

type dayTimesEntry struct {
	from   dayTimesFrom
	mins   []int
	clocks []string
}

func newDayTimesMemo() *dayTimesMemo { return &dayTimesMemo{m: map[dayTimesKey]*dayTimesEntry{}} }

func (m *dayTimesMemo) get(k dayTimesKey, from dayTimesFrom) *dayTimesEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.m[k]; e != nil && e.from == from {
		return e
	}
	return nil
}

func (m *dayTimesMemo) put(k dayTimesKey, e *dayTimesEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.m) >= dayTimesMemoMax {
		clear(m.m)
	}
	m.m[k] = e
}

// busyCells counts, for each of crews, its reserved half hours from day's
// midnight on, n cells, as prefix sums: cells [a, b) are free when
// p[b] == p[a]. A cell is reserved when a reservation overlaps it; a
// visit starting on the grid reserves whole cells, so this is free's
// answer. As free, it reads the reservations of the days around day.
func (s *Schedule) busyCells(day time.Time, crews []*Crew, n int, visit primitive.ObjectID) [][]int32 {
	marks := make([]bool, len(crews)*n)
	const cell = CellMinutes * time.Minute
	for i, c := range crews {
		for _, date := range datesAround(day) {
			for _, r := range s.crewBooked(date, c.ID) {
				if r.OrderID == visit {
					continue // the visit being moved: its own time is free to it
				}
				from, until := r.From.Sub(day), r.Until.Sub(day)
				if until <= 0 {
					continue
				}
				first, last := 0, int((until+cell-1)/cell) // [first, last)
				if from > 0 {
					first = int(from / cell)
				}
				for k := first; k < min(last, n); k++ {
					marks[i*n+k] = true
				}
			}
		}
	}
	out := make([][]int32, len(crews))
	sums := make([]int32, len(crews)*(n+1))
	for i := range crews {
		p := sums[i*(n+1) : (i+1)*(n+1)]
		for k, b := range marks[i*n : (i+1)*n] {
			p[k+1] = p[k]
			if b {
				p[k+1]++
			}
		}
		out[i] = p
	}
	return out
}

// Alternatives are up to n free start times near at: later that day
// first, then earlier that day, then the following days.
func (s *Schedule) Alternatives(service primitive.ObjectID, minutes int, at, now time.Time, days, n int) []time.Time {
	return s.AlternativesMove(service, minutes, at, now, days, n, primitive.NilObjectID)
}

// AlternativesMove is Alternatives for visit moved: its own reservation
// does not take a time away.
func (s *Schedule) AlternativesMove(service primitive.ObjectID, minutes int, at, now time.Time, days, n int, visit primitive.ObjectID) []time.Time {
	local := at.In(Tashkent)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, Tashkent)
	var later, earlier []time.Time
	for _, t := range s.dayTimes(service, minutes, day, now, visit) {
		m, _ := ParseClock(t)
		tt := day.Add(time.Duration(m) * time.Minute)
		if tt.After(at) {
			later = append(later, tt)
		} else {
			earlier = append(earlier, tt)
		}
	}
	out := append(later, earlier...)
	for d := 1; d <= days && len(out) < n; d++ {
		next := day.AddDate(0, 0, d)
		for _, t := range s.dayTimes(service, minutes, next, now, visit) {
			m, _ := ParseClock(t)
			out = append(out, next.Add(time.Duration(m)*time.Minute))
		}
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// FreeCrews are the crews that could take visit of service at at, for
// minutes, in the schedule's order: they do the service, work then and
// are free apart from the visit itself (an admin's choice of a crew).
func (s *Schedule) FreeCrews(service primitive.ObjectID, minutes int, at time.Time, visit primitive.ObjectID) []*Crew {
	var out []*Crew
	for i := range s.Crews {
		if c := &s.Crews[i]; s.CrewFree(c.ID, service, minutes, at, visit) == nil {
			out = append(out, c)
		}
	}
	return out
}
