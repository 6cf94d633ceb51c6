package schema

import (
	"context"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddy-sh/eddy/event"
)

// codec is one compiled schema: it turns a body (the payload after the
// wire-format header; for Protobuf starting with the message-index array)
// into JSON. Implementations are safe for concurrent use.
type codec interface {
	// appendJSON appends body as JSON to dst. msg names what was decoded
	// (the Protobuf message's or Avro record's full name). An error means
	// the body does not decode (event.FailUndecodable), or, for
	// event.FailInvalid, that it decoded but does not match (JSON set).
	appendJSON(dst, body []byte) (out []byte, msg string, err error)
}

// fetchFunc returns a registered schema by its pinned subject and version:
// how references are resolved (never the subject's latest version).
type fetchFunc func(ctx context.Context, subject string, version int) (sr.SubjectSchema, error)

// Decoder decodes events' keys and values. It is safe for concurrent use:
// schemas are fetched once per id (concurrent lookups of one id share one
// call), compiled once, and kept in a bounded cache.
type Decoder struct {
	// TODO(schema-core): registry client, caches, local mappings, stats.
}

// New returns a Decoder for cfg. It compiles the local schemas now (an error
// names the file and what is wrong) and does not contact the registry.
func New(cfg Config) (*Decoder, error) {
	panic("TODO(schema-core)")
}

// Decode sets e.KeyDecoded and e.ValueDecoded: for a topic with a local
// mapping, the bare payload decoded with its schema; else, with a registry,
// a payload in the Confluent wire format (magic byte 0, a 4-byte schema id,
// for Protobuf the message indexes) decoded with the registered schema. A
// payload in neither is left alone (nil). Failures are event.Fail* reasons,
// counted in Stats.
func (d *Decoder) Decode(ctx context.Context, e *event.Event) {
	panic("TODO(schema-core)")
}

// Stats counts what a Decoder did.
type Stats struct {
	// Decoded is how many keys and values were decoded.
	Decoded int64
	// Failed counts the keys and values that were not, by event.Fail* reason.
	Failed map[string]int64
}

// Stats returns the counts so far.
func (d *Decoder) Stats() Stats {
	panic("TODO(schema-core)")
}
