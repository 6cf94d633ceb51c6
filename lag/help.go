package lag

// The help texts of eddy lag and eddy lag serve that say what this package
// computes: they live next to the code they describe, like LagMetricNames.

// ColumnsHelp says what each figure of a Kafka group and a RabbitMQ queue is.
const ColumnsHelp = `KAFKA, per group, topic and partition
  COMMITTED  the group's committed offset ("-": it committed nothing there)
  END        the last stable offset (the end a read_committed consumer sees;
             --read-uncommitted: the high watermark)
  LAG        records still to read before END: eddy reads the partition from
             the committed offset (read_committed) and counts the records, so
             transaction markers, aborted records and offsets compaction
             removed are not lag. Exact within a read budget of 1 MiB of
             record batches past the first unread record, and --timeout for
             the whole sample; beyond it the lag is a range, shown "≤N" (at
             most N: the records counted plus every offset not read; -o json:
             lag_exact false, lag_min the least, a note). -o json also has
             offset_lag, the high watermark minus COMMITTED: what
             kafka-consumer-groups shows (it counts markers, aborted records
             and open transactions).
  TIME LAG   now minus the timestamp of the first unread record, found however
             far past the committed offset it is (within --timeout). 0 when
             the group is at the end. Unknown ("-", with a reason) when that
             record has no timestamp (-1) or one more than 1 s in the future;
             a group's time lag with such a partition is a lower bound, "≥".
             Reads are cached: a --watch refresh reads only where a committed
             offset or the end moved.
  Totals per group and topic; --per-partition shows each partition and the
  client that owns it. A committed offset below the log start (retention,
  compaction, DeleteRecords) counts from the log start and says how many
  records were lost; a committed offset beyond the log end (a truncated or
  recreated topic: the consumer will reset by its auto.offset.reset) is
  status ERR ("commit beyond end") with lag unknown; a deleted topic shows
  "-" with a note. KIP-848 groups
  (group.protocol=consumer) are described with the new protocol.
  Reading changes nothing: eddy joins no group and commits nothing.

RABBITMQ, per queue
  READY, UNACKED, CONSUMERS and publish/deliver/ack rates from the management
  API; HEAD AGE is now minus the timestamp property of the oldest ready
  message, which the management API reports for classic queues (nothing is
  consumed). Unknown ("-", null in JSON): without the management API (unacked,
  rates, head age), for quorum and stream queues and for messages without a
  timestamp property (head age).`

// StatusHelp says how Burrow's rules judge a partition and a group.
const StatusHelp = `STATUS (Burrow's rules, over a window of samples of each partition)
  1. lag 0 now or at any sample in the window              OK
  2. the committed offset went backwards                   REWIND
  3. no commit for longer than the window's commits span   STOP
  4. committed offset unchanged over the window            STALL
  5. offset moves but lag never decreases                  WARN  (too slow)
  otherwise                                                OK
  A group is its worst partition, with STOP, STALL and REWIND counted as ERR
  (the table shows "ERR (STALL)"). Not Burrow's: a partition whose committed
  offset is beyond the log end is ERR at once ("ERR (commit beyond end)"). Burrow sees every commit; eddy samples, so
  it takes a partition owned by a live member as committing at each sample and
  an unowned one as last committed when its offset last moved: a consumer that
  hangs in its group is STALL, one that left it is STOP.
  One sample can only say OK (lag 0); a lagging partition shows "?" (UNKNOWN)
  until --watch has taken two samples. The window is --window samples (10).`

// GatesHelp says what --fail-on checks and how.
const GatesHelp = `GATES
  --fail-on '[TARGET:]METRIC OP VALUE' (repeatable) exits 3 and lists the
  violations when a group or queue crosses it. METRIC: lag, offset_lag,
  time_lag (30s, 5m), status (OK < WARN < ERR < STOP < STALL < REWIND, so
  status>=ERR also catches STOP, STALL and REWIND). OP: > >= < <= == !=.
  TARGET: a group or queue name or glob; none means all. Unknown values never
  violate; a named target that does not exist does. A figure known only as a
  range (a lag "≤N", a time lag "≥D") violates unless every value of the
  range passes: a gate never passes on a count eddy could not finish.`

// OutputHelp says what eddy lag writes, once or every --watch interval.
const OutputHelp = `OUTPUT
  -o table (terminal), tsv (pipe), json (schema in the README; null is
  unknown), jsonl (one JSON object per sample: the default of --watch in a
  pipe). --watch INTERVAL samples until Ctrl-C (or --samples N), redrawing the
  table on a terminal.`
