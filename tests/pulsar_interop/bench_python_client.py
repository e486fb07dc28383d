#!/usr/bin/env python3
"""Throughput of the official Pulsar client (pulsar-client), to compare with
the project's C client (`oms-pulsar perf`) in the same run and on the same
broker.

Mirrors `oms-pulsar perf --count N --payload-size B --key-prefix key- --keys K`:
on one fresh topic a shared subscription is created, then N messages of B
bytes (default 100, as perf), message i keyed "key-<i % K>", are produced
asynchronously (at most --max-pending in flight: 10000, the C client's
default window) by the main thread while a second thread receives and
acknowledges them. Each message passes through Python code (callback,
receive, acknowledge), so this measures the Python binding as an
application would use it, not the C++ core alone. The clock runs from the subscription being
ready to the last message received. --batch turns on producer batching
(100 messages or 10 ms), which oms-pulsar has no switch for. Prints one
JSON line:

  {"client": "python", "batching": false, "produced": N, "consumed": N,
   "seconds": S, "msg_per_s": R, "payload_size": B, "keys": K}

Exit status 1 when fewer than N messages came back within --timeout-s.
"""

import argparse
import json
import os
import sys
import threading
import time
import uuid

import pulsar


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("PULSAR_URL", "pulsar://127.0.0.1:6650"))
    parser.add_argument("--topic", help="default: a new topic per run")
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--payload-size", "--size", dest="size", type=int, default=100, help="payload bytes")
    parser.add_argument("--key-prefix", default="key-")
    parser.add_argument("--keys", type=int, default=100, help="distinct message keys")
    parser.add_argument("--max-pending", type=int, default=10000, help="sends awaiting a receipt")
    parser.add_argument("--batch", action="store_true", help="enable producer batching (100 messages, 10 ms)")
    parser.add_argument("--timeout-s", type=float, default=300)
    args = parser.parse_args()
    if args.count <= 0 or args.size <= 0 or args.keys <= 0:
        parser.error("--count, --size and --keys must be positive")
    return args


def payload_for(index, size):
    """A payload of exactly `size` bytes that starts with its rank."""
    head = b"%010d:" % index
    return (head + b"x" * size)[:size]


class Receiver(threading.Thread):
    """Receives and acknowledges until `expected` messages or a deadline."""

    def __init__(self, consumer, expected, deadline):
        super().__init__(daemon=True)
        self.consumer = consumer
        self.expected = expected
        self.deadline = deadline
        self.received = 0
        self.finished_at = None

    def run(self):
        while self.received < self.expected and time.monotonic() < self.deadline:
            try:
                message = self.consumer.receive(timeout_millis=500)
            except pulsar.Timeout:
                continue
            self.consumer.acknowledge(message)
            self.received += 1
        self.finished_at = time.monotonic()


def produce(producer, args, failures):
    def on_sent(result, _message_id):
        if result != pulsar.Result.Ok:
            failures.append(str(result))

    for i in range(args.count):
        key = "%s%d" % (args.key_prefix, i % args.keys)
        producer.send_async(payload_for(i, args.size), on_sent, partition_key=key)
    producer.flush()


def main():
    args = parse_args()
    topic = args.topic or "persistent://public/default/bench-python-%s" % uuid.uuid4().hex[:12]
    token_file = os.environ.get("PULSAR_AUTH_TOKEN_FILE")
    authentication = None
    if token_file:
        with open(token_file, encoding="ascii") as f:
            authentication = pulsar.AuthenticationToken(f.read().strip())
    client = pulsar.Client(args.url, authentication=authentication,
                           logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn))
    try:
        consumer = client.subscribe(topic, "bench", consumer_type=pulsar.ConsumerType.Shared)
        producer = client.create_producer(
            topic,
            batching_enabled=args.batch,
            batching_max_messages=100,
            batching_max_publish_delay_ms=10,
            max_pending_messages=args.max_pending,
            block_if_queue_full=True,
        )
        failures = []
        started = time.monotonic()
        receiver = Receiver(consumer, args.count, started + args.timeout_s)
        receiver.start()
        produce(producer, args, failures)
        receiver.join()
        seconds = receiver.finished_at - started
        producer.close()
        consumer.close()
    finally:
        client.close()

    produced = args.count - len(failures)
    print(json.dumps({
        "client": "python",
        "batching": args.batch,
        "produced": produced,
        "consumed": receiver.received,
        "seconds": round(seconds, 3),
        "msg_per_s": round(receiver.received / seconds, 1) if seconds > 0 else 0.0,
        "payload_size": args.size,
        "keys": args.keys,
    }), flush=True)
    return 0 if receiver.received == args.count and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
