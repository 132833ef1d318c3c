package handlers

import (
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// The admin's schedule (#21): GET /admin/schedule?date= is a day, one
// column per crew with its visits by time; ?view=week&date= the load of
// each crew on each day of that date's week. A visit is reassigned with
// PATCH /orders/:id {crewId} from its block (UpdateOrder answers a target
// "visit-…" through scheduleAnswer). Dates are local (Tashkent).

// scheduleVisitOut is a visit of the day's JSON: its instants in UTC, to
// the visit's end (the travel buffer after it is not the visit's).
type scheduleVisitOut struct {
	OrderID primitive.ObjectID `json:"orderId"`
	From    time.Time          `json:"from"`
	To      time.Time          `json:"to"`
	Status  string             `json:"status"`
}

type scheduleCrewOut struct {
	ID     primitive.ObjectID `json:"id"`
	Name   string             `json:"name"`
	Visits []scheduleVisitOut `json:"visits"`
}

// scheduleDayOut is the JSON of GET /admin/schedule?date=.
type scheduleDayOut struct {
	Date  string            `json:"date"`
	Crews []scheduleCrewOut `json:"crews"`
}

type scheduleLoadOut struct {
	Date           string `json:"date"`
	BookedMinutes  int    `json:"bookedMinutes"`
	WorkingMinutes int    `json:"workingMinutes"`
}

type scheduleWeekCrewOut struct {
	ID   primitive.ObjectID `json:"id"`
	Name string             `json:"name"`
	Days []scheduleLoadOut  `json:"days"`
}

// scheduleWeekOut is the JSON of GET /admin/schedule?view=week&date=.
type scheduleWeekOut struct {
	From  string                `json:"from"`
	To    string                `json:"to"`
	Crews []scheduleWeekCrewOut `json:"crews"`
}

// AdminSchedule is the admin's schedule: a day (the default, today) or a
// week.
func (h *Handler) AdminSchedule(c *fiber.Ctx) error {
	loc := h.meta(c).Locale
	date := c.Query("date", store.LocalDate(h.now()))
	day, err := time.ParseInLocation(time.DateOnly, date, store.Tashkent)
	if err != nil {
		return &ValidationError{Fields: map[string]string{"date": loc.T("err.schedule.date")}}
	}
	switch c.Query("view", "day") {
	case "day":
		v, err := h.scheduleDay(c, day)
		if err != nil {
			return err
		}
		return h.render(c, fiber.StatusOK, dayOut(v), page{title: loc.T("schedule.title"), body: views.ScheduleDayPage(v), fragment: views.ScheduleDayGrid(v)})
	case "week":
		v, err := h.scheduleWeek(c, day)
		if err != nil {
			return err
		}
		return h.render(c, fiber.StatusOK, weekOut(v), page{title: loc.T("schedule.title"), body: views.ScheduleWeekPage(v)})
	}
	return &ValidationError{Fields: map[string]string{"view": loc.T("err.schedule.view")}}
}

// scheduleDay reads the day's visits: the reservations of the day, each
// with its order (by id). Every active crew has a column, and a crew no
// longer active one when it still has visits that day. Each visit knows
// which other crews could take it (free first: the select's default).
func (h *Handler) scheduleDay(c *fiber.Ctx, day time.Time) (views.ScheduleDay, error) {
	v := views.ScheduleDay{Date: day}
	date := day.Format(time.DateOnly)
	sc, err := h.schedule.Load(ctx(c), date, date)
	if err != nil {
		return v, err
	}
	crews := sc.Crews
	sort.SliceStable(crews, func(i, j int) bool { return strings.ToLower(crews[i].Name) < strings.ToLower(crews[j].Name) })
	names, err := h.serviceNames(c)
	if err != nil {
		return v, err
	}
	lang := h.meta(c).Lang
	byCrew := map[primitive.ObjectID][]views.ScheduleVisit{}
	for _, r := range sc.Booked[date] {
		o, err := h.orders.Get(ctx(c), r.OrderID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile; the day's document follows
		} else if err != nil {
			return v, err
		}
		vis := views.ScheduleVisit{Order: o, From: r.From, To: r.EndsAt, Started: !h.now().Before(r.From),
			ServiceName: store.ServiceTitle(o.ServiceNames, o.ServiceName, lang, names[o.ServiceID.Hex()])}
		for _, cr := range crews {
			switch {
			case !cr.Active || cr.ID == r.CrewID:
			case sc.CrewFree(cr.ID, o.ServiceID, o.VisitMinutes(), r.From, o.ID) == nil:
				vis.Free = append(vis.Free, cr)
			default:
				vis.Taken = append(vis.Taken, cr)
			}
		}
		byCrew[r.CrewID] = append(byCrew[r.CrewID], vis)
	}
	for _, cr := range crews {
		if cr.Active || len(byCrew[cr.ID]) > 0 {
			v.Columns = append(v.Columns, views.ScheduleColumn{Crew: cr, Visits: byCrew[cr.ID]})
		}
	}
	return v, nil
}

func dayOut(v views.ScheduleDay) scheduleDayOut {
	out := scheduleDayOut{Date: v.Date.Format(time.DateOnly), Crews: []scheduleCrewOut{}}
	for _, col := range v.Columns {
		cr := scheduleCrewOut{ID: col.Crew.ID, Name: col.Crew.Name, Visits: []scheduleVisitOut{}}
		for _, vis := range col.Visits {
			cr.Visits = append(cr.Visits, scheduleVisitOut{OrderID: vis.Order.ID, From: vis.From.UTC(), To: vis.To.UTC(), Status: vis.Order.Status})
		}
		out.Crews = append(out.Crews, cr)
	}
	return out
}

// scheduleWeek is the load of each crew on each day of day's week
// (Monday to Sunday): the visits' hours (without the travel between
// them) against the hours it works, closures taken away.
func (h *Handler) scheduleWeek(c *fiber.Ctx, day time.Time) (views.ScheduleWeek, error) {
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	v := views.ScheduleWeek{Date: day}
	for i := range 7 {
		v.Days = append(v.Days, monday.AddDate(0, 0, i))
	}
	sc, err := h.schedule.Load(ctx(c), v.Days[0].Format(time.DateOnly), v.Days[6].Format(time.DateOnly))
	if err != nil {
		return v, err
	}
	for _, cr := range sc.Crews {
		if !cr.Active {
			continue
		}
		row := views.ScheduleWeekRow{Crew: cr}
		for _, d := range v.Days {
			date := d.Format(time.DateOnly)
			load := views.ScheduleLoad{Date: date, Working: workingMinutes(&cr, sc.Closures, d)}
			for _, r := range sc.Booked[date] {
				if r.CrewID == cr.ID {
					load.Booked += int(r.EndsAt.Sub(r.From) / time.Minute)
				}
			}
			row.Days = append(row.Days, load)
		}
		v.Rows = append(v.Rows, row)
	}
	return v, nil
}

// workingMinutes are the minutes crew works on day: its hours of that
// weekday less what closures of that day take from it.
func workingMinutes(crew *store.Crew, closures []store.Closure, day time.Time) int {
	date := day.Format(time.DateOnly)
	total := 0
	for _, iv := range crew.Hours.On(day.Weekday()) {
		open := []store.DayMinutes{iv}
		for i := range closures {
			cl := &closures[i]
			if cl.Date != date || !cl.Applies(crew.ID) {
				continue
			}
			from, to := 0, 24*60
			if cl.From != "" || cl.To != "" {
				from, _ = store.ParseClock(cl.From)
				to, _ = store.ParseClock(cl.To)
			}
			var rest []store.DayMinutes
			for _, o := range open {
				if o.From < from {
					rest = append(rest, store.DayMinutes{From: o.From, To: min(o.To, from)})
				}
				if o.To > to {
					rest = append(rest, store.DayMinutes{From: max(o.From, to), To: o.To})
				}
			}
			open = rest
		}
		for _, o := range open {
			total += o.To - o.From
		}
	}
	return total
}

func weekOut(v views.ScheduleWeek) scheduleWeekOut {
	out := scheduleWeekOut{From: v.Days[0].Format(time.DateOnly), To: v.Days[6].Format(time.DateOnly), Crews: []scheduleWeekCrewOut{}}
	for _, row := range v.Rows {
		cr := scheduleWeekCrewOut{ID: row.Crew.ID, Name: row.Crew.Name}
		for _, d := range row.Days {
			cr.Days = append(cr.Days, scheduleLoadOut{Date: d.Date, BookedMinutes: d.Booked, WorkingMinutes: d.Working})
		}
		out.Crews = append(out.Crews, cr)
	}
	return out
}

// scheduleAnswer is UpdateOrder's answer to a reassignment from the
// schedule (HX-Target "visit-<id>-msg", the block's message slot): a
// refusal goes into the slot, the page as it was; a success replaces the
// day, the visit in its new column.
func (h *Handler) scheduleAnswer(c *fiber.Ctx, o *store.Order, f views.FormState, status int) error {
	loc := h.meta(c).Locale
	if status >= 400 {
		msg := f.Error
		if msg == "" {
			msg = loc.T("error.validation.message")
		}
		return h.render(c, status, nil, page{body: views.ErrorFragment(loc.T("error.validation.title"), msg)})
	}
	day, _ := time.ParseInLocation(time.DateOnly, store.LocalDate(o.ScheduledAt), store.Tashkent)
	v, err := h.scheduleDay(c, day)
	if err != nil {
		return err
	}
	v.Notice = loc.Format("schedule.reassigned", map[string]any{"Number": views.OrderNo(o.Seq), "Crew": o.CrewName})
	c.Set("HX-Retarget", "#schedule-day")
	c.Set("HX-Reswap", "outerHTML")
	return h.render(c, status, nil, page{body: views.ScheduleDayGrid(v)})
}
