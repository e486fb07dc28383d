#!/usr/bin/env bash
# infrastructure/postgres/pg.sh -- the private PostgreSQL 15 cluster of a local run.
#
#   pg.sh start        initdb on first use, start (idempotent), create the roles
#                      and databases
#   pg.sh stop         pg_ctl stop -m fast (nothing to do when not running)
#   pg.sh status       "running on 127.0.0.1:PORT" (exit 0) or "stopped" (exit 3)
#   pg.sh psql ...     psql as postgres on this cluster (default database: postgres)
#   pg.sh pgpass ROLE  print the path of ROLE's password file in libpq's format
#                      (PGPASSFILE): postgres, order-service, inventory-service,
#                      payment-service
#   pg.sh tls-dir      print the folder of the cluster's TLS files: ca.crt (the
#                      CA), server.crt (localhost, 127.0.0.1), other.crt (for
#                      another host, db.invalid, signed by the same CA)
#   pg.sh destroy      stop and delete the cluster's files
#
# Settings (environment):
#   PG_PORT      TCP port, 127.0.0.1 only (default 55432; 5432 is refused so a
#                system PostgreSQL is never touched)
#   OMS_RUN_DIR  state of the local run (default <repo>/.run); the cluster lives
#                in $OMS_RUN_DIR/pg
#
# Least privilege (docs/architecture.md, "PostgreSQL roles"): every role logs
# in with a password (scram-sha-256; no `trust`), generated here once and kept
# in $OMS_RUN_DIR/pg-auth (mode 0700, files 0600), one file per role and one
# pgpass file per role for libpq. Each service has a role named after it,
# without superuser, CREATEDB or CREATEROLE, that owns its own database and
# may connect to no other service's: order-service owns `orders` and the bus
# database `bus` (the orchestrator sends every command and receives every
# reply; the participants get per-service rights there, set by the bus's own
# migrations), inventory-service `inventory`, payment-service `payments`.
# The superuser `postgres` is for the scripts and tests only. The server
# speaks TLS with a certificate from a CA made here (pg.sh tls-dir).
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
SUPERUSER=postgres
# database:owner; the bus database belongs to the orchestrator (see the top).
DATABASES=(orders:order-service inventory:inventory-service payments:payment-service bus:order-service)
SERVICE_ROLES=(order-service inventory-service payment-service)

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
    AUTH_DIR="$OMS_RUN_DIR/pg-auth"
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
password_encryption = 'scram-sha-256'
ssl = on
ssl_cert_file = '$data/../tls/server.crt'
ssl_key_file = '$data/../tls/server.key'
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

# Who may connect, and how: a password (scram-sha-256) over TCP on loopback,
# nothing else. `method` is trust only while an old cluster, made before
# passwords, gets its superuser password (upgrade_to_passwords).
write_hba() {
    local data="$1" method="${2:-scram-sha-256}"
    cat >"$data/pg_hba.conf" <<HBA
# Written by infrastructure/postgres/pg.sh; rewritten at every start.
host all all 127.0.0.1/32 $method
host all all ::1/128 $method
HBA
}

# ---- secrets ----

# A file of the run's secrets, made once (mode 0600 in a 0700 folder).
secret_file() {
    local file="$AUTH_DIR/$1"
    (umask 077 && mkdir -p "$AUTH_DIR")
    if [ ! -s "$file" ]; then
        (umask 077 && openssl rand -hex 24 >"$file.tmp") || die "openssl rand failed"
        mv "$file.tmp" "$file"
    fi
    echo "$file"
}

password_of() { cat "$(secret_file "$1.password")"; }

# ROLE's pgpass file (libpq's PGPASSFILE format), rewritten from its password.
write_pgpass() {
    local role="$1" password
    password="$(password_of "$role")"
    (umask 077 && printf '127.0.0.1:*:*:%s:%s\nlocalhost:*:*:%s:%s\n' "$role" "$password" "$role" "$password" \
        >"$AUTH_DIR/$role.pgpass")
}

# ---- TLS ----

# A CA, the server's certificate (localhost, 127.0.0.1) and a certificate for
# another host (db.invalid) signed by the same CA, which tests present to see
# verify-full refuse it. Made once per cluster, again when one expires within
# a day; the keys belong to the server's user.
ensure_tls() {
    local home="$1" tls="$1/tls"
    if [ -s "$tls/server.crt" ] && openssl x509 -checkend 86400 -noout -in "$tls/server.crt" >/dev/null 2>&1; then
        return 0
    fi
    mkdir -p "$tls"
    (
        set -e
        umask 077
        cd "$tls"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
            -subj "/CN=oms local PostgreSQL CA" -keyout ca.key -out ca.crt
        local name names
        for name in server other; do
            names='DNS:localhost,IP:127.0.0.1'
            [ "$name" = other ] && names='DNS:db.invalid'
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=${names#DNS:}" \
                -keyout "$name.key" -out "$name.csr"
            openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
                -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$names") -out "$name.crt"
        done
        rm -f ./*.csr ca.srl
        chmod 644 ca.crt server.crt other.crt
    ) >"$home/openssl.log" 2>&1 || { cat "$home/openssl.log" >&2; die "could not make the TLS certificates"; }
    if is_root; then
        chown -R postgres: "$tls"
    fi
    chmod 755 "$tls"
}

init_cluster() {
    local home="$1"
    mkdir -p "$home"
    is_root && chown postgres: "$home"
    chmod 700 "$home"
    echo "pg: initdb in $home/data"
    # The superuser's password reaches initdb through a file of the server's
    # user, never a command line.
    (umask 077 && password_of "$SUPERUSER" >"$home/initdb.pw")
    is_root && chown postgres: "$home/initdb.pw"
    as_owner "$PG_BIN/initdb" -D "$home/data" -U "$SUPERUSER" --auth=scram-sha-256 --pwfile="$home/initdb.pw" \
        --encoding=UTF8 --locale=C >"$home/initdb.log" 2>&1 ||
        { rm -f "$home/initdb.pw"; cat "$home/initdb.log" >&2; die "initdb failed"; }
    rm -f "$home/initdb.pw"
}

is_running() {
    local home
    home="$(cluster_home)"
    [ -f "$home/data/PG_VERSION" ] && as_owner "$PG_BIN/pg_ctl" -D "$home/data" status >/dev/null 2>&1
}

psql_cmd() {
    PGPASSFILE="$AUTH_DIR/$SUPERUSER.pgpass" \
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$SUPERUSER" "$@"
}

# Each service's role (it logs in with its password and has no other power)
# and each database, owned by its service's role, which alone may connect to
# it (the bus: the three services): the same script compose and Kubernetes
# run (docker-init/create-multiple-databases.sh), with this run's passwords.
create_roles_and_databases() {
    local role var entries="" entry db owner
    local -a env=(POSTGRES_USER="$SUPERUSER" PGHOST=127.0.0.1 PGPORT="$PG_PORT"
        PGPASSFILE="$AUTH_DIR/$SUPERUSER.pgpass" PATH="$PG_BIN:$PATH")
    write_pgpass "$SUPERUSER"
    for role in "${SERVICE_ROLES[@]}"; do
        write_pgpass "$role"
        var="$(printf '%s' "$role" | tr 'a-z-' 'A-Z_')_DB_PASSWORD_FILE"
        env+=("$var=$(secret_file "$role.password")")
    done
    for entry in "${DATABASES[@]}"; do
        db="${entry%%:*}" owner="${entry#*:}"
        entry="$db:$owner"
        if [ "$db" = bus ]; then
            for role in "${SERVICE_ROLES[@]}"; do
                [ "$role" = "$owner" ] || entry+=":$role"
            done
        fi
        entries+="${entries:+,}$entry"
    done
    env POSTGRES_SERVICE_DATABASES="$entries" "${env[@]}" \
        bash "$REPO/infrastructure/postgres/docker-init/create-multiple-databases.sh" >/dev/null ||
        die "could not create the roles and databases"
}

# A cluster made before passwords (initdb --auth=trust) gets its superuser's
# password once, through a start with the old rule.
upgrade_to_passwords() {
    local home="$1"
    [ -s "$AUTH_DIR/$SUPERUSER.password" ] && [ -f "$home/data/.oms-passwords" ] && return 0
    echo "pg: setting the superuser's password (a cluster from before passwords)"
    write_hba "$home/data" trust
    start_server "$home"
    psql_cmd -d postgres <<SQL
\\set password '$(password_of "$SUPERUSER")'
ALTER ROLE $SUPERUSER PASSWORD :'password';
SQL
    as_owner touch "$home/data/.oms-passwords"
    write_hba "$home/data"
    as_owner "$PG_BIN/pg_ctl" -D "$home/data" reload >/dev/null
}

start_server() {
    local home="$1"
    if ! as_owner "$PG_BIN/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 start >/dev/null; then
        tail -n 20 "$home/server.log" >&2 || true
        die "could not start PostgreSQL on 127.0.0.1:$PG_PORT (log: $home/server.log)"
    fi
}

cmd_start() {
    local home
    home="$(cluster_home)"
    is_root && echo "$home" >"$OMS_RUN_DIR/pg.location"
    write_pgpass "$SUPERUSER"
    if is_running; then
        create_roles_and_databases
        echo "pg: already running on 127.0.0.1:$PG_PORT ($home/data)"
        return 0
    fi
    ensure_postgres_user
    if [ ! -f "$home/data/PG_VERSION" ]; then
        init_cluster "$home"
        as_owner touch "$home/data/.oms-passwords"
    fi
    ensure_tls "$home"
    write_settings "$home/data"
    if [ -f "$home/data/.oms-passwords" ] && [ -s "$AUTH_DIR/$SUPERUSER.password" ]; then
        write_hba "$home/data"
        start_server "$home"
    else
        upgrade_to_passwords "$home"
    fi
    create_roles_and_databases
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
    rm -rf "$(cluster_home)" "$AUTH_DIR"
    rm -f "$OMS_RUN_DIR/pg.location"
    echo "pg: destroyed"
}

cmd_pgpass() {
    local role="${1:-$SUPERUSER}"
    [ -s "$AUTH_DIR/$role.pgpass" ] || die "no password file for role '$role' (pg.sh start makes them)"
    echo "$AUTH_DIR/$role.pgpass"
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
        pgpass) cmd_pgpass "$@" ;;
        tls-dir) echo "$(cluster_home)/tls" ;;
        destroy) cmd_destroy ;;
        *)
            echo "usage: $0 {start|stop|status|psql [args]|pgpass [ROLE]|tls-dir|destroy}" >&2
            exit 2
            ;;
    esac
}

main "$@"
