#!/usr/bin/env python3
"""Check produce.py's expectations against Confluent's own deserializers.

    verify.py REGISTRY_URL EXPECTED.jsonl

Decodes every record's bytes (value_b64) with confluent-kafka's AvroDeserializer,
ProtobufDeserializer and JSONDeserializer against the registry and compares the
result, rendered as produce.py documents, with "expected". A difference means the
expectation is wrong (or the serializer wrote something else than it was given),
not eddy: the interop test runs this before it reads with eddy. Exit 1 on any.
"""
import base64
import datetime as dt
import decimal
import json
import os
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import produce  # noqa: E402  (its schemas and its .proto compilation)
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import SerializationContext, MessageField
from google.protobuf import json_format



def frac(s):
    """s without the trailing zeros of its fraction of a second (10:15:30.120 is 10:15:30.12)"""
    return s.rstrip("0").rstrip(".") if "." in s else s


def natural(v):
    """v as deserialized, rendered as produce.py's expectations are (fractions trimmed)"""
    if isinstance(v, dict):
        return {k: natural(x) for k, x in v.items()}
    if isinstance(v, list):
        return [natural(x) for x in v]
    if isinstance(v, (decimal.Decimal, uuid.UUID)):
        return str(v)
    if isinstance(v, bytes):  # Avro: the spec's JSON encoding, a code point per byte
        return v.decode("latin-1")
    if isinstance(v, dt.datetime):
        if v.tzinfo:
            return frac(v.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")) + "Z"
        return frac(v.strftime("%Y-%m-%dT%H:%M:%S.%f"))
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.time):
        return frac(v.strftime("%H:%M:%S.%f"))
    return v


def trimmed(v):
    """an expectation with its time fractions trimmed like natural()'s"""
    if isinstance(v, dict):
        return {k: trimmed(x) for k, x in v.items()}
    if isinstance(v, list):
        return [trimmed(x) for x in v]
    if isinstance(v, str) and ":" in v and "." in v.split(":")[-1]:
        return frac(v[:-1]) + "Z" if v.endswith("Z") else frac(v)
    return v


def main():
    registry, path = sys.argv[1:3]
    sr = SchemaRegistryClient({"url": registry, "timeout": 30})
    order_pb2 = produce.compile_protos(tempfile.mkdtemp())
    avro = AvroDeserializer(sr)
    proto = {
        "eddy.interop.Order": ProtobufDeserializer(order_pb2.Order, {"use.deprecated.format": False}),
        "eddy.interop.Order.Line": ProtobufDeserializer(order_pb2.Order.Line, {"use.deprecated.format": False}),
    }
    jsonschema = JSONDeserializer(None, schema_registry_client=sr)
    n = bad = 0
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            raw = base64.b64decode(r["value_b64"])
            ctx = SerializationContext(r["topic"], MessageField.VALUE)
            want = r["expected"]
            if r["format"] == "avro":
                got, want = natural(avro(raw, ctx)), trimmed(want)
            elif r["format"] == "protobuf":
                got = json_format.MessageToDict(proto[r["message"]](raw, ctx))
            else:
                got = jsonschema(raw, ctx)
            n += 1
            if got != want:
                bad += 1
                print(f"verify.py: {r['topic']}@{r['offset']}:\n  read     {got}\n  expected {want}")
    print(f"verify.py: {n} records, {bad} differ from what Confluent's deserializers read")
    sys.exit(1 if bad or n == 0 else 0)


if __name__ == "__main__":
    import faulthandler
    # A hang says where it hung (to stderr) before the Go test's deadline kills it.
    faulthandler.dump_traceback_later(150, exit=True)
    main()
