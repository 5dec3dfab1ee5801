#!/usr/bin/python3
"""Reads a topic from the beginning to its end offsets (as they are when it
starts: call it once the producers are done) with kafka-python (a client
independent of librdkafka) and checks every message: key == value's
event.id, headers present. Prints one id per line to OUT.

usage: consume.py BOOTSTRAP TOPIC OUT [IDLE_SECONDS]
  IDLE_SECONDS: gives up waiting for the next message after this long (the
  end offsets are then not reached: exits 1).
"""
import json
import sys

from kafka import KafkaConsumer, TopicPartition

bootstrap, topic, out = sys.argv[1], sys.argv[2], sys.argv[3]
idle = float(sys.argv[4]) if len(sys.argv) > 4 else 5
consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                         enable_auto_commit=False, consumer_timeout_ms=int(idle * 1000))
partitions = consumer.partitions_for_topic(topic)
if not partitions:
    sys.exit(f"topic {topic} not found")
tps = [TopicPartition(topic, p) for p in sorted(partitions)]
consumer.assign(tps)
consumer.seek_to_beginning(*tps)
# Stop at the end rather than after IDLE_SECONDS of silence: the same
# messages, without the wait.
end = consumer.end_offsets(tps)
behind = {tp for tp in tps if end[tp] > 0}
bad = 0
count = 0
with open(out, "w") as f:
    for m in consumer if behind else []:
        if m.offset + 1 >= end[TopicPartition(m.topic, m.partition)]:
            behind.discard(TopicPartition(m.topic, m.partition))
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
        if not behind:
            break
print(f"consumed {count} messages from {topic}; {bad} malformed")
if behind:
    print(f"no message for {idle} s before the end of {sorted(tp.partition for tp in behind)}")
sys.exit(1 if bad or behind else 0)
