package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/inspect"
)

// header is the first line of the body that contains want (the table's
// header), "" for none.
func headerWith(m *Model, want string) string {
	for _, l := range strings.Split(m.render(), "\n") {
		if strings.Contains(l, want) {
			return l
		}
	}
	return ""
}

// TestSortSources: s cycles the sort column (source, parts, messages,
// rate), S reverses it, the header marks it, and the cursor stays on its
// row through a re-sort and a refresh.
func TestSortSources(t *testing.T) {
	m := newTestModel(t, 100, 30)
	m.Update(testSources())
	v := m.sources
	names := func() []string {
		var out []string
		for _, i := range v.shown {
			out = append(out, v.rows[i].addr.String())
		}
		return out
	}
	if got := strings.Join(names(), " "); !strings.HasPrefix(got, "amqp:shop.payments.dlq kafka:evil") || !strings.Contains(headerWith(m, "PARTS"), "SOURCE▲") {
		t.Fatalf("default: by name, marked: %s\n%s", got, headerWith(m, "PARTS"))
	}
	press(m, "j", "j", "j") // kafka:payments
	press(m, "s", "s")      // MESSAGES, biggest first
	if got := strings.Join(names(), " "); got != "kafka:orders kafka:payments kafka:payments.DLT amqp:shop.payments.dlq kafka:evil\x1b[2Jtopic" {
		t.Fatalf("by messages: %s", got)
	}
	if h := headerWith(m, "PARTS"); !strings.Contains(h, "MESSAGES▼") || strings.Contains(h, "SOURCE▲") {
		t.Fatalf("header: %q", h)
	}
	if r := v.at(v.cur.pos); r == nil || r.addr.Name != "payments" {
		t.Fatalf("after s the cursor is on %+v, want kafka:payments", r)
	}
	press(m, "S")
	if r := v.at(0); r.addr.Name != "evil\x1b[2Jtopic" || !strings.Contains(headerWith(m, "PARTS"), "MESSAGES▲") {
		t.Fatalf("S: first %q, header %q", r.addr.Name, headerWith(m, "PARTS"))
	}
	if r := v.at(v.cur.pos); r == nil || r.addr.Name != "payments" {
		t.Fatalf("after S the cursor is on %+v", r)
	}
	// A refresh keeps the sort and the cursor on its row.
	next := testSources()
	next.rows[1].messages = 5 // payments: now between the amqp DLQ (4) and payments.DLT (37)
	m.Update(next)
	if r := v.at(2); r.addr.Name != "payments" {
		t.Fatalf("refresh: row 1 is %q", r.addr.Name)
	}
	if r := v.at(v.cur.pos); r == nil || r.addr.Name != "payments" {
		t.Fatalf("after a refresh the cursor is on %+v", r)
	}
	press(m, "s", "s") // RATE/S, then back to SOURCE
	if !strings.Contains(headerWith(m, "PARTS"), "SOURCE▲") {
		t.Fatalf("s did not cycle back: %q", headerWith(m, "PARTS"))
	}
}

// TestSortLag: the groups sort by status (worst first) until s moves the
// sort to LAG, OFFSETLAG, TIMELAG and the name; queues follow in the same
// column; the cursor stays on its group.
func TestSortLag(t *testing.T) {
	m := newTestModel(t, 100, 30)
	press(m, "3")
	v := m.lag
	s := testLag()
	s.Queues = append(s.Queues, inspect.QueueLag{Queue: "aaa.inbox", Ready: 500, HeadAge: time.Minute})
	m.Update(lagResult{v.gen, lagMsg{snap: s}})
	press(m, "j") // shipping
	if v.rowKey(v.cur.pos) != "g:shipping" || !strings.Contains(headerWith(m, "OFFSETLAG"), "STATUS▼") {
		t.Fatalf("cursor %q, header %q", v.rowKey(v.cur.pos), headerWith(m, "OFFSETLAG"))
	}
	press(m, "s", "s", "s", "s") // TIMELAG, then GROUP / QUEUE
	if h := headerWith(m, "OFFSETLAG"); !strings.Contains(h, "GROUP / QUEUE▲") {
		t.Fatalf("header %q", h)
	}
	var keys []string
	for i := range v.rows() {
		keys = append(keys, v.rowKey(i))
	}
	if got := strings.Join(keys, " "); got != "g:new\x1b[5mgroup g:payments g:shipping q:aaa.inbox q:shop.payments.inbox" {
		t.Fatalf("by name: %q", got)
	}
	if v.rowKey(v.cur.pos) != "g:shipping" {
		t.Fatalf("after s the cursor is on %q", v.rowKey(v.cur.pos))
	}
	press(m, "s", "s") // STATUS, LAG
	keys = keys[:0]
	for i := range v.rows() {
		keys = append(keys, v.rowKey(i))
	}
	if got := strings.Join(keys, " "); got != "g:payments g:shipping g:new\x1b[5mgroup q:aaa.inbox q:shop.payments.inbox" {
		t.Fatalf("by lag: %q", got)
	}
	// A new sample re-sorts: payments' lag falls under shipping's.
	s = testLag()
	s.Groups[0].Lag = 1
	m.Update(lagResult{v.gen, lagMsg{snap: s}})
	if v.rowKey(0) != "g:shipping" || v.rowKey(v.cur.pos) != "g:shipping" {
		t.Fatalf("after a sample: row 0 %q, cursor on %q", v.rowKey(0), v.rowKey(v.cur.pos))
	}
}

// TestSortDLQ: the DLQ list sorts by count (the default), name or oldest,
// a DLQ's groups by count, error, origin or class; the cursor stays on its
// DLQ or group, so enter opens what was under it.
func TestSortDLQ(t *testing.T) {
	m := newTestModel(t, 100, 30)
	press(m, "4")
	v := m.dlq
	m.Update(dlqResult{v.gen, testDLQs()})
	press(m, "j") // amqp:shop.payments.dlq (4)
	if !strings.Contains(headerWith(m, "OLDEST"), "COUNT▼") {
		t.Fatalf("header %q", headerWith(m, "OLDEST"))
	}
	press(m, "s") // OLDEST (t0 first, unknown last)
	if v.res.sums[0].Name != "payments.DLT" || !strings.Contains(headerWith(m, "OLDEST"), "OLDEST▲") {
		t.Fatalf("by oldest: %s first", v.res.sums[0].Name)
	}
	press(m, "s") // DLQ, by name: amqp: first
	if v.res.sums[0].Name != "shop.payments.dlq" || !strings.Contains(headerWith(m, "OLDEST"), "DLQ▲") {
		t.Fatalf("by name: %s first", v.res.sums[0].Name)
	}
	press(m, "S")
	if v.res.sums[0].Name != "payments.DLT" || v.res.sums[v.cur.pos].Name != "shop.payments.dlq" {
		t.Fatalf("S: %s first, cursor on %s", v.res.sums[0].Name, v.res.sums[v.cur.pos].Name)
	}
	// A re-read keeps the sort, and enter opens the DLQ under the cursor.
	m.Update(dlqResult{v.gen, testDLQs()})
	press(m, "enter")
	if s := v.opened(); s == nil || s.Name != "shop.payments.dlq" {
		t.Fatalf("enter opened %+v", s)
	}
	press(m, "esc", "k", "enter") // payments.DLT's groups
	press(m, "j")                 // the timeout group (7)
	press(m, "s")                 // ERROR: "card declined" < "timeout…"
	if g := v.gat(0); g.Error != "card declined" || !strings.Contains(headerWith(m, "ORIGIN"), "ERROR▲") {
		t.Fatalf("groups by error: %q first, header %q", g.Error, headerWith(m, "ORIGIN"))
	}
	if g := v.gat(v.gcur.pos); g == nil || g.Class != "java.net.SocketTimeoutException" {
		t.Fatalf("after s the cursor is on %+v", g)
	}
	press(m, "S")
	if g := v.gat(0); g.Class != "java.net.SocketTimeoutException" || v.gcur.pos != 0 {
		t.Fatalf("S: %q first, cursor %d", g.Error, v.gcur.pos)
	}
}
