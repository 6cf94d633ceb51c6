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
password-file to an inline password. The file is written with mode 0600.

eddy config import makes contexts from what kaf, kafkactl, rpk, kcat or a Java
client.properties already say; -F FILE and -X KEY=VALUE (every command) take
librdkafka or Java client properties for one command, as kcat does.`

// ConfigSet is eddy config set's long help: the flags it takes.
const ConfigSet = `Create or update a context from the connection flags given with it: --brokers,
--tls-ca, --tls-cert, --tls-key, --tls-server-name, --sasl-mechanism, --sasl-user,
the --sasl-oauth-*, --sasl-kerberos-* and --sasl-aws-* flags, --amqp-url and --amqp-mgmt-url. The SASL
password is never taken from a flag: name an environment variable (--password-env) or a
file (--password-file); OAUTHBEARER's token and client secret by file
(--sasl-oauth-token-file, --sasl-oauth-client-secret-file).

--event-hubs-connection-string-file FILE makes the context an Azure Event Hubs
namespace: brokers NAMESPACE.servicebus.windows.net:9093 (unless --brokers),
TLS, and SASL PLAIN as $ConnectionString with the connection string the file
holds (checked now, read again at each use, never copied into the config).`

// ConfigImport is eddy config import's long help: the sources, what is
// kept, where secrets go.
const ConfigImport = `Create contexts from the configuration another Kafka tool already has:

  kaf         ~/.kaf/config (clusters: brokers, SASL, TLS, security-protocol)
  kafkactl    ~/.config/kafkactl/config.yml or $KAFKA_CTL_CONFIG (contexts)
  rpk         ~/.config/rpk/rpk.yaml (profiles: kafka_api brokers, tls, sasl)
  kcat        ~/.config/kcat.conf or $KCAT_CONFIG (librdkafka properties)
  properties  a Java client.properties (bootstrap.servers, security.protocol,
              sasl.mechanism, sasl.jaas.config with PlainLoginModule,
              ScramLoginModule or MSK's IAMLoginModule, ssl.truststore.* and
              ssl.keystore.* as PEM, JKS or PKCS#12); FILE is required

FILE overrides the default location. kaf, kafkactl and rpk hold several
clusters: the source's current one is imported, or --name NAME, or --all.

A password is never copied into eddy's config: it is written to a file of
mode 0600 beside it and named by password-file (or, with --password-env NAME,
left to that environment variable). A JKS or PKCS#12 trust store becomes a PEM
CA file there, a key store a PEM certificate and key. A setting eddy cannot
keep is named in a warning, never dropped in silence. An existing context is
refused unless --force; --dry-run prints what would be created, secrets masked.`
