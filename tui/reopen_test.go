package tui

import (
	"errors"
	"fmt"
	"testing"

	"github.com/eddy-sh/eddy/bus"
)

// TestReopenableRefusedLogin: an unreachable broker and a missing topic are
// tried again, a refused login is not (the same credentials would be refused
// again, and retrying them can lock the account).
func TestReopenableRefusedLogin(t *testing.T) {
	refused := &bus.ConnectError{Transport: "kafka", Addr: "127.0.0.1:9092",
		Err: fmt.Errorf("SASL PLAIN login refused: %w", bus.ErrAuth)}
	unreachable := &bus.ConnectError{Transport: "kafka", Addr: "127.0.0.1:9092", Err: errors.New("connection refused")}
	missing := &bus.NotFoundError{Transport: "kafka", Kind: "topic", Name: "orders"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused login", refused, false},
		{"unreachable", unreachable, true},
		{"missing topic", missing, true},
		{"other", errors.New("boom"), false},
	} {
		if got := reopenable(tc.err); got != tc.want {
			t.Errorf("%s: reopenable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
