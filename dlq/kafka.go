package dlq

import (
	"context"
	"errors"
	"io"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/schema"
)

// KafkaDLQs returns the names of the cluster's topics that naming calls
// dead-letter topics, sorted.
func KafkaDLQs(ctx context.Context, c *kafka.Client, naming convention.Naming) ([]string, error) {
	ts, err := c.Topics(ctx, false)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range ts {
		if naming.Is(t.Name) {
			out = append(out, t.Name)
		}
	}
	return out, nil
}

// SummarizeKafka reads topic from its beginning to its end (read_committed,
// joining no group) and summarizes it; records that jobs removed (see
// LoadJobs) count as Redriven.
func SummarizeKafka(ctx context.Context, c *kafka.Client, topic string, naming convention.Naming, id func(*event.Event) string, keep int, jobs Jobs) (Summary, error) {
	return summarizeKafka(ctx, c, topic, naming, id, keep, jobs, nil)
}

// SummarizeKafkaDecoded is SummarizeKafka with the letters decoded by dec
// (nil: not decoded) before they are grouped and their ids read, as eddy
// dlq show reads them (Options.Decoder): the TUI's DLQ view.
func SummarizeKafkaDecoded(ctx context.Context, c *kafka.Client, topic string, naming convention.Naming, id func(*event.Event) string, keep int, jobs Jobs, dec *schema.Decoder) (Summary, error) {
	return summarizeKafka(ctx, c, topic, naming, id, keep, jobs, dec)
}

// summarizeKafka is SummarizeKafka with the letters decoded by dec (nil:
// not decoded).
func summarizeKafka(ctx context.Context, c *kafka.Client, topic string, naming convention.Naming, id func(*event.Event) string, keep int, jobs Jobs, dec *schema.Decoder) (Summary, error) {
	src, err := c.Source(ctx, []bus.Address{{Transport: "kafka", Name: topic}},
		bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}})
	if err != nil {
		return Summary{}, err
	}
	defer src.Close()
	s := NewSummarizer(topic, naming, id, keep)
	s.Redriven(jobs)
	if err := Scan(ctx, schema.Source(src, dec), s); err != nil {
		return Summary{}, err
	}
	sum := s.Summary()
	sum.Transport = "kafka"
	return sum, nil
}

// Scan adds every event of src to s, until src ends.
func Scan(ctx context.Context, src bus.Source, s *Summarizer) error {
	for {
		evs, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for i := range evs {
			s.Add(&evs[i])
		}
	}
}
