package helptext

// Demo is eddy demo's long help: the shop, its topics and groups, the
// flags that shape it, its value formats, its retention and its RabbitMQ
// mode.
const Demo = `Start a Kafka cluster inside this process (franz-go's kfake, on 127.0.0.1) and a
small simulated shop on it, so every eddy command has a living system to work on,
with nothing installed. Its services consume and produce real events with real
consumer groups:

  orders -> OrderPlaced -> payments -> PaymentAuthorized | PaymentFailed
    -> inventory -> StockReserved | OutOfStock -> shipping -> OrderShipped
    -> notifications -> EmailSent

TOPICS
  orders payments inventory shipping notifications   the events (key = order id)
  payments.DLT    payments' failures, with Spring Kafka's kafka_dlt-* headers
  inventory-dlq   inventory's failures, with Kafka Connect's __connect.errors.* headers
GROUPS
  payments  connect-inventory  shipping  notifications

Events are JSON (event_id, type, occurred_at, correlation_id = the order,
causation_id = the event that caused it, payload) with CloudEvents ce_* headers
and a W3C traceparent that follows each order through every service. A share of
events fails and is dead-lettered (--fail-rate); now and then a poison message
arrives: truncated JSON, an Avro record, or an order whose customer name holds
terminal escape sequences. Orders come at --rate per second, with bursts.

FORMATS
  --format plain (the default) writes the JSON above. --format avro, protobuf or
  json (JSON Schema) writes the Confluent wire format instead: magic byte 0, the
  schema id, for Protobuf the message-index array, then the body. The schemas
  live in a Schema Registry inside this process (franz-go's srfake, on
  127.0.0.1:--registry-port, 8081 or the next free port), one per topic under
  the subject <topic>-value; the banner says where. Avro has a uuid, a
  timestamp-millis, decimals, a nested record and a union of records; Protobuf
  imports shop/common.proto (its own subject, referenced by version) and
  google.protobuf.Timestamp, and payments and inventory nest their two event
  messages (indexes [0,0] and [0,1]). The services decode what they read with
  the same schemas; ids and CloudEvents headers are as with JSON. The poison
  is then a frame cut short, the legacy Avro record under an id the registry
  does not have, and the order with escape sequences. The schemas go when the
  demo stops: with --data-dir, records kept from a run in another format name
  ids this run's registry does not have. Kafka only: --format with --amqp is a
  usage error.

--slow SERVICE makes that consumer fall behind, so its lag grows while the others
keep up; --stall SERVICE makes it hang without committing. SERVICE is payments,
inventory, shipping or notifications; both flags repeat or take a list.

The demo writes a context named "demo" into eddy's config file (see eddy config),
so other commands reach it with --context demo. It runs until Ctrl-C, then stops
everything and exits 0. The cluster lives in memory unless --data-dir keeps it.

RETENTION
  The topics keep the last 30 minutes of events, at most 64 MiB for the five
  event topics together, and dead letters for a day, at most 16 MiB for the
  two DLQs together. Older records are deleted (checked every minute), so a
  demo (or eddy tui --demo) left open stays bounded in memory; tail, trace and
  replay reach back as far as what is kept.

--amqp URL runs the same shop over that RabbitMQ instead: topic exchanges
shop.orders ... shop.notifications (routing key = event type), a work queue per
service (shop.payments.inbox, ...), and the dead-letter queues shop.payments.dlq
and shop.inventory.dlq, fed by the broker itself through x-dead-letter-exchange,
so dead letters carry real x-death headers. Nothing else on the broker is touched.`
