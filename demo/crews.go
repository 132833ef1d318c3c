package demo

import (
	"context"

	"tozalash/store"
)

// CrewNames are the demo company's crews.
var CrewNames = []string{"Brigada 1 — Chilonzor", "Brigada 2 — Yunusobod", "Brigada 3 — Sergeli"}

// crewMembers are who is in each demo crew, by name (cleaners get
// accounts of their own later).
var crewMembers = [][]string{{"Dilnoza", "Gulnora"}, {"Malika", "Zarina", "Sevara"}, {"Nodira", "Feruza"}}

// WorkingWeek is the demo company's week: every day 08:00–19:00 (people
// book the weekend, when they are home; and the demo's crews have a day
// to show whichever day it is run).
func WorkingWeek() store.WeekHours { return EveryDay("08:00", "19:00") }

// EveryDay is a week of from–to every day (the tests', which run on
// Sundays too).
func EveryDay(from, to string) store.WeekHours {
	day := [][2]string{{from, to}}
	return store.WeekHours{"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}
}

// SeedCrews adds the demo crews, doing every service in hours, once per
// database. It reports whether it added them.
func SeedCrews(ctx context.Context, db *store.DB, hours store.WeekHours) (bool, error) {
	first, err := db.MarkOnce(ctx, "seed:demo-crews")
	if err != nil || !first {
		return false, err
	}
	crews := store.NewScheduleStore(db)
	for i, name := range CrewNames {
		c := &store.Crew{Name: name, Members: crewMembers[i], Hours: hours, Active: true}
		if err := crews.CreateCrew(ctx, c); err != nil {
			return false, err
		}
	}
	return true, nil
}
