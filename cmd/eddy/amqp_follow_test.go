package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// TestAMQPLiveTailOutage: a live RabbitMQ tail whose connection is cut (the
// fault proxy resets it, for this eddy alone) says so once on stderr —
// naming that messages published meanwhile are not seen — keeps retrying,
// says when the broker is back, taps the queue again and shows what is
// published after; an interrupt then ends it with 130. With --until, a
// connection lost for longer than --timeout is exit 4.
func TestAMQPLiveTailOutage(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url)
	via, p := proxied(t, url)
	mgmt := amqptest.ManagementURL(t, url)
	bin := eddyBinary(t)
	publish := func(body string) { tp.Publish(t, amqp091.Publishing{Body: []byte(body)}) }

	e := startProc(t, bin, "tail", "amqp:"+tp.Queue, "--amqp-url", via, "--amqp-mgmt-url", mgmt, "--timeout", "2s", "-o", "template={{.Value}}")
	e.waitFor(t, "the first message", func() bool { publish("before"); return strings.Contains(e.out.String(), "before") })

	p.Cut()
	e.waitFor(t, "the outage warning", func() bool { return strings.Contains(e.errOut.String(), "cannot reach") })
	if !strings.Contains(e.errOut.String(), "were not seen") {
		t.Errorf("the warning does not say that messages published meanwhile are not seen:\n%s", e.errOut.String())
	}
	p.Restore()
	e.waitFor(t, "the back-again line", func() bool { return strings.Contains(e.errOut.String(), "reachable again") })
	e.waitFor(t, "a message published after the outage", func() bool { publish("after"); return strings.Contains(e.out.String(), "after") })
	if n := strings.Count(e.errOut.String(), "cannot reach"); n != 1 {
		t.Errorf("%d outage warnings, want one:\n%s", n, e.errOut.String())
	}
	e.interrupt(t)

	// Bounded: --until a time well ahead, the connection cut and kept cut.
	until := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
	e = startProc(t, bin, "tail", "amqp:"+tp.Queue, "--until", until, "--amqp-url", via, "--amqp-mgmt-url", mgmt, "--timeout", "2s", "-o", "template={{.Value}}")
	e.waitFor(t, "the first message (bounded)", func() bool { publish("bounded"); return strings.Contains(e.out.String(), "bounded") })
	p.Cut()
	cut := time.Now()
	select {
	case err := <-e.exited:
		if c := procExit(err); c != ExitConnect {
			t.Fatalf("bounded tail: exit %d after the cut, want %d\n%s", c, ExitConnect, e.errOut.String())
		}
		if took := time.Since(cut); took > 2*time.Second+10*time.Second {
			t.Errorf("bounded tail: ended %s after the cut, past --timeout and a margin", took.Round(time.Millisecond))
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("bounded tail: still running 60 s after the cut\n%s", e.errOut.String())
	}
	p.Restore()
}

// TestAMQPStreamTailOutage: a live tail of a RabbitMQ stream queue whose
// connection is cut rides the outage out like a tap does, but misses
// nothing: the stream is read on from the offset after the last one shown,
// so what was published while eddy was cut off is shown after it is back,
// once, in order, and the note says nothing was missed.
func TestAMQPStreamTailOutage(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.Stream())
	via, p := proxied(t, url)
	mgmt := amqptest.ManagementURL(t, url)
	bin := eddyBinary(t)
	publish := func(body string) { tp.Publish(t, amqp091.Publishing{Body: []byte(body)}) }

	tp.Publish(t, amqp091.Publishing{Body: []byte("old")})
	e := startProc(t, bin, "tail", "amqp:"+tp.Queue, "--from", "beginning", "--amqp-url", via, "--amqp-mgmt-url", mgmt, "--timeout", "2s", "-o", "template={{.Value}}")
	e.waitFor(t, "the stream's first message", func() bool { return strings.Contains(e.out.String(), "old") })
	publish("before")
	e.waitFor(t, "a live message", func() bool { return strings.Contains(e.out.String(), "before") })

	p.Cut()
	e.waitFor(t, "the outage warning", func() bool { return strings.Contains(e.errOut.String(), "cannot reach") })
	// Published straight to the broker while eddy's connection is cut.
	for _, b := range []string{"during-1", "during-2", "during-3"} {
		publish(b)
	}
	p.Restore()
	e.waitFor(t, "the back-again line", func() bool { return strings.Contains(e.errOut.String(), "reachable again") })
	publish("after")
	e.waitFor(t, "the message published after the outage", func() bool { return strings.Contains(e.out.String(), "after") })
	if got, want := e.out.String(), "old\nbefore\nduring-1\nduring-2\nduring-3\nafter\n"; got != want {
		t.Errorf("stdout %q, want %q: every message once, in order, the outage's too", got, want)
	}
	if !strings.Contains(e.errOut.String(), "nothing published meanwhile is missed") || strings.Contains(e.errOut.String(), "were not seen") {
		t.Errorf("the outage note should say the stream misses nothing:\n%s", e.errOut.String())
	}
	e.interrupt(t)
}

// eddyProc is an eddy process a test watches as it runs: its outputs as
// written, and its end.
type eddyProc struct {
	cmd         *exec.Cmd
	out, errOut lockedBuffer
	exited      chan error
}

// startProc starts bin with args, with HOME and XDG directories of its own.
// It is killed at the end of the test if it still runs, and its outputs are
// logged if the test failed.
func startProc(t *testing.T, bin string, args ...string) *eddyProc {
	t.Helper()
	e := &eddyProc{cmd: exec.Command(bin, args...), exited: make(chan error, 1)}
	e.cmd.Env = []string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir()}
	e.cmd.Stdout, e.cmd.Stderr = &e.out, &e.errOut
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.exited <- e.cmd.Wait() }()
	t.Cleanup(func() {
		e.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("%s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), e.out.String(), e.errOut.String())
		}
	})
	return e
}

// waitFor waits up to 30 s for cond (amqptest.Eventually), failing the
// test at once if eddy ends first.
func (e *eddyProc) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	amqptest.Eventually(t, 30*time.Second, "no "+what, func() bool {
		if cond() {
			return true
		}
		select {
		case err := <-e.exited:
			t.Fatalf("eddy ended while waiting for %s: %v", what, err)
		default:
		}
		return false
	})
}

// interrupt sends eddy SIGINT, after which it must end with exit 130
// within 30 s.
func (e *eddyProc) interrupt(t *testing.T) {
	t.Helper()
	if err := e.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-e.exited:
		if c := procExit(err); c != ExitInterrupted {
			t.Fatalf("exit %d after the interrupt, want %d\n%s", c, ExitInterrupted, e.errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("eddy did not end within 30 s of the interrupt")
	}
}
