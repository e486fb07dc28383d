"""The project's C Pulsar client (oms-pulsar) and the official client
(pulsar-client, which wraps Apache's C++ client) talk through one real broker,
each reading what the other wrote.

Each test uses its own topic; subscriptions are created before anything is
produced, so nothing depends on a consumer's initial position.
"""

import collections
import subprocess
import threading
import time

import pulsar
import pytest

from pulsar_interop_util import (
    PULSAR_URL,
    assert_no_sanitizer_report,
    parse_key_payload_lines,
    run_cli,
    topic_internal_stats,
    topic_stats,
)

KEY_COUNT = 10
# How oms-pulsar consume --type names a Key_Shared subscription.
CLI_KEY_SHARED = "key_shared"
C_PAYLOAD_PREFIX = "from-c-"
C_PAYLOAD_SIZE = 48
# The C consumer of the Key_Shared test cannot know how many messages its
# keys will bring, so it runs until this timeout (and exits 1, "timeout
# after k of N", which the test expects).
C_KEY_SHARED_TIMEOUT_S = 30


def receive_all(consumer, expected, idle_timeout_ms=10000):
    """Receives and acknowledges until `expected` messages arrived or the
    topic stays silent for idle_timeout_ms. Returns [(key, payload, message)]."""
    received = []
    while len(received) < expected:
        try:
            message = consumer.receive(timeout_millis=idle_timeout_ms)
        except pulsar.Timeout:
            break
        consumer.acknowledge(message)
        received.append((message.partition_key(), message.data().decode(), message))
    return received


def produce_keyed(producer, records):
    """Sends every (key, payload) asynchronously and waits until all are
    acknowledged by the broker; fails on any send error."""
    errors = []
    done = threading.Semaphore(0)

    def on_sent(result, _message_id):
        if result != pulsar.Result.Ok:
            errors.append(result)
        done.release()

    for key, payload in records:
        producer.send_async(payload.encode(), on_sent, partition_key=key)
    producer.flush()
    for _ in records:
        assert done.acquire(timeout=60), "a send was never acknowledged"
    assert not errors, "sends failed: %s" % errors[:5]


def keyed_records(run_tag, count, key_count=KEY_COUNT):
    """(key, payload) pairs; the payload names its key and its rank, so a
    mix-up between messages shows."""
    return [
        ("key-%02d" % (i % key_count), "%s|%06d|key-%02d" % (run_tag, i, i % key_count))
        for i in range(count)
    ]


def test_c_producer_to_official_consumer(client, oms_pulsar, topic, message_count):
    consumer = client.subscribe(topic, "py-reader", consumer_type=pulsar.ConsumerType.Exclusive)

    produced = run_cli(
        [oms_pulsar, "produce", "--url", PULSAR_URL, "--topic", topic,
         "--count", str(message_count), "--key-prefix", "k", "--keys", str(KEY_COUNT),
         "--prefix", C_PAYLOAD_PREFIX, "--payload-size", str(C_PAYLOAD_SIZE)],
        timeout=120,
    )
    assert_no_sanitizer_report(produced.stderr)
    assert produced.returncode == 0, "oms-pulsar produce failed:\n" + produced.stderr[-4000:]

    received = receive_all(consumer, message_count)
    consumer.close()

    # oms-pulsar produce sends message i with key "k<i % keys>" and payload
    # "<prefix><i>" padded with 'x' to --payload-size bytes, in order, from
    # one producer: an exclusive subscriber sees exactly that sequence.
    expected = [
        ("k%d" % (i % KEY_COUNT), ("%s%d" % (C_PAYLOAD_PREFIX, i)).ljust(C_PAYLOAD_SIZE, "x"))
        for i in range(message_count)
    ]
    got = [(key, payload) for key, payload, _ in received]
    assert sorted(got) == sorted(expected), describe_difference(expected, got)
    assert got == expected, "all messages arrived, but out of publish order"


def test_official_batched_producer_to_c_consumer(client, oms_pulsar, topic, message_count):
    subscription = "c-reader"
    # Create the (durable) subscription first, then let the C client join it.
    client.subscribe(topic, subscription, consumer_type=pulsar.ConsumerType.Shared).close()

    producer = client.create_producer(
        topic,
        batching_enabled=True,
        batching_max_messages=100,
        batching_max_publish_delay_ms=50,
        block_if_queue_full=True,
    )
    records = keyed_records("batched", message_count)
    produce_keyed(producer, records)
    producer.close()

    entries = topic_internal_stats(topic)["numberOfEntries"]
    assert entries < message_count / 2, (
        "only %d messages per entry: the producer did not batch, so the test "
        "would not exercise batch parsing" % (message_count / max(entries, 1))
    )

    consumed = run_cli(
        [oms_pulsar, "consume", "--url", PULSAR_URL, "--topic", topic,
         "--subscription", subscription, "--type", "shared",
         "--count", str(message_count), "--timeout-s", "60"],
        timeout=120,
    )
    assert_no_sanitizer_report(consumed.stderr)
    assert consumed.returncode == 0, "oms-pulsar consume failed:\n" + consumed.stderr[-4000:]
    got = parse_key_payload_lines(consumed.stdout)
    assert sorted(got) == sorted(records), describe_difference(records, got)
    # One consumer on a shared subscription and one producer: publish order.
    assert got == records

    # The C client acknowledged everything it printed: nothing is left.
    def backlog():
        return topic_stats(topic)["subscriptions"][subscription]["msgBacklog"]

    assert wait_for(lambda: backlog() == 0), (
        "backlog of %d after the C client consumed everything: it did not acknowledge" % backlog()
    )


def test_key_shared_subscription_split_between_c_and_official(client, oms_pulsar, topic, message_count):
    subscription = "shared-keys"
    key_count = 20
    py_consumer = client.subscribe(
        topic, subscription, consumer_type=pulsar.ConsumerType.KeyShared, consumer_name="python"
    )

    c_consumer = subprocess.Popen(
        [oms_pulsar, "consume", "--url", PULSAR_URL, "--topic", topic,
         "--subscription", subscription, "--type", CLI_KEY_SHARED,
         "--count", str(message_count), "--timeout-s", str(C_KEY_SHARED_TIMEOUT_S)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        joined = wait_for(lambda: consumer_count(topic, subscription) == 2, timeout_s=30)
        assert joined, "the C consumer did not join the Key_Shared subscription"

        producer = client.create_producer(
            topic,
            batching_enabled=True,
            batching_max_messages=100,
            batching_type=pulsar.BatchingType.KeyBased,
            block_if_queue_full=True,
        )
        records = keyed_records("keyshared", message_count, key_count)
        produce_keyed(producer, records)
        producer.close()

        python_got = []
        # Keep reading while the C consumer runs (and a little after it
        # exits): anything it leaves unacknowledged is redelivered here.
        hard_deadline = time.monotonic() + C_KEY_SHARED_TIMEOUT_S + 60
        while True:
            c_running = c_consumer.poll() is None
            assert time.monotonic() < hard_deadline, "oms-pulsar consume did not stop after --timeout-s"
            batch = receive_all(py_consumer, message_count, idle_timeout_ms=2000)
            python_got.extend((key, payload) for key, payload, _ in batch)
            if not c_running and not batch:
                break
        c_out, c_err = c_consumer.communicate(timeout=10)
    finally:
        if c_consumer.poll() is None:
            c_consumer.kill()
            c_consumer.communicate()
        py_consumer.close()

    assert_no_sanitizer_report(c_err)
    c_got = parse_key_payload_lines(c_out)

    everything = python_got + c_got
    assert len(everything) == len(set(everything)), "a message was delivered twice"
    assert sorted(everything) == sorted(records), describe_difference(records, everything)

    python_keys = {key for key, _ in python_got}
    c_keys = {key for key, _ in c_got}
    assert c_keys, "the C consumer got no key at all"
    assert python_keys, "the official consumer got no key at all"
    assert not python_keys & c_keys, "keys seen by both consumers: %s" % sorted(python_keys & c_keys)

    # Key_Shared keeps each key's order.
    for name, got in (("C", c_got), ("python", python_got)):
        per_key = collections.defaultdict(list)
        for key, payload in got:
            per_key[key].append(payload)
        for key, payloads in per_key.items():
            assert payloads == sorted(payloads), "%s consumer got %s out of order" % (name, key)


# ---------------------------------------------------------------- helpers


def consumer_count(topic, subscription):
    try:
        return len(topic_stats(topic)["subscriptions"][subscription]["consumers"])
    except (KeyError, OSError):
        return 0


def wait_for(predicate, timeout_s=15, interval_s=0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def describe_difference(expected, got):
    expected_set, got_set = set(expected), set(got)
    missing = sorted(expected_set - got_set)
    unexpected = sorted(got_set - expected_set)
    return "%d expected, %d received; missing %d (first %s); unexpected %d (first %s)" % (
        len(expected), len(got), len(missing), missing[:3], len(unexpected), unexpected[:3]
    )


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
