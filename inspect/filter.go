package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
	"github.com/tidwall/gjson"

	"github.com/eddy-sh/eddy/event"
)

// Filter is a compiled --filter expression: github.com/expr-lang/expr over an
// event's envelope, its derived identities and its decoded JSON payload.
//
// Names an expression can use:
//
//	transport     "kafka" or "amqp"
//	topic, partition, offset
//	queue, exchange, routing_key, redelivered
//	timestamp     time.Time (compare with now(), date("…"), duration("1h"))
//	key           the key as a string (a schema-decoded key: its JSON, or
//	              the string when it is one)
//	value         the payload decoded from JSON (map, array, number, string,
//	              bool, nil) when it is valid JSON, else the payload as a string;
//	              a payload a schema decoded (Avro, Protobuf, JSON Schema) is
//	              its decoded JSON (event.Event.Payload)
//	raw           the payload's bytes as a string, never decoded
//	headers       map[string]string, the last value of each key
//	type, id, correlation_id, causation_id, trace_id, span_id
//	              derived by the Schema ("" when absent)
//
// Example: type == "OrderPlaced" && value.total > 100 && headers["tenant"] == "acme"
//
// JSON payloads are schemaless and differ between events, so a filter over
// them must not fail on the first event that lacks a field: reading a missing
// field (value.customer.name when there is no customer) gives nil instead of
// an error, and <, >, <=, >=, in, contains, startsWith, endsWith and matches
// are false when a side is nil or the types do not compare. JSON integers are
// decoded as int (not float64), so large ids compare exactly. Errors that
// remain (index out of range, arithmetic on nil) are returned by Match.
//
// Only what an expression names is computed for an event, so a filter costs
// what it reads: a path into the payload with constant keys (value.a.b[2]) is
// a gjson lookup that decodes nothing else; the payload is decoded whole only
// when value is used otherwise (value == …, value[k] with a computed k);
// headers["k"] scans the headers without building the map; the Schema looks
// up only the identities the expression names. Match is safe for concurrent
// use.
type Filter struct {
	src    string
	prog   *vm.Program
	uses   uint32
	schema *event.Schema
	pool   sync.Pool // *filterRun
	// pattern -> *regexp.Regexp, for matches on JSON values
	regexps  sync.Map
	nregexps atomic.Int32
}

const maxCachedRegexps = 64

// filterEnv is the environment of one Match. Field tags are the names above.
type filterEnv struct {
	Transport   string            `expr:"transport"`
	Topic       string            `expr:"topic"`
	Queue       string            `expr:"queue"`
	Exchange    string            `expr:"exchange"`
	RoutingKey  string            `expr:"routing_key"`
	Partition   int32             `expr:"partition"`
	Offset      int64             `expr:"offset"`
	Redelivered bool              `expr:"redelivered"`
	Timestamp   time.Time         `expr:"timestamp"`
	Key         string            `expr:"key"`
	Value       any               `expr:"value"`
	Raw         string            `expr:"raw"`
	Headers     map[string]string `expr:"headers"`
	Type        string            `expr:"type"`
	ID          string            `expr:"id"`
	Correlation string            `expr:"correlation_id"`
	Causation   string            `expr:"causation_id"`
	TraceID     string            `expr:"trace_id"`
	SpanID      string            `expr:"span_id"`
	// Doc gives the patched-in functions the event itself (not a user name).
	Doc *evalDoc `expr:"__eddy_doc"`
}

// Bits of Filter.uses: the parts of filterEnv that cost something to fill.
const (
	useKey = 1 << iota
	useValue
	useRaw
	useHeaders
	useType
	useID
	useCorrelation
	useCausation
	useTrace
	useFields = useType | useID | useCorrelation | useCausation | useTrace
)

var costlyNames = map[string]uint32{
	"key": useKey, "value": useValue, "raw": useRaw, "headers": useHeaders,
	"type": useType, "id": useID, "correlation_id": useCorrelation, "causation_id": useCausation,
	"trace_id": useTrace, "span_id": useTrace,
}

// narrowSchema returns a Schema with only the identities in uses: Extract
// looks up every JSON path of its schema, so a filter on type alone should not
// pay for the paths of id, correlation and the rest.
func narrowSchema(s *event.Schema, uses uint32) *event.Schema {
	n := &event.Schema{}
	if uses&useType != 0 {
		n.Type = s.Type
	}
	if uses&useID != 0 {
		n.ID = s.ID
	}
	if uses&useCorrelation != 0 {
		n.Correlation = s.Correlation
	}
	if uses&useCausation != 0 {
		n.Causation = s.Causation
	}
	if uses&useTrace != 0 {
		n.Trace = s.Trace
	}
	return n
}

// envNames are the names a filter may use, for "did you mean" hints.
var envNames = func() []string {
	t := reflect.TypeFor[filterEnv]()
	var names []string
	for i := range t.NumField() {
		if n := t.Field(i).Tag.Get("expr"); !strings.HasPrefix(n, "__") {
			names = append(names, n)
		}
	}
	return names
}()

type filterRun struct {
	vm  vm.VM
	env filterEnv
	doc evalDoc
}

// evalDoc is the event as the path and header functions see it during one
// Match, with the payload's JSON check done at most once.
type evalDoc struct {
	e       *event.Event
	checked bool
	isJSON  bool
}

func (d *evalDoc) json() bool {
	if !d.checked {
		d.checked = true
		v := bytes.TrimLeft(d.e.Payload(), " \t\r\n")
		d.isJSON = len(v) > 0 && strings.IndexByte(`{["-0123456789tfn`, v[0]) >= 0 && gjson.ValidBytes(v)
	}
	return d.isJSON
}

// valuePath is value.a.b[2].c, looked up with gjson in the payload without
// decoding the rest of it: what most filters do, at a fraction of the cost.
// It gives what decoding value and walking it would (nil when absent, and
// for a payload that is not JSON).
func valuePath(params ...any) (any, error) {
	d, _ := params[0].(*evalDoc)
	if d == nil || !d.json() {
		return nil, nil
	}
	return fromGJSON(gjson.GetBytes(d.e.Payload(), params[1].(string))), nil
}

func fromGJSON(r gjson.Result) any {
	switch r.Type {
	case gjson.False:
		return false
	case gjson.True:
		return true
	case gjson.Number:
		if i, err := strconv.ParseInt(r.Raw, 10, 64); err == nil {
			return int(i)
		}
		return r.Num
	case gjson.String:
		return r.Str
	case gjson.JSON:
		return decodeValue([]byte(r.Raw))
	}
	return nil
}

// headerValue is headers["name"] without building the map: the last value.
func headerValue(params ...any) (any, error) {
	d, _ := params[0].(*evalDoc)
	if d == nil {
		return "", nil
	}
	v, _ := d.e.Header(params[1].(string))
	return string(v), nil
}

// FilterError is an expression that does not compile. Error() is one line,
// `--filter: column 17: unknown name "tota"`; Snippet() shows where.
type FilterError struct {
	Src string
	// Line and Column are 1-based; Column counts characters, not bytes.
	Line, Column int
	Msg          string
	// Len is how many characters the error spans (at least 1), for the caret.
	Len int
}

func (e *FilterError) Error() string {
	if e.Line > 1 {
		return fmt.Sprintf("--filter: line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	if e.Column > 0 {
		return fmt.Sprintf("--filter: column %d: %s", e.Column, e.Msg)
	}
	return "--filter: " + e.Msg
}

// Snippet returns the expression's line with a caret under the column, for
// stderr after the Error() line:
//
//	type == "OrderPlaced" && tota > 100
//	                         ^~~~
//
// The expression is shown terminal-safe and the caret is placed by display
// cells, so it stays under the right character after wide or escaped ones.
func (e *FilterError) Snippet() string {
	if e.Column <= 0 {
		return ""
	}
	lines := strings.Split(e.Src, "\n")
	if e.Line < 1 || e.Line > len(lines) {
		return ""
	}
	line := strings.ReplaceAll(lines[e.Line-1], "\t", " ")
	// Column counts characters as expr does: each invalid byte is one.
	from, to := len(line), len(line)
	n := 0
	for i := range line {
		if n == e.Column-1 {
			from = i
		}
		if n == e.Column-1+max(e.Len, 1) {
			to = i
			break
		}
		n++
	}
	prefix := SafeString(line[:from])
	width := max(CellWidth(SafeString(line[from:to])), 1)
	return "  " + SafeString(line) + "\n  " + strings.Repeat(" ", CellWidth(prefix)) + "^" + strings.Repeat("~", width-1)
}

// Names of the functions the patcher below substitutes for operators on JSON
// values. They cannot collide with a payload field (those are under value).
const (
	fnGet      = "__eddy_get"
	fnLess     = "__eddy_lt"
	fnLessEq   = "__eddy_le"
	fnMore     = "__eddy_gt"
	fnMoreEq   = "__eddy_ge"
	fnIn       = "__eddy_in"
	fnContains = "__eddy_contains"
	fnStarts   = "__eddy_starts"
	fnEnds     = "__eddy_ends"
	fnMatches  = "__eddy_matches"
	fnTruth    = "__eddy_truth"
	fnPath     = "__eddy_path"
	fnHeader   = "__eddy_header"
	docName    = "__eddy_doc"
)

// CompileFilter compiles src once for Match. schema derives type, id and the
// other identities; nil means event.DefaultSchema(). A bad expression is
// returned as a *FilterError (a usage error).
func CompileFilter(src string, schema *event.Schema) (*Filter, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &FilterError{Src: src, Msg: "empty expression"}
	}
	if schema == nil {
		schema = event.DefaultSchema()
	}
	if err := schema.Compile(); err != nil {
		return nil, err
	}
	f := &Filter{src: src, schema: schema}
	f.pool.New = func() any { return new(filterRun) }
	// expr ignores the type errors it finds before patching and does not check
	// the arguments of a call whose type a patcher set, so the expression is
	// first checked as written: expr's own errors, at their columns.
	if _, err := expr.Compile(src, expr.Env(filterEnv{})); err != nil {
		return nil, filterError(src, err)
	}
	prog, err := expr.Compile(src,
		expr.Env(filterEnv{}),
		expr.Patch(&patcher{bools: map[ast.Node]bool{}, paths: map[ast.Node]string{}}),
		expr.Function(fnPath, valuePath, new(func(*evalDoc, string) any)),
		expr.Function(fnHeader, headerValue, new(func(*evalDoc, string) string)),
		expr.Function(fnGet, func(a ...any) (any, error) { return jsonGet(a[0], a[1]), nil }, new(func(any, any) any)),
		expr.Function(fnLess, compareFn(runtime.Less), new(func(any, any) bool)),
		expr.Function(fnLessEq, compareFn(runtime.LessOrEqual), new(func(any, any) bool)),
		expr.Function(fnMore, compareFn(runtime.More), new(func(any, any) bool)),
		expr.Function(fnMoreEq, compareFn(runtime.MoreOrEqual), new(func(any, any) bool)),
		expr.Function(fnIn, compareFn(runtime.In), new(func(any, any) bool)),
		expr.Function(fnContains, stringFn(strings.Contains), new(func(any, any) bool)),
		expr.Function(fnStarts, stringFn(strings.HasPrefix), new(func(any, any) bool)),
		expr.Function(fnEnds, stringFn(strings.HasSuffix), new(func(any, any) bool)),
		expr.Function(fnMatches, f.matches, new(func(any, any) bool)),
		expr.Function(fnTruth, truth, new(func(any) bool)),
	)
	if err != nil {
		return nil, filterError(src, err)
	}
	switch t := prog.Node().Type(); {
	case t.Kind() == reflect.Bool:
	case t.Kind() == reflect.Interface:
		// A JSON value: Match decides per event (nil is false).
	default:
		return nil, &FilterError{Src: src, Line: 1, Column: 1, Len: utf8.RuneCountInString(src),
			Msg: fmt.Sprintf("the expression must be true or false, but it is %s (compare it: … == …, > …)", kindName(t))}
	}
	f.prog = prog
	f.uses = usedNames(prog.Node())
	f.schema = narrowSchema(schema, f.uses)
	if err := f.schema.Compile(); err != nil {
		return nil, err
	}
	return f, nil
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		if t == reflect.TypeFor[time.Time]() {
			return "a time"
		}
		return "a map"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return t.String()
}

// String returns the expression as written.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.src
}

// Match reports whether e satisfies the filter. A nil *Filter matches every
// event. The error is a run-time failure on this event's data (an index out of
// range, a result that is not a boolean); the event then does not match.
func (f *Filter) Match(e *event.Event) (bool, error) {
	if f == nil {
		return true, nil
	}
	run := f.pool.Get().(*filterRun)
	env := &run.env
	*env = filterEnv{
		Transport: string(e.Transport), Topic: e.Topic, Queue: e.Queue, Exchange: e.Exchange,
		RoutingKey: e.RoutingKey, Partition: e.Partition, Offset: e.Offset,
		Redelivered: e.Redelivered, Timestamp: e.Timestamp, Doc: &run.doc,
	}
	run.doc = evalDoc{e: e}
	if f.uses&useKey != 0 {
		env.Key = string(KeyText(e))
	}
	if f.uses&useRaw != 0 {
		// The payload may be megabytes; the view lives only for this call.
		env.Raw = b2s(e.Value)
	}
	if f.uses&useValue != 0 {
		env.Value = decodeValue(e.Payload())
	}
	if f.uses&useHeaders != 0 {
		env.Headers = make(map[string]string, len(e.Headers))
		for _, h := range e.Headers {
			env.Headers[h.Key] = string(h.Value)
		}
	}
	if f.uses&useFields != 0 {
		fs := f.schema.Extract(e)
		env.Type, env.ID, env.Correlation, env.Causation, env.TraceID, env.SpanID =
			fs.Type, fs.ID, fs.Correlation, fs.Causation, fs.TraceID, fs.SpanID
	}
	out, err := run.vm.Run(f.prog, env)
	*env = filterEnv{} // drop references to the event before pooling
	run.doc = evalDoc{}
	f.pool.Put(run)
	if err != nil {
		return false, runError(err)
	}
	switch v := out.(type) {
	case bool:
		return v, nil
	case nil:
		return false, nil
	}
	return false, fmt.Errorf("--filter: the result is %T, not true or false", out)
}

// runError strips expr's source snippet: a run-time error is reported per
// event, on one line.
func runError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fmt.Errorf("--filter: column %d: %s", fe.Column+1, fe.Message)
	}
	return fmt.Errorf("--filter: %w", err)
}

func filterError(src string, err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return &FilterError{Src: src, Msg: err.Error()}
	}
	e := &FilterError{Src: src, Line: fe.Line, Column: fe.Column + 1, Msg: fe.Message,
		Len: max(fe.To-fe.From, 1)}
	if name, ok := strings.CutPrefix(fe.Message, "unknown name "); ok {
		e.Msg = fmt.Sprintf("unknown name %q", name) + nameHint(name)
	}
	e.Msg = SafeString(e.Msg)
	return e
}

// nameHint suggests a known name close to an unknown one, or else reminds that
// payload fields live under value.
func nameHint(name string) string {
	limit := 1
	if len(name) > 5 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, n := range envNames {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return fmt.Sprintf(" (a payload field? write value.%s)", name)
}

// EditDistance is the optimal string alignment distance between a and b (see
// editDistance), for "did you mean" hints elsewhere.
func EditDistance(a, b string) int { return editDistance(a, b) }

// editDistance is the optimal string alignment distance: Levenshtein plus the
// transposition of two neighbours, the commonest typo ("topci").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// usedNames returns the costly env fields that an expression refers to.
func usedNames(root ast.Node) uint32 {
	v := &nameVisitor{}
	ast.Walk(&root, v)
	return v.uses
}

type nameVisitor struct{ uses uint32 }

func (v *nameVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		v.uses |= costlyNames[id.Value]
	}
}

// patcher rewrites operations on dynamically typed operands (the decoded JSON
// payload) into the nil-safe functions registered in CompileFilter. It runs
// after expr's type check, so each node's type is known: operations whose
// operands are statically typed (offset > 10, topic startsWith "o") keep expr's
// own fast, strict implementation.
type patcher struct {
	// bools are the calls this patcher made that return bool, so that an
	// enclosing && does not take them for JSON values.
	bools map[ast.Node]bool
	// paths are the value-path calls made so far, with their gjson path, so
	// that value.a.b extends value.a's path instead of nesting.
	paths map[ast.Node]string
}

// pathComponent returns a member access's property as a gjson path component,
// when it is a constant key or a non-negative index.
func pathComponent(prop ast.Node) (string, bool) {
	switch p := prop.(type) {
	case *ast.StringNode:
		if p.Value == "" {
			return "", false
		}
		return gjson.Escape(p.Value), true
	case *ast.IntegerNode:
		if p.Value >= 0 {
			return strconv.Itoa(p.Value), true
		}
	}
	return "", false
}

func (p *patcher) dynamic(n ast.Node) bool {
	if p.bools[n] {
		return false
	}
	return n.Type() == nil || n.Type().Kind() == reflect.Interface
}

func (p *patcher) call(fn string, args ...ast.Node) *ast.CallNode {
	c := &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: args}
	if fn != fnGet && fn != fnPath && fn != fnHeader {
		p.bools[c] = true
	}
	return c
}

func (p *patcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		if n.Method {
			return
		}
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "headers" {
			if s, ok := n.Property.(*ast.StringNode); ok {
				ast.Patch(node, p.call(fnHeader, &ast.IdentifierNode{Value: docName}, s))
			}
			return
		}
		if comp, ok := pathComponent(n.Property); ok {
			if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "value" {
				c := p.call(fnPath, &ast.IdentifierNode{Value: docName}, &ast.StringNode{Value: comp})
				p.paths[c] = comp
				ast.Patch(node, c)
				return
			}
			if prev, ok := n.Node.(*ast.CallNode); ok && p.paths[prev] != "" {
				path := p.paths[prev] + "." + comp
				c := p.call(fnPath, prev.Arguments[0], &ast.StringNode{Value: path})
				p.paths[c] = path
				ast.Patch(node, c)
				return
			}
		}
		if !p.dynamic(n.Node) {
			return
		}
		ast.Patch(node, p.call(fnGet, n.Node, n.Property))
	case *ast.BinaryNode:
		var fn string
		switch n.Operator {
		case "<":
			fn = fnLess
		case "<=":
			fn = fnLessEq
		case ">":
			fn = fnMore
		case ">=":
			fn = fnMoreEq
		case "in":
			fn = fnIn
		case "contains":
			fn = fnContains
		case "startsWith":
			fn = fnStarts
		case "endsWith":
			fn = fnEnds
		case "matches":
			if s, ok := n.Right.(*ast.StringNode); ok {
				if _, err := regexp.Compile(s.Value); err != nil {
					return // leave it to expr, which reports the bad pattern at its column
				}
			}
			fn = fnMatches
		case "&&", "and", "||", "or":
			for _, side := range []*ast.Node{&n.Left, &n.Right} {
				if p.dynamic(*side) {
					ast.Patch(side, p.call(fnTruth, *side))
				}
			}
			return
		default:
			return
		}
		if !p.dynamic(n.Left) && !p.dynamic(n.Right) {
			return
		}
		ast.Patch(node, p.call(fn, n.Left, n.Right))
	case *ast.UnaryNode:
		if (n.Operator == "!" || n.Operator == "not") && p.dynamic(n.Node) {
			ast.Patch(&n.Node, p.call(fnTruth, n.Node))
		}
	}
}

// jsonGet is member access on a JSON value that never fails: a missing key, an
// index out of range or a lookup on a scalar or nil gives nil.
func jsonGet(from, prop any) any {
	switch c := from.(type) {
	case map[string]any:
		if k, ok := prop.(string); ok {
			return c[k]
		}
	case []any:
		i, ok := toIndex(prop)
		if !ok {
			return nil
		}
		if i < 0 {
			i += len(c)
		}
		if i >= 0 && i < len(c) {
			return c[i]
		}
	case nil:
	default:
		// Not JSON (a struct from the env, a time): expr's own rules.
		defer func() { _ = recover() }()
		return runtime.Fetch(from, prop)
	}
	return nil
}

func toIndex(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	}
	return 0, false
}

// compareFn wraps one of expr's comparison helpers so that nil or mismatched
// types give false instead of an error.
func compareFn(op func(a, b any) bool) func(params ...any) (any, error) {
	return func(params ...any) (ok any, _ error) {
		a, b := params[0], params[1]
		if a == nil || b == nil {
			return false, nil
		}
		defer func() {
			if recover() != nil {
				ok = false
			}
		}()
		return op(a, b), nil
	}
}

func stringFn(op func(s, t string) bool) func(params ...any) (any, error) {
	return func(params ...any) (any, error) {
		s, ok1 := params[0].(string)
		t, ok2 := params[1].(string)
		return ok1 && ok2 && op(s, t), nil
	}
}

func (f *Filter) matches(params ...any) (any, error) {
	s, ok1 := params[0].(string)
	pat, ok2 := params[1].(string)
	if !ok1 || !ok2 {
		return false, nil
	}
	if re, ok := f.regexps.Load(pat); ok {
		return re.(*regexp.Regexp).MatchString(s), nil
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return false, err
	}
	// Patterns are nearly always constants of the expression; one computed
	// from each event's data must not grow the cache without bound.
	if f.nregexps.Add(1) <= maxCachedRegexps {
		f.regexps.Store(strings.Clone(pat), re)
	}
	return re.MatchString(s), nil
}

// truth is how a JSON value reads as a condition: nil (missing) is false.
func truth(params ...any) (any, error) {
	switch v := params[0].(type) {
	case bool:
		return v, nil
	case nil:
		return false, nil
	}
	return nil, fmt.Errorf("%T used as a condition (compare it: == …, > …)", params[0])
}

// decodeValue decodes a payload for value: JSON when it is JSON (integers as
// int, other numbers as float64), else the payload as a string, nil for nil.
func decodeValue(b []byte) any {
	if b == nil {
		return nil
	}
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || !strings.ContainsRune(`{["-0123456789tfn`, rune(t[0])) {
		return string(b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(b)
	}
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) > 0 {
		return string(b) // trailing data: not one JSON value
	}
	return numbers(v)
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return int(i)
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}
