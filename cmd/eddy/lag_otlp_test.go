package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// otlpMetricsServer is a test-local OTLP/HTTP metrics receiver: it decodes
// what eddy pushes, as a collector would.
type otlpMetricsServer struct {
	mu     sync.Mutex
	points map[string]float64 // "name{group=…}" -> last value
	pushes int
}

func (s *otlpMetricsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/metrics" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var req colmetricpb.ExportMetricsServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.pushes++
	for _, rm := range req.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				g := m.GetGauge()
				if g == nil {
					continue
				}
				for _, dp := range g.DataPoints {
					var labels []string
					for _, a := range dp.Attributes {
						labels = append(labels, a.Key+"="+a.Value.GetStringValue())
					}
					s.points[m.Name+"{"+strings.Join(labels, ",")+"}"] = dp.GetAsDouble()
				}
			}
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// TestLagServeOTLPPush: eddy lag serve --otlp pushes the same figures it
// serves to Prometheus, as OTLP gauges a collector can decode.
func TestLagServeOTLPPush(t *testing.T) {
	srv := &otlpMetricsServer{points: map[string]float64{}}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	kafkatest.Produce(t, seeds, &kgo.Record{Topic: topic, Value: []byte("a")}, &kgo.Record{Topic: topic, Value: []byte("b")}, &kgo.Record{Topic: topic, Value: []byte("c")})
	commitOffsets(t, seeds, "pushed", topic, map[int32]int64{0: 1})
	f, _, errOut := lagFactory(false, map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- lagServeRun(ctx, f, &LagServeOptions{Listen: "127.0.0.1:0", Interval: time.Hour, Window: 10, OTLP: hs.URL,
			ready: func(a string) { ready <- a }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve ended: %v %s", err, errOut)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	// Stopping serve pushes a last time (the periodic reader's interval is an
	// hour, so this push is the one under test).
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatalf("serve: %v", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.pushes == 0 {
		t.Fatalf("nothing was pushed to the OTLP receiver; stderr: %s", errOut)
	}
	for k, want := range map[string]float64{
		"eddy_kafka_consumergroup_lag{group=pushed}":                                                        2,
		"eddy_kafka_consumergroup_offset_lag{group=pushed}":                                                 2,
		"eddy_kafka_consumergroup_partition_committed_offset{group=pushed,partition=0,topic=" + topic + "}": 1,
	} {
		got, ok := srv.points[k]
		if !ok {
			t.Errorf("no %s in the push; got %v", k, srv.points)
			continue
		}
		if got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
}
