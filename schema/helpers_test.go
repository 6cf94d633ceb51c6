package schema

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-sh/eddy/event"
)

// registry is an in-process Schema Registry (srfake) behind a handler that
// counts the requests it serves.
type registry struct {
	*srfake.Registry
	srv      *httptest.Server
	requests atomic.Int64
	// hook, when set, answers requests in the registry's stead (it may
	// call next): a registry that loses a version, or holds requests.
	hook atomic.Pointer[func(w http.ResponseWriter, req *http.Request, next http.Handler)]
}

func newRegistry(t *testing.T, opts ...srfake.Option) *registry {
	t.Helper()
	r := &registry{Registry: srfake.NewRegistry(opts...)}
	h := r.Handler()
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if f := r.hook.Load(); f != nil {
			(*f)(w, req, h)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *registry) URL() string { return r.srv.URL }

// register registers text under subject and returns its id.
func (r *registry) register(t *testing.T, subject string, s sr.Schema) int {
	t.Helper()
	id, _, err := r.RegisterSchema(subject, s)
	if err != nil {
		t.Fatalf("register %s: %v", subject, err)
	}
	return id
}

func newDecoder(t *testing.T, cfg Config) *Decoder {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// frame puts body behind the Confluent header for id.
func frame(id int, body []byte) []byte {
	var h sr.ConfluentHeader
	b, _ := h.AppendEncode(nil, id, nil)
	return append(b, body...)
}

func decodeValue(t *testing.T, d *Decoder, topic string, value []byte) *event.Decoded {
	t.Helper()
	e := event.Event{Transport: event.Kafka, Topic: topic, Value: value}
	d.Decode(context.Background(), &e)
	return e.ValueDecoded
}

func (r *registry) setHook(f func(w http.ResponseWriter, req *http.Request, next http.Handler)) {
	r.hook.Store(&f)
}
