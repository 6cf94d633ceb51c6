#!/usr/bin/env python3
"""The peer in bench/schema-tail.sh: Confluent's Python client reading a topic from
its beginning to its end, decoding each value with AvroDeserializer (the schema
fetched from the registry by the frame's id, cached) and writing one JSON line per
record, as a user of confluent-kafka would to see Avro as JSON.

    avro_consume.py BOOTSTRAP REGISTRY_URL TOPIC > out.jsonl

Run it with the interop virtualenv's python (scripts/interop/venv.sh). Written for
speed within what the library offers: batched consume(), one deserializer, no
commit, JSON through the standard library (datetimes as ISO 8601, Decimal and UUID
as their strings).
"""
import json
import sys

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def main():
    bootstrap, registry, topic = sys.argv[1:4]
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "eddy-bench-py",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        # As bench/tail.sh tunes kcat: big fetches, a deep prefetch queue.
        "fetch.max.bytes": 52428800,
        "max.partition.fetch.bytes": 10485760,
        "queued.min.messages": 1000000,
    })
    meta = consumer.list_topics(topic, timeout=30)
    parts = list(meta.topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])  # offset 0: the beginning
    deser = AvroDeserializer(SchemaRegistryClient({"url": registry}))
    ctx = SerializationContext(topic, MessageField.VALUE)
    out = sys.stdout
    dumps = json.JSONEncoder(default=lambda o: o.isoformat() if hasattr(o, "isoformat") else str(o),
                             separators=(",", ":"), ensure_ascii=False).encode
    at_end = set()
    while len(at_end) < len(parts):
        for msg in consumer.consume(num_messages=10000, timeout=1.0):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    continue
                sys.exit(f"avro_consume: {err}")
            out.write(dumps(deser(msg.value(), ctx)))
            out.write("\n")
    consumer.close()


if __name__ == "__main__":
    main()
