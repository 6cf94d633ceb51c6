package helptext

// Trace is eddy trace's long help: how one event's flows are found and shown.
const Trace = `Show every event whose id, correlation id, trace id (traceparent) or causation
id is ID — the whole flow it belongs to — across the sources, as a timeline:
time order, each event with source, partition/offset, type, id and the
latency from its cause; dead-letter hops with their error; the last step
reached and, with --flow, the step that is missing.

SOURCES default to every non-internal Kafka topic of the context (dead-letter
topics included). Kafka is read from the offsets of --since ago (the broker's
time index, not from the beginning) to the end as of starting. Captures
(file:…) are read whole unless --since is given.

`

// TraceFlows is eddy trace flows' long help: flows correlated over every source, and their report.
const TraceFlows = `Correlate every event of the sources into flows and report how many flows were
seen, complete, incomplete and dead-lettered, the events per type, and for each
edge (event type A -> event type B, and topic -> topic) the hop latency
p50/p90/p99/max.

Live by default (Kafka from the end, like tail): on a terminal the report is
redrawn every --refresh; in a pipe the final report is printed when eddy stops
(Ctrl-C, --until, or the end of a capture). --until end reads what is there
and exits.

`
