#!/usr/bin/env bash
# Entry point of the local PostgreSQL test image (Containerfile beside it):
# the part of the official image's contract that docker-compose.yml and
# k8s/base/postgres.yaml use, written for Debian's postgresql-15.
#
#   POSTGRES_PASSWORD  the superuser's password (required, as in the official
#                      image; every role logs in with a password over TCP)
#   POSTGRES_USER      the superuser (default postgres)
#   POSTGRES_DB        a database made for it (default: POSTGRES_USER)
#   PGDATA             the data directory (default /var/lib/postgresql/data)
#   /docker-entrypoint-initdb.d/*.sh and *.sql run once, when PGDATA is new,
#   against a server listening on the Unix socket only: an executable .sh is
#   run, another is sourced (the official image's rule), .sql goes to psql.
#   Other environment (POSTGRES_SERVICE_DATABASES, POSTGRES_MULTIPLE_DATABASES,
#   <ROLE>_DB_PASSWORD) is for those scripts.
# Started as root it makes PGDATA postgres's and drops to it; started as
# uid 999 (Kubernetes' runAsUser) it runs as it is.
set -Eeo pipefail

pg_entry_log() { echo "docker-entrypoint: $*" >&2; }

pg_entry_psql() {
    psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password "$@"
}

pg_entry_run_init_files() {
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                pg_entry_log "running $f"
                # shellcheck disable=SC1090 # the init scripts of the mount
                if [ -x "$f" ]; then "$f"; else . "$f"; fi
                ;;
            *.sql)
                pg_entry_log "running $f"
                pg_entry_psql --dbname postgres -f "$f"
                ;;
            *) [ -e "$f" ] && pg_entry_log "ignoring $f" ;;
        esac
    done
}

pg_entry_init() {
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        pg_entry_log "POSTGRES_PASSWORD must be set (the superuser's password)"
        exit 1
    fi
    pg_entry_log "new data directory $PGDATA: initdb"
    # The password goes through a pipe, never a command line or a file.
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 >/dev/null
    printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" start >/dev/null
    if [ "$POSTGRES_DB" != postgres ]; then
        pg_entry_psql --dbname postgres --set=db="$POSTGRES_DB" \
            <<<"SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')\\gexec"
    fi
    pg_entry_run_init_files
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    pg_entry_log "init done"
}

if [ "${1:0:1}" = - ]; then
    set -- postgres "$@"
fi
export POSTGRES_USER="${POSTGRES_USER:-postgres}"
export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

if [ "$1" = postgres ]; then
    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$PGDATA"
        chown -R postgres:postgres "$PGDATA" /var/run/postgresql
        exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
    fi
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        pg_entry_init
    fi
fi
exec "$@"
