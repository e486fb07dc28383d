"""Faults injected while the load runs, one at a time, each counted by kind.

The first round does every kind once (in random order) so that even a short
run meets each; after that kinds are drawn by weight."""
import random
import subprocess
import threading
import time
from collections import Counter


class FaultInjector:
    def __init__(self, cluster, interval_s, seed, stop, log, expected_load_s=None):
        self.cluster = cluster
        self.interval_s = interval_s  # (min, max) seconds between faults
        self.rng = random.Random(seed)
        self.stop = stop
        self.log = log
        self.counts = Counter()
        self.failed = Counter()  # a fault that could not be done (e.g. pg_ctl failed)
        self.events = []  # (time, kind, detail)
        self.poison_keys = []
        self._thread = None
        self._finish = threading.Event()
        weights = {"sigkill": 30, "sigstop": 25, "pg-terminate-backends": 20, "pg-restart-immediate": 10}
        if cluster.bus == "pg":
            weights["poison-message"] = 5
        else:
            weights["broker-restart"] = 10
        self.weights = weights
        # Room for the whole first round within the load, when it is short.
        if expected_load_s and interval_s[1] * (len(weights) + 1) > expected_load_s:
            scale = expected_load_s / (interval_s[1] * (len(weights) + 1))
            self.interval_s = (interval_s[0] * scale, interval_s[1] * scale)

    def start(self):
        self._thread = threading.Thread(target=self._main, name="faults", daemon=True)
        self._thread.start()

    def finish(self):
        """Stops after the fault under way, first doing at once any kind the
        first round has not reached yet; then every process runs again."""
        self._finish.set()
        if self._thread:
            self._thread.join()
        self.cluster.all_up()

    def _main(self):
        first_round = list(self.weights)
        self.rng.shuffle(first_round)
        while True:
            finishing = self._finish.wait(self.rng.uniform(*self.interval_s) if not self._finish.is_set() else 1)
            if self.stop.is_set() or (finishing and not first_round):
                return
            if first_round:
                kind = first_round.pop()
            else:
                kinds = list(self.weights)
                kind = self.rng.choices(kinds, [self.weights[k] for k in kinds])[0]
            self._do(kind, after_load=finishing)

    def _do(self, kind, after_load):
        try:
            detail = self.inject(kind)
            if after_load:
                detail += " (after the load: the first round had not reached it)"
            self.counts[kind] += 1
            self.events.append((time.time(), kind, detail))
            self.log(f"fault: {kind} {detail}")
        except (subprocess.SubprocessError, OSError) as e:
            self.failed[kind] += 1
            self.events.append((time.time(), kind, f"FAILED: {e}"))
            self.log(f"fault: {kind} could not be done: {e}")

    def _victim(self):
        # The gateway is the only entry, so it is chosen less often.
        instances = self.cluster.instances
        weights = [1 if i.kind == "gateway" else 3 for i in instances]
        return self.rng.choices(instances, weights)[0]

    def inject(self, kind):
        if kind == "sigkill":
            inst = self._victim()
            down_s = self.rng.uniform(0.3, 3.0)
            self.cluster.sigkill_and_restart(inst, down_s)
            return f"{inst.name}, restarted after {down_s:.1f}s"
        if kind == "sigstop":
            inst = self._victim()
            pause_s = self.rng.uniform(1.0, 4.0)
            if not self.cluster.sigstop_then_cont(inst, pause_s):
                raise OSError(f"{inst.name} was not running")
            return f"{inst.name} for {pause_s:.1f}s"
        if kind == "pg-restart-immediate":
            started = time.time()
            self.cluster.pg_restart_immediate()
            return f"back after {time.time() - started:.1f}s"
        if kind == "pg-terminate-backends":
            return f"{self.cluster.pg_terminate_backends()} backends"
        if kind == "broker-restart":
            started = time.time()
            self.cluster.pulsar_restart()
            return f"back after {time.time() - started:.1f}s"
        if kind == "poison-message":
            return self.poison()
        raise ValueError(kind)

    def poison(self):
        """A message that cannot be parsed, put straight on a pg bus queue:
        it must end in bus_dead_letter without blocking the messages behind
        it. The only dead letter expected at the end."""
        topic, subscription = self.rng.choice([
            ("payment-commands", "payment-service"), ("inventory-commands", "inventory-service"),
            ("payment-events", "order-service"), ("inventory-events", "order-service")])
        key = f"chaos-poison-{len(self.poison_keys) + 1}"
        self.cluster.psql("bus", "INSERT INTO bus_queue (topic, subscription, key, payload) "
                                 f"VALUES ('{topic}', '{subscription}', '{key}', 'chaos: this is not JSON {{')")
        self.poison_keys.append((topic, subscription, key))
        return f"{key} on {topic}/{subscription}"
