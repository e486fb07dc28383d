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
