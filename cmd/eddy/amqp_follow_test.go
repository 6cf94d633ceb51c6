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

	cmd := exec.Command(bin, "tail", "amqp:"+tp.Queue, "--amqp-url", via, "--amqp-mgmt-url", mgmt, "--timeout", "2s", "-o", "template={{.Value}}")
	cmd.Env = []string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir()}
	var out, errOut lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			select {
			case err := <-exited:
				t.Fatalf("eddy ended while waiting for %s: %v\nstdout:\n%s\nstderr:\n%s", what, err, out.String(), errOut.String())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 30 s\nstdout:\n%s\nstderr:\n%s", what, out.String(), errOut.String())
			}
		}
	}
	waitFor("the first message", func() bool { publish("before"); return strings.Contains(out.String(), "before") })

	p.Cut()
	waitFor("the outage warning", func() bool { return strings.Contains(errOut.String(), "cannot reach") })
	if !strings.Contains(errOut.String(), "were not seen") {
		t.Errorf("the warning does not say that messages published meanwhile are not seen:\n%s", errOut.String())
	}
	p.Restore()
	waitFor("the back-again line", func() bool { return strings.Contains(errOut.String(), "reachable again") })
	waitFor("a message published after the outage", func() bool { publish("after"); return strings.Contains(out.String(), "after") })
	if n := strings.Count(errOut.String(), "cannot reach"); n != 1 {
		t.Errorf("%d outage warnings, want one:\n%s", n, errOut.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if c := procExit(err); c != ExitInterrupted {
			t.Fatalf("exit %d after the interrupt, want %d\n%s", c, ExitInterrupted, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("eddy did not end within 30 s of the interrupt")
	}

	// Bounded: --until a time well ahead, the connection cut and kept cut.
	until := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
	cmd = exec.Command(bin, "tail", "amqp:"+tp.Queue, "--until", until, "--amqp-url", via, "--amqp-mgmt-url", mgmt, "--timeout", "2s", "-o", "template={{.Value}}")
	cmd.Env = []string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir()}
	out, errOut = lockedBuffer{}, lockedBuffer{}
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waitFor("the first message (bounded)", func() bool { publish("bounded"); return strings.Contains(out.String(), "bounded") })
	p.Cut()
	cut := time.Now()
	select {
	case err := <-exited:
		if c := procExit(err); c != ExitConnect {
			t.Fatalf("bounded tail: exit %d after the cut, want %d\n%s", c, ExitConnect, errOut.String())
		}
		if took := time.Since(cut); took > 2*time.Second+10*time.Second {
			t.Errorf("bounded tail: ended %s after the cut, past --timeout and a margin", took.Round(time.Millisecond))
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("bounded tail: still running 60 s after the cut\n%s", errOut.String())
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
	cmd := exec.Command(bin, "tail", "amqp:"+tp.Queue, "--from", "beginning", "--amqp-url", via, "--amqp-mgmt-url", mgmt, "--timeout", "2s", "-o", "template={{.Value}}")
	cmd.Env = []string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir()}
	var out, errOut lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			select {
			case err := <-exited:
				t.Fatalf("eddy ended while waiting for %s: %v\nstdout:\n%s\nstderr:\n%s", what, err, out.String(), errOut.String())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 30 s\nstdout:\n%s\nstderr:\n%s", what, out.String(), errOut.String())
			}
		}
	}
	waitFor("the stream's first message", func() bool { return strings.Contains(out.String(), "old") })
	publish("before")
	waitFor("a live message", func() bool { return strings.Contains(out.String(), "before") })

	p.Cut()
	waitFor("the outage warning", func() bool { return strings.Contains(errOut.String(), "cannot reach") })
	// Published straight to the broker while eddy's connection is cut.
	for _, b := range []string{"during-1", "during-2", "during-3"} {
		publish(b)
	}
	p.Restore()
	waitFor("the back-again line", func() bool { return strings.Contains(errOut.String(), "reachable again") })
	publish("after")
	waitFor("the message published after the outage", func() bool { return strings.Contains(out.String(), "after") })
	if got, want := out.String(), "old\nbefore\nduring-1\nduring-2\nduring-3\nafter\n"; got != want {
		t.Errorf("stdout %q, want %q: every message once, in order, the outage's too", got, want)
	}
	if !strings.Contains(errOut.String(), "nothing published meanwhile is missed") || strings.Contains(errOut.String(), "were not seen") {
		t.Errorf("the outage note should say the stream misses nothing:\n%s", errOut.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if c := procExit(err); c != ExitInterrupted {
			t.Fatalf("exit %d after the interrupt, want %d\n%s", c, ExitInterrupted, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("eddy did not end within 30 s of the interrupt")
	}
}
