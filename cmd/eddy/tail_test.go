package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/event"
)

const sampleCapture = `{"v":1,"transport":"kafka","topic":"orders","partition":0,"offset":0,"timestamp":"2026-11-23T10:00:00.000Z","key":"o-1","headers":[],"value":"{\"event_id\":\"e1\",\"type\":\"OrderPlaced\"}"}
{"v":1,"transport":"kafka","topic":"orders","partition":0,"offset":1,"timestamp":"2026-11-23T10:00:01.000Z","key":"o-2","headers":[],"value":"\u001b]0;evil\u0007"}
`

func writeCapture(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "c.jsonl")
	if err := os.WriteFile(p, []byte(sampleCapture), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func testFactory(tty bool) (*Factory, *strings.Builder, *strings.Builder) {
	io, _, out, errOut := TestStreams(tty)
	f := newFactory(io, func(string) string { return "" }, &Redactor{})
	o, e := &strings.Builder{}, &strings.Builder{}
	_ = out
	_ = errOut
	f.IO.Out, f.IO.ErrOut = o, e
	return f, o, e
}

// TestTailFlags checks flag parsing alone, through runF (gh's habit).
func TestTailFlags(t *testing.T) {
	f, _, _ := testFactory(false)
	var got *TailOptions
	cmd := newCmdTail(f, func(_ context.Context, o *TailOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"kafka:a", "amqp:q", "--from", "-1h", "--until", "end", "-n", "5", "-p", "0,2", "-o", "raw", "--filter", "type == 'X'", "--group", "g", "--force", "--backlog"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := TailOptions{Sources: []string{"kafka:a", "amqp:q"}, From: "-1h", Until: "end", Limit: 5, Partitions: []int{0, 2}, Output: "raw",
		Filter: "type == 'X'", Group: "g", Force: true, Backlog: true}
	if strings.Join(got.Sources, ",") != strings.Join(want.Sources, ",") || got.From != want.From || got.Until != want.Until ||
		got.Limit != 5 || len(got.Partitions) != 2 || got.Output != "raw" || got.Filter != want.Filter || got.Group != "g" || !got.Force || !got.Backlog {
		t.Fatalf("parsed %+v\nwant %+v", *got, want)
	}
}

// TestTailTTYAndPipe: pretty on a terminal, the envelope in a pipe; both safe.
func TestTailTTYAndPipe(t *testing.T) {
	path := writeCapture(t)

	f, out, _ := testFactory(false)
	if err := tailRun(context.Background(), f, &TailOptions{Sources: []string{"file:" + path}}); err != nil {
		t.Fatal(err)
	}
	if out.String() != sampleCapture {
		t.Fatalf("pipe output is not the envelope:\n%s", out)
	}

	f, out, _ = testFactory(true)
	if err := tailRun(context.Background(), f, &TailOptions{Sources: []string{"file:" + path}}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Contains(s, `{"v":1`) || strings.Count(s, "\n") != 2 || !strings.Contains(s, "OrderPlaced") {
		t.Fatalf("terminal output is not pretty:\n%s", s)
	}
	if strings.ContainsAny(s, "\x07") || strings.Contains(s, "\x1b]") {
		t.Fatalf("terminal output carries a raw escape sequence: %q", s)
	}

	// raw on a terminal is escaped too.
	f, out, _ = testFactory(true)
	if err := tailRun(context.Background(), f, &TailOptions{Sources: []string{"file:" + path}, Output: "raw"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Fatalf("raw on a terminal printed ESC: %q", out)
	}
}

// eddyBinary links the test binary under the name eddy: testscript.Main then
// runs Main, which is how the real binary behaves.
func eddyBinary(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "eddy")
	if err := os.Symlink(exe, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInterrupt: Ctrl-C ends a live tail within 2 s with exit status 130, and
// what was read before is on stdout.
func TestInterrupt(t *testing.T) {
	bin := eddyBinary(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "live"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seeds := strings.Join(c.ListenAddrs(), ",")

	for _, tc := range []struct {
		name  string
		args  []string
		start func(stdin io.Writer)
	}{
		{"stdin", []string{"tail", "file:-"}, func(stdin io.Writer) {
			io.WriteString(stdin, string(event.AppendEnvelope(nil, &event.Event{Transport: event.Kafka, Topic: "t", Value: []byte("x")}))+"\n")
		}},
		{"kafka", []string{"tail", "kafka:live", "--brokers", seeds}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			lines := make(chan string, 16)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			stop := make(chan struct{})
			if tc.start != nil {
				tc.start(stdin)
			} else {
				// A live tail prints what arrives after it started: produce
				// until the first record shows up, proving eddy is running.
				cl, err := kgo.NewClient(kgo.SeedBrokers(seeds), kgo.DefaultProduceTopic("live"))
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				go func() {
					for range 600 {
						if cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("ping")}).FirstErr() != nil {
							return
						}
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond): // pacing, not synchronisation
						}
					}
				}()
			}
			select {
			case <-lines:
				close(stop)
			case <-time.After(30 * time.Second):
				t.Fatal("eddy printed nothing within 30s")
			}
			sent := time.Now()
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 130 {
					t.Fatalf("exit after SIGINT: %v, want status 130", err)
				}
				t.Logf("exited %v after SIGINT", time.Since(sent).Round(time.Millisecond))
			case <-time.After(2 * time.Second):
				t.Fatal("eddy did not exit within 2s of SIGINT")
			}
		})
	}
}
