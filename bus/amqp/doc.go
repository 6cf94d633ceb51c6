// Package amqp is eddy's RabbitMQ adapter (AMQP 0-9-1, through amqp091-go, plus
// the management HTTP API for what AMQP cannot tell). It reads queues without
// consuming them (Source), consumes them when asked to move their messages
// (Consume: replay and redrive), publishes with confirms, and lists queues and
// dead-letter topology.
//
// # Consuming a queue
//
// Consume is the one way eddy removes messages: a Consumer hands out
// deliveries with bounded prefetch, acknowledges exactly the events it is
// given (after the caller's ledger recorded them), ends with io.EOF once the
// queue is drained, never holds a delivery past the queue's consumer timeout,
// and reconnects without ever acking a delivery tag of a lost channel. See
// Consumer for each of these.
//
// # Reading a queue without consuming it
//
// eddy's contract is that reading never changes the system. For a RabbitMQ
// queue, whose messages are removed by whoever reads them, that takes one of
// three techniques, chosen per queue:
//
// Live traffic of a classic or quorum queue goes through a tap: a temporary
// queue that receives a copy of every message routed to the watched queue from
// the moment the source opens. eddy reads the watched queue's bindings from the
// management API (GET /api/queues/VHOST/NAME/bindings) and binds the tap to the
// same exchanges with the same routing keys and arguments (headers exchanges
// included). The tap is server-named (amq.gen-…), exclusive to the source's
// connection and auto-delete, so the broker deletes it when the source closes
// or its process dies, even by kill -9; it has x-expires (60 s) as a backstop
// should the broker not notice the connection die, and a length cap
// (x-max-length, x-max-length-bytes, x-overflow drop-head: the oldest copies are
// dropped when a slow reader falls behind), so it never costs the broker more
// than WithTapLimits allows. The watched queue is not touched: its depth,
// consumers and messages stay as they are. Publishers are not slowed noticeably
// (a confirm now also waits for the tap, an in-memory queue). Bindings added
// after the source opened are not followed, and a message published to the
// watched queue by name, through the default exchange, is not seen by a binding
// tap (firehose mode sees it).
//
// A queue fed only through the default exchange (publishers send to it by
// name) cannot be tapped: RabbitMQ refuses bindings to the default exchange.
// Source then fails with an error wrapping ErrUntappable that says what works:
// the backlog peek below, or firehose mode (WithFirehose), in which the tap is
// bound to the vhost's firehose tracer exchange, amq.rabbitmq.trace, with
// "publish.#", and eddy keeps the trace messages whose routed_queues header
// names the watched queue, rebuilding the original message from the trace's
// exchange_name, routing_keys and properties headers. The tracer must be
// switched on by an operator (rabbitmqctl trace_on -p VHOST) and slows every
// publish on the vhost while on; eddy checks that it is on when the management
// API can say. Without the management API the bindings cannot be discovered,
// and Source says so (firehose mode and the peek still work).
//
// The backlog of a classic or quorum queue (ReadOptions.Backlog, which is
// the only option that touches a queue's messages; From beginning without it
// is refused with ErrNoPosition) is read by a peek that consumes nothing: basic.get with manual
// acknowledgement, up to the number of ready messages the queue had when the
// source opened (and at most WithBacklogLimit), holding every message
// unacknowledged, then a single basic.nack(multiple, requeue) that gives them all
// back. What that does to the broker, exactly:
//   - while the peek runs (milliseconds to seconds; messages are held only
//     while eddy gets them, never while it prints) the held messages are
//     invisible to the queue's consumers;
//   - they come back with the redelivered flag set, which consumers see;
//   - a message may be delivered out of order relative to messages that arrive
//     during the peek, or that other consumers get meanwhile;
//   - messages already delivered to other consumers and not yet acknowledged
//     are not seen;
//   - a quorum queue raises each peeked message's delivery count
//     (x-delivery-count) by one. At a delivery limit RabbitMQ dead-letters or
//     drops the message, so eddy refuses to peek at a quorum queue with a
//     delivery limit (ErrPeekRefused) — on RabbitMQ 4, whose quorum queues have
//     one by default, that is every quorum queue unless its limit is disabled;
//   - the queue's depth is whole again before Source hands out the first
//     backlog event (the requeue is followed by a round trip on the channel).
//
// A stream queue (x-queue-type stream) is read by offset: a consumer with
// basic.qos and x-stream-offset ("first" for From beginning or Backlog, an
// offset, a timestamp, "next" for live). Acknowledgements on a stream only
// grant credit: nothing is removed, nothing is marked. This is used for the
// live tail of streams too, instead of a tap. Until end reads up to the stream's
// last offset at open, which AMQP 0-9-1 cannot ask for: eddy attaches at the
// stream's last chunk and takes the highest offset it sees before the stream
// has been quiet for 300 ms.
//
// # Events
//
// An event read from a queue has Transport amqp, Queue the watched queue, the
// Exchange and RoutingKey it was published with, Redelivered, Properties (nil
// when the message has none), and Headers: the header table sorted by key,
// string values as plain headers and every other value with its AMQP type in
// Header.Typed (tables as map[string]any, arrays as []any, so an x-death header
// arrives as an array of tables with count, reason, queue, exchange,
// routing-keys and time). Offset is the stream offset for a stream queue (the
// x-stream-offset delivery header, which is not repeated in Headers) and -1
// otherwise. Timestamp is the timestamp property when set, else the time eddy
// received the message. Key is nil and Value is the body (never nil).
//
// # Secrets
//
// The password in the AMQP URL never appears in an error, a log line or
// String(): addresses are shown as host:port/vhost or through Redact, the
// management API gets the credentials in a header only, and every error text is
// scrubbed of the password as a last defence.
package amqp
