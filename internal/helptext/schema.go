package helptext

// Schema is eddy schema's long help: the registry, and decoding.
const Schema = `List and show the schemas of a Schema Registry: the Confluent REST API, which
Confluent, Apicurio (its ccompat API, /apis/ccompat/v7), Karapace and Redpanda
serve.

The registry is --schema-registry URL, else EDDY_SCHEMA_REGISTRY, else the
context's schema-registry (eddy config show). In the config file:

  contexts:
    prod:
      kafka: {brokers: [kafka-1:9092]}
      schema-registry:
        url: https://registry.example.com
        username: eddy
        password-env: REGISTRY_PASSWORD   # or password-file; token-env,
                                          # token-file for a bearer token
        tls: {ca: registry-ca.pem}        # as kafka's tls: ca, cert, key
      schemas:                            # local schemas, without a registry
        - topic: orders
          value: {file: schemas/order.proto, message: shop.Order}
          key: {file: schemas/order-key.avsc}

The files a context names (tls, password-file, token-file, schemas) are
relative to the config file's directory. A context's credentials and TLS go
only to the context's own URL, never to a registry named by the flag or the
environment (give that one's user and password in its URL,
https://USER:PASSWORD@HOST, or in a context). No secret is ever printed.

The commands that read payloads (tail, trace, trace flows, expect, dlq show,
tui) decode Avro, Protobuf and JSON Schema with it: --schema-registry,
--value-schema, --key-schema, --validate and --no-decode. A record that cannot
be decoded is shown raw with its reason, and one line on stderr at the end
says how many and why (exit 3).`

// SchemaLs is eddy schema ls's long help.
const SchemaLs = `List the registry's subjects: each one's versions, and of its latest version the
schema id, type (avro, protobuf, json) and references (NAME=SUBJECT@VERSION,
pinned). TOPICS are the topics whose TopicNameStrategy subject it is
(TOPIC-value or TOPIC-key), when a Kafka is configured (--brokers,
EDDY_BROKERS or the context): eddy lists its topics to find them. When that
Kafka cannot be reached the subjects are still listed, the failure is said on
stderr, and the exit status is 3.

A registry that cannot be reached, or refuses the credentials, exits 4 with
one line naming its URL (never a password).`

// SchemaShow is eddy schema show's long help.
const SchemaShow = `Show one version of a subject (the latest, or SUBJECT@VERSION): the schema id,
type, every version of the subject, the references with the subject and
version each is pinned to, and the schema's text (JSON indented; terminal-safe).
-o json gives it all as one JSON object, the text as registered.

A subject or version that does not exist exits 1; a registry that cannot be
reached, or refuses the credentials, exits 4.`
