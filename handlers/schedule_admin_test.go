package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/views"
)

// The admin's schedule (#21): the day by crew, a visit given to another
// crew from its block, the week's load.

// scheduleFixture is a day two days ahead with four visits of 180
// minutes: three at 09:00 (one per crew: they take all three) and one at
// 14:00.
type scheduleFixture struct {
	*orderFixture
	day     time.Time // local midnight
	date    string
	crews   []store.Crew
	morning []*store.Order // 09:00
	late    *store.Order   // 14:00
}

func newScheduleFixture(t *testing.T) *scheduleFixture {
	f := &scheduleFixture{orderFixture: newOrderFixture(t)}
	d := time.Now().In(views.Tashkent).AddDate(0, 0, 2)
	f.day = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, views.Tashkent)
	f.date = f.day.Format(time.DateOnly)
	var err error
	if f.crews, err = f.a.h.schedule.Crews(context.Background()); err != nil || len(f.crews) != 3 {
		t.Fatalf("crews = %d, %v", len(f.crews), err)
	}
	dilnoza, _ := f.a.signupVerified("dilnoza", "dilnoza@example.uz", "toza-uy-2026")
	for i, token := range []string{f.alice, f.bob, dilnoza} {
		f.morning = append(f.morning, f.bookAt(t, token, "morning-"+string(rune('a'+i)), slot(2, 9, 0)))
	}
	f.late = f.bookAt(t, f.alice, "late", slot(2, 14, 0))
	if f.late.VisitMinutes() != 180 || !f.late.EndsAt.Equal(f.late.ScheduledAt.Add(180*time.Minute)) {
		t.Fatalf("the visit lasts %d minutes, to %v: the numbers below want 180", f.late.VisitMinutes(), f.late.EndsAt)
	}
	return f
}

func (f *scheduleFixture) bookAt(t *testing.T, token, key, when string) *store.Order {
	t.Helper()
	r := f.a.api(token).do("POST", "/orders", f.body(key, when, "Chilonzor 9-kvartal, 12-uy", "+998 90 123 45 67"))
	if r.status != 201 {
		t.Fatalf("book %s = %d %s", when, r.status, r.body)
	}
	return f.order(t, jsonField(t, r.body, "id").(string))
}

func (f *scheduleFixture) order(t *testing.T, hex string) *store.Order {
	t.Helper()
	id, _ := primitive.ObjectIDFromHex(hex)
	o, err := f.a.h.orders.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// crewOther is a crew of the fixture other than those named.
func (f *scheduleFixture) crewOther(not ...primitive.ObjectID) store.Crew {
	for _, c := range f.crews {
		taken := false
		for _, n := range not {
			taken = taken || c.ID == n
		}
		if !taken {
			return c
		}
	}
	panic("no such crew")
}

// column is crew's column of a day page: from its tag to the next column.
func column(body string, crew primitive.ObjectID) string {
	i := strings.Index(body, `data-crew-id="`+crew.Hex()+`"`)
	if i < 0 {
		return ""
	}
	rest := body[i:]
	if j := strings.Index(rest, `data-testid="crew-column"`); j >= 0 {
		return rest[:j]
	}
	return rest
}

// dayCrews is the crew of each visit of the day, as the schedule keeps it.
func (f *scheduleFixture) dayCrews(t *testing.T) map[primitive.ObjectID]primitive.ObjectID {
	t.Helper()
	day, err := f.a.h.schedule.Day(context.Background(), f.date)
	if err != nil {
		t.Fatal(err)
	}
	out := map[primitive.ObjectID]primitive.ObjectID{}
	for _, r := range day {
		out[r.OrderID] = r.CrewID
	}
	return out
}

func adminHTML(token, lang string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token, "Cookie": "lang=" + lang}
}

func TestAdminScheduleDay(t *testing.T) {
	f := newScheduleFixture(t)
	a := f.a
	path := "/admin/schedule?date=" + f.date
	get := func(headers map[string]string) request { return request{path: path, headers: headers} }
	threeColumns := func(t *testing.T, body string) {
		t.Helper()
		if n := strings.Count(body, `data-testid="crew-column"`); n != 3 {
			t.Errorf("%d crew columns, want 3", n)
		}
		for _, o := range append(f.morning, f.late) {
			col := column(body, o.CrewID)
			if !strings.Contains(col, `id="visit-`+o.ID.Hex()+`"`) {
				t.Errorf("visit %s is not in its crew's column (%s)", views.OrderNo(o.Seq), o.CrewName)
			}
		}
	}
	runScenarios(t, a, []scenario{
		{
			name: "the admin's day: a column per crew, the visits in local time", req: get(adminHTML(f.admin, "en")), status: 200,
			contains: []string{`data-testid="admin-layout"`, `aria-current="page" class="block rounded-lg bg-emerald-50 px-3 py-2 font-semibold text-emerald-800" data-testid="admin-nav-schedule"`, "Brigada 1 — Chilonzor", "Brigada 2 — Yunusobod", "Brigada 3 — Sergeli",
				"09:00–12:00", "14:00–17:00", views.OrderNo(f.late.Seq), `href="/orders/` + f.late.ID.Hex() + `"`, "Chilonzor 9-kvartal, 12-uy", "alice", "Pending",
				`data-testid="reassign-form"`, `value="` + f.date + `"`, "/admin/schedule?date=" + f.day.AddDate(0, 0, 1).Format(time.DateOnly)},
			after: func(t *testing.T, a *testApp) {
				body := a.do(get(adminHTML(f.admin, "en"))).body
				threeColumns(t, body)
				// The select offers the other two crews: at 09:00 neither
				// is free, at 14:00 both are.
				morning := between(body, `id="visit-`+f.morning[0].ID.Hex()+`"`, `</article>`)
				late := between(body, `id="visit-`+f.late.ID.Hex()+`"`, `</article>`)
				if strings.Count(morning, `<option`) != 2 || strings.Count(morning, `data-taken="true"`) != 2 || !strings.Contains(morning, "not free") {
					t.Errorf("the 09:00 visit's crews are not both marked not free:\n%s", morning)
				}
				if strings.Count(late, `<option`) != 2 || strings.Contains(late, `data-taken`) {
					t.Errorf("the 14:00 visit's crews are not both free:\n%s", late)
				}
			},
		},
		{name: "in Uzbek", req: get(adminHTML(f.admin, "uz")), status: 200, contains: []string{"Jadval", "Kutilmoqda", "Berish"}},
		{
			name: "a day without visits still has the three crews", req: request{path: "/admin/schedule?date=" + f.day.AddDate(0, 0, 3).Format(time.DateOnly), headers: adminHTML(f.admin, "en")}, status: 200,
			contains: []string{"Brigada 1 — Chilonzor", "Brigada 3 — Sergeli", "No visits this day."}, notContains: []string{`data-testid="visit-block"`},
		},
		{
			name: "JSON as the contract has it", req: get(adminJSON(f.admin, "en")), status: 200,
			contains: []string{`"date":"` + f.date + `"`, `"orderId":"` + f.late.ID.Hex() + `"`, `"from":"` + f.late.ScheduledAt.UTC().Format(time.RFC3339) + `"`,
				`"to":"` + f.late.EndsAt.UTC().Format(time.RFC3339) + `"`, `"status":"PENDING"`},
			after: func(t *testing.T, a *testApp) {
				var out struct {
					Date  string `json:"date"`
					Crews []struct {
						ID     string `json:"id"`
						Name   string `json:"name"`
						Visits []struct {
							OrderID, Status string
							From, To        time.Time
						} `json:"visits"`
					} `json:"crews"`
				}
				a.do(get(adminJSON(f.admin, "en"))).json(t, &out)
				n := 0
				for _, c := range out.Crews {
					if c.ID == "" || c.Name == "" {
						t.Errorf("a crew without id or name: %+v", c)
					}
					n += len(c.Visits)
				}
				if len(out.Crews) != 3 || n != 4 {
					t.Errorf("%d crews, %d visits; want 3 and 4", len(out.Crews), n)
				}
			},
		},
		{name: "no date: today", req: request{path: "/admin/schedule", headers: adminJSON(f.admin, "en")}, status: 200, contains: []string{`"date":"` + store.LocalDate(time.Now()) + `"`, `"visits":[]`}},
		{name: "a customer may not", req: get(adminJSON(f.alice, "en")), status: 403},
		{name: "a customer's browser may not either", req: get(adminHTML(f.alice, "en")), status: 403, notContains: []string{"Brigada 1"}},
		{name: "anonymous signs in first", req: get(nil), status: 303, header: map[string]string{"Location": "/auth/login?next="}},
		{name: "a date that is no date", req: request{path: "/admin/schedule?date=2026-13-45", headers: adminJSON(f.admin, "en")}, status: 422, contains: []string{`"date":"Dates are YYYY-MM-DD."`}},
		{name: "a view that is none", req: request{path: path + "&view=month", headers: adminJSON(f.admin, "ru")}, status: 422, contains: []string{`"view":"Вид: day или week."`}},
	})
	t.Run("once the morning's visits have begun they stay with their crews", func(t *testing.T) {
		f.visitStarted(f.morning[0])
		body := a.do(get(adminHTML(f.admin, "en"))).body
		if n := strings.Count(body, `data-testid="reassign-form"`); n != 1 {
			t.Errorf("%d reassign forms, want the 14:00 visit's alone", n)
		}
		if !strings.Contains(between(body, `id="visit-`+f.late.ID.Hex()+`"`, `</article>`), `data-testid="reassign-form"`) {
			t.Error("the 14:00 visit cannot be reassigned")
		}
	})
}

func TestAdminScheduleReassign(t *testing.T) {
	f := newScheduleFixture(t)
	a := f.a
	reassign := func(o *store.Order, crew primitive.ObjectID, lang string) request {
		return request{method: "PATCH", path: "/orders/" + o.ID.Hex(), body: "crewId=" + crew.Hex(), contentType: "application/x-www-form-urlencoded",
			headers: map[string]string{"Authorization": "Bearer " + f.admin, "Cookie": "lang=" + lang, "HX-Request": "true", "HX-Target": "visit-" + o.ID.Hex() + "-msg"}}
	}
	from := f.late.CrewID
	to := f.crewOther(from)
	unchanged := func(before map[primitive.ObjectID]primitive.ObjectID) func(*testing.T, *testApp) {
		return func(t *testing.T, a *testApp) {
			t.Helper()
			after := f.dayCrews(t)
			for id, crew := range before {
				if after[id] != crew {
					t.Errorf("visit %s moved from crew %s to %s", id.Hex(), crew.Hex(), after[id].Hex())
				}
				if o := f.order(t, id.Hex()); o.CrewID != crew {
					t.Errorf("order %s is now crew %s's", id.Hex(), o.CrewID.Hex())
				}
			}
		}
	}
	busy := f.morning[1].CrewID
	runScenarios(t, a, []scenario{
		{
			name: "to a free crew: the day again, the visit in its new column", req: reassign(f.late, to.ID, "en"), status: 200,
			header:   map[string]string{"HX-Retarget": "#schedule-day", "HX-Reswap": "outerHTML"},
			contains: []string{`id="schedule-day"`, "Visit " + views.OrderNo(f.late.Seq) + " now goes to crew “" + to.Name + "”."},
			after: func(t *testing.T, a *testApp) {
				body := a.do(reassign(f.late, to.ID, "en")).body // the same again: no change, the same day
				if !strings.Contains(column(body, to.ID), `id="visit-`+f.late.ID.Hex()+`"`) || strings.Contains(column(body, from), `id="visit-`+f.late.ID.Hex()+`"`) {
					t.Errorf("the visit is not in %s's column alone", to.Name)
				}
				if o := f.order(t, f.late.ID.Hex()); o.CrewID != to.ID || o.CrewName != to.Name || !o.ScheduledAt.Equal(f.late.ScheduledAt) {
					t.Errorf("order: crew %s %q at %v; want %s at the same time", o.CrewID.Hex(), o.CrewName, o.ScheduledAt, to.Name)
				}
				if got := f.dayCrews(t)[f.late.ID]; got != to.ID {
					t.Errorf("the schedule has it on crew %s", got.Hex())
				}
			},
		},
		{
			name: "to a busy crew: 409 with the message, nothing changed", req: reassign(f.morning[0], busy, "en"), status: 409,
			contains: []string{`data-testid="error-fragment"`, "That crew is busy then."}, notContains: []string{`id="schedule-day"`},
			after: unchanged(map[primitive.ObjectID]primitive.ObjectID{f.morning[0].ID: f.morning[0].CrewID, f.morning[1].ID: busy}),
		},
		{
			name: "in Russian", req: reassign(f.morning[0], busy, "ru"), status: 409, contains: []string{"Эта бригада в это время занята."},
		},
	})
	// A crew closed in the afternoon does not work then: 422 naming why.
	closed := f.crewOther(to.ID)
	if err := a.h.schedule.CreateClosure(context.Background(), &store.Closure{Date: f.date, CrewID: closed.ID, From: "14:00", To: "20:00", Reason: "tibbiy ko‘rik"}); err != nil {
		t.Fatal(err)
	}
	runScenarios(t, a, []scenario{
		{
			name: "to a crew that does not work then: 422 with the message", req: reassign(f.late, closed.ID, "uz"), status: 422,
			contains: []string{`data-testid="error-fragment"`, "Bu brigada o‘sha vaqtda ishlamaydi."}, notContains: []string{`id="schedule-day"`},
			after: unchanged(map[primitive.ObjectID]primitive.ObjectID{f.late.ID: to.ID}),
		},
	})
	t.Run("the week's load", func(t *testing.T) {
		// To: its 09:00 visit and the 14:00 one, 6 of 12 h; the closed
		// crew: 3 of 6 h (closed from 14:00); the third: 3 of 12 h; every
		// other day of the week: 0 of 12 h.
		third := f.crewOther(to.ID, closed.ID)
		want := map[primitive.ObjectID]string{to.ID: "6 / 12 h", closed.ID: "3 / 6 h", third.ID: "3 / 12 h"}
		res := a.do(request{path: "/admin/schedule?view=week&date=" + f.date, headers: adminHTML(f.admin, "en")})
		if res.status != 200 {
			t.Fatalf("week = %d %s", res.status, clip(res.body))
		}
		for _, c := range f.crews {
			row := between(res.body, `data-testid="week-row" data-crew-id="`+c.ID.Hex()+`"`, `</tr>`)
			if n := strings.Count(row, `data-testid="week-load"`); n != 7 {
				t.Errorf("%s: %d days, want 7", c.Name, n)
			}
			cell := between(row, `data-date="`+f.date+`"`, `</td>`)
			if !strings.Contains(cell, `data-testid="week-hours">`+want[c.ID]+`<`) {
				t.Errorf("%s on %s: %q, want %q", c.Name, f.date, cell, want[c.ID])
			}
			if n := strings.Count(row, `data-testid="week-hours">0 / 12 h<`); n != 6 {
				t.Errorf("%s: %d other days of 0 / 12 h, want 6", c.Name, n)
			}
		}
		if !strings.Contains(res.body, `<meter`) || !strings.Contains(res.body, "Schedule") {
			t.Error("no load bar, or no title")
		}
		var week struct {
			From, To string
			Crews    []struct {
				ID   string
				Days []struct {
					Date                          string
					BookedMinutes, WorkingMinutes int
				}
			}
		}
		a.do(request{path: "/admin/schedule?view=week&date=" + f.date, headers: adminJSON(f.admin, "en")}).json(t, &week)
		monday := f.day.AddDate(0, 0, -((int(f.day.Weekday()) + 6) % 7)).Format(time.DateOnly)
		if week.From != monday || len(week.Crews) != 3 {
			t.Fatalf("week from %s with %d crews; want %s and 3", week.From, len(week.Crews), monday)
		}
		for _, c := range week.Crews {
			if c.ID == closed.ID.Hex() {
				for _, d := range c.Days {
					if d.Date == f.date && (d.BookedMinutes != 180 || d.WorkingMinutes != 360) {
						t.Errorf("the closed crew's day: %+v, want 180 of 360 minutes", d)
					}
				}
			}
		}
	})
}
