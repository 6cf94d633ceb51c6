package schema

import (
	"context"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// Source returns src with every event decoded by d, in order (batches are
// decoded in parallel). A nil d returns src.
func Source(src bus.Source, d *Decoder) bus.Source {
	if d == nil {
		return src
	}
	return &source{src: src, d: d}
}

type source struct {
	src bus.Source
	d   *Decoder
}

func (s *source) Next(ctx context.Context) ([]event.Event, error) {
	panic("TODO(schema-core)")
}

func (s *source) Close() error { return s.src.Close() }
