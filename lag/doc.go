// Package lag is eddy lag's logic: sampling Kafka consumer groups
// (bus/kafka's LagReader) and RabbitMQ queues (bus/amqp) into an
// inspect.LagSnapshot ([LagMonitor]), judging each partition and group by
// Burrow's rules over a window of samples ([Evaluator]), the --fail-on gates
// ([LagCheck], [CheckLag]), the Prometheus/OTLP metrics ([LagMetrics]) and
// the loops of eddy lag and eddy lag serve ([Watch], [Serve]).
//
// The snapshot's types and its rendering for people (inspect.WriteLag) are
// in inspect, which imports no broker client; this package imports inspect,
// never the reverse.
package lag
