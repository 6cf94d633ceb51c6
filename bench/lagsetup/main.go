// Command lagsetup builds the fixture of bench/lag.sh: TOPICS topics of
// PARTITIONS partitions each, RECORDS records per partition, and GROUPS consumer
// groups that each committed, on GROUP_TOPICS of the topics, offsets that
// leave each partition a different lag. With -kfake it starts an in-process
// kfake cluster first, prints its address and serves until stdin closes.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "", "Kafka to seed (host:port,...); empty with -kfake")
	useKfake := flag.Bool("kfake", false, "start an in-process kfake cluster, seed it, print its address, serve until stdin closes")
	prefix := flag.String("prefix", fmt.Sprintf("bench-lag-%d", time.Now().Unix()), "name prefix of topics and groups")
	topics := flag.Int("topics", 20, "topics")
	partitions := flag.Int("partitions", 50, "partitions per topic")
	records := flag.Int("records", 20, "records per partition")
	groups := flag.Int("groups", 50, "consumer groups")
	groupTopics := flag.Int("group-topics", 4, "topics each group committed to")
	cleanup := flag.Bool("cleanup", false, "delete the topics and groups whose names start with -prefix, and exit")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("lagsetup: ")

	if *useKfake {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		*brokers = strings.Join(c.ListenAddrs(), ",")
	}
	seeds := strings.Split(*brokers, ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if *cleanup {
		deleteFixture(ctx, adm, *prefix)
		return
	}
	names := make([]string, *topics)
	for i := range names {
		names[i] = fmt.Sprintf("%s-t%02d", *prefix, i)
	}
	resp, err := adm.CreateTopics(ctx, int32(*partitions), 1, nil, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		log.Fatalf("creating topics: %v", err)
	}
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		md, err := adm.Metadata(ctx, names...)
		ready := err == nil
		for _, n := range names {
			td := md.Topics[n]
			ready = ready && td.Err == nil && len(td.Partitions) == *partitions
			for _, p := range td.Partitions {
				ready = ready && p.Leader >= 0
			}
		}
		if ready {
			break
		}
		if time.Since(start) > time.Minute {
			log.Fatal("topics never got leaders")
		}
	}
	var recs []*kgo.Record
	for _, n := range names {
		for p := range *partitions {
			for i := range *records {
				recs = append(recs, &kgo.Record{Topic: n, Partition: int32(p), Value: fmt.Appendf(nil, "record %d of a lag benchmark", i)})
			}
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		log.Fatalf("producing: %v", err)
	}
	for g := range *groups {
		var offs kadm.Offsets
		for k := range *groupTopics {
			t := names[(g+k*(*topics / *groupTopics))%*topics]
			for p := range *partitions {
				offs.AddOffset(t, int32(p), int64((g+p)%(*records+1)), -1)
			}
		}
		group := fmt.Sprintf("%s-g%02d", *prefix, g)
		if err := adm.CommitAllOffsets(ctx, group, offs); err != nil {
			log.Fatalf("committing for %s: %v", group, err)
		}
	}
	log.Printf("%d topics x %d partitions, %d records each, %d groups on %d topics each", *topics, *partitions, *records, *groups, *groupTopics)
	fmt.Println(*brokers)
	if *useKfake {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin)) // serve until stdin closes
	}
}

// deleteFixture deletes what an earlier run left on a shared broker.
func deleteFixture(ctx context.Context, adm *kadm.Client, prefix string) {
	ts, err := adm.ListTopics(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var topics []string
	for _, t := range ts.Names() {
		if strings.HasPrefix(t, prefix) {
			topics = append(topics, t)
		}
	}
	if len(topics) > 0 {
		if _, err := adm.DeleteTopics(ctx, topics...); err != nil {
			log.Fatal(err)
		}
	}
	gs, err := adm.ListGroups(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var groups []string
	for _, g := range gs.Groups() {
		if strings.HasPrefix(g, prefix) {
			groups = append(groups, g)
		}
	}
	if len(groups) > 0 {
		if _, err := adm.DeleteGroups(ctx, groups...); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("deleted %d topics and %d groups starting with %s", len(topics), len(groups), prefix)
}
