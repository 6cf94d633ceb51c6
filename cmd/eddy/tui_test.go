package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTUIFlags(t *testing.T) {
	f, _, _ := testFactory(true)
	var got *TUIOptions
	cmd := newCmdTUI(f, func(_ context.Context, o *TUIOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"kafka:orders", "amqp:q", "--demo", "--buffer", "500"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !got.Demo || got.Buffer != 500 || strings.Join(got.Sources, ",") != "kafka:orders,amqp:q" {
		t.Fatalf("parsed %+v", *got)
	}
}

// TestTUIUsageErrors: bad arguments are one line and exit 2, before any
// connection; without a terminal (stderr redirected and no controlling
// terminal to draw on instead) the TUI refuses rather than drawing into a
// pipe.
func TestTUIUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		tty  bool
		want string
	}{
		{[]string{"file:x.jsonl"}, true, `tui "file:x.jsonl": want kafka:TOPIC`},
		{[]string{"amqp:"}, true, `amqp:`},
		{[]string{"bogus"}, true, "bogus"},
		{[]string{"--buffer", "5"}, true, "--buffer 5: want at least 100"},
		{[]string{"--theme", "pink"}, true, "--theme pink: want auto, dark or light"},
		{[]string{"--format", "avro"}, true, "--format is the demo's value format: it needs --demo"},
		{[]string{"--demo", "--format", "xml"}, true, `--format "xml": want one of plain, avro, protobuf, json`},
		{nil, false, "eddy tui needs a terminal: stderr is not one and there is no controlling terminal"},
	} {
		f, out, _ := testFactory(c.tty)
		f.IO.OpenTTY = func() (*os.File, error) { return nil, errors.New("open /dev/tty: no such device or address") }
		err := tuiRun(context.Background(), f, &TUIOptions{Sources: c.args, Buffer: 10000})
		if c.args != nil && c.args[0] == "--buffer" {
			err = tuiRun(context.Background(), f, &TUIOptions{Buffer: 5})
		}
		if c.args != nil && c.args[0] == "--theme" {
			err = tuiRun(context.Background(), f, &TUIOptions{Buffer: 10000, Theme: "pink"})
		}
		if c.args != nil && c.args[0] == "--format" {
			err = tuiRun(context.Background(), f, &TUIOptions{Buffer: 10000, DemoFormat: "avro"})
		}
		if c.args != nil && c.args[0] == "--demo" {
			err = tuiRun(context.Background(), f, &TUIOptions{Buffer: 10000, Demo: true, DemoFormat: "xml"})
		}
		if err == nil || exitCode(err) != ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want %q", c.args, err, exitCode(err), c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: stdout %q", c.args, out.String())
		}
	}
}

// TestTUIEndpoint: with no context in force, the TUI's top bar names the
// brokers the flags gave (tui.Backend.Endpoint), a RabbitMQ URL without its
// password (the TUI then drops the user too).
func TestTUIEndpoint(t *testing.T) {
	f, _, _ := testFactory(true)
	f.Global.Brokers = []string{"127.0.0.1:39999"}
	f.Global.AMQPURL = "amqp://eddy:s3cret@127.0.0.1:1/"
	f.Global.Timeout = time.Second
	be, err := tuiBackend(f)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if be.Context != "" || !strings.HasPrefix(be.Endpoint, "127.0.0.1:39999,amqp://") || strings.Contains(be.Endpoint, "s3cret") {
		t.Fatalf("context %q endpoint %q", be.Context, be.Endpoint)
	}
}

// TestTUIDemoFormatDecodes: eddy tui --demo --format avro decodes through
// the demo's registry, though the decoder was resolved (to check the flags)
// before the demo started.
func TestTUIDemoFormatDecodes(t *testing.T) {
	f, _, _ := testFactory(true)
	f.Global.Timeout = 10 * time.Second
	cfg := filepath.Join(t.TempDir(), "config.yaml") // the demo writes its context there
	f.Getenv = func(k string) string {
		if k == "EDDY_CONFIG" {
			return cfg
		}
		return ""
	}
	if d, err := f.Decoder(); err != nil || d != nil {
		t.Fatalf("before the demo: decoder %v, %v; want none", d, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := startTUIDemo(ctx, f, "avro")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	be, err := tuiBackend(f)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if be.Decoder == nil || !strings.HasPrefix(f.Schemas.Registry, "http://127.0.0.1:") {
		t.Fatalf("the TUI's backend has no decoder (registry %q)", f.Schemas.Registry)
	}
}
