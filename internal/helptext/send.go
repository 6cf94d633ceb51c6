package helptext

// Send is eddy send's long help.
const Send = `Put events on a Kafka topic or a RabbitMQ exchange or queue, and return once
the broker confirmed every one: a test event for a flow, a fixture, a small load.

ADDRESS
  kafka:TOPIC             a Kafka topic (partition by key, or --partition)
  amqp:QUEUE              a RabbitMQ queue, through the default exchange
  amqp:exchange/EX/KEY    a RabbitMQ exchange with routing key KEY (or
                          amqp:exchange/EX and --routing-key KEY)

INPUT
  FILE...         one event per file: the file's bytes are the value
  - or nothing    standard input, one event per line (kcat -P's line mode);
                  -K DELIM splits each line into key DELIM value; empty lines
                  are skipped
  --lines FILE    FILE's lines, as standard input's
  file:CAPTURE    a capture in eddy's envelope format (what tail -o jsonl and
                  replay write; file:- is stdin): each event is sent with its
                  own key, headers and properties, byte for byte
  --count N sends N events (FILEs again from the first; lines and captures
  stop at N); --rate R at most R per second.

PLACEHOLDERS
  In a value, a key (-k, -K), a header value (-H) and --message-id:
    {{uuid}}  a fresh random UUID for the event (every {{uuid}} of one event
              is the same, so an event id and a correlation id agree)
    {{now}}   the time the event is made, RFC 3339 in UTC, with milliseconds
    {{seq}}   the event's number in this run, from 1
  Nothing else between braces is touched, so JSON and other templates are
  safe. --no-template sends the bytes as they are. A capture's events are
  never changed.

IDS
  --print-id prints each event's id on stdout as the broker confirms it, one
  per line: the id eddy trace and eddy expect know the event by (the
  context's schema: ce_id, "event_id", "id", message_id, ...). An event in
  which no id is found is refused (exit 2). Feed them to expect:
    eddy send kafka:orders order.json --print-id > ids
    eddy expect 'OrderPlaced -> OrderShipped within 10s' kafka:/.*/ --for-id @ids

TRACE CONTEXT AND CLOUDEVENTS
  --traceparent new starts a W3C trace per event (a traceparent header);
  --traceparent (or --parent) 00-TRACE-SPAN-01 makes each event a new span
  of that trace. --ce-type TYPE adds CloudEvents binary-mode headers, as the
  demo's services write them: ce_specversion, ce_id ({{uuid}} unless
  --ce-id), ce_source (--ce-source), ce_type, ce_time, ce_subject.

SCHEMAS
  --encode turns each value, JSON, into its subject's schema in the Schema
  Registry (--schema-registry, EDDY_SCHEMA_REGISTRY or the context): Avro
  (Avro's JSON encoding: unions as plain values, timestamps as numbers),
  Protobuf (proto3 JSON; --proto-message picks the message) or JSON Schema
  (validated), in the Confluent wire format. The subject is TOPIC-value
  (TopicNameStrategy) or --subject, at --schema-version (default latest). A
  value that does not fit is refused before it is sent, naming the field
  (exit 2). Keys are sent as they are.

GUARANTEES
  Kafka: acks from all in-sync replicas and the idempotent producer (a retry
  neither duplicates nor reorders), batches as librdkafka's (1 MB, 5 ms).
  RabbitMQ: publisher confirms and the mandatory flag: a message that no
  queue takes is returned by the broker, and eddy says so (exit 3) instead of
  succeeding. When some events fail, eddy says which landed (#index ranges)
  and which did not, with their ids.

Exit 0 when every event was confirmed; 2 for bad input (an event refused
before sending: a value that does not fit its schema, no id with --print-id);
3 when the broker did not confirm some events (unroutable, nacked, or their
outcome is unknown); 4 when the broker or the registry cannot be reached.`

// SendExample is eddy send's examples.
const SendExample = `  # one event per file, on the demo
  eddy send kafka:orders order.json --context demo
  # lines of stdin, key before the first ':'
  printf 'ord-1:{"n":1}\nord-2:{"n":2}\n' | eddy send kafka:orders -K : --context demo
  # a flow test: send, then expect the flow this event starts
  eddy send kafka:orders order.json --print-id --context demo > ids
  eddy expect 'OrderPlaced -> OrderShipped within 10s' kafka:/.*/ --for-id @ids --context demo
  # a RabbitMQ exchange, confirmed and routed, or exit 3
  eddy send amqp:exchange/shop.orders/OrderPlaced order.json --persistent --message-id '{{uuid}}'
  # Avro through the registry, the subject orders-value
  eddy send kafka:orders order.json --encode --schema-registry http://127.0.0.1:8081
  # a capture back onto a topic, with its keys and headers
  eddy send kafka:orders file:orders.jsonl`
