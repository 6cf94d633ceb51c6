package helptext

// The long help of eddy replay and eddy dlq redrive.

// Replay is eddy replay's long help; peek says what a dry run does to a
// RabbitMQ queue's messages (cmd/eddy's dryRunPeekHelp, shared with dlq
// redrive).
func Replay(peek string) string { return replayHead + peek + replayTail }

// Redrive is eddy dlq redrive's long help; peek as for Replay.
func Redrive(peek string) string { return redriveHead + peek }

const replayHead = `Copy events from Kafka topics or captures to a Kafka topic (or a capture),
keeping key, headers and timestamp, selectively and at a bounded rate. Every
copy carries an eddy-redrive-id header, the same for every attempt at one
source record.

SOURCES
  kafka:TOPIC, kafka:/REGEX/   a range of Kafka topics: --from (default
                               beginning) to --until (default end), as in tail
  amqp:QUEUE                   a RabbitMQ classic or quorum queue, consumed
                               until it is drained: each message is
                               acknowledged (removed) only after the target
                               confirmed it and the ledger recorded it
  file:PATH, file:-            a capture in eddy's envelope format

TARGETS
  kafka:TOPIC                  a Kafka topic of the same cluster
  amqp:exchange/EX/KEY         a RabbitMQ exchange, with routing key KEY (each
                               event's own routing key when KEY is empty)
  amqp:QUEUE                   a RabbitMQ queue (through the default exchange)
  file:PATH                    a capture (appended to)

  A target that is one of the sources is refused (exit 2): a Kafka topic
  would get every record of the range again (--allow-same-target says that
  is meant: the range ends where the topic ended when the run started, so
  each record is copied once); a capture or a RabbitMQ queue would read its
  own copies, and is refused always (the same file through a symlink or
  another path is the same file).

  RabbitMQ targets are published persistent, with publisher confirms and the
  mandatory flag: a message no queue is bound for is returned, which is not a
  success. The run moves everything else, then exits 3 listing the refused
  events; they stay in progress in the ledger, and a rerun tries them again.

EXACTLY ONCE, AND RERUNS
  Kafka to Kafka with --until end: one transaction per batch that also commits
  the source offsets of a consumer group dedicated to the job
  (eddy-replay-JOB); sources are read read_committed. A crash or Ctrl-C at any
  point loses nothing and duplicates nothing for read_committed readers, and
  running the same command again resumes where it stopped. Several runs of
  one job at once are its workers and share its partitions (see WORKERS in
  'eddy dlq redrive --help': the same engine); two under one --worker name
  fence each other, and the earlier ends with exit 3 and "another run of job
  JOB is active ...; nothing was lost; rerun when it ends".
  Every other combination: a ledger (a bbolt file, default
  $XDG_STATE_HOME/eddy/ledger.db, or a Redis shared by several operators with
  --ledger redis://HOST:PORT/DB) records each source record of the job as
  in progress before it is written and completed once the target confirmed it.
  A rerun skips completed records. Only a record in progress when eddy died can
  land twice, and both copies then carry the same eddy-redrive-id.
  The job is named after the sources and the target unless --job names it.

DRY RUN
  --dry-run reads the same events through the same filter and ledger and prints
  the plan (how many events per target, the first ids) without writing
  anything, to the target or the ledger. It first checks what the real run
  checks before it writes — the target exists and can be written to, the job
  name, the ledger can be opened (a missing ledger file is not created) — and
  fails as the real run would, with the same exit code.
`

const replayTail = `

OPENTELEMETRY
  --otlp ENDPOINT (as in eddy trace) traces the run as a span, and each moved
  event as a span of its own: a child of the event's traceparent header when it
  has one, so the replay appears inside the event's original trace. The copy
  written carries that span as its traceparent. Exports are bounded by
  --timeout; spans that did not arrive are one line on stderr and make a run
  that otherwise succeeded exit 3.

PROGRESS
  On a terminal a progress line is drawn on stderr. At the end, or on Ctrl-C,
  a summary is printed on stderr (-o json: on stdout, as JSON).`

// ReplayExample is eddy replay's examples.
const ReplayExample = `  # copy yesterday's orders to a test topic
  eddy replay kafka:orders --from -24h --to kafka:orders.test
  # put the failed payments of a capture back, 50 per second
  eddy replay file:dlt.jsonl --filter 'type == "PaymentFailed"' --rate 50 --to kafka:payments
  # what would be copied?
  eddy replay kafka:orders.DLT --to kafka:orders --dry-run`

const redriveHead = `Put each message of a dead-letter topic or queue back to its own origin — the
topic Spring Kafka (kafka_dlt-original-topic) or Kafka Connect
(__connect.errors.topic) recorded, or, failing those headers, the topic the
DLQ's name is for (orders.DLT → orders); for a RabbitMQ queue (amqp:QUEUE) the
exchange and first routing key its latest x-death records — or to --to TARGET.
A RabbitMQ message published with CC keys (x-death lists several routing keys)
goes back to the queue it was dead-lettered from alone, through the default
exchange: every queue the keys matched dead-lettered its own copy, so the
exchange would deliver it again where it did not fail. CC and BCC headers are
dropped from what a redrive publishes.

SELECTION
  --filter EXPR    only messages matching the expression (as in tail)
  --ids ID,...     only these messages: event ids or positions TOPIC/P@OFFSET
                   as 'eddy dlq show' lists them; --ids @FILE reads one a line
  --error REGEX    only messages whose recorded error message or exception
                   class matches
  Messages not selected stay in the DLQ. A selection given empty (--ids ''
  or ',', an @FILE with no id in it, --filter '', --error '') is a usage
  error (exit 2): an empty selection never means every message.

LOOP GUARD AND PARKING
  Each redriven message carries eddy-redrive-count, one more than it had. A
  message whose count is --max-redrives (default 3) or more is not redriven
  again: it is moved to the parking topic or queue (--park, default
  DLQ.parked; a Kafka topic is created with the broker's defaults when missing,
  a RabbitMQ queue must exist) with an eddy-park-reason header.

UNKNOWN ORIGIN
  A message whose origin is not recorded, or whose origin topic does not
  exist, is left in the DLQ and listed; the command then exits 3.

EXACTLY ONCE, RERUNS AND WHAT IS LEFT
  Kafka to Kafka is transactional: every batch's records are written in one
  transaction that also commits the position of a consumer group dedicated to
  the job (eddy-redrive-JOB); the DLQ is read read_committed. A crash or Ctrl-C
  at any point loses nothing and duplicates nothing for read_committed readers;
  the same command resumes, and once done it moves 0 until new dead letters
  arrive. The job is named after the DLQ and the selection (--job overrides),
  so the same command is the same job. Several runs of one job at once are
  its workers and share it (WORKERS).
  A Kafka record cannot be deleted: a record counts as removed from the DLQ
  once a job's committed position passed it and it was redriven or parked. The
  records a job passed over (not selected, unknown origin) are recorded in the
  job's log (next to the ledger, default $XDG_STATE_HOME/eddy/redrive/) before
  the transaction that passes them commits: 'eddy dlq ls' and 'show' count them
  as still in the DLQ, and another job (another selection, or --to) redrives
  them while passing over what earlier jobs removed.
  RabbitMQ: messages are consumed (never held past the consumer timeout),
  published persistent with publisher confirms and the mandatory flag, and
  acked only once confirmed and recorded in the ledger (--ledger, as for
  replay). A returned (unroutable) or nacked message, one not selected and one
  of unknown origin are not acked: they stay in the DLQ; exit 3 lists them. So
  is one another live run sharing a Redis ledger holds in progress ("held"):
  that run moves and acks it; this one leaves it.

WORKERS
  Run the same command in several processes, on one machine or several, and
  they share the job. Kafka: each is a member of the job's group under its
  own transactional id (eddy-redrive-JOB:WORKER; --worker names it, default
  HOSTNAME-PID); Kafka assigns the DLQ's partitions among them (at most one
  worker per partition does work), and a worker stays until the whole job is
  done, so it takes over the partitions of a worker that ended or died. Each
  worker's --rate is its own. Exactly once holds across workers for
  read_committed readers (Kafka 2.5 or later: KIP-447 fences a worker that
  lost its partitions). A worker killed (kill -9, power loss) with a
  transaction open: nothing of that transaction is visible, and what it
  committed stands. Once the group missed its heartbeats (6 s) its partitions
  move to the live workers, and a live worker aborts the transaction it left
  open (within 3 s more); until then read_committed readers of the origin wait
  at it. With no live worker, Kafka aborts it after its timeout (20 s, and up
  to 10 s more). Rerun it under the same --worker name and it takes its place
  and aborts the transaction at once. Two runs under one --worker name fence
  each other: the earlier ends with exit 3 and "another run of job JOB is
  active as worker W ...; nothing was lost; rerun when it ends, or under
  another worker name".
  On a terminal the progress line adds "job N% (all workers)", from the
  group's committed offsets; 'eddy lag eddy-redrive-JOB' and 'eddy dlq show'
  give the same from any machine. The job log of the records passed over is
  kept per machine: with a selection (or unknown origins) run the workers on
  one machine, or with one state directory, or 'dlq ls' elsewhere counts what
  they passed over as removed.
  RabbitMQ: consumers of one queue share it by nature (each holds at most its
  prefetch window, 10,000); with a shared Redis ledger (--ledger redis://)
  each message moves once across them.

OPENTELEMETRY
  --otlp ENDPOINT (as in eddy trace) traces the run as a span ("eddy
  redrive"), and each message written (redriven or parked) as a producer span
  that continues the message's original trace: a child of its traceparent
  header and linked to it, linked to the run span too. The written copy
  carries that span as its traceparent, so whoever consumes it again joins the
  same trace. On Kafka a span ends when its transaction commits (an error when
  it aborts); on RabbitMQ when the broker confirms (an error when it returns or
  nacks the message). Exports are bounded by --timeout; spans that did not
  arrive are one line on stderr and make a run that otherwise succeeded exit 3.

DRY RUN
  --dry-run reads the same records through the same decisions and prints the
  plan — how many per target, parking included, how many left for an unknown
  origin, the first positions — and writes nothing. It first checks what the
  real run checks before it writes (the --to target exists, the job name, the
  ledger and the job log's directory can be opened; nothing is created) and
  fails as the real run would, with the same exit code.
`

// RedriveExample is eddy dlq redrive's examples.
const RedriveExample = `  # every dead letter back to its origin
  eddy dlq redrive kafka:orders.DLT
  # only the timeouts, 100 per second, after looking at the plan
  eddy dlq redrive orders.DLT --error 'Timeout' --dry-run
  eddy dlq redrive orders.DLT --error 'Timeout' --rate 100
  # two messages, to a test topic
  eddy dlq redrive orders.DLT --ids orders.DLT/0@17,orders.DLT/0@18 --to kafka:orders.test
  # a RabbitMQ dead-letter queue, back to the exchanges its x-death records
  eddy dlq redrive amqp:orders.dlq`
