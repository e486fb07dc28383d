"""The processes of a chaos run: the private PostgreSQL, the Pulsar broker,
two instances of each service and one gateway, and the faults done to them.

Every child process is started by one long-lived supervisor thread with
PR_SET_PDEATHSIG, so that even a driver killed with SIGKILL leaves no service
behind (the kernel sends the signal when the *thread* that forked dies, hence
one thread that lives until the end does every fork). PostgreSQL and Pulsar
daemonise through their own scripts; stop() stops them, and scripts/chaos.sh
stops PostgreSQL once more on its way out.
"""
import ctypes
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

import requests

PR_SET_PDEATHSIG = 1
FINAL_STOP_GRACE_S = 15
MAX_UNEXPECTED_EXITS = 20


def _die_with_parent():
    """preexec_fn: SIGKILL this child when the thread that forked it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass(eq=False)
class Instance:
    """One service process: name (e.g. order-a), kind (order, inventory,
    payment, gateway), port, command line and environment."""

    name: str
    kind: str
    port: int
    argv: list
    env: dict
    log_path: str
    popen: subprocess.Popen = None
    expected_down: bool = False  # killed on purpose, restart pending
    stopped: bool = False  # SIGSTOPped on purpose
    starts: int = 0
    exits: list = field(default_factory=list)  # (time, returncode, expected)
    # Held while the instance's process changes hands (kill, exit noticed,
    # start), so that a fault and the supervisor never both restart it.
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def alive(self):
        return self.popen is not None and self.popen.poll() is None


class Supervisor:
    """The one thread that forks every service process (see the module
    header) and notices processes that exit without being killed on purpose."""

    def __init__(self, on_unexpected_exit):
        self._requests = queue.Queue()
        self._on_unexpected_exit = on_unexpected_exit
        self._instances = []
        self._lock = threading.Lock()
        self._running = True
        self._thread = threading.Thread(target=self._main, name="supervisor", daemon=True)
        self._thread.start()

    def start(self, inst):
        """Starts inst (from the supervisor thread); returns once forked."""
        done = threading.Event()
        box = {}
        self._requests.put((inst, done, box))
        done.wait()
        if "error" in box:
            raise box["error"]

    def watch(self, inst):
        with self._lock:
            if inst not in self._instances:
                self._instances.append(inst)

    def shutdown(self):
        """Ends the thread; call after every process has been stopped."""
        self._running = False
        self._requests.put(None)
        self._thread.join(timeout=5)

    def _spawn(self, inst):
        with inst.lock:
            if inst.alive():
                return  # already running: a second one would find its port taken
            self._spawn_locked(inst)

    def _spawn_locked(self, inst):
        log = open(inst.log_path, "ab", buffering=0)
        try:
            log.write(f"\n==== chaos: start #{inst.starts + 1} of {inst.name} at {time.strftime('%H:%M:%S')}\n".encode())
            inst.popen = subprocess.Popen(
                inst.argv,
                env=inst.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        inst.starts += 1
        inst.expected_down = False
        inst.stopped = False

    def _main(self):
        while self._running:
            try:
                item = self._requests.get(timeout=0.2)
            except queue.Empty:
                item = False
            if item is None:
                break
            if item:
                inst, done, box = item
                try:
                    self._spawn(inst)
                except OSError as e:
                    box["error"] = e
                done.set()
            self._check_exits()

    def _check_exits(self):
        with self._lock:
            instances = list(self._instances)
        for inst in instances:
            with inst.lock:
                if inst.popen is None or inst.expected_down:
                    continue
                code = inst.popen.poll()
                if code is None:
                    continue
                inst.exits.append((time.time(), code, False))
                inst.expected_down = True  # reported once; restarted below
            self._on_unexpected_exit(inst, code)
            if sum(1 for e in inst.exits if not e[2]) > MAX_UNEXPECTED_EXITS:
                return  # it keeps dying: leave it down, the report says why
            time.sleep(1)  # a process failing at start must not spin
            try:
                self._spawn(inst)
            except OSError:
                pass


# CHAOS_PORT_OFFSET (scripts/chaos.sh: 100 * OMS_TEST_SLOT) moves every port.
PORT_OFFSET = int(os.environ.get("CHAOS_PORT_OFFSET", "0"))


class Cluster:
    """Starts, faults and stops everything of one chaos run."""

    SERVICE_PORTS = {"order": (19001 + PORT_OFFSET, 19011 + PORT_OFFSET),
                     "inventory": (19002 + PORT_OFFSET, 19012 + PORT_OFFSET),
                     "payment": (19003 + PORT_OFFSET, 19013 + PORT_OFFSET)}
    GATEWAY_PORT = 19080 + PORT_OFFSET
    DATABASES = {"order": "orders", "inventory": "inventory", "payment": "payments"}

    def __init__(self, repo, run_dir, bin_dir, pg_port, bus, saga_timeout_s, default_credit,
                 pulsar_port, pulsar_admin_port, log, api_keys):
        self.repo = repo
        self.run_dir = run_dir
        self.log_dir = os.path.join(run_dir, "logs")
        self.bin_dir = bin_dir
        self.pg_port = pg_port
        self.bus = bus
        self.saga_timeout_s = saga_timeout_s
        self.default_credit = default_credit
        self.pulsar_port = pulsar_port
        self.pulsar_admin_port = pulsar_admin_port
        self.pulsar_dir = os.path.join(run_dir, "pulsar")
        self.log = log
        self.pg_sh = os.path.join(repo, "infrastructure/postgres/pg.sh")
        self.internal_key = os.urandom(24).hex()  # the gateway's credential towards the services
        self.api_keys = api_keys  # the gateway's API_KEYS: authentication on, as outside a local run
        self.pulsar_sh = os.path.join(repo, "infrastructure/pulsar/pulsar.sh")
        self.instances = []
        self.unexpected_exits = []  # (name, returncode, log tail)
        self.supervisor = None
        self.pg_started = False
        self.pulsar_started = False
        self._stopped = False
        self._stop_lock = threading.Lock()

    # ------------------------------------------------------------ PostgreSQL

    def _pg_env(self):
        env = dict(os.environ)
        env["OMS_RUN_DIR"] = self.run_dir
        env["PG_PORT"] = str(self.pg_port)
        env["PGPASSFILE"] = self.pgpass("postgres")
        return env

    def pgpass(self, role):
        """The password file of a role of the cluster (pg.sh makes them)."""
        return os.path.join(self.run_dir, "pg-auth", f"{role}.pgpass")

    def pg_script(self, *args, check=True, timeout=180):
        return subprocess.run([self.pg_sh, *args], env=self._pg_env(), check=check, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def start_postgres(self):
        """A fresh cluster: the invariants count from an empty system."""
        self.pg_script("destroy")
        self.pg_started = True
        out = self.pg_script("start", check=False)
        if out.returncode != 0:
            raise RuntimeError(f"pg.sh start failed:\n{out.stdout[-3000:]}")
        self.log(out.stdout.strip())

    def cluster_home(self):
        location = os.path.join(self.run_dir, "pg.location")
        if os.path.exists(location):
            with open(location) as f:
                return f.read().strip()
        return os.path.join(self.run_dir, "pg")

    def _as_cluster_owner(self, argv):
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _psql_env(self):
        return {**os.environ, "PGCONNECT_TIMEOUT": "5", "PGPASSFILE": self.pgpass("postgres")}

    def psql(self, db, sql, timeout=60):
        """Runs sql on db; returns the rows as lists of strings (NULL = "")."""
        argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-R", "\x1e",
                "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-d", db, "-c", sql]
        out = subprocess.run(argv, check=True, timeout=timeout, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self._psql_env())
        text = out.stdout.rstrip("\n")
        if not text:
            return []
        return [record.split("\x1f") for record in text.split("\x1e") if record != ""]

    def psql_snapshot(self, db, statements, timeout=120):
        """Runs several SELECTs in one REPEATABLE READ transaction (one
        snapshot); returns one list of rows per statement."""
        marker = "chaos-result-boundary"
        script = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
        for sql in statements:
            script += sql.rstrip().rstrip(";") + f";\nSELECT '{marker}';\n"
        script += "COMMIT;\n"
        argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-R", "\x1e",
                "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-d", db, "-f", "-"]
        out = subprocess.run(argv, input=script, check=True, timeout=timeout, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self._psql_env())
        # psql ends each result with a newline (rows within it end with -R):
        # every result is followed by the marker's own one-row result.
        parts = out.stdout.split(marker + "\n")
        results = []
        for part in parts[:-1]:
            part = part[:-1] if part.endswith("\n") else part
            results.append([record.split("\x1f") for record in part.split("\x1e") if record != ""])
        if len(results) != len(statements):
            raise subprocess.SubprocessError(f"psql_snapshot: {len(results)} results for {len(statements)} statements")
        return results

    def pg_restart_immediate(self):
        """pg_ctl restart -m immediate: every connection dies without
        warning, the server does crash recovery, then accepts again."""
        home = self.cluster_home()
        argv = self._as_cluster_owner([
            "/usr/lib/postgresql/15/bin/pg_ctl", "-D", os.path.join(home, "data"),
            "-l", os.path.join(home, "server.log"), "-m", "immediate", "-w", "-t", "120", "restart"])
        subprocess.run(argv, check=True, timeout=180, cwd="/", stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def pg_terminate_backends(self):
        rows = self.psql("postgres",
                         "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE datname IN ('orders', 'inventory', 'payments', 'bus') "
                         "AND pid <> pg_backend_pid()")
        return int(rows[0][0]) if rows else 0

    # ---------------------------------------------------------------- Pulsar

    def _pulsar_env(self):
        env = dict(os.environ)
        env["PULSAR_DIR"] = self.pulsar_dir
        env["PULSAR_PORT"] = str(self.pulsar_port)
        env["PULSAR_ADMIN_PORT"] = str(self.pulsar_admin_port)
        env["PULSAR_TLS_PORT"] = str(self.pulsar_port + 1)
        return env

    def _pulsar_token_file(self, role):
        """The role's token that pulsar.sh made, or None without authentication."""
        path = os.path.join(self.pulsar_dir, "auth", "tokens", f"{role}.token")
        return path if os.path.isfile(path) else None

    def pulsar_script(self, *args, timeout=400):
        subprocess.run([self.pulsar_sh, *args], env=self._pulsar_env(), check=True, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def start_pulsar(self):
        self.pulsar_started = True
        self.pulsar_script("start", "--wipe")

    def pulsar_restart(self):
        self.pulsar_script("restart")

    def pulsar_admin(self, path):
        headers = {}
        token_file = self._pulsar_token_file("admin")
        if token_file:
            with open(token_file, encoding="ascii") as f:
                headers["Authorization"] = "Bearer " + f.read().strip()
        r = requests.get(f"http://127.0.0.1:{self.pulsar_admin_port}/admin/v2/{path}", headers=headers,
                         timeout=10)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    # -------------------------------------------------------------- services

    def _service_env(self, kind, port):
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                        "LSAN_OPTIONS", "LOG_LEVEL", "BUS_LEASE_S")}
        env.update({
            "PORT": str(port),
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.pg_port),
            "BUS_POSTGRES_DB": "bus",
            "MESSAGE_BUS": self.bus,
            "PULSAR_HOST": "127.0.0.1",
            "PULSAR_PORT": str(self.pulsar_port),
            "SAGA_STEP_TIMEOUT_S": str(self.saga_timeout_s),
            "DEFAULT_CREDIT": self.default_credit,
            "DB_POOL_SIZE": "8",
            "HTTP_THREADS": "8",
            "UPSTREAM_TIMEOUT_MS": "3000",
        })
        env.setdefault("LOG_LEVEL", "info")
        # A local run (loopback listeners, DEFAULT_CREDIT as given), but with
        # authentication on: the gateway has API keys per role and customer,
        # the services answer the gateway only.
        env["OMS_LOCAL_RUN"] = "1"
        if kind == "gateway":
            env["SERVICE_NAME"] = "api-gateway"
            env["INTERNAL_API_KEY"] = self.internal_key
            env["API_KEYS"] = self.api_keys
            env["RATE_LIMIT_RPS"] = "0"  # the load comes from one address
            for service in ("order", "inventory", "payment"):
                urls = ",".join(f"http://127.0.0.1:{p}" for p in self.SERVICE_PORTS[service])
                env[f"{service.upper()}_SERVICE_URL"] = urls
        else:
            env["SERVICE_NAME"] = f"{kind}-service"
            env["INTERNAL_API_KEYS"] = self.internal_key  # they answer the gateway only
            # Each service as its own PostgreSQL role (pg.sh: least privilege)
            # and with its own Pulsar token.
            env["POSTGRES_USER"] = f"{kind}-service"
            env["PGPASSFILE"] = self.pgpass(f"{kind}-service")
            token_file = self._pulsar_token_file(f"{kind}-service")
            if self.bus == "pulsar" and token_file:
                env["PULSAR_AUTH_TOKEN_FILE"] = token_file
            env["POSTGRES_DB"] = self.DATABASES[kind]
            env["MIGRATIONS_DIR"] = os.path.join(self.repo, f"services/{kind}-service/migrations")
        return env

    def _make_instances(self):
        for kind in ("order", "inventory", "payment"):  # order-service sets up the bus database
            for letter, port in zip("ab", self.SERVICE_PORTS[kind]):
                self.instances.append(Instance(
                    name=f"{kind}-{letter}", kind=kind, port=port,
                    argv=[os.path.join(self.bin_dir, f"{kind}-service")],
                    env=self._service_env(kind, port),
                    log_path=os.path.join(self.log_dir, f"{kind}-{letter}.log")))
        self.instances.append(Instance(
            name="gateway", kind="gateway", port=self.GATEWAY_PORT,
            argv=[os.path.join(self.bin_dir, "api-gateway")],
            env=self._service_env("gateway", self.GATEWAY_PORT),
            log_path=os.path.join(self.log_dir, "gateway.log")))

    def _on_unexpected_exit(self, inst, code):
        tail = self.log_tail(inst, 15)
        self.unexpected_exits.append({"instance": inst.name, "returncode": code, "log_tail": tail})
        self.log(f"!! {inst.name} exited by itself (status {code}); restarting. Last lines:\n{tail}")

    @staticmethod
    def log_tail(inst, lines):
        try:
            with open(inst.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 8192))
                text = f.read().decode(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        except OSError:
            return ""

    def ports_free(self):
        """Names of our ports that something else already answers on."""
        taken = []
        ports = [p for pair in self.SERVICE_PORTS.values() for p in pair] + [self.GATEWAY_PORT]
        for port in ports:
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
                taken.append(port)
            except requests.RequestException:
                pass
        return taken

    def start_services(self, ready_timeout_s):
        os.makedirs(self.log_dir, exist_ok=True)
        taken = self.ports_free()
        if taken:
            raise RuntimeError(f"ports {taken} are taken by processes this run did not start")
        self._make_instances()
        for inst in self.instances:
            missing = [a for a in inst.argv[:1] if not os.access(a, os.X_OK)]
            if missing:
                raise RuntimeError(f"{missing[0]} is missing: build it first (scripts/chaos.sh builds it)")
        self.supervisor = Supervisor(self._on_unexpected_exit)
        for inst in self.instances:
            self.supervisor.start(inst)
            self.supervisor.watch(inst)
        self.wait_ready(self.instances, ready_timeout_s)

    def wait_ready(self, instances, timeout_s):
        deadline = time.time() + timeout_s
        waiting = list(instances)
        while waiting:
            still = []
            for inst in waiting:
                try:
                    if requests.get(inst.url + "/ready", timeout=2).status_code == 200:
                        continue
                except requests.RequestException:
                    pass
                still.append(inst)
            waiting = still
            if not waiting:
                return
            if time.time() > deadline:
                names = ", ".join(i.name for i in waiting)
                tails = "\n".join(f"--- {i.name}\n{self.log_tail(i, 20)}" for i in waiting)
                raise RuntimeError(f"not ready after {timeout_s}s: {names}\n{tails}")
            time.sleep(0.3)

    def services(self):
        return [i for i in self.instances if i.kind != "gateway"]

    def sigkill_and_restart(self, inst, down_s):
        with inst.lock:
            inst.expected_down = True
            if inst.alive():
                inst.popen.send_signal(signal.SIGKILL)
            inst.popen.wait()
            inst.exits.append((time.time(), inst.popen.returncode, True))
        time.sleep(down_s)
        self.supervisor.start(inst)

    def sigstop_then_cont(self, inst, pause_s):
        with inst.lock:
            if not inst.alive():
                return False
            inst.stopped = True
            popen = inst.popen
            popen.send_signal(signal.SIGSTOP)
        time.sleep(pause_s)
        with inst.lock:
            if popen.poll() is None:
                popen.send_signal(signal.SIGCONT)
            inst.stopped = False
        return True

    def all_up(self):
        """Every instance runs and is not stopped (after the faults)."""
        for inst in self.instances:
            with inst.lock:
                if inst.alive() and inst.stopped:
                    inst.popen.send_signal(signal.SIGCONT)
                    inst.stopped = False

    # ------------------------------------------------------------------ stop

    def stop(self):
        """Stops everything this run started; safe to call more than once
        and from a signal handler's path."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        for inst in self.instances:
            inst.expected_down = True
        for inst in self.instances:
            if inst.alive():
                try:
                    inst.popen.send_signal(signal.SIGCONT)
                    inst.popen.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + FINAL_STOP_GRACE_S
        for inst in self.instances:
            if inst.popen is None:
                continue
            try:
                inst.popen.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                self.log(f"{inst.name} did not stop in {FINAL_STOP_GRACE_S}s: SIGKILL")
                inst.popen.kill()
                inst.popen.wait()
        if self.supervisor:
            self.supervisor.shutdown()
        if self.pulsar_started:
            try:
                self.pulsar_script("stop", timeout=120)
            except (subprocess.SubprocessError, OSError) as e:
                self.log(f"pulsar stop failed: {e}")
        if self.pg_started:
            try:
                self.pg_script("stop", check=False, timeout=120)
            except (subprocess.SubprocessError, OSError) as e:
                self.log(f"pg stop failed: {e}")
