package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tozalash/store"
)

// apiCall sends a JSON request to the app, as a mobile client does.
func apiCall(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, raw
}

// #21: two customers on their phones want the last free time of a day. A
// sees it free and fills the form; B books it first; A's booking is
// refused with a 409 that says so and offers the free times now; A picks
// one and books it.
func TestTheLastFreeSlotGoesToOneAndTheOtherPicksAnAlternative(t *testing.T) {
	s := startApp(t)
	s.createUser(t, "madina", "madina@example.uz", "toza-uy-2026", store.RoleUser)
	s.createUser(t, "bobur", "bobur@example.uz", "toza-uy-2026", store.RoleUser)
	s.createUser(t, "otabek", "otabek@example.uz", "toza-uy-2026", store.RoleUser)
	ctx := context.Background()
	svcs, _, err := store.NewServiceStore(s.db).List(ctx, store.ServiceFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var svc *store.Service
	for i := range svcs {
		if svcs[i].Name.Uz == "Kvartirani umumiy tozalash" {
			svc = &svcs[i]
		}
	}
	if svc == nil {
		t.Fatal("no demo apartment cleaning")
	}
	// The form's default flat (2 rooms, a bathroom) takes 4.5 hours, 5 with
	// the buffer. On the day after tomorrow the three crews (08:00–20:00)
	// are booked at 13:00, two of them at 08:00 as well: the third's 08:00
	// is the day's last free time.
	status, raw := apiCall(t, "POST", s.base+"/auth/login", "", `{"email":"otabek@example.uz","password":"toza-uy-2026"}`)
	var login struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(raw, &login); status != 200 || err != nil {
		t.Fatalf("login = %d %s", status, raw)
	}
	day := time.Now().In(store.Tashkent).AddDate(0, 0, 2)
	date := day.Format(time.DateOnly)
	for i, at := range []string{"13:00", "13:00", "13:00", "08:00", "08:00"} {
		body := fmt.Sprintf(`{"serviceId":%q,"scheduledAt":"%sT%s:00+05:00","address":"Olmazor 3-uy","phone":"+998901234567","rooms":2,"bathrooms":1,"idempotencyKey":"shape%d"}`, svc.ID.Hex(), date, at, i)
		if status, raw := apiCall(t, "POST", s.base+"/orders", login.AccessToken, body); status != 201 {
			t.Fatalf("booking %s = %d %s", at, status, raw)
		}
	}
	status, raw = apiCall(t, "GET", s.base+"/availability?serviceId="+svc.ID.Hex()+"&from="+date+"&to="+date+"&rooms=2&bathrooms=1", "", "")
	if want := `{"days":[{"date":"` + date + `","times":["08:00"]}],"durationMinutes":270}`; status != 200 || string(raw) != want {
		t.Fatalf("availability = %d %s, want %s", status, raw, want)
	}

	form := func(b *browser) {
		b.do(t,
			chromedp.Navigate(s.base+"/orders/new?serviceId="+svc.ID.Hex()),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="slot-picker"]`)),
			htmxReady,
			pickSlot(date, "08:00"),
			chromedp.SendKeys(chromedp.CSS(`#f-address`), "Chilonzor 9-kvartal, 12-uy"),
			chromedp.SendKeys(chromedp.CSS(`#f-phone`), "90 123 45 67"),
		)
	}
	a := newBrowser(t, 390, 844)
	a.login(t, s.base, "madina@example.uz", "toza-uy-2026")
	form(a)
	if chip := a.text(t, `[data-testid="day-`+date+`"]`); !strings.Contains(chip, "1 ta bo‘sh") {
		t.Errorf("the day's chip reads %q, want its one free time", chip)
	}
	a.screenshot(t, "slots-last-free-phone")
	// A bigger flat takes longer: that time no longer fits and the day reads
	// full, in place; back to 2 rooms it is free again.
	chip := func(want string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](`((document.querySelector('[data-testid="day-` + date + `"]')||{}).innerText||"").includes(` + jsString(want) + `)`)
	}
	a.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="more-rooms"]`)),
		chip("Band"),
		htmxSettled,
		chromedp.Click(chromedp.CSS(`[data-testid="less-rooms"]`)),
		chip("1 ta bo‘sh"),
		htmxSettled,
		pickSlot(date, "08:00"),
	)

	b := newBrowser(t, 390, 844)
	b.login(t, s.base, "bobur@example.uz", "toza-uy-2026")
	form(b)
	b.do(t, chromedp.Click(chromedp.CSS(`[data-testid="booking-submit"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="order-detail"]`)))

	// A, who still sees 08:00 free, books it: 409, the free times now.
	a.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="booking-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="alternatives"]`)),
		htmxSettled,
	)
	msg := a.text(t, `[data-testid="error-scheduledAt"]`)
	if !strings.Contains(msg, "Bu vaqt hozirgina band qilindi. Hozir bo‘sh: ") {
		t.Errorf("the message at the time: %q", msg)
	}
	alts := get(t, a, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="alternative"]')].map(e => e.innerText.trim())`))
	if len(alts) == 0 || !strings.Contains(msg, alts[0]) {
		t.Fatalf("alternatives %q beside the message %q", alts, msg)
	}
	if full := a.text(t, `[data-testid="day-`+date+`"]`); !strings.Contains(full, "Band") {
		t.Errorf("the day now reads %q, want full", full)
	}
	if v := get(t, a, chromedp.Evaluate[string](`document.querySelector('#f-address').value + " | " + document.querySelector('#f-phone').value`)); v != "Chilonzor 9-kvartal, 12-uy | +998901234567" && v != "Chilonzor 9-kvartal, 12-uy | 90 123 45 67" {
		t.Errorf("the form kept %q", v)
	}
	a.screenshot(t, "slots-taken-phone")

	// A picks the first time offered and books it.
	picked := get(t, a, chromedp.Evaluate[string](`document.querySelector('[data-testid="alternative"]').value`))
	pickedDay, clock, _ := strings.Cut(picked, " ")
	a.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid="alternative"]`)),
		chromedp.Poll[chromedp.Void](`!!document.querySelector('#slot-picker input[name="date"][value="`+pickedDay+`"]:checked') && !!document.querySelector('#slot-picker input[name="time"][value="`+clock+`"]:checked') && !document.querySelector('[data-testid="alternatives"]')`),
		htmxSettled,
		chromedp.Click(chromedp.CSS(`[data-testid="booking-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="order-detail"]`)),
	)
	d, _ := time.ParseInLocation(time.DateOnly, pickedDay, store.Tashkent)
	if detail := a.text(t, `[data-testid="order-detail"]`); !strings.Contains(detail, d.Format("02.01.2006")+" "+clock) || !strings.Contains(detail, "Chilonzor 9-kvartal, 12-uy") {
		t.Errorf("the order booked is not at %s: %s", picked, detail)
	}
	a.checkNoProblems(t)
	b.checkNoProblems(t)
}
