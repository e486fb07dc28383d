#!/usr/bin/env bash
# Creates the system's databases and, with POSTGRES_SERVICE_DATABASES, one
# role per service that owns its own database only (docs/architecture.md,
# "PostgreSQL roles").
#
#   POSTGRES_SERVICE_DATABASES  comma-separated "database:owner[:role...]"
#       entries: the owner's database, and the other roles that may connect
#       to it, e.g. "orders:order-service,inventory:inventory-service,
#       payments:payment-service,bus:order-service:inventory-service:payment-service".
#       Every role named logs in with its password and has no other power (no
#       superuser, CREATEDB, CREATEROLE, replication or BYPASSRLS); a database
#       admits only the roles its entry names. The password of role R is read
#       from R_DB_PASSWORD, or from the file named by R_DB_PASSWORD_FILE, with
#       R upper-cased and '-' as '_' (order-service: ORDER_SERVICE_DB_PASSWORD);
#       a missing one, or a published placeholder ("change-me..."), stops the
#       script. Run again it changes nothing but the passwords, and hands the
#       tables and functions of a database's public schema to its owner.
#   POSTGRES_MULTIPLE_DATABASES  without POSTGRES_SERVICE_DATABASES: the
#       databases listed (e.g. "orders,inventory,payments,bus"), all owned by
#       POSTGRES_USER (one role for everything; not for production).
#
# The official postgres image runs the files of /docker-entrypoint-initdb.d
# once, when the data directory is new, as POSTGRES_USER: docker-compose.yml
# mounts this folder there, and k8s/base/postgres.yaml mounts the same script
# from a ConfigMap (postgres-init; tests/deploy checks the two copies are
# identical). infrastructure/postgres/pg.sh runs it for the local cluster. It
# may be executed or sourced (the image sources .sh files that are not
# executable), so it never calls `exit` and keeps its variables local.
set -Eeo pipefail

oms_init_fail() {
    echo "create-multiple-databases: $*" >&2
    return 1
}

oms_init_psql() {
    psql -X -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" "$@"
}

# The password of role $1 (see above) on stdout.
oms_init_password_of() {
    local var file value
    var="$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')_DB_PASSWORD"
    file="$(printenv "${var}_FILE" || true)"
    value="$(printenv "$var" || true)"
    if [[ -n "$file" && -n "$value" ]]; then
        oms_init_fail "set $var or ${var}_FILE, not both"
        return 1
    fi
    if [[ -n "$file" ]]; then
        [[ -r "$file" ]] || { oms_init_fail "${var}_FILE: $file cannot be read"; return 1; }
        value="$(head -n 1 "$file" | tr -d '\r')"
    fi
    [[ -n "$value" ]] || { oms_init_fail "$var (or ${var}_FILE) must be set: the password of role $1"; return 1; }
    if [[ "${value,,}" == change-me* || "${value,,}" == changeme* ]]; then
        oms_init_fail "$var is a published placeholder: set a password of your own"
        return 1
    fi
    printf '%s' "$value"
}

oms_init_role() {
    local role="$1" password
    password="$(oms_init_password_of "$role")" || return 1
    echo "create-multiple-databases: role '$role'"
    # The password travels in the environment, never on a command line.
    OMS_INIT_PASSWORD="$password" oms_init_psql --dbname postgres --set=role="$role" <<'EOSQL'
\getenv password OMS_INIT_PASSWORD
SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role')\gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'password';
EOSQL
}

# Database $1 owned by $2; it admits only the roles $2 $3...
oms_init_database() {
    local db="$1" owner="$2" role
    shift
    echo "create-multiple-databases: database '$db' owned by '$owner' (connect: $*)"
    oms_init_psql --dbname postgres --set=db="$db" --set=owner="$owner" <<'EOSQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')\gexec
ALTER DATABASE :"db" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
EOSQL
    for role in "$@"; do
        oms_init_psql --dbname postgres --set=db="$db" --set=role="$role" \
            <<<'GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";'
    done
    # Objects made before, by another role, change hands so the owner can
    # keep migrating them.
    oms_init_psql --dbname "$db" --set=owner="$owner" <<'EOSQL'
SELECT format('ALTER TABLE public.%I OWNER TO %I', tablename, :'owner') FROM pg_tables
WHERE schemaname = 'public' AND tableowner <> :'owner'\gexec
SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, :'owner') FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> :'owner'\gexec
EOSQL
}

oms_init_service_databases() {
    local entry role seen=" "
    local -a entries fields
    IFS=',' read -r -a entries <<< "${POSTGRES_SERVICE_DATABASES//[[:space:]]/}"
    for entry in "${entries[@]}"; do
        [[ -n "$entry" ]] || continue
        IFS=':' read -r -a fields <<< "$entry"
        # Names go into SQL as identifiers: plain names only.
        [[ "${#fields[@]}" -ge 2 && "${fields[0]}" =~ ^[a-z_][a-z0-9_]*$ ]] ||
            { oms_init_fail "bad entry '$entry' (database:owner[:role...])"; return 1; }
        for role in "${fields[@]:1}"; do
            [[ "$role" =~ ^[a-z][a-z0-9-]*$ ]] || { oms_init_fail "bad role name '$role'"; return 1; }
            [[ "$seen" == *" $role "* ]] && continue
            oms_init_role "$role" || return 1
            seen+="$role "
        done
        oms_init_database "${fields[@]}" || return 1
    done
}

oms_init_multiple_databases() {
    local db user="${POSTGRES_USER:-postgres}"
    local -a databases
    IFS=',' read -r -a databases <<< "${POSTGRES_MULTIPLE_DATABASES:-}"
    for db in "${databases[@]}"; do
        db="${db//[[:space:]]/}"
        [[ -n "$db" ]] || continue
        [[ "$db" =~ ^[a-z_][a-z0-9_]*$ ]] || { oms_init_fail "bad database name '$db'"; return 1; }
        echo "create-multiple-databases: creating database '$db' owned by '$user'"
        oms_init_psql --dbname postgres --set=db="$db" --set=owner="$user" <<'EOSQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')\gexec
EOSQL
    done
}

if [[ -n "${POSTGRES_SERVICE_DATABASES:-}" ]]; then
    oms_init_service_databases
else
    oms_init_multiple_databases
fi
