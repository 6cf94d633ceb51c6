package inspect

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/tidwall/gjson"

	"github.com/eddy-sh/eddy/event"
)

// TemplateError is a template that cannot be used: it does not parse, or it
// names something the view does not have. It is a usage error (exit 2).
type TemplateError struct {
	// Line is the template line the error is on, 0 when unknown.
	Line int
	Msg  string
	Err  error
}

func (e *TemplateError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("-o template: line %d: %s", e.Line, e.Msg)
	}
	return "-o template: " + e.Msg
}

// Unwrap returns the text/template error.
func (e *TemplateError) Unwrap() error { return e.Err }

// TemplateView is what a -o template sees as dot. Every string in it is already
// terminal-safe (rendered by SafeString: controls, C1, bidi controls and invalid
// bytes escaped, newlines as \n), so whatever a template prints of it is safe;
// raw bytes are reachable only as base64 (KeyB64, ValueB64). On top of that the
// printer escapes any control character the template's output still contains,
// except the newlines and tabs of the template's own layout, so no helper or
// printf verb can slip a raw escape through.
//
// Functions besides text/template's own: json (a value as JSON), b64 (base64 of
// a string), and the methods Get (a gjson path into the payload) and Envelope.
//
//	eddy tail kafka:orders -o template='{{.Offset}} {{.Type}} {{.Get "total"}} {{index .Headers "tenant"}}'
type TemplateView struct {
	Transport   string
	Topic       string
	Partition   int32
	Offset      int64
	Queue       string
	Exchange    string
	RoutingKey  string
	Redelivered bool
	// Source is the topic, or for AMQP the queue (or exchange).
	Source    string
	Timestamp time.Time
	// Key and Value are the key and payload as text: for one a schema
	// decoded (Avro, Protobuf, JSON Schema), its JSON (a string key as its
	// text), and KeySchema and ValueSchema say what decoded it
	// (SchemaMarker: "avro orders-value v3", or the reason it failed, when
	// Key or Value are then the bytes); "" when no schema was asked.
	Key         string
	Value       string
	KeySchema   string
	ValueSchema string
	// Raw is the value's bytes, never decoded (escaped like every string
	// here): what -o raw shows on a terminal.
	Raw string
	// KeyB64 and ValueB64 are the exact bytes, base64-encoded.
	KeyB64   string
	ValueB64 string
	// Size is the length of the value's bytes; Null is true for a nil value
	// (a tombstone), which Value shows as "".
	Size int
	Null bool
	// Headers maps each header key to its last value (as Kafka clients read a
	// repeated header); HeaderList keeps them all, in order.
	Headers    map[string]string
	HeaderList []TemplateHeader
	// Derived by the Schema.
	Type        string
	ID          string
	Correlation string
	Causation   string
	TraceID     string
	SpanID      string

	e *event.Event
}

// TemplateHeader is one header in TemplateView.HeaderList. Type is the AMQP
// field type for typed AMQP headers ("int32", "table", …) and "" otherwise.
type TemplateHeader struct {
	Key, Value, Type string
}

// Get returns the payload's JSON value (a schema-decoded payload's) at a gjson path ("order.total",
// "items.#", "items.0.sku"), terminal-safe; "" when the payload is not JSON or
// the path is absent. Objects and arrays come back as JSON text.
func (v *TemplateView) Get(path string) string {
	if v.e == nil {
		return ""
	}
	r := gjson.GetBytes(v.e.Payload(), path)
	if !r.Exists() {
		return ""
	}
	if r.IsObject() || r.IsArray() {
		return string(appendCompactJSON(nil, []byte(r.Raw)))
	}
	return SafeString(r.String())
}

// Envelope returns the event's JSONL envelope (terminal-safe by construction).
func (v *TemplateView) Envelope() string {
	if v.e == nil {
		return ""
	}
	return string(event.AppendEnvelope(nil, v.e))
}

// NewTemplateView builds the view of e that templates see.
func NewTemplateView(e *event.Event, schema *event.Schema) *TemplateView {
	v := &TemplateView{
		Transport:   string(e.Transport),
		Topic:       SafeString(e.Topic),
		Partition:   e.Partition,
		Offset:      e.Offset,
		Queue:       SafeString(e.Queue),
		Exchange:    SafeString(e.Exchange),
		RoutingKey:  SafeString(e.RoutingKey),
		Redelivered: e.Redelivered,
		Source:      SafeString(e.Source()),
		Timestamp:   e.Timestamp,
		Key:         string(AppendSafe(nil, KeyText(e))),
		Value:       string(AppendSafe(nil, e.Payload())),
		KeySchema:   SafeString(SchemaMarker(e.KeyDecoded)),
		ValueSchema: SafeString(SchemaMarker(e.ValueDecoded)),
		Raw:         string(AppendSafe(nil, e.Value)),
		KeyB64:      base64.StdEncoding.EncodeToString(e.Key),
		ValueB64:    base64.StdEncoding.EncodeToString(e.Value),
		Size:        len(e.Value),
		Null:        e.Value == nil,
		Headers:     make(map[string]string, len(e.Headers)),
		HeaderList:  make([]TemplateHeader, len(e.Headers)),
		e:           e,
	}
	for i, h := range e.Headers {
		th := TemplateHeader{Key: SafeString(h.Key), Value: string(AppendSafe(nil, h.Value))}
		if h.Typed != nil {
			th.Type = event.TypeName(h.Typed)
		}
		v.HeaderList[i] = th
		v.Headers[th.Key] = th.Value
	}
	if schema != nil {
		f := schema.Extract(e)
		v.Type, v.ID = SafeString(f.Type), SafeString(f.ID)
		v.Correlation, v.Causation = SafeString(f.Correlation), SafeString(f.Causation)
		v.TraceID, v.SpanID = SafeString(f.TraceID), SafeString(f.SpanID)
	}
	return v
}

var templateFuncs = template.FuncMap{
	// json renders any value as JSON; strings terminal-safe like the envelope.
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
	},
	"b64": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
}

type templatePrinter struct {
	w      *bufio.Writer
	t      *template.Template
	schema *event.Schema
	out    bytes.Buffer
	buf    []byte
}

// tmplErrRE takes apart text/template's "template: NAME:LINE[:COL]: MSG".
var tmplErrRE = regexp.MustCompile(`^template: eddy:(\d+)(?::\d+)?: (?:executing "eddy" at <[^>]*>: )?(.*)$`)

func templateError(err error) *TemplateError {
	te := &TemplateError{Msg: err.Error(), Err: err}
	if m := tmplErrRE.FindStringSubmatch(err.Error()); m != nil {
		te.Line, _ = strconv.Atoi(m[1])
		te.Msg = m[2]
	}
	te.Msg = SafeString(te.Msg)
	return te
}

func newTemplatePrinter(bw *bufio.Writer, o PrinterOptions) (*templatePrinter, error) {
	if strings.TrimSpace(o.Template) == "" {
		return nil, &TemplateError{Msg: "empty template (write -o template='{{.Topic}} {{.Value}}')"}
	}
	schema := o.Schema
	if schema == nil {
		schema = event.DefaultSchema()
	}
	if err := schema.Compile(); err != nil {
		return nil, err
	}
	// missingkey=zero: a header that is absent prints as "", not "<no value>".
	t, err := template.New("eddy").Funcs(templateFuncs).Option("missingkey=zero").Parse(o.Template)
	if err != nil {
		return nil, templateError(err)
	}
	p := &templatePrinter{w: bw, t: t, schema: schema}
	// text/template finds a misspelt field only when it executes. Run it once on
	// a sample event so {{.Topc}} is a usage error now, not a failure at the
	// first event; other execution errors (index out of range on this sample)
	// may be data-dependent and are left for Print to report.
	sample := &event.Event{Transport: event.Kafka, Topic: "t", Key: []byte("k"), Value: []byte(`{}`),
		Headers: []event.Header{{Key: "h", Value: []byte("v")}}}
	if err := t.Execute(&p.out, NewTemplateView(sample, schema)); err != nil {
		var ee template.ExecError
		if errors.As(err, &ee) && strings.Contains(err.Error(), "can't evaluate field") {
			return nil, templateError(err)
		}
	}
	return p, nil
}

func (p *templatePrinter) Print(e *event.Event) error {
	p.out.Reset()
	if err := p.t.Execute(&p.out, NewTemplateView(e, p.schema)); err != nil {
		return fmt.Errorf("-o template: %s[%d]@%d: %w", SafeString(e.Source()), e.Partition, e.Offset, err)
	}
	p.buf = appendSafe(p.buf[:0], b2s(p.out.Bytes()), modeKeepLines)
	if len(p.buf) == 0 || p.buf[len(p.buf)-1] != '\n' {
		p.buf = append(p.buf, '\n')
	}
	_, err := p.w.Write(p.buf)
	if cap(p.buf) > 1<<20 {
		p.buf = nil
	}
	return err
}

func (p *templatePrinter) Flush() error { return p.w.Flush() }
