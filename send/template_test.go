package send

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestTemplateFunctions: each placeholder is replaced by its value, the
// same {{uuid}} everywhere in one event, a new one per event; everything
// else (JSON braces, other {{...}}, a lone "{{") is kept byte for byte.
func TestTemplateFunctions(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.FixedZone("X", 3600))
	tpl := Compile([]byte(`{"id":"{{uuid}}","corr":"{{uuid}}","at":"{{now}}","n":{{seq}},"o":{"x":{}},"t":"{{ .Value }}","lone":"{{"}`))
	if tpl.Static() {
		t.Fatal("placeholders not found")
	}
	seen := map[string]bool{}
	for seq := int64(1); seq <= 3; seq++ {
		v := NewVars(seq, at)
		got := string(tpl.Expand(&v))
		if !uuidRE.MatchString(v.UUID) {
			t.Fatalf("uuid %q is not a version 4 UUID", v.UUID)
		}
		if seen[v.UUID] {
			t.Fatalf("uuid %s repeated across events", v.UUID)
		}
		seen[v.UUID] = true
		want := `{"id":"` + v.UUID + `","corr":"` + v.UUID + `","at":"2026-03-04T04:06:07.891Z","n":` + string(rune('0'+seq)) + `,"o":{"x":{}},"t":"{{ .Value }}","lone":"{{"}`
		if got != want {
			t.Fatalf("event %d:\n got %s\nwant %s", seq, got, want)
		}
	}
	// {{now}} is RFC 3339 and parses back to the time (in UTC, ms).
	v := NewVars(1, at)
	now := string(Compile([]byte("{{now}}")).Expand(&v))
	if p, err := time.Parse(time.RFC3339, now); err != nil || !p.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("{{now}} = %q (%v)", now, err)
	}
	// {{seq}} counts past one digit.
	v = NewVars(1234567, at)
	if got := string(Compile([]byte("s{{seq}}e")).Expand(&v)); got != "s1234567e" {
		t.Fatalf("{{seq}}: %q", got)
	}
}

// TestTemplateStatic: a payload without a placeholder is sent as it is, the
// same slice (no copy), whatever bytes it holds.
func TestTemplateStatic(t *testing.T) {
	for _, s := range []string{"", "plain", `{"a":{"b":1}}`, "{{", "{{uuid", "}}{{x}}", "\x00\xff{{ uuid }}"} {
		b := []byte(s)
		tpl := Compile(b)
		if !tpl.Static() {
			t.Fatalf("%q: found a placeholder", s)
		}
		v := NewVars(1, time.Now())
		if got := tpl.Expand(&v); string(got) != s || len(b) > 0 && &got[0] != &b[0] {
			t.Fatalf("%q: expanded to %q (or copied)", s, got)
		}
	}
}

func TestTraceparent(t *testing.T) {
	re := regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)
	a, b := Traceparent("new"), Traceparent("new")
	if !re.MatchString(a) || a[3:35] == b[3:35] {
		t.Fatalf("new traces %s %s", a, b)
	}
	parent := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	c := Traceparent(parent)
	if !re.MatchString(c) || !strings.HasPrefix(c, parent[:36]) || c[36:52] == parent[36:52] {
		t.Fatalf("child of %s: %s", parent, c)
	}
	if CheckTraceparent("00-xyz") == nil || CheckTraceparent("new") != nil || CheckTraceparent(parent) != nil {
		t.Fatal("CheckTraceparent")
	}
}

func TestTrackerSpans(t *testing.T) {
	tr := NewTracker(nil)
	for i := int64(0); i < 10; i++ {
		tr.Queued(i, "")
	}
	for _, i := range []int64{5, 6, 0, 1, 2, 9} {
		tr.Landed(i)
	}
	tr.Failed(3, nil)
	r := tr.Result()
	if r.Landing != "#0-#2, #5-#6, #9" || r.Landed != 6 || r.Sent != 10 || len(r.Failed) != 1 {
		t.Fatalf("%+v", r)
	}
}

// TestBuildPlaceholdersEverywhere: a line's key (-K) and the options' key,
// header and message id get the event's values, the same {{uuid}} as its
// value; a plain line is sent as it is.
func TestBuildPlaceholdersEverywhere(t *testing.T) {
	o := &Options{Partition: -1, AMQP: true, Headers: []Header{{Key: "h", Value: Compile([]byte("{{uuid}}/{{seq}}"))}}, MessageID: Compile([]byte("m-{{uuid}}"))}
	it := &Item{Key: []byte("k-{{uuid}}"), Value: []byte(`{"id":"{{uuid}}"}`)}
	ev, err := Build(it, 4, o, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(string(ev.Value), `{"id":"`), `"}`)
	if !uuidRE.MatchString(id) || string(ev.Key) != "k-"+id || string(ev.Headers[0].Value) != id+"/5" || ev.Properties.MessageID != "m-"+id {
		t.Fatalf("value %s key %s header %s message id %s", ev.Value, ev.Key, ev.Headers[0].Value, ev.Properties.MessageID)
	}
	plain := &Item{Value: []byte("plain"), plain: true}
	if ev, _ := Build(plain, 0, &Options{Partition: -1}, time.Time{}); string(ev.Value) != "plain" || &ev.Value[0] != &plain.Value[0] {
		t.Fatalf("plain line: %q", ev.Value)
	}
}
