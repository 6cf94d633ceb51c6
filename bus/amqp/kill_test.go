package amqp_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

const helperEnv = "EDDY_AMQP_HELPER_TAP_QUEUE"

// TestHelperTap is not a test: TestKillLeavesNothing runs the test binary
// again with only this function and the queue to tail in the environment. It
// opens a tail, prints the tap's name and reads until it is killed.
func TestHelperTap(t *testing.T) {
	queue := os.Getenv(helperEnv)
	if queue == "" {
		t.Skip("helper process for TestKillLeavesNothing")
	}
	c, err := amqp.New(amqptest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	src, err := c.Source(context.Background(), queueAddr(queue), bus.ReadOptions{Backlog: true})
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("tap " + strings.Join(src.(*amqp.Source).Taps(), ",") + "\n")
	for {
		if _, err := src.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKillLeavesNothing: a tail killed with SIGKILL — no Close, no deferred
// cleanup — leaves no tap queue and no binding on the broker, and the watched
// queue's depth is what it was, although the tail was peeking at it.
func TestKillLeavesNothing(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url)
	tp.Publish(t, msgs(50, "m")...)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTap$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+tp.Queue)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
		}
		cmd.Wait()
	})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var tap string
	deadline := time.After(30 * time.Second)
	for tap == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the helper exited before opening its tap")
			}
			if name, ok := strings.CutPrefix(l, "tap "); ok {
				tap = name
			}
		case <-deadline:
			t.Fatal("the helper did not open a tap within 30s")
		}
	}
	amqptest.Eventually(t, 15*time.Second, "tap queue "+tap+" exists and is bound", func() bool {
		b := bindingsFrom(t, url, tp.Exchange)
		return queueExists(t, url, tap) && len(b) == 2
	})
	tp.Publish(t, msgs(5, "live")...)
	t.Logf("killing the tail (pid %d) with tap %s", cmd.Process.Pid, tap)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	amqptest.Eventually(t, 30*time.Second, "no tap queue and no extra binding after SIGKILL", func() bool {
		b := bindingsFrom(t, url, tp.Exchange)
		return !queueExists(t, url, tap) && len(b) == 1 && b[0] == tp.Queue
	})
	if d := amqptest.Depth(t, url, tp.Queue); d != 55 {
		t.Fatalf("depth %d after the killed tail, want 55", d)
	}
}
