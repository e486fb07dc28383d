#!/usr/bin/env bash
# Creates every database named in POSTGRES_MULTIPLE_DATABASES (comma-separated,
# e.g. "orders,inventory,payments,bus"), owned by POSTGRES_USER.
#
# The official postgres image runs the files of /docker-entrypoint-initdb.d
# once, when the data directory is new: docker-compose.yml mounts this folder
# there, and k8s/base/postgres.yaml mounts the same script from a ConfigMap
# (postgres-init; tests/deploy checks the two copies are identical).
# It may be executed or sourced (the image sources .sh files that are not
# executable), so it never calls `exit` and keeps its variables local.
set -Eeo pipefail

create_multiple_databases() {
    local list="${POSTGRES_MULTIPLE_DATABASES:-}"
    local user="${POSTGRES_USER:-postgres}"
    local db
    local -a databases
    IFS=',' read -r -a databases <<< "$list"
    for db in "${databases[@]}"; do
        db="${db//[[:space:]]/}"
        [[ -n "$db" ]] || continue
        # Names go into SQL below: allow plain identifiers only.
        if [[ ! "$db" =~ ^[a-z_][a-z0-9_]*$ ]]; then
            echo "create-multiple-databases: bad database name '$db'" >&2
            return 1
        fi
        echo "create-multiple-databases: creating database '$db' owned by '$user'"
        psql -v ON_ERROR_STOP=1 --username "$user" --dbname postgres \
            --set=db="$db" --set=owner="$user" <<'EOSQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')\gexec
EOSQL
    done
}

create_multiple_databases
