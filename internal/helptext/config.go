package helptext

// Config is eddy config's long help: where the file is, an example of it,
// how secrets are kept.
const Config = `Manage named contexts in $XDG_CONFIG_HOME/eddy/config.yaml (or $EDDY_CONFIG).

A context names a Kafka cluster and/or a RabbitMQ broker with their TLS and SASL
settings and, optionally, the schema eddy uses to find event ids. Example file:

  current-context: staging
  contexts:
    staging:
      kafka:
        brokers: [kafka-1:9093, kafka-2:9093]
        tls: {ca: /etc/eddy/ca.pem}
        sasl: {mechanism: SCRAM-SHA-512, username: eddy, password-env: STAGING_KAFKA_PASSWORD}
      amqp:
        url: amqps://eddy:secret@rabbit:5671/shop
      schema:
        correlation: [header:x-correlation-id, json:meta.correlation]

Secrets are masked in everything eddy prints; prefer password-env or
password-file to an inline password. The file is written with mode 0600.`

// ConfigSet is eddy config set's long help: the flags it takes.
const ConfigSet = `Create or update a context from the connection flags given with it: --brokers,
--tls-ca, --tls-cert, --tls-key, --tls-server-name, --sasl-mechanism, --sasl-user,
--amqp-url and --amqp-mgmt-url. The SASL password is never taken from a flag:
name an environment variable (--password-env) or a file (--password-file).

--event-hubs-connection-string-file FILE makes the context an Azure Event Hubs
namespace: brokers NAMESPACE.servicebus.windows.net:9093 (unless --brokers),
TLS, and SASL PLAIN as $ConnectionString with the connection string the file
holds (checked now, read again at each use, never copied into the config).`
