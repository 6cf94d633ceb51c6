package main

import (
	"strings"
	"sync"

	"github.com/eddy-sh/eddy/bus/all"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/schema"
)

// Decoding payloads with schemas: the commands that read payloads (tail,
// trace, trace flows, expect, dlq show, the TUI) get their decoder here;
// replay and dlq redrive never do (they copy the bytes they read).

// annotationNoDecodeExit marks a command whose exit status undecodable
// records do not change (the TUI shows them where they are); its summary
// line is still written.
const annotationNoDecodeExit = "eddy.decode-failures-not-partial"

// decoderState is the decoder made for a factory's settings, once.
type decoderState struct {
	mu   sync.Mutex
	done bool
	d    *schema.Decoder
	err  error
	// seen, when set, are the counts of what the command looked at (tail
	// with -n: not the rest of a batch the decoder decoded but no one saw);
	// else the decoder's own.
	seen *schema.Stats
}

// Decoder returns the schema decoder for the schema flags (Schemas), the
// environment and the context in force, made once; nil when nothing is
// configured (or --no-decode). A bad value (a URL, a mapping, a schema
// file that does not compile) is a usage error, in one line. It does not
// contact the registry.
func (f *Factory) Decoder() (*schema.Decoder, error) {
	if f.dec == nil {
		f.dec = &decoderState{}
	}
	s := f.dec
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return s.d, s.err
	}
	s.done = true
	r, err := f.resolver()
	if err != nil {
		s.err = err
		return nil, err
	}
	cfg, ok, err := r.Schema(&f.Schemas)
	if err != nil || !ok {
		s.err = err
		return nil, err
	}
	if s.d, err = schema.New(cfg); err != nil {
		s.d, s.err = nil, safeUsagef("%s", err)
	}
	return s.d, s.err
}

// SchemaClient returns a client of the registry that --schema-registry,
// EDDY_SCHEMA_REGISTRY or the context names; nil (and no error) when none
// does.
func (f *Factory) SchemaClient() (*schema.Client, error) {
	r, err := f.resolver()
	if err != nil {
		return nil, err
	}
	rc, err := r.SchemaRegistry(f.Schemas.Registry)
	if err != nil || rc == nil {
		return nil, err
	}
	c, err := schema.NewClient(*rc, f.Global.Timeout)
	if err != nil {
		return nil, asUsage(err)
	}
	return c, nil
}

// decodingClients are sourceClients with the command's decoder: every
// event the sources read is decoded (schema.Source).
func decodingClients(f *Factory, kopts []kafka.Option, aopts []amqp.Option) (all.Clients, error) {
	c := sourceClients(f, kopts, aopts)
	d, err := f.Decoder()
	if err != nil {
		return all.Clients{}, err
	}
	c.Decoder = d
	return c, nil
}

// decodeSummary is the one stderr line that says which records could not be
// decoded and why, "" when decoding was not asked or nothing failed. It is
// read once the command is over.
func (f *Factory) decodeSummary() string {
	if f.dec == nil {
		return ""
	}
	f.dec.mu.Lock()
	d, seen := f.dec.d, f.dec.seen
	f.dec.mu.Unlock()
	if d == nil {
		return ""
	}
	st := d.Stats()
	if seen != nil {
		why := st.Why
		st = *seen
		st.Why = why
	}
	line := st.Summary()
	if line != "" && !strings.HasPrefix(line, "eddy: ") {
		line = "eddy: " + line
	}
	return line
}

// decodedSeen makes the end-of-run summary count only the keys and values
// the command looked at.
func (f *Factory) decodedSeen(st schema.Stats) {
	if f.dec == nil {
		return
	}
	f.dec.mu.Lock()
	f.dec.seen = &st
	f.dec.mu.Unlock()
}
