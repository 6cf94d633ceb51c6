package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
)

// TestConnMarkerRefused: a refused login is shown DOWN at once with its
// sentence, not "reconnecting" for --timeout: the same credentials will be
// refused again. An answer later (new credentials) clears it.
func TestConnMarkerRefused(t *testing.T) {
	m, now := clockModel(t, 160, 24)
	refused := &bus.ConnectError{Transport: "kafka", Addr: "127.0.0.1:9093",
		Err: fmt.Errorf(`authentication failed: SASL PLAIN login as user "alice" refused: %w`, bus.ErrAuth)}
	probeResult(m, "kafka", *now, *now, refused)
	if top := topLine(m); !strings.Contains(top, "kafka DOWN since 12:00:00") {
		t.Fatalf("after a refused login: %q", top)
	}
	if cv := m.c.Conn.state("kafka", *now); !strings.Contains(cv.err, "authentication failed") {
		t.Fatalf("the state's error: %q", cv.err)
	}
	*now = now.Add(time.Second)
	probeResult(m, "kafka", *now, *now, nil)
	*now = now.Add(time.Second)
	probeResult(m, "kafka", *now, *now, errKafkaDown)
	if top := topLine(m); !strings.Contains(top, "kafka reconnecting since 12:00:02") {
		t.Fatalf("an ordinary failure after it: %q", top)
	}
}
