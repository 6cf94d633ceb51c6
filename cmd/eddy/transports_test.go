package main

import (
	"path/filepath"
	"testing"
)

// TestConfiguredTransports: what lag, dlq ls and the TUI take as "the
// configured transports": a transport is configured when a flag, the
// environment or the context names it, even wrongly (its error comes when it
// is opened); only a context that is not there is an error at once.
func TestConfiguredTransports(t *testing.T) {
	for _, c := range []struct {
		env         map[string]string
		kafka, amqp bool
		err         bool
	}{
		{env: map[string]string{}},
		{env: map[string]string{"EDDY_BROKERS": "127.0.0.1:9092"}, kafka: true},
		{env: map[string]string{"EDDY_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/"}, amqp: true},
		{env: map[string]string{"EDDY_BROKERS": "127.0.0.1:9092", "EDDY_AMQP_URL": "amqp://127.0.0.1/"}, kafka: true, amqp: true},
		{env: map[string]string{"EDDY_BROKERS": "kafka://127.0.0.1:1"}, kafka: true},
		{env: map[string]string{"EDDY_CONTEXT": "nope"}, err: true},
	} {
		f, _, _ := testFactory(false)
		c.env["EDDY_CONFIG"] = filepath.Join(t.TempDir(), "none.yaml")
		f.Getenv = func(k string) string { return c.env[k] }
		kafka, amqp, err := configuredTransports(f)
		if kafka != c.kafka || amqp != c.amqp || (err != nil) != c.err {
			t.Errorf("%v: kafka %v, amqp %v, err %v; want %v, %v, error %v", c.env, kafka, amqp, err, c.kafka, c.amqp, c.err)
		}
	}
}
