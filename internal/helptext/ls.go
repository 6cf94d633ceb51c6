package helptext

// Ls is eddy ls's long help: topics and queues listed.
const Ls = `List Kafka topics (partitions, replicas, end offsets, messages retained) and
RabbitMQ queues (type, ready and unacknowledged messages, consumers, rates).

With no arguments eddy lists every configured transport. kafka: or amqp: limits
the listing to one; kafka:/REGEX/ lists matching topics; amqp:QUEUE names queues.
RabbitMQ queues are listed through the management API; when it cannot be reached,
named queues are still shown from passive declares (depth and consumers only).
If one transport fails and another answers, eddy prints what it got, reports the
failure and exits 3.

With a schema registry configured (--schema-registry, EDDY_SCHEMA_REGISTRY or
the context's schema-registry), topics get a VALUE SUBJECT column: the
registry's TOPIC-value subject, - when it has none (tsv value_subject, json
"value_subject", null for none).`
