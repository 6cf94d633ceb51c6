// Package schema turns schema-encoded payloads into JSON: Avro, Protobuf and
// JSON Schema, in the Confluent wire format with a Schema Registry (the
// Confluent REST API, which Confluent, Apicurio's ccompat API, Karapace and
// Redpanda serve), or in local schema files mapped to topics.
//
// A Decoder sets an event's KeyDecoded and ValueDecoded (event.Decoded);
// Source puts one in front of any bus.Source, so every command that reads
// payloads (tail, trace, expect, trace flows, dlq show, the TUI) sees the
// decoded JSON as `value`, while Event.Value keeps the bytes. Replay and
// redrive copy the bytes they read; the one encoder, Encoder, is eddy send's
// (JSON in, a registered schema's wire format out).
//
// Bad input is never fatal: an unknown schema id, a truncated frame, a
// record that does not decode, a registry that is down or refuses the
// credentials leave the event raw with a one-word reason (event.Fail*),
// counted in Stats.
package schema
