#!/usr/bin/env python3
"""Produce records with Confluent's own serializers, for eddy's interop test.

    produce.py --bootstrap 127.0.0.1:39092 \
        --registry http://127.0.0.1:38080/apis/ccompat/v7 \
        --prefix interop-123 --out expected.jsonl

Run it with the interop virtualenv's python (scripts/interop/venv.sh). It creates
these topics (one partition each) and writes into them with confluent-kafka's
serializers against the registry (subjects by TopicNameStrategy, auto-registered):

  PREFIX-avro          AvroSerializer: every Avro logical type fastavro writes
                       (decimal on bytes and on fixed, uuid, date, time-millis,
                       time-micros, timestamp-millis, timestamp-micros,
                       local-timestamp-millis, local-timestamp-micros), unions
                       (null/string, and long/string/record), a nested record,
                       an enum, an array, a map; the first records with version 1
                       of the schema, the rest with version 2 (one added field),
                       so each must decode with its own writer schema.
  PREFIX-proto         ProtobufSerializer: eddy.interop.Order (the file's second
                       message: index [1]) with a nested message, a map, well-known
                       types, and Money from a reference (eddy/interop/common.proto).
  PREFIX-proto-nested  ProtobufSerializer: eddy.interop.Order.Line (index [1, 0]).
  PREFIX-json          JSONSerializer (JSON Schema).

After producing it registers an incompatible version 2 of the referenced subject
eddy/interop/common.proto: the records pin version 1, and a reader must resolve
the reference by that pin, not by the subject's latest.

--out gets one JSON line per record: topic, partition, offset, key, format,
subject, version, message (Avro record or Protobuf message name), schema_id (from
the frame), value_b64 (the bytes produced), and "expected", the value as JSON the way eddy should render it:
  Avro      unions as plain values (not {"type": value}); bytes as the Avro
            spec's JSON encoding (one code point per byte, as kcat and rpk print);
            decimal as a string of its exact digits ("1234.50"); uuid as its
            string; date "2026-11-23"; time-millis "10:15:30.123"; time-micros
            "10:15:30.123456"; timestamp-* RFC 3339 in UTC with "Z"
            ("2026-11-23T10:15:30.123Z"); local-timestamp-* the same without a
            zone; enum as its symbol.
  Protobuf  protojson's mapping (google.protobuf.json_format, which matches Go's
            protojson): lowerCamelCase names, int64 as strings, enums by name,
            bytes base64, Timestamp RFC 3339, wrappers as their value, fields at
            their default omitted.
  JSON      the object as written.
The comparison in cmd/eddy/schema_interop_test.go treats renderings of the same
value as equal (a decimal as a number or a string, fractional seconds with or
without trailing zeros), and nothing else.
"""

import argparse
import base64
import datetime as dt
import decimal
import importlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import uuid

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "proto")

AVRO_V1 = {
    "type": "record",
    "name": "Payment",
    "namespace": "eddy.interop",
    "fields": [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
        {"name": "fee", "type": {"type": "fixed", "name": "Fee", "size": 8, "logicalType": "decimal", "precision": 10, "scale": 4}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at_ms", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "at_us", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "local_ms", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {"name": "local_us", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "ref", "type": ["null", "long", "string", {
            "type": "record", "name": "Account", "fields": [
                {"name": "iban", "type": "string"},
                {"name": "holder", "type": "string"},
            ]}]},
        {"name": "payer", "type": {
            "type": "record", "name": "Party", "fields": [
                {"name": "name", "type": "string"},
                {"name": "account", "type": "Account"},
            ]}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["PENDING", "SETTLED", "FAILED"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "limits", "type": {"type": "map", "values": "long"}},
        {"name": "count", "type": "int"},
        {"name": "ratio", "type": "double"},
        {"name": "ok", "type": "boolean"},
        {"name": "raw", "type": "bytes"},
    ],
}

# Version 2 adds a field with a default: a compatible change, but records written
# with version 1 have no "channel", and must not grow one when read.
AVRO_V2 = dict(AVRO_V1, fields=AVRO_V1["fields"] + [{"name": "channel", "type": "string", "default": "web"}])

JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Shipment",
    "type": "object",
    "properties": {
        "shipment_id": {"type": "string"},
        "order_id": {"type": "string"},
        "weight_kg": {"type": "number"},
        "parcels": {"type": "integer"},
        "shipped_at": {"type": "string", "format": "date-time"},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city"],
        },
        "items": {"type": "array", "items": {"type": "string"}},
        "express": {"type": "boolean"},
        "carrier": {"type": ["string", "null"]},
    },
    "required": ["shipment_id", "order_id"],
}

UTC = dt.timezone.utc


def avro_records(n, version):
    """Records for AVRO_V1/V2 and their expected JSON."""
    out = []
    for i in range(n):
        base = dt.datetime(2026, 11, 23, 10, 15, 30, 123456, tzinfo=UTC) + dt.timedelta(minutes=i)
        ts_ms = base.replace(microsecond=base.microsecond // 1000 * 1000)
        local = base.replace(tzinfo=None)
        local_ms = ts_ms.replace(tzinfo=None)
        amount = decimal.Decimal(f"{1234 + i}.{(i * 7) % 100:02d}")
        # Never -0: fastavro 1.13 writes Decimal("-0.0000") on a fixed as -0.0002.
        fee = decimal.Decimal(f"-0.{(i * 37) % 9999 + 1:04d}")
        ref_kinds = [None, 4200 + i, f"ref-{i}", {"iban": f"DE{i:020d}", "holder": "Ada"}]
        ref = ref_kinds[i % 4]
        rec = {
            "id": uuid.UUID(int=0x1234_5678_9ABC_4DEF_8000_0000_0000_0000 + i),
            "amount": amount,
            "fee": fee,
            "day": (base + dt.timedelta(days=i)).date(),
            "at_ms": dt.time(10, 15, 30, 123000),
            "at_us": dt.time(23, 59, 59, 999999 - i),
            "ts_ms": ts_ms,
            "ts_us": base,
            "local_ms": local_ms,
            "local_us": local,
            "note": None if i % 2 else f"note {i} — ünïcode",
            "ref": ref,
            "payer": {"name": f"payer-{i}", "account": {"iban": "FR7630006000011234567890189", "holder": "Grace"}},
            "status": ["PENDING", "SETTLED", "FAILED"][i % 3],
            "tags": [f"t{j}" for j in range(i % 3)],
            "limits": {"daily": 1000 * (i + 1), "monthly": -(2**40) - i},
            "count": -i,
            "ratio": 0.5 + i,
            "ok": i % 2 == 0,
            "raw": bytes([0, 1, 2, 255, i % 256]),
        }
        exp = {
            "id": str(rec["id"]),
            "amount": str(amount),
            "fee": str(fee),
            "day": rec["day"].isoformat(),
            "at_ms": "10:15:30.123",
            "at_us": rec["at_us"].isoformat(timespec="microseconds"),
            "ts_ms": ts_ms.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms.microsecond // 1000:03d}Z",
            "ts_us": base.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "local_ms": local_ms.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local_ms.microsecond // 1000:03d}",
            "local_us": local.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "note": rec["note"],
            "ref": ref,
            "payer": rec["payer"],
            "status": rec["status"],
            "tags": rec["tags"],
            "limits": rec["limits"],
            "count": rec["count"],
            "ratio": rec["ratio"],
            "ok": rec["ok"],
            "raw": rec["raw"].decode("latin-1"),  # Avro's JSON encoding: a code point per byte
        }
        if version == 2:
            rec["channel"] = ["web", "app"][i % 2]
            exp["channel"] = rec["channel"]
        out.append((rec, exp))
    return out


def compile_protos(workdir):
    """Compile order.proto and common.proto with grpcio-tools' protoc; import them."""
    from grpc_tools import protoc  # the protoc compiler, as a Python module
    import grpc_tools

    wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = ["protoc", f"-I{PROTO_DIR}", f"-I{wkt}", f"--python_out={workdir}",
            "eddy/interop/common.proto", "eddy/interop/order.proto"]
    if protoc.main(args) != 0:
        sys.exit("produce.py: protoc failed on " + PROTO_DIR)
    sys.path.insert(0, workdir)
    return importlib.import_module("eddy.interop.order_pb2")


def proto_records(order_pb2, n):
    from google.protobuf import json_format

    orders, lines = [], []
    for i in range(n):
        o = order_pb2.Order(
            order_id=f"ord-{i}",
            header=order_pb2.Header(event_id=f"evt-{i}", correlation_id=f"corr-{i // 2}"),
            status=[order_pb2.Order.PLACED, order_pb2.Order.SHIPPED, order_pb2.Order.STATUS_UNSPECIFIED][i % 3],
            customer_id=9_007_199_254_740_993 + i,  # past 2^53: a double would round it
            note=bytes([0xFF, 0x00, i % 256]),
            weight=1.25 * i,
        )
        for j in range(1 + i % 3):
            ln = o.lines.add(sku=f"sku-{j}", quantity=j + 1)
            ln.price.currency = "EUR"
            ln.price.units = 10 + j
            ln.price.nanos = 500_000_000 * (j % 2)
        o.total.currency = "EUR"
        o.total.units = 100 + i
        o.placed_at.FromDatetime(dt.datetime(2026, 11, 23, 10, 15, 30, 123000 * (i % 2), tzinfo=UTC) + dt.timedelta(seconds=i))
        if i % 2 == 0:
            o.attempt.value = i + 1
        o.labels["region"] = "eu"
        o.labels["i"] = str(i)
        orders.append((o, json_format.MessageToDict(o)))
        ln = order_pb2.Order.Line(sku=f"nested-{i}", quantity=i)
        ln.price.currency = "USD"
        ln.price.units = -i
        lines.append((ln, json_format.MessageToDict(ln)))
    return orders, lines


def json_records(n):
    out = []
    for i in range(n):
        rec = {
            "shipment_id": f"shp-{i}",
            "order_id": f"ord-{i}",
            "weight_kg": 0.5 * (i + 1),
            "parcels": i + 1,
            "shipped_at": f"2026-11-23T10:{i % 60:02d}:00Z",
            "address": {"city": "Lyon", "zip": f"690{i % 10:02d}"},
            "items": [f"it-{j}" for j in range(i % 4)],
            "express": i % 2 == 0,
            "carrier": None if i % 3 == 0 else "dhl",
        }
        out.append((rec, rec))
    return out


def registry_request(registry, method, path, body=None):
    """One call to the registry's Confluent API (the serializers' client has no
    call for registering a schema under a subject without a topic)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(registry.rstrip("/") + path, data=data, method=method,
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--registry", required=True, help="the Confluent API's base URL")
    ap.add_argument("--prefix", required=True, help="topic name prefix (make it unique per run)")
    ap.add_argument("--out", required=True, help="where the expected records go, as JSON lines")
    ap.add_argument("-n", type=int, default=12, help="records per topic (and per Avro schema version)")
    args = ap.parse_args()

    topics = {k: f"{args.prefix}-{k}" for k in ("avro", "proto", "proto-nested", "json")}
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    futures = admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=1) for t in topics.values()])
    for t, f in futures.items():
        try:
            f.result(timeout=30)
        except KafkaException as e:
            if e.args[0].code() != 36:  # TOPIC_ALREADY_EXISTS
                raise

    sr = SchemaRegistryClient({"url": args.registry, "timeout": 30})  # httpx waits forever without one
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 5, "enable.idempotence": True})
    delivered = []

    def send(topic, key, value_bytes, meta):
        def on_delivery(err, msg):
            if err is not None:
                sys.exit(f"produce.py: delivery to {topic} failed: {err}")
            delivered.append(dict(topic=msg.topic(), partition=msg.partition(), offset=msg.offset(), key=key, **meta))
        # The frame's schema id (bytes 1-4) and the bytes themselves: eddy's jsonl must
        # name the one and keep the other exactly.
        meta = dict(meta, schema_id=int.from_bytes(value_bytes[1:5], "big"),
                    value_b64=base64.b64encode(value_bytes).decode())
        producer.produce(topic, key=key.encode(), value=value_bytes, on_delivery=on_delivery)

    def ctx(topic):
        return SerializationContext(topic, MessageField.VALUE)

    # Avro: version 1, then version 2 of the subject's schema.
    t = topics["avro"]
    for version, schema in ((1, AVRO_V1), (2, AVRO_V2)):
        ser = AvroSerializer(sr, json.dumps(schema))
        for i, (rec, exp) in enumerate(avro_records(args.n, version)):
            send(t, f"avro-v{version}-{i}", ser(rec, ctx(t)),
                 dict(format="avro", subject=f"{t}-value", version=version, message="eddy.interop.Payment",
                      expected=exp))

    # Protobuf: Order (index [1]) and Order.Line (index [1, 0]), Money by reference.
    with tempfile.TemporaryDirectory() as work:
        order_pb2 = compile_protos(work)
        orders, lines = proto_records(order_pb2, args.n)
        for topic, msgs, name in ((topics["proto"], orders, "eddy.interop.Order"),
                                  (topics["proto-nested"], lines, "eddy.interop.Order.Line")):
            ser = ProtobufSerializer(type(msgs[0][0]), sr, {"use.deprecated.format": False})
            for i, (m, exp) in enumerate(msgs):
                send(topic, f"proto-{i}", ser(m, ctx(topic)),
                     dict(format="protobuf", subject=f"{topic}-value", version=1, message=name, expected=exp))

    t = topics["json"]
    ser = JSONSerializer(json.dumps(JSON_SCHEMA), sr)
    for i, (rec, exp) in enumerate(json_records(args.n)):
        send(t, f"json-{i}", ser(rec, ctx(t)), dict(format="json", subject=f"{t}-value", version=1, expected=exp))

    if producer.flush(60) != 0:
        sys.exit("produce.py: records still unsent after 60s")

    # The referenced subject gets an incompatible version 2 now that every record
    # pins version 1 (the registry's compatibility is NONE, set by brokers.sh).
    ref_subject = "eddy/interop/common.proto"
    with open(os.path.join(PROTO_DIR, "eddy", "interop", "common_v2.proto")) as f:
        v2 = f.read()
    registry_request(args.registry, "POST", f"/subjects/{urllib.parse.quote(ref_subject, safe='')}/versions",
                     {"schemaType": "PROTOBUF", "schema": v2})
    versions = registry_request(args.registry, "GET", f"/subjects/{urllib.parse.quote(ref_subject, safe='')}/versions")
    if len(versions) < 2:
        sys.exit(f"produce.py: {ref_subject} has versions {versions}; want a newer one than the records pin")

    delivered.sort(key=lambda r: (r["topic"], r["partition"], r["offset"]))
    with open(args.out, "w") as f:
        for r in delivered:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(json.dumps({"topics": topics, "records": len(delivered), "reference_versions": versions}))


if __name__ == "__main__":
    import faulthandler
    # A hang says where it hung (to stderr) before the Go test's deadline kills it.
    faulthandler.dump_traceback_later(150, exit=True)
    main()
