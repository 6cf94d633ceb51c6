package schema

import (
	"crypto/tls"
	"time"
)

// Config says where schemas come from.
type Config struct {
	// Registry, when not nil, is the Schema Registry that framed payloads'
	// ids are looked up in.
	Registry *RegistryConfig
	// Local maps topics (or queues) to schema files, for teams without a
	// registry: their payloads are the bare encoding, no wire-format header.
	Local []Mapping
	// Timeout bounds each registry call (0: 10 s), and how long a record
	// waits on its schema's lookup as a whole (calls, references,
	// compiling): past it the record is event.FailRegistry, and so are the
	// id's next ones for a few seconds while the lookup goes on.
	Timeout time.Duration
	// Validate checks JSON Schema payloads against their schema; a record
	// that does not match is event.FailInvalid.
	Validate bool
	// CacheSize bounds the compiled schemas kept (0: 1,000); ids past it
	// are evicted least recently used first, and fetched again if seen.
	CacheSize int
}

// RegistryConfig is how the registry is reached. Secrets are resolved by
// the caller (internal/config: *-env and *-file) and never printed.
type RegistryConfig struct {
	URL string
	// Username and Password are HTTP basic auth; Token a bearer token.
	Username, Password string
	Token              string
	// TLS, when not nil, is used for https URLs (a CA, a client cert).
	TLS *tls.Config
}

// Mapping is one topic's (or queue's) local schemas.
type Mapping struct {
	// Topic is the topic or queue name.
	Topic string
	// Key and Value are the schemas of its records' keys and values; nil
	// leaves that part undecoded.
	Key, Value *LocalSchema
}

// LocalSchema is a schema file.
type LocalSchema struct {
	// Path is an .avsc file (Avro), a .proto file or a directory of them
	// (imports resolved under it), a .binpb/.pb descriptor set, or a .json
	// file (JSON Schema).
	Path string
	// Message is the Protobuf message's full name; required when the file
	// (or set) defines more than one message.
	Message string
	// Format is "avro", "protobuf" or "json"; empty infers it from Path.
	Format string
}
