package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/bustest"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// newCluster starts a kfake cluster for the test (stopped by t.Cleanup) and
// returns its seeds. KIP-848 members heartbeat every 100ms instead of 5s, so
// group tests do not wait for assignments.
func newCluster(t testing.TB, opts ...kfake.Opt) []string {
	t.Helper()
	return kafkatest.Cluster(t, append([]kfake.Opt{kfake.BrokerConfigs(map[string]string{
		"group.consumer.heartbeat.interval.ms": "100",
	})}, opts...)...)
}

// newClient returns a Client for seeds, closed when the test ends.
func newClient(t testing.TB, seeds []string, opts ...kafka.Option) *kafka.Client {
	t.Helper()
	c, err := kafka.New(seeds, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func topicAddr(name string) bus.Address { return bus.Address{Transport: "kafka", Name: name} }

func harness(seeds []string, partitions int32, c *kafka.Client) bustest.Harness {
	return bustest.Harness{
		NewDest: func(t *testing.T) string { return kafkatest.NewTopic(t, seeds, partitions) },
		NewSink: func(t *testing.T, dest string) bus.Sink {
			s, err := c.Sink(dest)
			if err != nil {
				t.Fatalf("Sink: %v", err)
			}
			return s
		},
		NewSource: func(t *testing.T, dest string, opts bus.ReadOptions) bus.Source {
			s, err := c.Source(ctxT(t), []bus.Address{topicAddr(dest)}, opts)
			if err != nil {
				t.Fatalf("Source: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		Offsets:          true,
		Live:             true,
		Snapshot:         true,
		NilHeaderValues:  true,
		DuplicateHeaders: true,
	}
}

func TestConformance(t *testing.T) {
	seeds := newCluster(t)
	c := newClient(t, seeds)
	t.Run("OnePartition", func(t *testing.T) { bustest.Run(t, harness(seeds, 1, c)) })
	t.Run("ThreePartitions", func(t *testing.T) { bustest.Run(t, harness(seeds, 3, c)) })
}

func TestConformanceRealBroker(t *testing.T) {
	seeds := kafkatest.Real(t)
	c := newClient(t, seeds)
	t.Run("OnePartition", func(t *testing.T) { bustest.Run(t, harness(seeds, 1, c)) })
	t.Run("ThreePartitions", func(t *testing.T) { bustest.Run(t, harness(seeds, 3, c)) })
}
