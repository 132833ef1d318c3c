package views

import (
	"context"
	"io"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"tozalash/store"
)

// LineAdjustment is the kind of the row the order page adds when an admin
// changed an order's price after it was quoted: the difference.
const LineAdjustment = "adjustment"

// LineLabel names a price line for a reader: an extra by its name as it
// was at booking, every other kind by the catalog ("Xonalar").
func LineLabel(loc Locale, l store.PriceLine) string {
	if l.Kind == store.LineExtra {
		return l.Name.In(loc.Lang)
	}
	return loc.T("price.line." + l.Kind)
}

// DiscountLabel names a discount for a reader: "Har hafta: −15%",
// "Promokod BAHOR10: −10%". frequency is the booking's (the quote keeps
// it, not its discount).
func DiscountLabel(loc Locale, d store.PriceDiscount, frequency string) string {
	label := loc.T("price.frequency." + frequency)
	if d.Kind == store.DiscountPromo {
		label = loc.Format("price.discount.promo", map[string]any{"Code": d.Code})
	}
	if d.Percent > 0 {
		label += ": −" + strconv.Itoa(d.Percent) + "%"
	}
	return label
}

// LabelQuote fills the labels of q's lines and discounts for a reader
// (the JSON of POST /quote).
func LabelQuote(loc Locale, q *store.Quote) {
	LabelPrice(loc, q.Lines, q.Discounts, q.Frequency)
}

// LabelPrice fills the labels of lines and discounts in place; frequency
// names the frequency discount.
func LabelPrice(loc Locale, lines []store.PriceLine, discounts []store.PriceDiscount, frequency string) {
	for i := range lines {
		lines[i].Label = LineLabel(loc, lines[i])
	}
	for i := range discounts {
		discounts[i].Label = DiscountLabel(loc, discounts[i], frequency)
	}
}

// PriceRow is a row of a price as the reader sees it: the label, the
// quantity times the unit price ("3 × 15 000 so'm"; empty for one), and
// the amount; a discount's amount is negative.
type PriceRow struct {
	Kind   string
	Label  string
	Detail string
	Amount int64
}

// OrderPrice is an order's price as its page and email show it.
type OrderPrice struct {
	Lines     []PriceRow
	Discounts []PriceRow
	Rounding  int64 // 0: not shown
	// Adjustment is what an admin's change of the price added (or took):
	// 0 when the order is charged as quoted.
	Adjustment      int64
	Total           int64
	DurationMinutes int // 0: unknown (an order booked before the calculator)
}

// PriceOf is o's price for a reader of loc: its snapshot, or for an order
// booked before the calculator one line of its price.
func PriceOf(loc Locale, o *store.Order) OrderPrice {
	p := OrderPrice{Total: o.Price, DurationMinutes: o.DurationMinutes}
	quoted := o.Price
	for _, l := range o.PriceLines() {
		p.Lines = append(p.Lines, PriceRow{Kind: l.Kind, Label: LineLabel(loc, l), Detail: lineDetail(loc.Lang, l), Amount: l.Amount})
	}
	if len(o.Lines) > 0 {
		quoted = o.Subtotal + o.Rounding
		p.Rounding = o.Rounding
	}
	for _, d := range o.Discounts {
		p.Discounts = append(p.Discounts, PriceRow{Kind: d.Kind, Label: DiscountLabel(loc, d, o.Frequency), Amount: -d.Amount})
		quoted -= d.Amount
	}
	p.Adjustment = o.Price - quoted
	return p
}

// QuoteRows are q's lines and discounts as rows (the booking form's panel).
func QuoteRows(loc Locale, q *store.Quote) (lines, discounts []PriceRow) {
	lines, discounts = make([]PriceRow, 0, len(q.Lines)), make([]PriceRow, 0, len(q.Discounts))
	for _, l := range q.Lines {
		lines = append(lines, PriceRow{Kind: l.Kind, Label: LineLabel(loc, l), Detail: lineDetail(loc.Lang, l), Amount: l.Amount})
	}
	for _, d := range q.Discounts {
		discounts = append(discounts, PriceRow{Kind: d.Kind, Label: DiscountLabel(loc, d, q.Frequency), Amount: -d.Amount})
	}
	return lines, discounts
}

// lineDetail is "3 × 15 000 so'm" for a line of more than one unit.
func lineDetail(lang string, l store.PriceLine) string {
	if l.Quantity == 1 {
		return ""
	}
	return strconv.FormatInt(l.Quantity, 10) + " × " + Price(lang, l.UnitPrice)
}

// PriceLinesText is an order's lines as one cell of text: "Xonalar 3 ×
// 50 000; Derazalar 2 × 15 000" (the CSV).
func PriceLinesText(loc Locale, o *store.Order) string {
	var parts []string
	for _, l := range o.PriceLines() {
		parts = append(parts, LineLabel(loc, l)+" "+strconv.FormatInt(l.Quantity, 10)+" × "+groupDigits(loc.Lang, l.UnitPrice))
	}
	return strings.Join(parts, "; ")
}

// groupDigits writes an amount with the language's thousands separator,
// without the currency.
func groupDigits(lang string, amount int64) string {
	s := Price(lang, amount)
	return s[:strings.LastIndex(s, "\u00a0")]
}

// EmailPriceLine is a row of an order's price in an email.
type EmailPriceLine struct{ Label, Detail, Amount string }

// EmailPriceLines are o's price rows for a reader of loc.
func EmailPriceLines(loc Locale, o *store.Order) []EmailPriceLine {
	p := PriceOf(loc, o)
	var out []EmailPriceLine
	for _, r := range append(p.Lines, p.Discounts...) {
		out = append(out, EmailPriceLine{Label: r.Label, Detail: r.Detail, Amount: Price(loc.Lang, r.Amount)})
	}
	if p.Rounding != 0 {
		out = append(out, EmailPriceLine{Label: loc.T("price.rounding"), Amount: Price(loc.Lang, p.Rounding)})
	}
	if p.Adjustment != 0 {
		out = append(out, EmailPriceLine{Label: loc.T("price.line.adjustment"), Amount: Price(loc.Lang, p.Adjustment)})
	}
	return out
}

// priceBody writes v: its rows, the total (data-testid totalID) and the
// duration (durationID), for the price panel and the order page. It is
// written in Go, not templ: the panel is the quote's hot path, and templ's
// generated code boxes every string it writes (JoinStringErrs calls
// fmt.Sprint), which was a third of a quote's allocations.
func priceBody(v priceView, totalID, durationID string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		out := htmlWriter{w: w}
		out.raw(`<ul class="mt-2 space-y-1 text-sm">`)
		for _, r := range v.Rows {
			out.raw(`<li class="flex items-baseline justify-between gap-3" data-testid="`)
			out.text(r.TestID)
			out.raw(`" data-kind="`)
			out.text(r.Kind)
			out.raw(`"><span class="text-slate-700">`)
			out.text(r.Label)
			out.raw(` `)
			if r.Detail != "" {
				out.raw(`<span class="text-slate-500">· `)
				out.text(r.Detail)
				out.raw(`</span>`)
			}
			if r.Negative {
				out.raw(`</span> <span class="whitespace-nowrap font-medium text-emerald-700">`)
			} else {
				out.raw(`</span> <span class="whitespace-nowrap font-medium text-slate-900">`)
			}
			out.text(r.Amount)
			out.raw(`</span></li>`)
		}
		out.raw(`</ul><div class="mt-3 flex items-baseline justify-between border-t border-emerald-200 pt-3"><span class="font-semibold text-slate-900">`)
		out.text(v.TotalLabel)
		out.raw(`</span> <strong class="text-2xl font-bold text-emerald-700" data-testid="`)
		out.text(totalID)
		out.raw(`">`)
		out.text(v.Total)
		out.raw(`</strong></div>`)
		if v.Duration != "" {
			out.raw(`<p class="mt-1 text-right text-sm text-slate-600">`)
			out.text(v.DurationLabel)
			out.raw(`: <span data-testid="`)
			out.text(durationID)
			out.raw(`">`)
			out.text(v.Duration)
			out.raw(`</span></p>`)
		}
		return out.err
	})
}

// htmlWriter writes markup and escaped text (in an element or a quoted
// attribute alike), keeping the first error.
type htmlWriter struct {
	w   io.Writer
	err error
}

func (h *htmlWriter) raw(s string) {
	if h.err == nil {
		_, h.err = io.WriteString(h.w, s)
	}
}

func (h *htmlWriter) text(s string) { h.raw(templ.EscapeString(s)) }
