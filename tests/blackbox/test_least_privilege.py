"""Least privilege in PostgreSQL (security review H5 and L5; docs/architecture.md,
"PostgreSQL roles"): the run's cluster asks every role for its password, each
service runs as a role of its own that is no superuser, cannot create databases
or roles, and reaches its own database only (and the bus)."""

import pytest

from conftest import PG_AUTH_DIR as AUTH_DIR, psql_as

OWN_DATABASE = {"order-service": "orders", "inventory-service": "inventory", "payment-service": "payments"}


@pytest.fixture(scope="module", autouse=True)
def needs_the_runs_roles(system):
    if not (AUTH_DIR / "postgres.pgpass").exists():
        pytest.skip(f"no {AUTH_DIR}: the system was not started by scripts/oms.sh")


def test_psql_without_the_password_is_refused():
    for role in ("postgres", *OWN_DATABASE):
        done = psql_as(role, "postgres", "SELECT 1", passfile=False)
        assert done.returncode != 0, f"{role} got in without a password"
        assert "password" in done.stderr, done.stderr


def test_each_service_role_reaches_its_own_database_and_the_bus_only():
    for role, own in OWN_DATABASE.items():
        for database in OWN_DATABASE.values():
            done = psql_as(role, database, "SELECT count(*) FROM schema_migrations")
            if database == own:
                assert done.returncode == 0, f"{role} on {database}: {done.stderr}"
            else:
                assert done.returncode != 0, f"{role} read {database}"
                assert "CONNECT privilege" in done.stderr, done.stderr
        assert psql_as(role, "bus", "SELECT 1").returncode == 0


def test_another_services_tables_stay_out_of_reach_even_through_the_bus_database():
    """payment-service's role cannot read the orders' rows from any database it may enter."""
    done = psql_as("payment-service", "bus", "SELECT * FROM orders")
    assert done.returncode != 0
    done = psql_as("inventory-service", "payments", "UPDATE accounts SET balance_cents = 0")
    assert done.returncode != 0


def test_service_roles_have_no_superuser_createdb_or_createrole():
    done = psql_as("postgres", "postgres",
                   "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles "
                   "WHERE rolname IN ('order-service', 'inventory-service', 'payment-service') ORDER BY 1")
    assert done.returncode == 0, done.stderr
    rows = [line.split("|") for line in done.stdout.split()]
    assert [r[0] for r in rows] == sorted(OWN_DATABASE)
    for row in rows:
        assert row[1:] == ["f", "f", "f", "f"], row


def test_the_services_connect_as_their_own_roles():
    done = psql_as("postgres", "postgres",
                   "SELECT DISTINCT datname || ':' || usename FROM pg_stat_activity "
                   "WHERE datname IN ('orders', 'inventory', 'payments', 'bus') AND usename IS NOT NULL "
                   "AND pid <> pg_backend_pid()")
    assert done.returncode == 0, done.stderr
    seen = set(done.stdout.split())
    for role, own in OWN_DATABASE.items():
        assert f"{own}:{role}" in seen, seen
    assert not any(entry.endswith(":postgres") for entry in seen), seen


@pytest.mark.parametrize("role, database, table", [("payment-service", "payments", "account_ledger"),
                                                   ("inventory-service", "inventory", "stock_ledger")])
def test_a_services_own_ledger_is_append_only_for_it(role, database, table):
    """Review H5: the ledger an invariant is checked against cannot be
    rewritten by the code it audits, not even by its owner's role."""
    for sql in (f"UPDATE {table} SET delta{'_cents' if table == 'account_ledger' else ''} = 0",
                f"DELETE FROM {table}", f"TRUNCATE {table}"):
        done = psql_as(role, database, sql)
        assert done.returncode != 0, f"{role}: {sql} went through"
        assert "permission denied" in done.stderr or "append-only" in done.stderr, done.stderr
    # and it still reads it (the service's own queries)
    assert psql_as(role, database, f"SELECT count(*) FROM {table}").returncode == 0
