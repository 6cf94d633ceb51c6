#!/usr/bin/env python3
"""Read what `eddy send --encode` wrote with Confluent's own deserializers.

    verify_send.py REGISTRY_URL RECORDS.jsonl PROTO_DIR

Each line of RECORDS.jsonl is {"topic", "format" (avro | protobuf | json),
"proto_file", "message" (Protobuf: the file and the message's name),
"value_b64" (the record's value as eddy wrote it), "expected" (the JSON eddy
was given)}. Every value is deserialized with confluent-kafka's
AvroDeserializer, ProtobufDeserializer (the message class compiled from
PROTO_DIR with grpcio-tools' protoc) or JSONDeserializer, against the
registry, and compared with "expected". Exit 1 on any difference.
"""
import base64
import importlib
import json
import os
import subprocess
import sys
import tempfile

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import json_format


def proto_class(proto_dir, proto_file, message, workdir):
    import grpc_tools
    wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = ["protoc", f"-I{proto_dir}", f"-I{wkt}", f"--python_out={workdir}", proto_file]
    from grpc_tools import protoc
    if protoc.main(args) != 0:
        sys.exit("verify_send.py: protoc failed on " + proto_file)
    sys.path.insert(0, workdir)
    mod = importlib.import_module(proto_file[:-len(".proto")].replace("/", ".") + "_pb2")
    cls = mod
    for part in message.split("."):
        cls = getattr(cls, part)
    return cls


def main():
    registry, path, proto_dir = sys.argv[1:4]
    sr = SchemaRegistryClient({"url": registry, "timeout": 30})
    avro = AvroDeserializer(sr)
    js = JSONDeserializer(None, schema_registry_client=sr)
    workdir = tempfile.mkdtemp()
    protos = {}
    n = bad = 0
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            raw = base64.b64decode(r["value_b64"])
            ctx = SerializationContext(r["topic"], MessageField.VALUE)
            if r["format"] == "avro":
                got = avro(raw, ctx)
            elif r["format"] == "json":
                got = js(raw, ctx)
            else:
                key = (r["proto_file"], r["message"])
                if key not in protos:
                    protos[key] = ProtobufDeserializer(proto_class(proto_dir, r["proto_file"], r["message"], workdir),
                                                       {"use.deprecated.format": False})
                got = json_format.MessageToDict(protos[key](raw, ctx))
            n += 1
            if got != r["expected"]:
                bad += 1
                print(f"verify_send.py: {r['topic']} ({r['format']}):\n  read     {got}\n  expected {r['expected']}")
    print(f"verify_send.py: {n} records, {bad} differ from what Confluent's deserializers read")
    sys.exit(1 if bad or n == 0 else 0)


if __name__ == "__main__":
    import faulthandler
    faulthandler.dump_traceback_later(150, exit=True)
    main()
