package handlers

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// #19 item 6: an order has a short number a customer reads over the
// phone: in its JSON, on its page, in "My orders", on the board (which
// finds it by #1042 or 1042), in its email and in the CSV.
func TestOrderNumberShownAndSearchable(t *testing.T) {
	f := newOrderFixture(t)
	a := f.a
	first := f.book(t, f.alice, "n1")
	second := f.book(t, f.bob, "n2")
	if first.Seq <= 0 || second.Seq <= first.Seq {
		t.Fatalf("numbers %d, %d: want increasing from 1", first.Seq, second.Seq)
	}
	no := "#" + strconv.FormatInt(second.Seq, 10)
	asAdmin := map[string]string{"Authorization": "Bearer " + f.admin}
	asBob := map[string]string{"Authorization": "Bearer " + f.bob}
	runScenarios(t, a, []scenario{
		{name: "JSON has the number", req: request{path: "/orders/" + second.ID.Hex(), headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.bob}}, status: 200,
			contains: []string{fmt.Sprintf(`"number":%d`, second.Seq)}},
		{name: "the order page shows it", req: request{path: "/orders/" + second.ID.Hex(), headers: asBob}, status: 200, contains: []string{`data-testid="order-number">` + no + "<"}},
		{name: "My orders shows it", req: request{path: "/orders", headers: asBob}, status: 200, contains: []string{`data-testid="order-number">` + no + "<"}},
		{name: "the board shows it", req: request{path: "/orders", headers: asAdmin}, status: 200, contains: []string{`data-testid="order-number">` + no + "<"}},
		{name: "the board finds it by #number", req: request{path: "/orders?q=%23" + no[1:], headers: asAdmin}, status: 200,
			contains: []string{second.ID.Hex()}, notContains: []string{first.ID.Hex()}},
		// (A bare number also matches phones that have its digits.)
		{name: "and by the bare number", req: request{path: "/orders?q=" + no[1:], headers: asAdmin}, status: 200, contains: []string{second.ID.Hex()}},
		{name: "a number nobody has finds nothing", req: request{path: "/orders?q=%23999999", headers: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + f.admin}}, status: 200,
			contains: []string{`"items":[]`}},
		{name: "the CSV has a number column", req: request{path: "/orders.csv", headers: asAdmin}, status: 200,
			contains: []string{",Raqam,Narx qatorlari,Qanchalik tez-tez,Promokod,Brigada,To‘langan,Olingan summa,To‘lov usuli\n", "," + no[1:] + ",Asosiy narx 1 × "}}, // #20 appends its columns after the number
	})
	msg := a.smtp.WaitForText("bob@example.uz", no, 10*time.Second)
	if strings.Contains(msg.Text+msg.HTML, "{order-number}") {
		t.Errorf("the booking email kept the placeholder:\n%s", msg.Text)
	}
}
