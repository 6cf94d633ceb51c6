package dlq

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/schema"
)

// Options say how List and Show reach the transports and read DLQs.
type Options struct {
	// Kafka and AMQP connect to a transport; nil leaves it out. List closes
	// what they return.
	Kafka func() (*kafka.Client, error)
	AMQP  func() (*amqp.Client, error)
	// Naming says which topics and queues are DLQs.
	Naming convention.Naming
	// JobLogDir, when set, is where Kafka redrive job logs live (JobLogDir):
	// what those jobs already took from a DLQ topic is not counted in it.
	JobLogDir string
	// Backlog reads RabbitMQ classic and quorum queues' messages by a peek
	// (for their errors and origins); without it their figures come from
	// the management API alone, no message read.
	Backlog bool
	// Show: ID names a message by its content (a schema's event id); Keep
	// is how many message ids a group keeps; Stdin is file:-.
	ID    func(*event.Event) string
	Keep  int
	Stdin io.Reader
	// Decoder, when set, decodes the letters Show reads with their schemas
	// (schema.Source) before they are grouped and their ids read.
	Decoder *schema.Decoder
}

// Show summarizes the DLQ at a, with its groups: a Kafka topic, a RabbitMQ
// queue (its messages peeked only with o.Backlog) or a capture (file:PATH).
func Show(ctx context.Context, a bus.Address, o Options) (Summary, error) {
	switch a.Transport {
	case "amqp":
		c, err := o.AMQP()
		if err != nil {
			return Summary{}, err
		}
		defer c.Close()
		return summarizeAMQP(ctx, c, a.Name, o.Naming, o.ID, o.Keep, o.Backlog, o.Decoder)
	case "file":
		src, err := file.Open(a.Name, o.Stdin, bus.ReadOptions{})
		if err != nil {
			return Summary{}, err
		}
		defer src.Close()
		sum := NewSummarizer(a.Name, o.Naming, o.ID, o.Keep)
		if err := Scan(ctx, schema.Source(src, o.Decoder), sum); err != nil {
			return Summary{}, err
		}
		s := sum.Summary()
		s.Transport = "file"
		return s, nil
	}
	c, err := o.Kafka()
	if err != nil {
		return Summary{}, err
	}
	defer c.Close()
	jobs, err := LocalJobs(ctx, c, o.JobLogDir, a.Name)
	if err != nil {
		return Summary{}, err
	}
	return summarizeKafka(ctx, c, a.Name, o.Naming, o.ID, o.Keep, jobs, o.Decoder)
}

// LocalJobs is what the job logs in dir ("" for none) and their groups say
// about the DLQ topic: LoadJobs, nil when no job ran here (no directory, or
// one that cannot be read or is empty).
func LocalJobs(ctx context.Context, c *kafka.Client, dir, topic string) (Jobs, error) {
	if dir == "" {
		return nil, nil
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) == 0 {
		return nil, nil
	}
	return LoadJobs(ctx, c.Admin(), dir, topic)
}

// List summarizes the DLQs of every transport of o, as eddy dlq ls lists
// them: without groups, names[i] being sums[i]'s address (kafka:TOPIC,
// amqp:QUEUE). A DLQ deleted since it was listed is left out. Each
// transport is listed on its own: one that cannot be reached does not hide
// the other's DLQs — its error is among failures. When every transport
// failed, err joins their errors.
func List(ctx context.Context, o Options) (sums []Summary, names []string, failures []error, err error) {
	var listers []func(context.Context, Options) ([]Summary, []string, error)
	if o.Kafka != nil {
		listers = append(listers, listKafka)
	}
	if o.AMQP != nil {
		listers = append(listers, listAMQP)
	}
	succeeded := false
	for _, list := range listers {
		s, n, err := list(ctx, o)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		succeeded = true
		sums, names = append(sums, s...), append(names, n...)
	}
	if ctx.Err() != nil {
		return nil, nil, nil, ctx.Err()
	}
	if len(failures) > 0 && !succeeded {
		return nil, nil, nil, errors.Join(failures...)
	}
	return sums, names, failures, nil
}

func listKafka(ctx context.Context, o Options) ([]Summary, []string, error) {
	c, err := o.Kafka()
	var dlqs []string
	if err == nil {
		defer c.Close()
		dlqs, err = KafkaDLQs(ctx, c, o.Naming)
	}
	if err != nil {
		return nil, nil, err
	}
	return summarizeEach("kafka", dlqs, func(n string) (Summary, error) {
		jobs, err := LocalJobs(ctx, c, o.JobLogDir, n)
		if err != nil {
			return Summary{}, err
		}
		return SummarizeKafka(ctx, c, n, o.Naming, nil, 0, jobs)
	})
}

func listAMQP(ctx context.Context, o Options) ([]Summary, []string, error) {
	c, err := o.AMQP()
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	dlqs, err := AMQPDLQs(ctx, c, o.Naming)
	// Without --backlog the queues' messages are not read: one description
	// of them all from the management API.
	var described []Summary
	if err == nil && !o.Backlog {
		described, err = DescribeAMQP(ctx, c, dlqs)
	}
	if err != nil {
		return nil, nil, err
	}
	if o.Backlog {
		return summarizeEach("amqp", dlqs, func(n string) (Summary, error) {
			return SummarizeAMQP(ctx, c, n, o.Naming, nil, 0, true)
		})
	}
	byName := map[string]Summary{}
	for _, s := range described {
		byName[s.Name] = s
	}
	return summarizeEach("amqp", dlqs, func(n string) (Summary, error) {
		s, ok := byName[n]
		if !ok {
			return Summary{}, &bus.NotFoundError{Transport: "amqp", Kind: "queue", Name: n}
		}
		return s, nil
	})
}

// summarizeEach summarizes each of a transport's DLQs, without groups.
func summarizeEach(transport string, dlqs []string, summarize func(string) (Summary, error)) ([]Summary, []string, error) {
	var sums []Summary
	var names []string
	for _, n := range dlqs {
		s, err := summarize(n)
		if errors.Is(err, bus.ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, nil, err
		}
		s.Groups = nil
		sums = append(sums, s)
		names = append(names, transport+":"+n)
	}
	return sums, names, nil
}
