package tui

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/eddy-sh/eddy/event"
)

// jnode is one value of a JSON document, kept in document order so the
// Event view shows the payload as it was written, foldable.
type jnode struct {
	key      string // the member name (already a JSON string literal), "" in arrays and at the root
	scalar   string // a scalar's JSON text
	open     byte   // '{' or '[' for containers, 0 for scalars
	children []*jnode
	folded   bool
}

// maxJSONDepth bounds the nesting the tree builds, so a hostile payload of
// a million [ cannot exhaust the stack.
const maxJSONDepth = 200

var errTooDeep = errors.New("json nested too deeply")

// parseJSON builds the tree of a JSON document, or fails (the view then
// shows the payload as terminal-safe text).
func parseJSON(b []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return n, nil
}

func parseValue(dec *json.Decoder, depth int) (*jnode, error) {
	if depth > maxJSONDepth {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &jnode{open: byte(t)}
		for dec.More() {
			var k string
			if t == '{' {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				s, _ := kt.(string)
				k = string(event.AppendJSONString(nil, s))
			}
			c, err := parseValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			c.key = k
			n.children = append(n.children, c)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &jnode{scalar: string(event.AppendJSONString(nil, t))}, nil
	case json.Number:
		return &jnode{scalar: t.String()}, nil
	case bool:
		if t {
			return &jnode{scalar: "true"}, nil
		}
		return &jnode{scalar: "false"}, nil
	case nil:
		return &jnode{scalar: "null"}, nil
	}
	return nil, errors.New("unexpected JSON token")
}

// jline is one line of the rendered tree; node is set on lines that open a
// container (they fold).
type jline struct {
	text string
	node *jnode
	// hdr is 1 + the index of the header the line shows (0: none), long
	// says it can be expanded (cut or several lines), open that it is.
	hdr        int
	long, open bool
}

// lines renders the tree two spaces per level. Every string goes through
// safe(): JSON escapes such as \u001b stay escapes, and anything a
// terminal could act on is escaped too.
func (n *jnode) lines(dst []jline, indent int, last bool) []jline {
	pre := strings.Repeat("  ", indent)
	if n.key != "" {
		pre += safe(n.key) + ": "
	}
	comma := ","
	if last {
		comma = ""
	}
	if n.open == 0 {
		return append(dst, jline{text: pre + safe(n.scalar) + comma})
	}
	closer := "}"
	if n.open == '[' {
		closer = "]"
	}
	if len(n.children) == 0 {
		return append(dst, jline{text: pre + string(n.open) + closer + comma})
	}
	if n.folded {
		what := "keys"
		if n.open == '[' {
			what = "items"
		}
		return append(dst, jline{text: pre + string(n.open) + " … " + strconv.Itoa(len(n.children)) + " " + what + " " + closer + comma, node: n})
	}
	dst = append(dst, jline{text: pre + string(n.open), node: n})
	for i, c := range n.children {
		dst = c.lines(dst, indent+1, i == len(n.children)-1)
	}
	return append(dst, jline{text: strings.Repeat("  ", indent) + closer + comma})
}

// foldAll folds (or unfolds) every container below the root.
func (n *jnode) foldAll(fold bool, depth int) {
	if n.open == 0 {
		return
	}
	n.folded = fold && depth > 0
	for _, c := range n.children {
		c.foldAll(fold, depth+1)
	}
}
