package handlers

import (
	"context"
	"errors"
	"strconv"
	"strings"

	validation "github.com/go-ozzo/ozzo-validation/v4"
	"github.com/go-ozzo/ozzo-validation/v4/is"
	"github.com/gofiber/fiber/v2"

	"tozalash/store"
	"tozalash/views"
)

// settingsJSON is GET/PUT /admin/settings: the company's address for
// booking events, and whether the admin asking gets them too.
type settingsJSON struct {
	CompanyNotifyEmail string                   `json:"companyNotifyEmail"`
	NotifyMe           bool                     `json:"notifyMe"`
	AutoConfirm        bool                     `json:"autoConfirm"`
	FrequencyDiscounts store.FrequencyDiscounts `json:"frequencyDiscounts"`
	// The booking rules (#21), flat as the design names them.
	SlotMinutes   int `json:"slotMinutes"`
	BufferMinutes int `json:"bufferMinutes"`
	LeadMinutes   int `json:"leadMinutes"`
	HorizonDays   int `json:"horizonDays"`
}

type settingsInput struct {
	CompanyNotifyEmail *string `json:"companyNotifyEmail" form:"companyNotifyEmail"`
	NotifyMe           *bool   `json:"notifyMe" form:"notifyMe"`
	AutoConfirm        *bool   `json:"autoConfirm" form:"autoConfirm"` // #22: new bookings confirmed as made
	// FrequencyDiscounts (#20) are the percents off a regular cleaning,
	// replaced whole; the form sends them as discount_weekly, … (typed
	// text, read by normalize).
	FrequencyDiscounts *store.FrequencyDiscounts `json:"frequencyDiscounts" form:"-"`
	FormWeekly         *string                   `json:"-" form:"discount_weekly"`
	FormBiweekly       *string                   `json:"-" form:"discount_biweekly"`
	FormMonthly        *string                   `json:"-" form:"discount_monthly"`
	// The booking rules (#21): JSON sends those it changes; the form sends
	// them typed (read by normalize), each under the same name.
	SlotMinutes       *int    `json:"slotMinutes" form:"-"`
	BufferMinutes     *int    `json:"bufferMinutes" form:"-"`
	LeadMinutes       *int    `json:"leadMinutes" form:"-"`
	HorizonDays       *int    `json:"horizonDays" form:"-"`
	FormSlotMinutes   *string `json:"-" form:"slotMinutes"`
	FormBufferMinutes *string `json:"-" form:"bufferMinutes"`
	FormLeadMinutes   *string `json:"-" form:"leadMinutes"`
	FormHorizonDays   *string `json:"-" form:"horizonDays"`
	formProblems      validation.Errors
	// rules are the booking rules as they will be: the saved ones with
	// the fields sent; nil when none was sent.
	rules   *store.ScheduleRules
	current store.ScheduleRules
}

// ruleFields are the booking rules' fields: their JSON (and form) names,
// the JSON values, the form's and the rule each sets.
func (in *settingsInput) ruleFields(r *store.ScheduleRules) []struct {
	name  string
	json  *int
	typed *string
	rule  *int
} {
	return []struct {
		name  string
		json  *int
		typed *string
		rule  *int
	}{
		{"slotMinutes", in.SlotMinutes, in.FormSlotMinutes, &r.SlotMinutes},
		{"bufferMinutes", in.BufferMinutes, in.FormBufferMinutes, &r.BufferMinutes},
		{"leadMinutes", in.LeadMinutes, in.FormLeadMinutes, &r.LeadMinutes},
		{"horizonDays", in.HorizonDays, in.FormHorizonDays, &r.HorizonDays},
	}
}

// normalizeRules merges the rules sent into the saved ones.
func (in *settingsInput) normalizeRules() {
	r := in.current
	for _, f := range in.ruleFields(&r) {
		switch {
		case f.json != nil:
			*f.rule = *f.json
		case f.typed != nil:
			n, ok := wholeNumber(*f.typed)
			if !ok || n < -1 || n > 1_000_000 {
				in.formProblems[f.name] = errWholeNumber
				continue
			}
			*f.rule = int(n)
		default:
			continue
		}
		in.rules = &r
	}
}

func (in *settingsInput) normalize() {
	if in.CompanyNotifyEmail != nil {
		e := strings.ToLower(strings.TrimSpace(*in.CompanyNotifyEmail))
		in.CompanyNotifyEmail = &e
	}
	in.formProblems = validation.Errors{}
	in.normalizeRules()
	if in.FormWeekly == nil && in.FormBiweekly == nil && in.FormMonthly == nil {
		return // a JSON body, or a form without the discounts: they stay
	}
	in.FrequencyDiscounts = &store.FrequencyDiscounts{}
	for field, typed := range map[string]*string{"weekly": in.FormWeekly, "biweekly": in.FormBiweekly, "monthly": in.FormMonthly} {
		n, ok := wholeNumber(deref(typed))
		if !ok || n < -1 || n > 101 {
			in.formProblems["frequencyDiscounts."+field] = errWholeNumber
			continue
		}
		*map[string]*int{"weekly": &in.FrequencyDiscounts.Weekly, "biweekly": &in.FrequencyDiscounts.Biweekly, "monthly": &in.FrequencyDiscounts.Monthly}[field] = int(n)
	}
}

// Validate checks the address and the discounts (0–50 percent each).
func (in settingsInput) Validate() error {
	errs := validation.Errors{}
	for k, v := range in.formProblems {
		errs[k] = v
	}
	errs["companyNotifyEmail"] = validation.Validate(in.CompanyNotifyEmail, is.EmailFormat, validation.RuneLength(0, 254))
	if d := in.FrequencyDiscounts; d != nil {
		for field, pct := range map[string]int{"weekly": d.Weekly, "biweekly": d.Biweekly, "monthly": d.Monthly} {
			if errs["frequencyDiscounts."+field] == nil {
				errs["frequencyDiscounts."+field] = validation.Validate(pct, validation.Min(0), validation.Max(store.MaxFrequencyDiscount))
			}
		}
	}
	if r := in.rules; r != nil {
		set := func(field string, err error) {
			if errs[field] == nil {
				errs[field] = err
			}
		}
		if r.SlotMinutes < store.CellMinutes || r.SlotMinutes > store.MaxSlotMinutes || r.SlotMinutes%store.CellMinutes != 0 {
			set("slotMinutes", errSlotMinutes)
		}
		set("bufferMinutes", validation.Validate(r.BufferMinutes, validation.Min(0), validation.Max(store.MaxBufferMinutes)))
		set("leadMinutes", validation.Validate(r.LeadMinutes, validation.Min(0), validation.Max(store.MaxLeadMinutes)))
		set("horizonDays", validation.Validate(r.HorizonDays, validation.Min(1), validation.Max(store.MaxHorizonDays)))
	}
	return errs.Filter()
}

// errSlotMinutes: the start times' grid is whole reservation cells.
var errSlotMinutes = validation.NewError("validation_slot_minutes", "a multiple of 30 from 30 to 240").
	SetParams(map[string]any{"step": store.CellMinutes, "min": store.CellMinutes, "max": store.MaxSlotMinutes})

// ruleValues are the form's values of the booking rules.
func ruleValues(v map[string]string, r store.ScheduleRules) {
	v["slotMinutes"], v["bufferMinutes"] = strconv.Itoa(r.SlotMinutes), strconv.Itoa(r.BufferMinutes)
	v["leadMinutes"], v["horizonDays"] = strconv.Itoa(r.LeadMinutes), strconv.Itoa(r.HorizonDays)
}

// discountValues are the form's values of the discounts.
func discountValues(v map[string]string, d store.FrequencyDiscounts) {
	v["discount_weekly"], v["discount_biweekly"], v["discount_monthly"] = strconv.Itoa(d.Weekly), strconv.Itoa(d.Biweekly), strconv.Itoa(d.Monthly)
}

// SettingsPage is GET /admin/settings: JSON, or the settings page.
func (h *Handler) SettingsPage(c *fiber.Ctx) error {
	st, err := h.settings.Get(ctx(c))
	if err != nil {
		return err
	}
	return h.renderSettings(c, fiber.StatusOK, st, views.FormState{})
}

func (h *Handler) renderSettings(c *fiber.Ctx, status int, st *store.Settings, f views.FormState) error {
	me := currentUser(c)
	rules := st.ScheduleRules()
	out := settingsJSON{CompanyNotifyEmail: st.CompanyNotifyEmail, NotifyMe: st.Notifies(me.ID), AutoConfirm: st.AutoConfirm, FrequencyDiscounts: st.FrequencyDiscounts,
		SlotMinutes: rules.SlotMinutes, BufferMinutes: rules.BufferMinutes, LeadMinutes: rules.LeadMinutes, HorizonDays: rules.HorizonDays}
	if f.Values == nil {
		f.Values = map[string]string{"companyNotifyEmail": out.CompanyNotifyEmail}
		discountValues(f.Values, st.FrequencyDiscounts)
		ruleValues(f.Values, rules)
		if out.NotifyMe {
			f.Values["notifyMe"] = "true"
		}
		if out.AutoConfirm {
			f.Values["autoConfirm"] = "true"
		}
	}
	title := h.meta(c).T("settings.title")
	return h.render(c, status, out, page{title: title, body: views.SettingsPage(f), fragment: views.SettingsForm(f)})
}

// PutSettings is PUT /admin/settings (ADMIN): a bad address is 422 and
// writes nothing. A form without notifyMe means "off" (an unticked box
// sends nothing); JSON leaves out what it does not change.
func (h *Handler) PutSettings(c *fiber.Ctx) error {
	me := currentUser(c)
	before, err := h.settings.Get(ctx(c))
	if err != nil {
		return err
	}
	in := settingsInput{current: before.ScheduleRules()}
	if err := h.bind(c, &in); err != nil {
		values := map[string]string{}
		if in.CompanyNotifyEmail != nil {
			values["companyNotifyEmail"] = *in.CompanyNotifyEmail
		}
		if in.NotifyMe != nil && *in.NotifyMe {
			values["notifyMe"] = "true"
		}
		if in.AutoConfirm != nil && *in.AutoConfirm {
			values["autoConfirm"] = "true"
		}
		values["discount_weekly"], values["discount_biweekly"], values["discount_monthly"] = deref(in.FormWeekly), deref(in.FormBiweekly), deref(in.FormMonthly)
		values["slotMinutes"], values["bufferMinutes"] = deref(in.FormSlotMinutes), deref(in.FormBufferMinutes)
		values["leadMinutes"], values["horizonDays"] = deref(in.FormLeadMinutes), deref(in.FormHorizonDays)
		return h.formError(c, err, values, func(f views.FormState) page {
			return page{title: h.meta(c).T("settings.title"), body: views.SettingsPage(f), fragment: views.SettingsForm(f)}
		})
	}
	st := before
	email, notify := st.CompanyNotifyEmail, st.Notifies(me.ID)
	if in.CompanyNotifyEmail != nil {
		email = *in.CompanyNotifyEmail
	}
	if in.NotifyMe != nil {
		notify = *in.NotifyMe
	} else if !wantsJSON(c) {
		notify = false
	}
	if st, err = h.settings.Put(ctx(c), email, me.ID, notify); err != nil {
		return err
	}
	// Like notifyMe, a form without the box means "off".
	if autoConfirm := in.AutoConfirm != nil && *in.AutoConfirm; (in.AutoConfirm != nil || !wantsJSON(c)) && autoConfirm != st.AutoConfirm {
		if st, err = h.settings.PutAutoConfirm(ctx(c), autoConfirm); err != nil {
			return err
		}
	}
	if in.FrequencyDiscounts != nil {
		if st, err = h.settings.PutFrequencyDiscounts(ctx(c), *in.FrequencyDiscounts); err != nil {
			return err
		}
	}
	if in.rules != nil {
		if st, err = h.settings.PutScheduleRules(ctx(c), *in.rules); err != nil {
			return err
		}
	}
	return h.renderSettings(c, fiber.StatusOK, st, views.FormState{Notice: h.meta(c).T("settings.saved")})
}

// tellCompany is notifyCompany for a change already made: its failure is
// logged, not the answer's (the customer's booking stands).
func (h *Handler) tellCompany(ctx context.Context, event, key string, o *store.Order) {
	if err := h.notifyCompany(ctx, event, key, o); err != nil {
		h.log.Warn("orders: the company's email could not be queued", "order", o.ID.Hex(), "event", event, "error", err)
	}
}

// notifyCompany emails a booking event (a booking, a cancellation, a
// reschedule) to the company's address and the admins who opted in, each
// once: the email's key is the event's and the address (the outbox).
func (h *Handler) notifyCompany(ctx context.Context, event, key string, o *store.Order) error {
	st, err := h.settings.Get(ctx)
	if err != nil {
		return err
	}
	type recipient struct{ email, lang string }
	var to []recipient
	if st.CompanyNotifyEmail != "" {
		to = append(to, recipient{st.CompanyNotifyEmail, "uz"})
	}
	for _, id := range st.NotifyAdminIDs {
		u, err := h.users.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if u.IsAdmin() && u.Email != st.CompanyNotifyEmail {
			to = append(to, recipient{u.Email, localeOf(u)})
		}
	}
	for _, r := range to {
		loc := h.catalog.Locale(r.lang)
		name := o.ServiceName
		if svc, err := h.services.Get(ctx, o.ServiceID, true); err == nil {
			name = svc.Text(r.lang).Name
		}
		d := views.OrderEmailData{
			Number: views.OrderNo(o.Seq), Username: o.CustomerName, Intro: loc.T("email.company." + event + ".intro"), Service: name,
			When: o.ScheduledAt.In(views.Tashkent).Format("02.01.2006 15:04"), Price: views.Price(r.lang, o.Price),
			Address: o.Address, Status: loc.T("status." + o.Status), Link: h.cfg.BaseURL + "/orders/" + o.ID.Hex(),
		}
		subject := "email.company." + event + ".subject"
		text := d.Intro + "\n\n" + loc.T("orders.number") + ": " + d.Number + "\n" + loc.T("orders.customer") + ": " + o.CustomerName + "\n" +
			loc.T("orders.service") + ": " + d.Service + "\n" + loc.T("field.when") + ": " + d.When + "\n" +
			loc.T("field.address") + ": " + d.Address + "\n" + loc.T("orders.phone") + ": " + views.PhoneDisplay(o.Phone) + "\n\n" + d.Link + "\n"
		e, err := h.renderEmail(ctx, r.email, r.lang, subject, views.CompanyEmail(loc.T(subject), d), text)
		if err != nil {
			return err
		}
		if err := h.outbox.EnqueueOnce(ctx, "company|"+key+"|"+r.email, e); err != nil {
			return err
		}
	}
	if len(to) > 0 {
		h.emailQueued()
	}
	return nil
}
