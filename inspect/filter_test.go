package inspect

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

func filterEvent() *event.Event {
	return &event.Event{
		Transport: event.Kafka,
		Topic:     "orders",
		Partition: 2,
		Offset:    1042,
		Timestamp: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Key:       []byte("o-1"),
		Value: []byte(`{"type":"OrderPlaced","event_id":"e-1","total":120.5,"qty":3,"big":9007199254740993,
			"customer":{"name":"Ada","tags":["vip","eu"]},"items":[{"sku":"a","price":5},{"sku":"b","price":50}],"paid":true,"x.y":2,"@at":"k","a*":3}`),
		Headers: []event.Header{
			{Key: "tenant", Value: []byte("initech")},
			{Key: "tenant", Value: []byte("acme")},
			{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
		},
	}
}

func TestFilterMatch(t *testing.T) {
	e := filterEvent()
	amqp := &event.Event{Transport: event.AMQP, Queue: "orders.q", Exchange: "shop", RoutingKey: "order.placed",
		Offset: -1, Redelivered: true, Value: []byte("not json at all"), Properties: &event.Properties{Type: "OrderPlaced", MessageID: "m-1"}}
	tomb := &event.Event{Transport: event.Kafka, Topic: "orders", Key: []byte("o-1")}
	broken := &event.Event{Transport: event.Kafka, Value: []byte(`{"total":150,`)}
	for _, tc := range []struct {
		expr string
		e    *event.Event
		want bool
	}{
		{`type == "OrderPlaced" && value.total > 100 && headers["tenant"] == "acme"`, e, true},
		{`type == "OrderPlaced" && value.total > 200`, e, false},
		{`headers.tenant == "acme"`, e, true}, // the last value wins
		{`headers["absent"] == ""`, e, true},
		{`topic == "orders" && partition == 2 && offset >= 1000 && key == "o-1"`, e, true},
		{`transport == "kafka" && id == "e-1"`, e, true},
		{`trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" && span_id == "00f067aa0ba902b7"`, e, true},
		{`timestamp > date("2026-11-01T00:00:00Z") && timestamp < now()`, e, true},
		{`value.customer.name == "Ada" && "vip" in value.customer.tags`, e, true},
		{`value.customer.name startsWith "A" && value.customer.name matches "^A.a$"`, e, true},
		{`any(value.items, .price > 10) && len(value.items) == 2`, e, true},
		{`value.items[1].sku == "b" && value.items[-1].sku == "b"`, e, true},
		{`value.qty == 3 && value.qty + 1 == 4`, e, true},
		{`value.big == 9007199254740993`, e, true}, // exact: decoded as int, not float64
		{`value["x.y"] == 2 && value["@at"] == "k" && value["a*"] == 3 && value.x == nil`, e, true},
		{`value.total == nil && raw startsWith "{"`, broken, true}, // not JSON: a string, no fields
		{`value["customer"]["name"] == "Ada" && value.customer["tags"][1] == "eu"`, e, true},
		{`value.customer == nil || len(value.customer.tags) == 2`, e, true},
		{`value.items[0] == nil`, e, false},
		{`let c = value.customer; c.name == "Ada"`, e, true},
		{`value.paid && !value.refunded`, e, true},
		{`raw contains "Ada"`, e, true},
		// Missing fields are nil and never an error; comparisons with nil are false.
		{`value.missing > 100`, e, false},
		{`value.missing < 100`, e, false},
		{`value.missing == nil`, e, true},
		{`value.a.b.c == nil`, e, true},
		{`value.a.b.c > 1`, e, false},
		{`value.items[5].sku == "x"`, e, false},
		{`value.customer.name > 5`, e, false}, // types that do not compare
		{`"x" in value.missing`, e, false},
		{`value.missing startsWith "a"`, e, false},
		{`value.missing matches "a"`, e, false},
		{`value.missing`, e, false},
		{`value.paid`, e, true},
		// A payload that is not JSON is a string.
		{`value == "not json at all" && raw startsWith "not"`, amqp, true},
		{`value.total > 1`, amqp, false},
		{`type == "OrderPlaced" && id == "m-1" && queue == "orders.q" && exchange == "shop"`, amqp, true},
		{`routing_key == "order.placed" && redelivered && transport == "amqp"`, amqp, true},
		// A tombstone's value is nil.
		{`value == nil && raw == ""`, tomb, true},
		{`value.total > 1`, tomb, false},
	} {
		f, err := CompileFilter(tc.expr, nil)
		if err != nil {
			t.Errorf("%s: compile: %v", tc.expr, err)
			continue
		}
		got, err := f.Match(tc.e)
		if err != nil {
			t.Errorf("%s: match: %v", tc.expr, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestFilterRunError(t *testing.T) {
	f, err := CompileFilter(`value.items[0].price % 0 == 1`, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Match(filterEvent())
	if err == nil || !strings.HasPrefix(err.Error(), "--filter: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %v, want one line", err)
	}
	f, _ = CompileFilter(`value.customer`, nil)
	if _, err := f.Match(filterEvent()); err == nil || !strings.Contains(err.Error(), "not true or false") {
		t.Errorf("non-bool result: err = %v", err)
	}
}

func TestFilterCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		expr         string
		line, column int
		msg          string
		snippet      string
	}{
		{`type == "OrderPlaced" && tota > 100`, 1, 26, `unknown name "tota" (a payload field? write value.tota)`,
			"  type == \"OrderPlaced\" && tota > 100\n                           ^~~~"},
		{`topci == "orders"`, 1, 1, `unknown name "topci" (did you mean topic?)`,
			"  topci == \"orders\"\n  ^~~~~"},
		{`type ==`, 1, 7, `unexpected token EOF`, "  type ==\n        ^"},
		{`offset + 1`, 1, 1, `must be true or false, but it is a number`, "  offset + 1\n  ^~~~~~~~~~"},
		{`topic`, 1, 1, `must be true or false, but it is a string`, "  topic\n  ^~~~~"},
		{"topic == \"a\" &&\n  parttion == 1", 2, 3, `unknown name "parttion" (did you mean partition?)`,
			"    parttion == 1\n    ^~~~~~~~"},
		{`"日本" == topic && nope`, 1, 18, `unknown name "nope" (a payload field? write value.nope)`, "  \"日本\" == topic && nope\n                     ^~~~"},
		{`offset > "x"`, 1, 8, `invalid operation: > (mismatched types int64 and string)`, ""},
		{`raw matches "("`, 1, 5, "error parsing regexp", ""},
		{`  `, 0, 0, "empty expression", ""},
	} {
		_, err := CompileFilter(tc.expr, nil)
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Errorf("%q: err = %v, want a *FilterError", tc.expr, err)
			continue
		}
		if fe.Line != tc.line || fe.Column != tc.column || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("%q: got line %d column %d %q; want %d, %d, %q", tc.expr, fe.Line, fe.Column, fe.Msg, tc.line, tc.column, tc.msg)
		}
		msg := fe.Error()
		if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "--filter: ") {
			t.Errorf("%q: Error() is not one line: %q", tc.expr, msg)
		}
		if tc.line == 1 && !strings.HasPrefix(msg, "--filter: column ") {
			t.Errorf("%q: Error() = %q", tc.expr, msg)
		}
		if tc.snippet != "" && fe.Snippet() != tc.snippet {
			t.Errorf("%q: Snippet():\n%s\nwant:\n%s", tc.expr, fe.Snippet(), tc.snippet)
		}
	}
	fe := &FilterError{Src: "x", Line: 1, Column: 17, Msg: `unknown name "tota"`}
	if got := fe.Error(); got != `--filter: column 17: unknown name "tota"` {
		t.Errorf("Error() = %q", got)
	}
}

func TestFilterLazy(t *testing.T) {
	for _, tc := range []struct {
		expr string
		uses uint32
	}{
		{`topic == "a" && offset > 1`, 0},
		{`value.total > 1`, 0},                        // a gjson lookup, no decoding
		{`value.a[0].b == 1 && value["x.y"] == 2`, 0}, // likewise
		{`value == nil`, useValue},
		{`value[key] == 1`, useValue | useKey},
		{`type == "x"`, useType},
		{`trace_id != "" && id != ""`, useTrace | useID},
		{`headers["a"] == "b" && key == "k"`, useKey}, // one header, no map
		{`"a" in headers`, useHeaders},
		{`any(value.items, .price > raw)`, useRaw},
	} {
		f, err := CompileFilter(tc.expr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if f.uses != tc.uses {
			t.Errorf("%s: uses %b, want %b", tc.expr, f.uses, tc.uses)
		}
	}
	// Nothing is decoded for an envelope-only filter: the only allocations
	// are expr boxing the two fields it reads.
	f, _ := CompileFilter(`topic == "orders" && partition == 2`, nil)
	e := filterEvent()
	f.Match(e)
	if n := testing.AllocsPerRun(200, func() { f.Match(e) }); n > 2 {
		t.Errorf("envelope-only filter: %v allocations per event", n)
	}
}

func TestNilFilterMatchesAll(t *testing.T) {
	var f *Filter
	if ok, err := f.Match(filterEvent()); !ok || err != nil {
		t.Errorf("nil filter: %v, %v", ok, err)
	}
}

func TestFilterConcurrent(t *testing.T) {
	f, err := CompileFilter(`value.total > 100 && headers.tenant == "acme"`, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for range 8 {
		go func() {
			ok := true
			for range 200 {
				m, err := f.Match(filterEvent())
				ok = ok && m && err == nil
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("concurrent Match failed")
		}
	}
}
