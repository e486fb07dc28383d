"""The database init script of compose and k8s, run against a real
PostgreSQL, as the postgres image would run it: the server of
POSTGRES_HOST/POSTGRES_PORT/POSTGRES_USER (PGPASSWORD from POSTGRES_PASSWORD)
when one answers there, else a private cluster started for this module with
infrastructure/postgres/pg.sh (in a temporary folder, on a free port)."""
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from deploy_helpers import REPO

SCRIPT = REPO / "infrastructure/postgres/docker-init/create-multiple-databases.sh"


PG_SH = REPO / "infrastructure/postgres/pg.sh"


def answers(env):
    probe = subprocess.run(["psql", "-U", env["POSTGRES_USER"], "-d", "postgres", "-Atc", "select 1"],
                           env=env, capture_output=True, text=True, timeout=20)
    return probe.returncode == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_env(tmp_path_factory):
    if not shutil.which("psql"):
        pytest.skip("psql not installed")
    env = dict(os.environ)
    env["POSTGRES_USER"] = os.environ.get("POSTGRES_USER", "postgres")
    if os.environ.get("POSTGRES_HOST"):
        env["PGHOST"] = os.environ["POSTGRES_HOST"]
        env["PGPORT"] = os.environ.get("POSTGRES_PORT", "5432")
        if os.environ.get("POSTGRES_PASSWORD"):
            env["PGPASSWORD"] = os.environ["POSTGRES_PASSWORD"]
        if answers(env):
            yield env
            return
    if not PG_SH.is_file():
        pytest.skip("no PostgreSQL (set POSTGRES_HOST/POSTGRES_PORT) and no infrastructure/postgres/pg.sh")
    port = free_port()
    private = dict(os.environ, PG_PORT=str(port), OMS_RUN_DIR=str(tmp_path_factory.mktemp("pg-run")))
    started = subprocess.run(["bash", str(PG_SH), "start"], env=private, capture_output=True, text=True, timeout=300)
    try:
        assert started.returncode == 0, f"pg.sh start failed:\n{started.stdout}\n{started.stderr}"
        env.update(PGHOST="127.0.0.1", PGPORT=str(port), POSTGRES_USER="postgres",
                   PGPASSFILE=str(Path(private["OMS_RUN_DIR"]) / "pg-auth" / "postgres.pgpass"))
        env.pop("PGPASSWORD", None)
        assert answers(env)
        yield env
    finally:
        subprocess.run(["bash", str(PG_SH), "destroy"], env=private, capture_output=True, timeout=120)


def databases(env, prefix):
    done = subprocess.run(["psql", "-U", env["POSTGRES_USER"], "-d", "postgres", "-Atc",
                           f"select datname from pg_database where datname like '{prefix}%' order by 1"],
                          env=env, capture_output=True, text=True, timeout=20, check=True)
    return done.stdout.split()


def drop(env, names):
    for name in names:
        subprocess.run(["psql", "-U", env["POSTGRES_USER"], "-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{name}"'],
                       env=env, capture_output=True, timeout=20)


def run_script(env, value):
    return subprocess.run(["bash", str(SCRIPT)], env=dict(env, POSTGRES_MULTIPLE_DATABASES=value),
                          capture_output=True, text=True, timeout=60)


def test_creates_each_database_once(pg_env):
    prefix = "deploy_init_" + uuid.uuid4().hex[:8] + "_"
    names = [prefix + n for n in ("orders", "inventory", "payments", "bus")]
    try:
        done = run_script(pg_env, ", ".join(names))
        assert done.returncode == 0, done.stderr
        assert databases(pg_env, prefix) == sorted(names)
        again = run_script(pg_env, ",".join(names))  # a restart: nothing to do, no error
        assert again.returncode == 0, again.stderr
        assert databases(pg_env, prefix) == sorted(names)
    finally:
        drop(pg_env, names)


def test_rejects_a_name_that_is_not_a_plain_identifier(pg_env):
    prefix = "deploy_init_" + uuid.uuid4().hex[:8] + "_"
    try:
        done = run_script(pg_env, f'{prefix}ok,{prefix}x"; DROP DATABASE postgres; --')
        assert done.returncode != 0
        assert "bad database name" in done.stderr
        assert databases(pg_env, prefix) == [prefix + "ok"]
    finally:
        drop(pg_env, [prefix + "ok"])


# ---- one role per service (POSTGRES_SERVICE_DATABASES; review H5) ----

def psql_as(env, role, password, database, sql):
    """psql as `role` with `password` over TCP (the roles log in with passwords)."""
    own = {k: v for k, v in env.items() if not k.startswith("PG")}
    own.update(PGHOST=env.get("PGHOST", "127.0.0.1"), PGPORT=env.get("PGPORT", "5432"), PGPASSWORD=password,
               PGCONNECT_TIMEOUT="5")
    if own["PGHOST"].startswith("/"):
        own["PGHOST"] = "127.0.0.1"
    return subprocess.run(["psql", "-X", "-w", "-U", role, "-d", database, "-Atc", sql], env=own,
                          capture_output=True, text=True, timeout=20)


def run_roles(env, entries, passwords):
    extra = {f"{role.upper().replace('-', '_')}_DB_PASSWORD": pw for role, pw in passwords.items()}
    return subprocess.run(["bash", str(SCRIPT)], env=dict(env, POSTGRES_SERVICE_DATABASES=entries, **extra),
                          capture_output=True, text=True, timeout=60)


def drop_roles(env, dbs, roles):
    drop(env, dbs)
    for role in roles:
        subprocess.run(["psql", "-U", env["POSTGRES_USER"], "-d", "postgres", "-c", f'DROP ROLE IF EXISTS "{role}"'],
                       env=env, capture_output=True, timeout=20)


def test_each_service_role_owns_its_database_only(pg_env):
    tag = uuid.uuid4().hex[:8]
    a, b = f"svc-a-{tag}", f"svc-b-{tag}"
    db_a, db_b, bus = f"init_a_{tag}", f"init_b_{tag}", f"init_bus_{tag}"
    passwords = {a: "pw-a-" + tag, b: "pw-b-" + tag}
    entries = f"{db_a}:{a},{db_b}:{b},{bus}:{a}:{b}"
    try:
        done = run_roles(pg_env, entries, passwords)
        assert done.returncode == 0, done.stderr
        # a table made by the superuser beforehand changes hands on a rerun
        subprocess.run(["psql", "-U", pg_env["POSTGRES_USER"], "-d", db_a, "-c", "CREATE TABLE old_one (x int)"],
                       env=pg_env, capture_output=True, timeout=20, check=True)
        again = run_roles(pg_env, entries, passwords)
        assert again.returncode == 0, again.stderr
        assert psql_as(pg_env, a, passwords[a], db_a, "SELECT count(*) FROM old_one").stdout.strip() == "0"
        assert psql_as(pg_env, a, passwords[a], bus, "SELECT 1").returncode == 0
        assert psql_as(pg_env, b, passwords[b], bus, "SELECT 1").returncode == 0
        refused = psql_as(pg_env, b, passwords[b], db_a, "SELECT 1")
        assert refused.returncode != 0 and "CONNECT privilege" in refused.stderr, refused.stderr
        assert psql_as(pg_env, a, "wrong", db_a, "SELECT 1").returncode != 0
        powers = subprocess.run(
            ["psql", "-U", pg_env["POSTGRES_USER"], "-d", "postgres", "-Atc",
             f"SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles "
             f"WHERE rolname IN ('{a}', '{b}')"], env=pg_env, capture_output=True, text=True, timeout=20, check=True)
        assert powers.stdout.split() == ["f|f|f|f|f", "f|f|f|f|f"]
        owners = subprocess.run(
            ["psql", "-U", pg_env["POSTGRES_USER"], "-d", "postgres", "-Atc",
             f"SELECT datname || ':' || pg_get_userbyid(datdba) FROM pg_database WHERE datname LIKE 'init_%_{tag}' "
             "ORDER BY 1"], env=pg_env, capture_output=True, text=True, timeout=20, check=True)
        assert owners.stdout.split() == [f"{db_a}:{a}", f"{db_b}:{b}", f"{bus}:{a}"]
    finally:
        drop_roles(pg_env, [db_a, db_b, bus], [a, b])


@pytest.mark.parametrize("password, why", [(None, "must be set"), ("change-me-order", "placeholder"),
                                           ("CHANGEME", "placeholder")])
def test_a_missing_or_placeholder_password_stops_it(pg_env, password, why):
    tag = uuid.uuid4().hex[:8]
    role, db = f"svc-p-{tag}", f"init_p_{tag}"
    try:
        done = run_roles(pg_env, f"{db}:{role}", {} if password is None else {role: password})
        assert done.returncode != 0
        assert why in done.stderr, done.stderr
        if password:
            assert password not in done.stdout + done.stderr  # never printed
        assert databases(pg_env, f"init_p_{tag}") == []
    finally:
        drop_roles(pg_env, [db], [role])


def test_a_password_can_come_from_a_file(pg_env, tmp_path):
    tag = uuid.uuid4().hex[:8]
    role, db = f"svc-f-{tag}", f"init_f_{tag}"
    secret = tmp_path / "pw"
    secret.write_text("from-a-file-" + tag + "\n")
    var = role.upper().replace("-", "_") + "_DB_PASSWORD_FILE"
    try:
        done = subprocess.run(["bash", str(SCRIPT)], env=dict(pg_env, POSTGRES_SERVICE_DATABASES=f"{db}:{role}",
                                                               **{var: str(secret)}),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert psql_as(pg_env, role, "from-a-file-" + tag, db, "SELECT current_user").stdout.strip() == role
    finally:
        drop_roles(pg_env, [db], [role])


def test_rejects_a_role_name_that_is_not_plain(pg_env):
    done = run_roles(pg_env, 'init_x:bad";DROP ROLE postgres;--', {})
    assert done.returncode != 0
    assert "bad role name" in done.stderr
