package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
)

// groupsSnapshot is everything a reader could change about consumer groups:
// which exist, their state and members, and their committed offsets. On a
// shared real broker other tests create groups concurrently, so there keep
// limits it to the groups that concern this test.
func groupsSnapshot(t *testing.T, adm *kadm.Client, keep func(group string, offsets kadm.OffsetResponses) bool) []string {
	t.Helper()
	ctx := ctxT(t)
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	var out []string
	for _, g := range listed.Groups() {
		dg, err := adm.DescribeGroups(ctx, g)
		if err != nil {
			t.Fatalf("DescribeGroups %s: %v", g, err)
		}
		d := dg[g]
		offs, err := adm.FetchOffsets(ctx, g)
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			t.Fatalf("FetchOffsets %s: %v", g, err)
		}
		if keep != nil && !keep(g, offs) {
			continue
		}
		var members []string
		for _, m := range d.Members {
			members = append(members, m.MemberID)
		}
		sort.Strings(members)
		out = append(out, fmt.Sprintf("group %s state=%s members=%v", g, d.State, members))
		offs.Each(func(o kadm.OffsetResponse) {
			out = append(out, fmt.Sprintf("group %s offset %s/%d=%d", g, o.Topic, o.Partition, o.At))
		})
	}
	sort.Strings(out)
	return out
}

// activeMember joins group as a member consuming topic and keeps polling
// until the test ends; it returns once the member holds its assignment and
// has committed what it read.
func activeMember(t *testing.T, seeds []string, group, topic string, opts ...kgo.Opt) {
	t.Helper()
	assigned := make(chan struct{})
	cl := kafkatest.Client(t, seeds, append([]kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case <-assigned:
			default:
				close(assigned)
			}
		}),
	}, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() {
				return
			}
			if fs.NumRecords() > 0 {
				_ = cl.CommitUncommittedOffsets(ctx)
			}
		}
	}()
	select {
	case <-assigned:
	case <-time.After(30 * time.Second):
		t.Fatalf("member of %s got no assignment within 30s", group)
	}
}

// TestReadingLeavesGroupsUntouched is the contract "reading never changes the
// system": without a group, no read of any kind creates, joins or commits to a
// consumer group.
func TestReadingLeavesGroupsUntouched(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		c := newClient(t, seeds)
		adm := kafkatest.Admin(t, seeds)
		topic := kafkatest.NewTopic(t, seeds, 2)
		kafkatest.Produce(t, seeds, rec(topic, 0, "a"), rec(topic, 1, "b"), rec(topic, 0, "c"))
		idle, live := kafkatest.UniqueName(t)+"-idle", kafkatest.UniqueName(t)+"-live"

		// A group with committed offsets and no members, and one with an
		// active member (on a topic nothing is written to during the test,
		// so that its own commits stay put).
		if _, err := adm.CommitOffsets(ctxT(t), idle, kadm.OffsetsFromRecords(kgo.Record{Topic: topic, Partition: 0, Offset: 0})); err != nil {
			t.Fatal(err)
		}
		quiet := kafkatest.NewTopic(t, seeds, 1)
		kafkatest.Produce(t, seeds, rec(quiet, 0, "q"))
		activeMember(t, seeds, live, quiet)
		kafkatest.WaitFor(t, 30*time.Second, live+" to commit", func() bool {
			offs, err := adm.FetchOffsets(ctxT(t), live)
			if err != nil {
				return false
			}
			o, ok := offs.Lookup(quiet, 0)
			return ok && o.At == 1
		})

		var keep func(string, kadm.OffsetResponses) bool
		if !strings.HasSuffix(t.Name(), "/kfake") {
			keep = func(g string, offs kadm.OffsetResponses) bool {
				_, onTopic := offs[topic]
				return g == idle || g == live || onTopic
			}
		}
		before := groupsSnapshot(t, adm, keep)
		readAll(t, open(t, c, []bus.Address{topicAddr(topic)}, snapshot()))
		readAll(t, open(t, c, []bus.Address{regexAddr(t, topic+"|"+quiet)}, bus.ReadOptions{From: posRelative(1), Until: posEnd}))
		liveRead := open(t, c, []bus.Address{topicAddr(topic)}, bus.ReadOptions{})
		kafkatest.Produce(t, seeds, rec(topic, 1, "d"))
		readN(t, liveRead, 1)
		if err := liveRead.Close(); err != nil {
			t.Fatal(err)
		}
		after := groupsSnapshot(t, adm, keep)
		if len(before) < 3 || !reflect.DeepEqual(before, after) {
			t.Fatalf("groups changed by reading:\nbefore %q\nafter  %q", before, after)
		}
	})
}

func TestGroupActiveRefused(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		t.Run("classic", func(t *testing.T) { testGroupActiveRefused(t, seeds) })
		// KIP-848 groups, whose members the broker assigns.
		t.Run("consumer", func(t *testing.T) {
			testGroupActiveRefused(t, seeds, kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
		})
	})
}

func testGroupActiveRefused(t *testing.T, seeds []string, memberOpts ...kgo.Opt) {
	c := newClient(t, seeds)
	topic := kafkatest.NewTopic(t, seeds, 2)
	busy := kafkatest.UniqueName(t)
	activeMember(t, seeds, busy, topic, memberOpts...)

	_, err := c.Source(ctxT(t), []bus.Address{topicAddr(topic)}, bus.ReadOptions{Group: busy})
	var ga *kafka.GroupActiveError
	if !errors.As(err, &ga) || ga.Group != busy || ga.Members != 1 {
		t.Fatalf("err = %v, want GroupActiveError for %s with 1 member", err, busy)
	}
	want := `kafka: group "` + busy + `" has 1 active member; reading as it would steal their partitions (use --force)`
	if err.Error() != want {
		t.Fatalf("message %q, want %q", err.Error(), want)
	}
	if msg := (&kafka.GroupActiveError{Group: "g", Members: 2}).Error(); msg != `kafka: group "g" has 2 active members; reading as it would steal their partitions (use --force)` {
		t.Fatalf("plural message %q", msg)
	}

	// With Force, eddy joins as a second member and gets one of the two
	// partitions: keep writing to both until it reads something.
	src, err := c.Source(ctxT(t), []bus.Address{topicAddr(topic)}, bus.ReadOptions{Group: busy, Force: true, From: posBeginning})
	if err != nil {
		t.Fatalf("with Force: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		kafkatest.Produce(t, seeds, rec(topic, 0, "x"), rec(topic, 1, "y"))
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		evs, err := src.Next(ctx)
		cancel()
		if len(evs) > 0 {
			break
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next as a forced member: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("read nothing in 30s as a forced second member of the group")
		}
	}
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestGroupConsume: reading as an idle group commits what was read, and the
// next read as the group resumes where it stopped.
func TestGroupConsume(t *testing.T) {
	eachCluster(t, testGroupConsume)
}

func testGroupConsume(t *testing.T, seeds []string) {
	c := newClient(t, seeds)
	adm := kafkatest.Admin(t, seeds)
	topic := kafkatest.NewTopic(t, seeds, 2)
	kafkatest.Produce(t, seeds, rec(topic, 0, "a"), rec(topic, 1, "b"), rec(topic, 0, "c"))
	group := kafkatest.UniqueName(t)
	opts := bus.ReadOptions{Group: group, From: posBeginning, Until: posEnd}

	src := open(t, c, []bus.Address{topicAddr(topic)}, opts)
	if got := readAll(t, src); len(got) != 3 {
		t.Fatalf("first read as the group: %d events, want 3", len(got))
	}
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	offs, err := adm.FetchOffsets(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	o0, _ := offs.Lookup(topic, 0)
	o1, _ := offs.Lookup(topic, 1)
	if o0.At != 2 || o1.At != 1 {
		t.Fatalf("committed %d and %d after Close, want 2 and 1 (the ends)", o0.At, o1.At)
	}

	if got := readAll(t, open(t, c, []bus.Address{topicAddr(topic)}, opts)); len(got) != 0 {
		t.Fatalf("second read as the group: %d events, want none", len(got))
	}
	kafkatest.Produce(t, seeds, rec(topic, 1, "d"), rec(topic, 0, "e"))
	got := readAll(t, open(t, c, []bus.Address{topicAddr(topic)}, opts))
	if vals := values(got); vals != "d e" {
		t.Fatalf("third read as the group: %q, want the two new records", vals)
	}
}

// values lists the events' values, sorted.
func values(evs []event.Event) string {
	var vals []string
	for _, e := range evs {
		vals = append(vals, string(e.Value))
	}
	sort.Strings(vals)
	return strings.Join(vals, " ")
}
