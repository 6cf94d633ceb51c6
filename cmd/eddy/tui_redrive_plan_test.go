package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/tui"
)

// TestTUIRedrivePlanRabbitMQReadsNoLedger: the TUI's P (a dry run) on a
// RabbitMQ DLQ reads the ledger as eddy dlq redrive --dry-run does: a
// ledger that does not exist yet is neither created nor its directory made
// (it was opened for writing, as the real run opens it).
func TestTUIRedrivePlanRabbitMQReadsNoLedger(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.DeadLetter())
	f, _, _ := testFactory(true)
	dir := t.TempDir()
	ledger := dir + "/state/ledger.db"
	f.Getenv = func(k string) string {
		switch k {
		case "EDDY_LEDGER":
			return ledger
		case "XDG_CONFIG_HOME", "XDG_STATE_HOME":
			return dir
		}
		return ""
	}
	f.Global.AMQPURL, f.Global.AMQPMgmtURL, f.Global.Timeout = url, amqptest.ManagementURL(t, url), 10*time.Second
	be, err := tuiBackend(f)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if _, err := be.Redrive(context.Background(), tui.RedriveRequest{Transport: "amqp", DLQ: tp.DLQ, DryRun: true}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + "/state"); !os.IsNotExist(err) {
		t.Fatalf("the plan made the ledger's directory (%v): a dry run must not create the ledger", err)
	}
}
