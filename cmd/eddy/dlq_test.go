package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/dlq/convention"
)

// TestDLQLsAndShow: a Spring dead-letter topic is found by its name, counted
// and grouped by error and origin; hostile error text is shown escaped; JSON
// decodes. On kfake and on the real Kafka.
func TestDLQLsAndShow(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		origin := kafkatest.NewTopic(t, seeds, 1)
		dlt := kafkatest.NamedTopic(t, seeds, origin+".DLT", 1)
		at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		var recs []*kgo.Record
		for i := range 5 {
			msg := "card declined"
			if i >= 3 {
				msg = "evil \x1b[31mred"
			}
			recs = append(recs, &kgo.Record{Topic: dlt, Value: []byte(`{"event_id":"e` + string(rune('0'+i)) + `"}`), Timestamp: at,
				Headers: []kgo.RecordHeader{
					{Key: convention.SpringExceptionFQCN, Value: []byte("java.lang.IllegalStateException")},
					{Key: convention.SpringExceptionMessage, Value: []byte(msg)},
					{Key: convention.SpringOriginalTopic, Value: []byte(origin)},
					{Key: convention.SpringOriginalPartition, Value: binary.BigEndian.AppendUint32(nil, 0)},
					{Key: convention.SpringOriginalOffset, Value: binary.BigEndian.AppendUint64(nil, uint64(i))},
				}})
		}
		kafkatest.Produce(t, seeds, recs...)

		f, out, _ := testFactory(false)
		f.Global.Brokers, f.Global.Timeout = seeds, 10*time.Second
		if err := dlqLsRun(context.Background(), f, &DLQOptions{}); err != nil {
			t.Fatal(err)
		}
		want := "kafka:" + dlt + "\t5\t2026-11-23T10:00:00.000Z\t2026-11-23T10:00:00.000Z\tcard declined (3)\t" + origin + "\n"
		if !strings.Contains(out.String(), want) {
			t.Fatalf("dlq ls (tsv) lacks\n%q\nin\n%s", want, out.String())
		}
		if strings.Contains(out.String(), "kafka:"+origin+"\t") {
			t.Fatalf("dlq ls lists the origin topic:\n%s", out.String())
		}

		f, out, _ = testFactory(true)
		f.Global.Brokers, f.Global.Timeout = seeds, 10*time.Second
		if err := dlqShowRun(context.Background(), f, &DLQOptions{DLQ: "kafka:" + dlt, IDs: 2}); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		// The ERROR column is the group's pattern (numbers and ids
		// masked), escaped.
		if strings.Contains(s, "\x1b") || !strings.Contains(s, `evil \x1b[<id>`) {
			t.Fatalf("show on a terminal must escape the error text:\n%q", s)
		}
		if !strings.Contains(s, "5 message(s)") || !regexpLine(s, `^3 +card declined +java.lang.IllegalStateException +`+origin+` .* e0 e1$`) {
			t.Fatalf("dlq show (table):\n%s", s)
		}

		f, out, _ = testFactory(false)
		f.Global.Brokers, f.Global.Timeout = seeds, 10*time.Second
		if err := dlqShowRun(context.Background(), f, &DLQOptions{DLQ: dlt, Output: "json", IDs: 5}); err != nil {
			t.Fatal(err)
		}
		var got dlqJSON
		if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.DLQs) != 1 || got.DLQs[0].Count != 5 || len(got.DLQs[0].Groups) != 2 || got.DLQs[0].Groups[1].Error != "evil \x1b[31mred" {
			t.Fatalf("json: %+v", got)
		}
	})
}

// TestDLQLsNaming: which topics dlq ls lists by name — the default rules
// (a dlq. prefix among them), and --prefix/--contains replacing them (each
// lists a topic the defaults do not, and no longer one they do).
func TestDLQLsNaming(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		prefixed := kafkatest.NamedTopic(t, seeds, "dlq."+kafkatest.UniqueName(t), 1)
		parking := kafkatest.NamedTopic(t, seeds, kafkatest.UniqueName(t)+".parking.v1", 1)
		graveyard := kafkatest.NamedTopic(t, seeds, "graveyard."+kafkatest.UniqueName(t), 1)
		plain := kafkatest.NewTopic(t, seeds, 1)
		ls := func(o DLQOptions) string {
			f, out, _ := testFactory(false)
			f.Global.Brokers, f.Global.Timeout = seeds, 10*time.Second
			if err := dlqLsRun(context.Background(), f, &o); err != nil {
				t.Fatal(err)
			}
			return out.String()
		}
		listed := func(out, topic string) bool { return strings.Contains(out, "kafka:"+topic+"\t") }
		for _, tc := range []struct {
			name string
			o    DLQOptions
			want map[string]bool
		}{
			{"default", DLQOptions{}, map[string]bool{prefixed: true, parking: false, graveyard: false, plain: false}},
			{"--contains parking", DLQOptions{Contains: []string{"parking"}}, map[string]bool{prefixed: false, parking: true, graveyard: false, plain: false}},
			{"--prefix graveyard.", DLQOptions{Prefixes: []string{"graveyard."}}, map[string]bool{prefixed: false, parking: false, graveyard: true, plain: false}},
		} {
			out := ls(tc.o)
			for topic, want := range tc.want {
				if listed(out, topic) != want {
					t.Errorf("%s: %s listed %v, want %v:\n%s", tc.name, topic, !want, want, out)
				}
			}
		}
	})
}

func regexpLine(s, re string) bool {
	for _, l := range strings.Split(s, "\n") {
		if ok, _ := regexpMatch(re, l); ok {
			return true
		}
	}
	return false
}

func regexpMatch(re, s string) (bool, error) { return regexp.MatchString(re, s) }

// TestDLQShowRabbitMQ: messages the broker dead-lettered (rejected without
// requeue) are grouped by their x-death reason and origin queue, and the DLQ
// still holds them afterwards (a peek).
func TestDLQShowRabbitMQ(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.DeadLetter())
	for i := range 3 {
		tp.Publish(t, amqp091.Publishing{MessageId: "m" + strconv.Itoa(i), Body: []byte("x")})
	}
	tp.Reject(t, 3)

	f, out, _ := testFactory(false)
	f.Global.AMQPURL, f.Global.Timeout = url, 10*time.Second
	if err := dlqShowRun(context.Background(), f, &DLQOptions{DLQ: "amqp:" + tp.DLQ, IDs: 5, Backlog: true}); err != nil {
		t.Fatal(err)
	}
	if !regexpLine(out.String(), `^3\trejected\t-\t`+regexp.QuoteMeta(tp.Queue)+`\t.*\tm0 m1 m2$`) {
		t.Fatalf("dlq show amqp:\n%s", out.String())
	}
	if n := amqptest.Depth(t, url, tp.DLQ); n != 3 {
		t.Fatalf("the DLQ holds %d after show, want 3", n)
	}

	f, out, _ = testFactory(false)
	f.Global.AMQPURL, f.Global.AMQPMgmtURL, f.Global.Timeout = url, os.Getenv("EDDY_TEST_AMQP_MGMT"), 10*time.Second
	if err := dlqLsRun(context.Background(), f, &DLQOptions{Transports: []string{"amqp:"}, Backlog: true}); err != nil {
		t.Fatal(err)
	}
	want := "amqp:" + tp.DLQ + "\t3\t"
	if !strings.Contains(out.String(), want) || !regexpLine(out.String(), `^amqp:`+regexp.QuoteMeta(tp.DLQ)+`\t3\t.*\trejected \(3\)\t`+regexp.QuoteMeta(tp.Queue)+`$`) {
		t.Fatalf("dlq ls amqp: lacks %s:\n%s", tp.DLQ, out.String())
	}
	if n := amqptest.Depth(t, url, tp.DLQ); n != 3 {
		t.Fatalf("the DLQ holds %d after ls, want 3", n)
	}

	// Without --backlog: the management API's count and the origin, no
	// message read (no error known).
	amqptest.Eventually(t, 20*time.Second, "dlq ls without --backlog to count 3", func() bool {
		out.Reset()
		if err := dlqLsRun(context.Background(), f, &DLQOptions{Transports: []string{"amqp:"}}); err != nil {
			t.Fatal(err)
		}
		return regexpLine(out.String(), `^amqp:`+regexp.QuoteMeta(tp.DLQ)+`\t3\t.*\t-\t`+regexp.QuoteMeta(tp.Queue)+`$`)
	})
}
