package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/eddy-sh/eddy/inspect"
)

// -o yaml is -o json, converted as it is written: the command writes its
// JSON (one value, or one per line for --watch), and each complete value
// becomes a YAML document, its keys in the JSON's order. So YAML says
// exactly what JSON says, for every command that has -o json, with no
// second renderer to drift from it.

// yamlWriter converts the JSON values written to it into YAML documents on w.
type yamlWriter struct {
	w    io.Writer
	buf  []byte
	docs int
	err  error
}

func (y *yamlWriter) Write(p []byte) (int, error) {
	if y.err != nil {
		return 0, y.err
	}
	y.buf = append(y.buf, p...)
	for {
		dec := json.NewDecoder(bytes.NewReader(y.buf))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break // wait for the rest of the value
			}
			y.err = err
			return 0, err
		}
		y.buf = y.buf[dec.InputOffset():]
		if err := y.emit(raw); err != nil {
			y.err = err
			return 0, err
		}
	}
	if len(bytes.TrimSpace(y.buf)) == 0 {
		y.buf = y.buf[:0]
	}
	return len(p), nil
}

func (y *yamlWriter) emit(raw json.RawMessage) error {
	var n yaml.Node
	if err := yaml.Unmarshal(raw, &n); err != nil {
		return err
	}
	blockStyle(&n)
	b, err := yaml.Marshal(&n)
	if err != nil {
		return err
	}
	if y.docs > 0 {
		b = append([]byte("---\n"), b...)
	}
	y.docs++
	// yaml writes printable Unicode as it is: bidirectional controls too,
	// which eddy's JSON had escaped. SafeText escapes them again.
	_, err = io.WriteString(y.w, inspect.SafeText(string(b)))
	return err
}

// blockStyle drops the flow and quoting styles JSON's syntax gave the
// nodes, so that the YAML is written in block style, quoting only where
// YAML needs it (a string "true" or "1" stays quoted: its tag is kept).
func blockStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// wrapOutput applies the output flags that change the writer rather than
// the command: -o yaml and --no-headers, on the command's own copy of the
// streams (run makes it).
func wrapOutput(cmd *cobra.Command, f *Factory) {
	fl := cmd.Flags().Lookup("output")
	if fl == nil {
		return
	}
	v, ok := fl.Value.(*outputFlag)
	if !ok {
		return
	}
	if v.noHeaders {
		f.IO.Out = inspect.WithoutHeaders(f.IO.Out)
	}
	if v.yaml {
		f.IO.Out = &yamlWriter{w: f.IO.Out}
	}
}
