package views

import (
	"strconv"
	"time"

	"tozalash/store"
)

// ExtraRow is one extra on the service's admin form, as typed (a price
// the admin mistyped shows as typed, with its error).
type ExtraRow struct {
	ID                     string
	NameUz, NameRu, NameEn string
	Price, Minutes         string
	Countable              bool
	Active                 bool // false: archived, listed apart with a button to restore it
	Saved                  bool // the service has it: removing archives it
	New                    bool // just added: its first field takes the focus
}

// pricingMoney and pricingTime are the pricing's fields on the form: the
// field's name after "pricing_", its label's and its hint's locale keys.
var (
	pricingMoney = []string{"base", "perRoom", "perBathroom", "perSquareMetre", "minimum"}
	pricingTime  = []string{"baseMinutes", "minutesPerRoom", "minutesPerBathroom", "minutesPer10SquareMetres"}
)

// extraField is the form's name of a field of an extra's row.
func extraField(r ExtraRow, field string) string { return "extra_" + r.ID + "_" + field }

// extraError is the message of a field of the row at position i (the
// errors are named by position: extras.2.price, as JSON's).
func extraError(f FormState, i int, field string) string {
	return f.E("extras_" + strconv.Itoa(i) + "_" + field)
}

// activeBounds are the positions of the first and the last offered extra:
// the one cannot move up, the other down.
func activeBounds(rows []ExtraRow) (first, last int) {
	first, last = -1, -1
	for i, r := range rows {
		if r.Active {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last
}

func hasArchived(rows []ExtraRow) bool {
	for _, r := range rows {
		if !r.Active {
			return true
		}
	}
	return false
}

// promoDiscount is a code's discount as a reader writes it: "10%" or
// "50 000 so'm".
func promoDiscount(lang string, p *store.PromoCode) string {
	if p.PercentOff > 0 {
		return strconv.Itoa(p.PercentOff) + "%"
	}
	return Price(lang, p.AmountOff)
}

// promoDate is a bound of a code's validity as a Tashkent date; validTo is
// the first moment it no longer works, so the last day shown is the day
// before.
func promoDate(at *time.Time, last bool) string {
	if at == nil {
		return ""
	}
	d := at.In(Tashkent)
	if last {
		d = d.Add(-time.Nanosecond)
	}
	return d.Format("2006-01-02")
}

// promoServiceNames are the names of the services a code is for, in lang.
func promoServiceNames(lang string, p *store.PromoCode, services []store.Service) []string {
	var names []string
	for _, id := range p.ServiceIDs {
		for i := range services {
			if services[i].ID == id {
				names = append(names, services[i].Text(lang).Name)
			}
		}
	}
	return names
}

// ChecklistRow is one item of a service's visit checklist on the admin's
// form, as typed: its id empty until the service is saved with it.
type ChecklistRow struct {
	ID         string
	Uz, Ru, En string
	New        bool // just added: its Uzbek field takes the focus
}

// Text is the row's text in lang as typed.
func (r ChecklistRow) Text(lang string) string {
	return map[string]string{"uz": r.Uz, "ru": r.Ru, "en": r.En}[lang]
}

// checklistErrorKey is the form's name of the error of a field of the row
// at position i (checklist.2.text.uz in JSON).
func checklistErrorKey(i int, field string) string {
	return "checklist_" + strconv.Itoa(i) + "_" + field
}
