#!/usr/bin/env bash
# infrastructure/postgres/pg.sh -- the private PostgreSQL 15 cluster of a local run.
#
#   pg.sh start     initdb on first use, start (idempotent), create the databases
#   pg.sh stop      pg_ctl stop -m fast (nothing to do when not running)
#   pg.sh status    "running on 127.0.0.1:PORT" (exit 0) or "stopped" (exit 3)
#   pg.sh psql ...  psql as postgres on this cluster (default database: postgres)
#   pg.sh destroy   stop and delete the cluster's files
#
# Settings (environment):
#   PG_PORT      TCP port, 127.0.0.1 only (default 55432; 5432 is refused so a
#                system PostgreSQL is never touched)
#   OMS_RUN_DIR  state of the local run (default <repo>/.run); the cluster lives
#                in $OMS_RUN_DIR/pg
#
# PostgreSQL refuses to run as root. When this script runs as root (CI, a
# container) the server runs as the `postgres` system user, and its files live
# in /var/tmp/oms-pg-<hash of run dir and port>, because the run dir may sit in
# a folder other users cannot enter (mktemp -d); the path is recorded in
# $OMS_RUN_DIR/pg.location.
#
# Durability is part of the product (an accepted order is never lost), so
# fsync and synchronous_commit stay on: a commit is on disk before the
# services answer. The other settings are sized for a 2-core machine.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${PG_PORT:-55432}"
OMS_RUN_DIR="${OMS_RUN_DIR:-$REPO/.run}"
DATABASES=(orders inventory payments bus)

die() {
    echo "pg: $*" >&2
    exit 1
}

check_settings() {
    if ! [[ "$PG_PORT" =~ ^[0-9]+$ ]] || [ "$PG_PORT" -lt 1024 ] || [ "$PG_PORT" -gt 65535 ]; then
        die "PG_PORT=$PG_PORT: must be a port from 1024 to 65535"
    fi
    [ "$PG_PORT" -ne 5432 ] || die "PG_PORT=5432 is the system PostgreSQL's port; choose another"
    [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 is not installed ($PG_BIN/initdb missing): run scripts/deps.sh"
    mkdir -p "$OMS_RUN_DIR"
    OMS_RUN_DIR="$(cd "$OMS_RUN_DIR" && pwd)"
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Where the cluster's files live (data/ and server.log), see the header.
cluster_home() {
    if is_root; then
        local hash
        hash="$(printf '%s:%s' "$OMS_RUN_DIR" "$PG_PORT" | sha1sum | cut -c1-12)"
        echo "/var/tmp/oms-pg-$hash"
    else
        echo "$OMS_RUN_DIR/pg"
    fi
}

# Runs a server-side command as the user that owns the cluster.
as_owner() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

ensure_postgres_user() {
    is_root || return 0
    getent passwd postgres >/dev/null ||
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/sh postgres
}

write_settings() {
    local data="$1"
    cat >"$data/oms.conf" <<CONF
# Written by infrastructure/postgres/pg.sh; rewritten at every start.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 300
shared_buffers = 256MB
work_mem = 4MB
maintenance_work_mem = 64MB
effective_cache_size = 1GB
max_wal_size = 1GB
# Durability is part of the product: never trade it for speed here.
fsync = on
synchronous_commit = on
full_page_writes = on
# The outbox and bus queue tables churn thousands of rows a second; their
# dead rows must go within seconds, not at the default one-minute nap (each
# claim walks past the dead index entries of the queue).
autovacuum_naptime = 2s
max_worker_processes = 4
max_parallel_workers = 2
max_parallel_workers_per_gather = 1
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
log_min_duration_statement = 1000
CONF
    grep -q "^include 'oms.conf'" "$data/postgresql.conf" ||
        echo "include 'oms.conf'" >>"$data/postgresql.conf"
}

init_cluster() {
    local home="$1"
    mkdir -p "$home"
    is_root && chown postgres: "$home" && chmod 700 "$home"
    echo "pg: initdb in $home/data"
    as_owner "$PG_BIN/initdb" -D "$home/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C >"$home/initdb.log" 2>&1 ||
        { cat "$home/initdb.log" >&2; die "initdb failed"; }
}

is_running() {
    local home
    home="$(cluster_home)"
    [ -f "$home/data/PG_VERSION" ] && as_owner "$PG_BIN/pg_ctl" -D "$home/data" status >/dev/null 2>&1
}

psql_cmd() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

create_databases() {
    local db
    for db in "${DATABASES[@]}"; do
        if [ -z "$(psql_cmd -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
            psql_cmd -d postgres -c "CREATE DATABASE \"$db\""
        fi
    done
}

cmd_start() {
    local home
    home="$(cluster_home)"
    is_root && echo "$home" >"$OMS_RUN_DIR/pg.location"
    if is_running; then
        create_databases
        echo "pg: already running on 127.0.0.1:$PG_PORT ($home/data)"
        return 0
    fi
    ensure_postgres_user
    [ -f "$home/data/PG_VERSION" ] || init_cluster "$home"
    write_settings "$home/data"
    if ! as_owner "$PG_BIN/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 start >/dev/null; then
        tail -n 20 "$home/server.log" >&2 || true
        die "could not start PostgreSQL on 127.0.0.1:$PG_PORT (log: $home/server.log)"
    fi
    create_databases
    echo "pg: running on 127.0.0.1:$PG_PORT ($home/data)"
}

cmd_stop() {
    local home
    home="$(cluster_home)"
    if ! is_running; then
        echo "pg: not running"
        return 0
    fi
    as_owner "$PG_BIN/pg_ctl" -D "$home/data" -m fast -w -t 60 stop >/dev/null
    echo "pg: stopped"
}

cmd_status() {
    if is_running; then
        echo "pg: running on 127.0.0.1:$PG_PORT ($(cluster_home)/data)"
    else
        echo "pg: stopped"
        return 3
    fi
}

cmd_destroy() {
    cmd_stop
    rm -rf "$(cluster_home)"
    rm -f "$OMS_RUN_DIR/pg.location"
    echo "pg: destroyed"
}

main() {
    local command="${1:-}"
    [ $# -gt 0 ] && shift
    check_settings
    case "$command" in
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        psql) psql_cmd -d postgres "$@" ;;
        destroy) cmd_destroy ;;
        *)
            echo "usage: $0 {start|stop|status|psql [args]|destroy}" >&2
            exit 2
            ;;
    esac
}

main "$@"
