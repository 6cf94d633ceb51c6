package main

import (
	"encoding/json"
	"io"
)

// writeJSON writes v as one line of JSON, HTML characters left as they are:
// every command's -o json.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
