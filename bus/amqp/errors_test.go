package amqp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestSocketLost: a publish that the socket refused is a lost connection (the
// run retries it), whatever the library has noticed yet; a broker's answer is
// not.
func TestSocketLost(t *testing.T) {
	reset := &net.OpError{Op: "write", Net: "tcp", Err: &os.SyscallError{Syscall: "write", Err: syscall.ECONNRESET}}
	for _, err := range []error{reset, fmt.Errorf("wrapped: %w", reset), amqp091.ErrClosed, io.EOF, net.ErrClosed} {
		if !socketLost(err) {
			t.Errorf("%v: not a lost connection", err)
		}
	}
	for _, err := range []error{errors.New("NOT_FOUND - no exchange"), &amqp091.Error{Code: amqp091.AccessRefused, Reason: "ACCESS_REFUSED"}} {
		if socketLost(err) {
			t.Errorf("%v: taken for a lost connection", err)
		}
	}
}
