package helptext

// Root is eddy's own long help: what it does, how places are named, where
// connections come from.
const Root = `eddy tails Kafka topics and RabbitMQ queues without disturbing them, follows
events across topics, measures lag, and puts dead letters back where they belong.

Places are named by addresses:
  kafka:TOPIC          a Kafka topic            kafka:/REGEX/   every matching topic
  amqp:QUEUE           a RabbitMQ queue         file:PATH       a capture (file:- is stdin)

Connections come from flags, then EDDY_BROKERS / EDDY_AMQP_URL, then the current
context of the config file (eddy config), then 127.0.0.1 defaults.`
