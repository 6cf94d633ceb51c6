package inspect

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func listFixture() ([]TopicRow, []QueueRow) {
	rate := 1.5
	zero := 0.0
	topics := []TopicRow{
		{Name: "orders", Partitions: 3, Replicas: 1, Messages: 1234, StartOffsets: []int64{0, 0, 0}, EndOffsets: []int64{400, 410, 424}},
		{Name: "__consumer_offsets", Partitions: 2, Replicas: 1, Messages: 7, StartOffsets: []int64{0, 0}, EndOffsets: []int64{3, 4}, Internal: true},
		{Name: "注文", Partitions: 1, Replicas: 3, Messages: 0, StartOffsets: []int64{5}, EndOffsets: []int64{5}},
	}
	queues := []QueueRow{
		{Name: "orders.q", Vhost: "/", Type: "classic", Ready: 5, Unacked: 2, Consumers: 1, PublishRate: &rate, DeliverRate: &zero,
			Via: "management", DeadLetterExchange: "dlx"},
		{Name: "payments.stream", Vhost: "shop", Type: "stream", Ready: 100000, Via: "declare"},
	}
	return topics, queues
}

func writeList(t *testing.T, topics []TopicRow, queues []QueueRow, o ListOptions) string {
	t.Helper()
	var out bytes.Buffer
	if err := WriteList(&out, topics, queues, o); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestWriteListTable(t *testing.T) {
	topics, queues := listFixture()
	got := writeList(t, topics, queues, ListOptions{Format: "table"})
	want := `TOPIC                          PARTITIONS  REPLICAS  MESSAGES  END OFFSETS
orders                                  3         1      1234  400,410,424
__consumer_offsets (internal)           2         1         7  3,4
注文                                    1         3         0  5

QUEUE            VHOST  TYPE      READY  UNACKED  CONSUMERS  IN/S  OUT/S  DEAD-LETTER EXCHANGE
orders.q         /      classic       5        2          1   1.5    0.0  dlx
payments.stream  shop   stream   100000        0          0     -      -
`
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}

	// Colour only adds SGR around whole lines; width clips by cells.
	colored := writeList(t, topics, nil, ListOptions{Format: "table", Color: true, Width: 30})
	lines := strings.Split(strings.TrimSuffix(colored, "\n"), "\n")
	if !strings.HasPrefix(lines[0], sgrBold+"TOPIC") || !strings.HasPrefix(lines[2], sgrDim+"__consumer") {
		t.Errorf("colours: %q", colored)
	}
	for _, l := range lines {
		if w := CellWidth(l); w > 30 {
			t.Errorf("line %q is %d cells wide", l, w)
		}
	}

	// Many partitions: the table elides, tsv and json keep all.
	many := TopicRow{Name: "wide", Partitions: 12, EndOffsets: make([]int64, 12)}
	if got := writeList(t, []TopicRow{many}, nil, ListOptions{}); !strings.Contains(got, "0,0,0,0,0,0,0,0,… (4 more)") {
		t.Errorf("elision: %q", got)
	}
	if got := writeList(t, nil, nil, ListOptions{}); got != "" {
		t.Errorf("empty table: %q", got)
	}
}

func TestWriteListTSV(t *testing.T) {
	topics, queues := listFixture()
	queues = append(queues, QueueRow{Name: "tab\there", Vhost: "/", Type: "quorum", Via: "declare"})
	got := writeList(t, topics, queues, ListOptions{Format: "tsv"})
	want := "topic\tpartitions\treplicas\tmessages\tstart_offsets\tend_offsets\tinternal\n" +
		"orders\t3\t1\t1234\t0,0,0\t400,410,424\tfalse\n" +
		"__consumer_offsets\t2\t1\t7\t0,0\t3,4\ttrue\n" +
		"注文\t1\t3\t0\t5\t5\tfalse\n" +
		"\n" +
		"queue\tvhost\ttype\tready\tunacked\tconsumers\tpublish_rate\tdeliver_rate\tdead_letter_exchange\tvia\n" +
		"orders.q\t/\tclassic\t5\t2\t1\t1.5\t0\tdlx\tmanagement\n" +
		"payments.stream\tshop\tstream\t100000\t0\t0\t\t\t\tdeclare\n" +
		`tab\there` + "\t/\tquorum\t0\t0\t0\t\t\t\tdeclare\n"
	if got != want {
		t.Errorf("tsv:\n%q\nwant:\n%q", got, want)
	}
}

func TestWriteListJSON(t *testing.T) {
	topics, queues := listFixture()
	got := writeList(t, topics[:1], queues, ListOptions{Format: "json"})
	want := `{"v":1,"topics":[{"name":"orders","partitions":3,"replicas":1,"messages":1234,"start_offsets":[0,0,0],"end_offsets":[400,410,424],"internal":false}],` +
		`"queues":[{"queue":"orders.q","vhost":"/","type":"classic","ready":5,"unacked":2,"consumers":1,"publish_rate":1.5,"deliver_rate":0,"dead_letter_exchange":"dlx","via":"management"},` +
		`{"queue":"payments.stream","vhost":"shop","type":"stream","ready":100000,"unacked":0,"consumers":0,"publish_rate":null,"deliver_rate":null,"dead_letter_exchange":"","via":"declare"}]}` + "\n"
	if got != want {
		t.Errorf("json:\n%s\nwant:\n%s", got, want)
	}
	if got := writeList(t, nil, nil, ListOptions{Format: "json"}); got != `{"v":1,"topics":[],"queues":[]}`+"\n" {
		t.Errorf("empty json: %s", got)
	}
	// Hostile and invalid names still give valid JSON that decodes.
	got = writeList(t, []TopicRow{{Name: "a\x1b[2J\xff\"\\\u202e"}}, nil, ListOptions{Format: "json"})
	var v struct {
		Topics []struct{ Name string } `json:"topics"`
	}
	if err := json.Unmarshal([]byte(got), &v); err != nil || v.Topics[0].Name != "a\x1b[2J\ufffd\"\\\u202e" {
		t.Errorf("json of a hostile name: %s (%v)", got, err)
	}
}

func TestWriteListBadFormat(t *testing.T) {
	err := WriteList(&bytes.Buffer{}, nil, nil, ListOptions{Format: "yaml"})
	if err == nil || !strings.Contains(err.Error(), "valid: table, tsv, json") {
		t.Errorf("err = %v", err)
	}
}
