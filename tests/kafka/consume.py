#!/usr/bin/python3
"""Reads a topic from the beginning with kafka-python (a client independent
of librdkafka) and checks every message: key == value's event.id, headers
present. Prints one id per line to OUT.

usage: consume.py BOOTSTRAP TOPIC OUT [IDLE_SECONDS]
"""
import json
import sys

from kafka import KafkaConsumer

bootstrap, topic, out = sys.argv[1], sys.argv[2], sys.argv[3]
idle = float(sys.argv[4]) if len(sys.argv) > 4 else 5
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                         enable_auto_commit=False, consumer_timeout_ms=int(idle * 1000))
bad = 0
count = 0
with open(out, "w") as f:
    for m in consumer:
        count += 1
        record = json.loads(m.value)
        headers = dict(m.headers or [])
        if m.key.decode() != record["event"]["id"]:
            bad += 1
            print("key differs from event.id:", m.key, record["event"]["id"])
        if headers.get("schema-version") != b"2" or "zendesk-account" not in headers or headers.get("source") != b"zendesk-forwarder":
            bad += 1
            print("missing or wrong headers:", headers)
        f.write(record["event"]["id"] + "\n")
print(f"consumed {count} messages from {topic}; {bad} malformed")
sys.exit(1 if bad else 0)
