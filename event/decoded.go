package event

// Decoded is a key or value that a schema turned into JSON (Avro, Protobuf
// or JSON Schema, from a registry or a local file): what `value` means to
// filters, templates and the trace's id lookup, while Event.Value keeps the
// bytes exactly as they were read (replay and redrive copy those, never a
// re-encoding).
type Decoded struct {
	// JSON is the payload as JSON: Avro as its JSON value (unions as plain
	// values, logical types as their natural JSON), Protobuf as protojson
	// writes it, JSON Schema payloads as they are. nil when Fail says why
	// there is none.
	JSON []byte
	// Schema says what decoded it (or, on a failure, as much as was known).
	Schema SchemaRef
	// Fail is empty when the payload decoded, else one of the Fail* words.
	// FailInvalid still has JSON (the record is JSON, but not what its
	// schema says).
	Fail string
	// Safe says JSON is already what AppendEnvelope would make of it:
	// valid, without whitespace between tokens, and terminal-safe (the
	// controls, separators and bidirectional controls of the envelope's
	// strings escaped, invalid UTF-8 as \ufffd). The envelope then copies
	// it as is instead of validating and re-escaping it, which was a
	// quarter of the cost of a decoded jsonl line. Only a decoder that
	// writes such JSON itself sets it (schema's Avro codec); anything else
	// leaves it false.
	Safe bool
}

// The reasons a payload that decoding was asked for has no (valid) JSON.
// One word each: they are shown beside the raw payload, counted, and
// summarised once on stderr.
const (
	FailUnknownSchema = "unknown-schema" // the registry (or the local mapping) has no such schema
	FailTruncated     = "truncated"      // shorter than its wire-format header says
	FailUndecodable   = "undecodable"    // the body does not decode with its schema
	FailRegistry      = "registry-down"  // the registry did not answer within --timeout
	FailDenied        = "denied"         // the registry refused the credentials (401/403)
	FailInvalid       = "invalid"        // JSON Schema: the record does not match (--validate)
	FailBadSchema     = "bad-schema"     // the schema itself does not compile
)

// SchemaRef says where a decoded payload's schema came from. It is the
// jsonl envelope's key_schema / value_schema object.
type SchemaRef struct {
	// Format is "avro", "protobuf" or "json".
	Format string `json:"format"`
	// ID is the registry's schema id (0 for a local schema).
	ID int `json:"id,omitempty"`
	// Subject and Version name the registered schema (the one whose subject
	// is the topic's -key/-value subject when the id is under several).
	Subject string `json:"subject,omitempty"`
	Version int    `json:"version,omitempty"`
	// Message is the Protobuf message's full name, or the Avro record's.
	Message string `json:"message,omitempty"`
	// File is the local schema file, when there is no registry.
	File string `json:"file,omitempty"`
}
