package helptext

// Lag is eddy lag's long help: lag in records and in time, for groups and queues.
const Lag = `Consumer lag of Kafka consumer groups and RabbitMQ queues, in records and in
seconds, with a health status for each group.

With no arguments eddy reports every consumer group and every queue of the
configured transports. GROUP names Kafka groups; kafka: means every group;
amqp: every queue of the vhost; amqp:QUEUE names queues (kafka:GROUP names a
group called like a subcommand, e.g. kafka:serve). eddy's own job groups
(eddy-redrive-JOB, eddy-replay-JOB) are not consumers: a finished job has no
member and counts what arrived since as lag, which Burrow's rules would call
ERR (STOP). They are left out of "every group" (stderr says how many; JSON
hidden_jobs) and so out of gates and metrics; --jobs lists them, and naming one
shows it.

`

// LagServe is eddy lag serve's long help: lag as Prometheus metrics.
const LagServe = `Sample lag every --interval and serve the figures as Prometheus metrics on
http://LISTEN/metrics; with --otlp, also push them with OTLP/HTTP. Targets are
those of eddy lag. Unknown values are left out rather than made up.

Each push, and the last one when serve stops, is bounded by --timeout. A push
that fails is one line on stderr when a run of failures starts (not one per
--interval), and one line says when pushes arrive again; serving goes on, and
the exit status is not changed by it (130 on the interrupt that stops serve).

METRICS
`
