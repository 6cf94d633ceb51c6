package helptext

// Tail is eddy tail's long help: what it reads, positions, output formats and the filter language.
const Tail = `Print events from Kafka topics, RabbitMQ queues and captures as they arrive.

SOURCES
  kafka:TOPIC, kafka:/REGEX/   Kafka topics (several at once in one client)
  amqp:QUEUE                   a RabbitMQ queue (see below: it is not consumed)
  file:PATH, file:-            a capture in eddy's envelope format (- is stdin)

READING CHANGES NOTHING
  Kafka: eddy joins no consumer group and commits nothing, unless you name one
  with --group (a group that has active members is refused without --force).
  RabbitMQ: live messages are seen through a temporary tap queue that eddy binds
  to the same exchanges and routing keys as the watched queue. The tap is
  server-named, exclusive, auto-delete, expires and is length-capped, so nothing
  is left behind even if eddy is killed. The watched queue's messages are not
  touched. A queue fed only through the default exchange cannot be tapped: use
  --backlog, or --firehose after an operator ran 'rabbitmqctl trace_on'.
  A live tail that loses its RabbitMQ connection says so once on stderr,
  retries with backoff, declares and binds a new tap when the broker answers
  again, says so, and reads on; messages published while it was disconnected
  are not seen (a tap sees only what arrives while it exists), and both lines
  say that. With --until, a connection not back within --timeout is exit 4.
  --from beginning reads a stream queue from its first offset (nothing
  changes); on a classic or quorum queue it needs --backlog (below), and so
  does --until end, which reads what the queue holds now: without --backlog a
  tail sees only messages published while it runs, so --until end would show
  nothing whatever the queue holds; it is refused (exit 2) instead.

`
