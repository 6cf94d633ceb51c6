package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

type kafkaShop struct {
	d       *Demo
	cluster *kfake.Cluster
	addr    string
	wg      sync.WaitGroup
	// codec writes and reads the events' values; reg is the schema registry
	// of a framed format (nil for plain JSON).
	codec codec
	reg   *registry
}

// How long the demo's topics keep records.
const (
	retentionEvents      = 30 * time.Minute
	retentionDeadLetters = 24 * time.Hour
)

// How much they keep, by size: kfake holds every record in memory until
// retention deletes it, so half an hour at a high --rate (or a day of dead
// letters) alone would not bound a demo left open. retention.bytes is per
// partition in Kafka; these are the totals, shared among the partitions.
// Variables so that tests can make them small.
var (
	retainEventBytes      int64 = 64 << 20 // the five event topics together
	retainDeadLetterBytes int64 = 16 << 20 // the two dead-letter topics together
)

// maxSegmentBytes bounds the demo's log segments. kfake frees a segment only
// once retention passed all of it, and its default segment is 100 MiB per
// partition: with the default, memory would grow by that much per partition
// before retention ever gave any back.
const maxSegmentBytes = 1 << 20

// topicRetention returns the configs that bound one of the demo's topics by
// time and size, budget shared among parts partitions.
func topicRetention(age time.Duration, budget int64, parts int) map[string]*string {
	perPartition := max(budget/int64(parts), 1)
	segment := min(maxSegmentBytes, max(perPartition/4, 16<<10))
	return map[string]*string{
		"retention.ms":    ptr(strconv.FormatInt(age.Milliseconds(), 10)),
		"retention.bytes": ptr(strconv.FormatInt(perPartition, 10)),
		"segment.bytes":   ptr(strconv.FormatInt(segment, 10)),
	}
}

// portSearch is how many ports above the asked one are tried before giving up.
const portSearch = 100

func startKafka(ctx context.Context, d *Demo) (*kafkaShop, error) {
	c := d.cfg
	opts := []kfake.Opt{
		kfake.NumBrokers(1), kfake.ClusterID("eddy-demo"), kfake.DefaultNumPartitions(c.Partitions),
		// Apply the topics' retention every minute rather than every hour, so
		// a demo left running keeps a bounded amount of data in memory.
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "60000"}),
	}
	if c.Port != 0 {
		opts = append(opts, kfake.Ports(c.Port), kfake.ListenFn(listenFrom))
	}
	if c.DataDir != "" {
		opts = append(opts, kfake.DataDir(c.DataDir))
	}
	var reg *registry
	var cod codec = plainCodec{}
	if c.Format.framed() {
		var err error
		if reg, err = startRegistry(c.Format, c.RegistryPort); err != nil {
			return nil, err
		}
		cod = reg.codec
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		if reg != nil {
			reg.stop()
		}
		return nil, fmt.Errorf("demo: start Kafka: %w", err)
	}
	k := &kafkaShop{d: d, cluster: cluster, addr: cluster.ListenAddrs()[0], codec: cod, reg: reg}
	if err := k.createTopics(ctx); err != nil {
		k.closeServers()
		return nil, err
	}
	for i, svc := range shopServices {
		for r := range c.Replicas {
			fair := &fairFetch{ctl: d.controls[svc.name]}
			cl, err := k.newClient(fmt.Sprintf("%s-%d", svc.name, r), svc, fair)
			if err != nil {
				d.cancel()
				k.stop()
				return nil, err
			}
			rng := newRand(c.Seed, uint64(100+i*32+r))
			k.wg.Go(func() { k.runService(ctx, cl, svc, r, rng, fair) })
		}
	}
	cl, err := k.newClient("orders", nil, nil)
	if err != nil {
		d.cancel()
		k.stop()
		return nil, err
	}
	k.wg.Go(func() { k.runOrders(ctx, cl) })
	return k, nil
}

// stop runs after the demo's context ended: every client goroutine returns and
// closes its client (leaving its group), then the cluster goes.
func (k *kafkaShop) stop() {
	k.wg.Wait()
	k.closeServers()
}

// closeServers closes the cluster and the schema registry.
func (k *kafkaShop) closeServers() {
	k.cluster.Close()
	if k.reg != nil {
		k.reg.stop()
	}
}

// listenFrom listens on the asked port, or the next free one above it: a second
// demo, or a local Kafka on 9092, should not stop `eddy demo` from starting.
func listenFrom(network, address string) (net.Listener, error) {
	host, p, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, err
	}
	var first error
	for q := port; q <= port+portSearch && q <= 65535; q++ {
		ln, err := net.Listen(network, net.JoinHostPort(host, strconv.Itoa(q)))
		if err == nil {
			return ln, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, fmt.Errorf("no free port from %d to %d: %w", port, min(port+portSearch, 65535), first)
}

func (k *kafkaShop) createTopics(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	parts := int32(k.d.cfg.Partitions)
	// Spring's recoverer writes to the failed record's partition, so its DLT
	// needs as many partitions as the source; Connect creates its DLQ with one.
	want := map[string]int32{
		TopicOrders: parts, TopicPayments: parts, TopicInventory: parts, TopicShipping: parts,
		TopicNotifications: parts, TopicPaymentsDLT: parts, TopicInventoryDLQ: 1,
	}
	for topic, n := range want {
		// Half an hour of events (about 100 MB at the default rate) is plenty
		// to explore; dead letters are few and wait a day for a redrive. Both
		// are bounded by size too (retainEventBytes, retainDeadLetterBytes).
		cfgs := topicRetention(retentionEvents, retainEventBytes, 5*int(parts))
		if topic == TopicPaymentsDLT || topic == TopicInventoryDLQ {
			cfgs = topicRetention(retentionDeadLetters, retainDeadLetterBytes/2, int(n))
		}
		resp, err := adm.CreateTopic(ctx, n, 1, cfgs, topic)
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			// A kept data directory already has it, perhaps from a demo
			// that bounded it by time alone.
			var alter []kadm.AlterConfig
			for k, v := range cfgs {
				alter = append(alter, kadm.AlterConfig{Name: k, Value: v})
			}
			resps, aerr := adm.AlterTopicConfigs(ctx, alter, topic)
			if aerr == nil {
				var r kadm.AlterConfigsResponse
				if r, aerr = resps.On(topic, nil); aerr == nil {
					aerr = r.Err
				}
			}
			err = aerr
		}
		if err != nil {
			return fmt.Errorf("demo: create topic %s: %w", topic, err)
		}
	}
	return nil
}

// dltPartitioner honours Record.Partition for the dead-letter topic (Spring sets
// it explicitly) and otherwise hashes keys with murmur2, as Java producers do,
// so an order keeps its partition number across topics.
type dltPartitioner struct{ manual, keyed kgo.Partitioner }

func (p dltPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	if t == TopicPaymentsDLT {
		return p.manual.ForTopic(t)
	}
	return p.keyed.ForTopic(t)
}

// A consuming client's fetch limits, kgo's defaults, set explicitly so that
// Resume can restore them after Slow lowered them.
const (
	fetchMaxBytes          = 50 << 20
	fetchMaxPartitionBytes = 1 << 20
)

// fairFetch orders a slowed instance's fetches: the partition it handled a
// record of least recently first. A slowed instance fetches one record batch
// at a time (runService), the first batch of the first partition with data,
// so this order makes it take its partitions in turn: it falls behind on
// every partition with its commits moving on all of them (lag WARN). kgo's
// own rotation is not enough: it also rotates over partitions the instance
// lost in a rebalance, and starting on one of those always lands on the
// same first owned partition.
type fairFetch struct {
	ctl  *control
	mu   sync.Mutex
	seq  uint64
	last map[string]map[int32]uint64 // topic -> partition -> seq when last handled
}

// handled notes that a record of the partition was handled.
func (f *fairFetch) handled(topic string, partition int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last == nil {
		f.last = map[string]map[int32]uint64{}
	}
	if f.last[topic] == nil {
		f.last[topic] = map[int32]uint64{}
	}
	f.seq++
	f.last[topic][partition] = f.seq
}

// order is a kgo.PreferLagFn: while the service is slowed, the least
// recently handled partitions first (topics by their least recent partition);
// otherwise kgo's order.
func (f *fairFetch) order(_ map[string]map[int32]int64, torder []string, porder map[string][]int32) ([]string, map[string][]int32) {
	if !f.ctl.isSlow() {
		return torder, porder
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	oldest := map[string]uint64{}
	out := make(map[string][]int32, len(porder))
	for _, t := range torder {
		ps := slices.Clone(porder[t])
		slices.SortStableFunc(ps, func(a, b int32) int { return cmp.Compare(f.last[t][a], f.last[t][b]) })
		out[t] = ps
		if len(ps) > 0 {
			oldest[t] = f.last[t][ps[0]]
		}
	}
	topics := slices.Clone(torder)
	slices.SortStableFunc(topics, func(a, b string) int { return cmp.Compare(oldest[a], oldest[b]) })
	return topics, out
}

// newClient makes one service instance's client: a group consumer when svc is
// set (its fetches ordered by fair), and always a producer.
func (k *kafkaShop) newClient(id string, svc *service, fair *fairFetch) (*kgo.Client, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.addr),
		kgo.ClientID("shop-" + id),
		kgo.RecordPartitioner(dltPartitioner{manual: kgo.ManualPartitioner(), keyed: kgo.StickyKeyPartitioner(nil)}),
		kgo.ProducerLinger(2 * time.Millisecond),
	}
	if svc != nil {
		opts = append(opts,
			kgo.ConsumerGroup(svc.group),
			kgo.ConsumeTopics(svc.input...),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			// Commit only after what a batch produced was acknowledged
			// (at least once), and never across a rebalance.
			kgo.DisableAutoCommit(),
			kgo.BlockRebalanceOnPoll(),
			kgo.SessionTimeout(10*time.Second),
			kgo.HeartbeatInterval(500*time.Millisecond),
			kgo.FetchMaxWait(250*time.Millisecond),
			kgo.FetchMaxBytes(fetchMaxBytes),
			kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
			kgo.ConsumePreferringLagFn(fair.order),
			// Full fetch requests, whose partition order the broker
			// answers in: in an incremental fetch session a request names
			// only the partitions that changed, so the one just fetched
			// came first again and a slowed instance read only it.
			kgo.DisableFetchSessions(),
		)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("demo: kafka client %s: %w", id, err)
	}
	return cl, nil
}

// runService is one instance of a consuming service: poll, handle each
// partition's records in order (partitions in parallel), wait until everything
// produced is acknowledged, commit, repeat.
func (k *kafkaShop) runService(ctx context.Context, cl *kgo.Client, svc *service, replica int, rng *lockedRand, fair *fairFetch) {
	defer cl.CloseAllowingRebalance()
	ctl := k.d.controls[svc.name]
	fetchingSlow := false
	for ctl.waitRunnable(ctx) {
		slow := ctl.isSlow()
		max := 500
		if slow {
			max = 5
		}
		// A slowed instance fetches one record batch at a time, in the
		// order fairFetch gives, so that it takes its partitions in turn.
		// With whole fetches (a MiB a partition) it worked through one
		// partition's backlog while the others' commits stood still (lag
		// ERR, STALL).
		if slow != fetchingSlow {
			fetchingSlow = slow
			if slow {
				cl.UpdateFetchMaxBytes(1, 1)
			} else {
				cl.UpdateFetchMaxBytes(fetchMaxBytes, fetchMaxPartitionBytes)
			}
		}
		fs := cl.PollRecords(ctx, max)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			k.d.cfg.Logf("demo: %s: fetch %s[%d]: %v", svc.name, t, p, err)
		})
		var recs []*kgo.Record
		if slow {
			// One at a time, at a pace that cannot keep up.
			recs = fs.Records()
			for _, r := range recs {
				if !sleep(ctx, k.slowDelay()) {
					return
				}
				k.handle(ctx, cl, svc, replica, rng, r)
				fair.handled(r.Topic, r.Partition)
			}
		} else {
			var wg sync.WaitGroup
			fs.EachPartition(func(p kgo.FetchTopicPartition) {
				recs = append(recs, p.Records...)
				wg.Go(func() {
					for _, r := range p.Records {
						k.handle(ctx, cl, svc, replica, rng, r)
					}
				})
			})
			wg.Wait()
		}
		if len(recs) > 0 {
			if err := cl.Flush(ctx); err != nil {
				cl.AllowRebalance()
				continue
			}
			// A Stall that arrived mid-batch wins: the batch is done but not
			// committed, as in a consumer that hangs before its commit.
			if ctl.waitRunnable(ctx) {
				if err := cl.CommitRecords(ctx, recs...); err != nil && ctx.Err() == nil {
					k.d.cfg.Logf("demo: %s: commit: %v", svc.name, err)
				}
			}
		}
		cl.AllowRebalance()
	}
}

// slowDelay paces a slowed service instance so that all its instances together
// handle about 30% of the configured order rate.
func (k *kafkaShop) slowDelay() time.Duration {
	return time.Duration(float64(k.d.cfg.Replicas) / (0.3 * k.d.cfg.Rate) * float64(time.Second))
}

// handle is one service handling one record: decode (dead-lettering what cannot
// be read), skip types it does not handle, take its processing time, then emit
// its events or dead-letter the record.
func (k *kafkaShop) handle(ctx context.Context, cl *kgo.Client, svc *service, replica int, rng *lockedRand, rec *kgo.Record) {
	d := k.d
	in, p, fail := k.codec.decode(rec.Value)
	if fail == nil && !svc.accepts[in.Type] {
		return
	}
	lat, ok := d.cfg.Latency[svc.name]
	if !ok {
		lat = DefaultLatency(svc.name)
	}
	if !sleep(ctx, lat.sample(rng)) {
		return
	}
	ctx, span := d.startProcess(ctx, kafkaCarrier{&rec.Headers}, svc, "kafka", rec.Topic)
	if fail == nil {
		var outs []*outEvent
		outs, fail = svc.handle(rng, d.cfg.FailRate, in, p)
		for _, o := range outs {
			k.produce(ctx, cl, svc.name, svc.output, in, o, rng)
		}
	}
	if fail != nil {
		k.deadLetter(ctx, cl, svc, replica, rec, fail)
	}
	endSpan(span, errIf(fail))
}

func errIf(f *failure) error {
	if f == nil {
		return nil
	}
	return f
}

// produce writes one event, with its CloudEvents headers and the traceparent
// of the span in ctx.
func (k *kafkaShop) produce(ctx context.Context, cl *kgo.Client, source, topic string, cause *body, o *outEvent, rng *lockedRand) {
	now := k.d.cfg.Now()
	b := newBody(rng, now, o.typ, o.p.OrderID, cause)
	v, err := k.codec.encode(topic, b, &o.p)
	if err != nil {
		// The shop's own schemas fit its own events; this is a bug.
		k.d.cfg.Logf("demo: %s: encode %s for %s: %v", source, o.typ, topic, err)
		return
	}
	rec := &kgo.Record{Topic: topic, Key: []byte(b.CorrelationID), Value: v, Timestamp: now, Headers: ceHeaders(b, source, k.codec.contentType())}
	propagator.Inject(ctx, kafkaCarrier{&rec.Headers})
	cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
		if err != nil {
			if ctx.Err() == nil {
				k.d.cfg.Logf("demo: %s: produce %s: %v", source, topic, err)
			}
			return
		}
		k.d.stats.event(o.typ)
	})
}

// ceHeaders are the CloudEvents Kafka protocol binding's binary-mode headers.
// contentType is the value's: the JSON event, or the binary encoding of a
// framed format.
func ceHeaders(b *body, source, contentType string) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")},
		{Key: "ce_id", Value: []byte(b.EventID)},
		{Key: "ce_source", Value: []byte("/shop/" + source)},
		{Key: "ce_type", Value: []byte(b.Type)},
		{Key: "ce_time", Value: []byte(b.OccurredAt)},
		{Key: "content-type", Value: []byte(contentType)},
	}
}

func (k *kafkaShop) deadLetter(ctx context.Context, cl *kgo.Client, svc *service, replica int, rec *kgo.Record, f *failure) {
	var dl *kgo.Record
	switch svc.name {
	case "payments":
		dl = springDeadLetter(rec, TopicPaymentsDLT, svc.group, f, k.d.cfg.Now())
	case "inventory":
		dl = connectDeadLetter(rec, TopicInventoryDLQ, strings.TrimPrefix(svc.group, "connect-"), replica, f)
	default:
		// Services without a dead-letter topic log and skip, as a listener
		// with a logging error handler does.
		k.d.cfg.Logf("demo: %s: skipped %s[%d]@%d: %v", svc.name, rec.Topic, rec.Partition, rec.Offset, f)
		return
	}
	cl.Produce(ctx, dl, func(r *kgo.Record, err error) {
		if err != nil {
			if ctx.Err() == nil {
				k.d.cfg.Logf("demo: %s: dead-letter to %s: %v", svc.name, r.Topic, err)
			}
			return
		}
		k.d.stats.deadLetter(r.Topic)
	})
}

// runOrders places orders at the configured rate, with bursts, and now and then
// lets a legacy importer write a poison message.
func (k *kafkaShop) runOrders(ctx context.Context, cl *kgo.Client) {
	defer cl.Close()
	d := k.d
	rng := newRand(d.cfg.Seed, 1)
	pace(ctx, d.cfg, rng, func(n int64) {
		if d.cfg.PoisonEvery > 0 && n%int64(d.cfg.PoisonEvery) == int64(d.cfg.PoisonEvery)/10 {
			k.poison(ctx, cl, rng, (n/int64(d.cfg.PoisonEvery))%poisonKinds)
			return
		}
		k.placeOrder(ctx, cl, rng, false)
	})
}

func (k *kafkaShop) placeOrder(ctx context.Context, cl *kgo.Client, rng *lockedRand, evil bool) {
	id := "ord-" + rng.Hex(10)
	ctx, span := k.d.startOrder(ctx, "kafka", TopicOrders)
	k.produce(ctx, cl, "orders", TopicOrders, nil, &outEvent{typ: OrderPlaced, p: newOrder(rng, id, evil)}, rng)
	span.End()
}

func (k *kafkaShop) poison(ctx context.Context, cl *kgo.Client, rng *lockedRand, kind int64) {
	if kind == poisonEscapes {
		k.placeOrder(ctx, cl, rng, true)
		k.d.stats.poisoned()
		return
	}
	pm := newPoison(rng, k.d.cfg.Now(), kind)
	topic := TopicOrders
	if pm.typ == PaymentAuthorized {
		topic = TopicPayments
	}
	if kind == poisonTruncatedJSON && k.reg != nil {
		// In a framed format the importer writes the wire format too, and
		// crashes as far into it: the header is whole, the body is cut.
		v, err := k.codec.encode(topic, pm.b, pm.p)
		if err != nil {
			k.d.cfg.Logf("demo: legacy-importer: encode: %v", err)
			return
		}
		pm.value, pm.contentType = v[:len(v)*2/3], k.codec.contentType()
	}
	rec := &kgo.Record{Topic: topic, Key: []byte(pm.b.CorrelationID), Value: pm.value, Timestamp: pm.now, Headers: ceHeaders(pm.b, "legacy-importer", pm.contentType)}
	ctx, span := k.d.startOrder(ctx, "kafka", topic)
	propagator.Inject(ctx, kafkaCarrier{&rec.Headers})
	span.End()
	cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
		if err == nil {
			k.d.stats.poisoned()
		}
	})
}

// burstLength and burstFactor shape a burst: five times the rate for three
// seconds, like a flash sale or a batch import.
const (
	burstLength = 3 * time.Second
	burstFactor = 5
)

// pace calls place at cfg.Rate per second (times burstFactor during bursts),
// with n counting from 0, until ctx ends. Ticks are at least 5 ms apart, so a
// high rate places several orders per tick rather than spinning.
func pace(ctx context.Context, cfg Config, rng *lockedRand, place func(n int64)) {
	interval := max(time.Duration(float64(time.Second)/cfg.Rate), 5*time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	last := time.Now()
	var due float64
	var n int64
	nextBurst := func(from time.Time) time.Time {
		if cfg.BurstEvery <= 0 {
			return time.Time{}
		}
		return from.Add(time.Duration(rng.ExpFloat64() * float64(cfg.BurstEvery)))
	}
	burstAt := nextBurst(last)
	// The first order goes out at once, so a newcomer sees traffic immediately.
	due = 1
	for {
		now := time.Now()
		rate := cfg.Rate
		if !burstAt.IsZero() && !now.Before(burstAt) {
			if now.Before(burstAt.Add(burstLength)) {
				rate *= burstFactor
			} else {
				burstAt = nextBurst(now)
			}
		}
		due += rate * now.Sub(last).Seconds()
		last = now
		for ; due >= 1; due-- {
			if ctx.Err() != nil {
				return
			}
			place(n)
			n++
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
