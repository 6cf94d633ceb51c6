package main

// The help that eddy trace, eddy trace flows and eddy expect share or
// document their JSON with, kept out of the commands' code as backlog.go's
// is: what a flow is, how it is timed and exported, and the -o json schemas.

const traceJSONHelp = `JSON (-o json, schema version 1; fields are only ever added)
  {"v":1,"query":ID,"flows":[{
     "key":"o-0001","key_kind":"correlation_id|trace_id|event_id|origin",
     "open":false,"start":RFC3339,"end":RFC3339,"duration_ms":N,
     "dead_lettered":false,"last_step":"EmailSent",
     "definition":"A -> B -> C","missing":"B",            (with --flow)
     "events":[{"at":RFC3339,"timestamp":RFC3339,"transport":"kafka",
        "source":"orders","partition":1,"offset":42,"origin":"orders[1]@42",
        "id":"evt-1","type":"OrderPlaced","causation_id":"…","trace_id":"…",
        "span_id":"…","duplicates":0,
        "time_source":"json:occurred_at","time_coarse":false,
        "hop":{"from":0,"latency_ms":79.0,"skew":false,"coarse":false,
               "basis":"causation|span|dead_letter|previous"},
        "dead_letter":{"convention":"spring|connect|x-death|name",
                       "error":"…","class":"…","origin":"orders"}}]}]}`

const flowsJSONHelp = `JSON (-o json, schema version 1; fields are only ever added)
  {"v":1,
   "flows":{"total":N,"complete":N,"incomplete":N,"dead_lettered":N,"open":N},
   "events":{"total":N,"duplicates":N},
   "types":{"OrderPlaced":N,…},
   "edges":[{"from":"OrderPlaced","to":"PaymentAuthorized","count":N,
             "p50_ms":N,"p90_ms":N,"p99_ms":N,"max_ms":N,
             "skew":N,"min_skew_ms":N,"over_range":N}],
   "source_edges":[… the same, from topic/queue to topic/queue …]}
  complete + incomplete = total. A flow is complete when it passed every step
  of a --flow definition whose first step it has; without --flow, when its
  last step is of a terminal type (one that never caused another type in the
  data). dead_lettered counts flows with a dead-letter hop. open counts flows
  still active (within --flow-timeout) when the report was made. A hop into a
  dead-letter copy is the edge "T -> T (dead letter)". Percentiles are over the
  hops with a latency from 0 to 366 days, in ms to 3 significant digits
  (HdrHistogram); skew counts hops whose effect was stamped before its cause
  (producer clock skew), min_skew_ms the most negative; over_range counts hops
  longer than 366 days (max_ms includes them, exact); count includes both.
  PERCENTILES: pN is HdrHistogram's, not nearest-rank: of the n hops in the
  percentiles, the smallest latency v with at least max(1, int(N/100*n + 0.5))
  hops <= v (the rank rounded half up; nearest-rank takes ceil(N/100*n)). So 6
  hops of 10, 20, 30, 40, 50, 60 ms give p50 = 30, p90 = 50, p99 = 60.`

const traceConceptsHelp = `FLOWS
  Events are grouped by correlation id, else the trace id of their W3C
  traceparent, else their event id (an event with neither joins the flow of its
  cause, and of the other events naming that cause). The grouping does not
  depend on the order events are read in, nor on the order of SOURCEs: when a
  cause arrives after its effects, their flows are merged. An event never joins
  its effect's flow (an uncorrelated cause of a correlated event is its own
  flow), and flows of two correlation ids are never merged. Where ids live is the context's schema (eddy config; README). Events
  are ordered by event time: the occurred-at time, else the broker timestamp.
  Of the schema's occurred-at locations the first with a fraction of a second
  wins over a whole-second one (an AMQP timestamp property is whole seconds);
  a whole second with no finer time is refined by the Kafka record timestamp
  when that falls within it. Each event says where its time came from
  (time_source: the schema location, "timestamp" for the Kafka record
  timestamp, "received" for an AMQP message without a timestamp property);
  time_coarse marks one known only to the second, and a hop into such an
  event is "coarse": up to a second before its cause is not skew. Each hop's
  latency is from the event's cause — its causation id, or an event carrying
  the same span context — else from the previous event. A negative hop is
  producer clock skew: shown, flagged "skew", never clamped. The same event id
  seen again on the same source (a retry, a redrive) is one event with a
  duplicate count; a copy on a dead-letter topic or queue is a dead-letter hop
  marked with the error its framework recorded (Spring's kafka_dlt-exception-*,
  Connect's __connect.errors.exception.*, RabbitMQ's x-death reason).
  A flow idle for --flow-timeout is finalised and forgotten, so memory stays
  bounded however long eddy runs.

FLOW DEFINITIONS
  --flow 'OrderPlaced -> PaymentAuthorized -> StockReserved' (repeatable) says
  what a complete flow is; --flow shop is the demo shop's
  '` + "OrderPlaced -> PaymentAuthorized -> StockReserved -> OrderShipped -> EmailSent" + `'.
  trace flows warns on stderr of a step type no event read had (a typo).

EXPORT
  --otlp ENDPOINT sends every flow as an OpenTelemetry trace: http://HOST:4318
  or https://… (OTLP/HTTP), grpc://HOST:4317 or grpcs://… (OTLP/gRPC; HOST:PORT
  alone means grpc://). One span per event (a child of the producer's span when
  the event carries a traceparent, so it joins the services' traces; linked to
  that creation context) and one per hop, with messaging.* attributes. Each
  export, connecting and retries included, and the flush at the end are
  bounded by --timeout; spans that did not arrive are one line on stderr
  ("eddy: otlp: could not export N span(s) to ENDPOINT: reason") and exit 3
  (also for eddy replay and eddy dlq redrive --otlp).`

const expectJSONHelp = `JSON (-o json, schema version 1; fields are only ever added)
  {"v":1,"ok":true,"strict":false,
   "results":[{"expectation":"A -> B within 5s","flows":N,"passed":N,
     "failed":N,"pending":N,
     "violations":[{"flow":"o-0042","kind":"missing_step|too_slow|out_of_order|dead_lettered",
        "pending":false,"step":"B","detail":"…","start":RFC3339}],
     "never_seen":["B"]}]}
  violations lists at most 1000 flows per expectation; the counts are exact.
  never_seen (when not empty) lists step types no event read had; it fails
  the expectation unless --allow-empty.`
