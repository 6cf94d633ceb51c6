package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
)

// UnknownReason is the reason of a letter whose headers record no error.
const UnknownReason = "unknown"

// letters counts the letters that arrive in a cluster's DLQs: inflow and
// reasons. It is used by the one goroutine that reads them.
type letters struct {
	m       *Metrics
	cluster string
	inflow  map[dlqKey]prometheus.Counter
	reasons map[reasonKey]prometheus.Counter
}

type dlqKey struct{ transport, name string }
type reasonKey struct {
	dlqKey
	reason string
}

func newLetters(m *Metrics, cluster string, dlqs []bus.Address) *letters {
	l := &letters{m: m, cluster: cluster, inflow: map[dlqKey]prometheus.Counter{}, reasons: map[reasonKey]prometheus.Counter{}}
	for _, a := range dlqs {
		// Zero from the start, so that rate() sees the first letter.
		l.counter(dlqKey{a.Transport, a.Name})
	}
	return l
}

func (l *letters) counter(k dlqKey) prometheus.Counter {
	c, ok := l.inflow[k]
	if !ok {
		c = l.m.dlqInflow.WithLabelValues(l.cluster, k.transport, k.name)
		l.inflow[dlqKey{strings.Clone(k.transport), strings.Clone(k.name)}] = c
	}
	return c
}

// add counts one letter.
func (l *letters) add(e *event.Event) {
	k := dlqKey{string(e.Transport), e.Source()}
	l.counter(k).Inc()
	reason := UnknownReason
	if lt, ok := convention.Read(e); ok && lt.Error != "" {
		reason = reasonLabel(dlq.MaskError(lt.Error))
	}
	rk := reasonKey{k, reason}
	c, ok := l.reasons[rk]
	if !ok {
		if !l.m.reasons.admit(l.cluster+"\x00"+k.transport+"\x00"+k.name, reason) {
			// Not cached: a reason past the bound costs no memory.
			l.m.dlqReason.WithLabelValues(l.cluster, k.transport, k.name, Other).Inc()
			return
		}
		c = l.m.dlqReason.WithLabelValues(l.cluster, k.transport, k.name, reason)
		l.reasons[reasonKey{dlqKey{strings.Clone(k.transport), strings.Clone(k.name)}, strings.Clone(reason)}] = c
	}
	c.Inc()
}

// read counts the letters of src until it ends or ctx does.
func (l *letters) read(ctx context.Context, src bus.Source) error {
	for {
		evs, err := src.Next(ctx)
		for i := range evs {
			l.add(&evs[i])
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// depths samples the depth and oldest age of a cluster's DLQs.
type depths struct {
	m       *Metrics
	cluster string
	kafka   []string
	amqp    []string
	kc      func() (*kafka.Client, error)
	ac      func() (*amqp.Client, error)
	now     func() time.Time
}

func (d *depths) sample(ctx context.Context) error {
	var errs []error
	if len(d.kafka) > 0 {
		if err := d.sampleKafka(ctx); err != nil {
			errs = append(errs, fmt.Errorf("kafka DLQs: %w", err))
		}
	}
	if len(d.amqp) > 0 {
		if err := d.sampleAMQP(ctx); err != nil {
			errs = append(errs, fmt.Errorf("amqp DLQs: %w", err))
		}
	}
	return errors.Join(errs...)
}

// sampleKafka: the depth is the records between each partition's log start
// and end; the oldest is the first record's timestamp, as the broker tells
// it for a look-up by time (no record is read).
func (d *depths) sampleKafka(ctx context.Context) error {
	c, err := d.kc()
	if err != nil {
		return err
	}
	adm := c.Admin()
	starts, err := adm.ListStartOffsets(ctx, d.kafka...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return err
	}
	ends, err := adm.ListEndOffsets(ctx, d.kafka...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return err
	}
	firsts, err := adm.ListOffsetsAfterMilli(ctx, 0, d.kafka...)
	if err == nil {
		err = firsts.Error()
	}
	if err != nil {
		return err
	}
	now := d.now()
	for _, t := range d.kafka {
		var depth int64
		var oldest int64 = -1
		for p, e := range ends[t] {
			s, ok := starts.Lookup(t, p)
			if !ok || e.Offset <= s.Offset {
				continue
			}
			depth += e.Offset - s.Offset
			if f, ok := firsts.Lookup(t, p); ok && f.Offset >= 0 && f.Offset < e.Offset && f.Timestamp >= 0 && (oldest < 0 || f.Timestamp < oldest) {
				oldest = f.Timestamp
			}
		}
		d.m.dlqDepth.WithLabelValues(d.cluster, "kafka", t).Set(float64(depth))
		age := 0.0
		if oldest >= 0 {
			age = max(now.Sub(time.UnixMilli(oldest)).Seconds(), 0)
		}
		d.m.dlqOldest.WithLabelValues(d.cluster, "kafka", t).Set(age)
	}
	return nil
}

// sampleAMQP: ready and unacknowledged messages, and the head message's
// timestamp property (classic queues, through the management API).
func (d *depths) sampleAMQP(ctx context.Context) error {
	c, err := d.ac()
	if err != nil {
		return err
	}
	qs, err := c.Queues(ctx, d.amqp)
	if err != nil {
		return err
	}
	heads, err := c.QueueHeads(ctx, d.amqp)
	if err != nil {
		heads = nil // the depth stands without the age
	}
	now := d.now()
	for _, q := range qs {
		depth := q.Ready + max(q.Unacked, 0)
		d.m.dlqDepth.WithLabelValues(d.cluster, "amqp", q.Name).Set(float64(max(depth, 0)))
		age := 0.0
		if h, ok := heads[q.Name]; ok && !h.IsZero() && depth > 0 {
			age = max(now.Sub(h).Seconds(), 0)
		}
		d.m.dlqOldest.WithLabelValues(d.cluster, "amqp", q.Name).Set(age)
	}
	return nil
}

// maxReason is the longest reason label, in bytes: exception messages run
// to stack traces.
const maxReason = 120

// reasonLabel is a masked error as a label value: one line, control bytes
// escaped, at most maxReason bytes (cut on a rune, marked with "…").
func reasonLabel(s string) string {
	s = inspect.SafeString(strings.Join(strings.Fields(s), " "))
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
