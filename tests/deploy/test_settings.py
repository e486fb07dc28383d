"""Every process answers --print-settings from its settings table (lib/oms/
config.h); a bad value stops it with exit 2 and one line naming the setting;
the README's settings table and docs/architecture.md's "Settings" section say
what the binaries say (names, who reads them, defaults, bounds)."""
import re
import tempfile

import pytest

from deploy_helpers import REPO
from process_settings import PROCESSES, SERVICES, run, settings_of


@pytest.fixture(scope="module")
def tables():
    return {p: settings_of(REPO, p) for p in PROCESSES}


def readers(tables, name):
    return {p for p, t in tables.items() if name in t.names}


def default_of(tables, process, name):
    """The row's default as documented: the process's own name as <name>."""
    value = tables[process].row(name)["default"]
    return None if value is None else value.replace(process, "<name>")


# ---- the binaries ----

@pytest.mark.parametrize("process", PROCESSES)
def test_print_settings_as_text_names_every_setting(process, tables):
    done = run(REPO, process, ["--print-settings"])
    assert done.returncode == 0, done.stderr
    for name in tables[process].names:
        assert re.search(rf"^{name}$", done.stdout, re.M), f"{process} --print-settings does not list {name}"
    for row in tables[process].rows:
        assert row["doc"], f"{process}: {row['name']} has no doc"


@pytest.mark.parametrize("process", PROCESSES)
def test_an_unknown_argument_exits_2_with_the_usage(process):
    done = run(REPO, process, ["--no-such-option"])
    assert done.returncode == 2
    assert "usage:" in done.stderr and "--print-settings" in done.stderr


def bad_values(row):
    """Values the row must refuse."""
    if row["kind"] == "integer":
        return ["abc", str(row["max"] + 1), str(row["min"] - 1)]
    if row["kind"] == "enum":
        return ["no-such-" + row["allowed"][0]]
    if row["kind"] == "money":
        return ["-1", "1.001"]
    return []


@pytest.mark.parametrize("process", PROCESSES)
def test_a_bad_value_stops_the_process_with_one_line_naming_it(process, tables):
    checked = 0
    with tempfile.TemporaryDirectory() as empty:  # no .env there
        for row in tables[process].rows:
            for value in bad_values(row):
                done = run(REPO, process, [], env={row["name"]: value}, cwd=empty)
                shown = f"{row['name']}: " if row["secret"] else f"{row['name']}={value}: "
                assert done.returncode == 2, f"{process} with {row['name']}={value}: exit {done.returncode}"
                assert done.stderr.startswith("config: " + shown) and done.stderr.count("\n") == 1, done.stderr
                checked += 1
    assert checked >= 3


@pytest.mark.parametrize("process", PROCESSES)
def test_every_secret_comes_from_a_file_and_refuses_a_published_placeholder(process, tables):
    """Safe defaults (review H7): a secret can be mounted as a file
    (<NAME>_FILE, or a setting of that name of its own), and the
    placeholders the repository publishes ("change-me...") stop the process."""
    checked = 0
    with tempfile.TemporaryDirectory() as empty:
        for row in tables[process].rows:
            if not row["secret"]:
                continue
            assert row.get("file") or f"{row['name']}_FILE" in tables[process].names, \
                f"{process}: {row['name']} cannot be read from a file"
            if row["name"] == "PULSAR_AUTH_TOKEN":
                continue  # a broker token (a JWT) is checked by the broker
            done = run(REPO, process, [], env={row["name"]: "change-me-please"}, cwd=empty)
            assert done.returncode == 2, f"{process} started with {row['name']}=change-me-please"
            assert done.stderr.startswith(f"config: {row['name']}: ") and "placeholder" in done.stderr, done.stderr
            checked += 1
    assert checked >= 2


def test_the_services_share_their_common_settings(tables):
    common = set.intersection(*(tables[p].names for p in SERVICES))
    for name in common:
        rows = {p: {k: v for k, v in tables[p].row(name).items() if k != "default"} for p in SERVICES}
        assert len({repr(r) for r in rows.values()}) == 1, f"{name} differs between services: {rows}"


# ---- README.md, "Configuration" ----

def readme_rows():
    """(names, default cell, used-by cell) of the README's settings table."""
    text = (REPO / "README.md").read_text()
    table = text.split("| setting | default | used by |", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        names = re.findall(r"`([A-Z_][A-Z0-9_]*)`", cells[0])
        # `READ_POSTGRES_HOST`, `_PORT`, ...: suffixes of the first name's prefix.
        prefix = names[0].rsplit("_", 1)[0]
        names = [prefix + n if n.startswith("_") else n for n in names]
        rows.append((names, cells[1], cells[2]))
    return rows


def documented_readers(used_by):
    if used_by.startswith("all"):
        return set(PROCESSES)
    if used_by.startswith("services"):
        return set(SERVICES)
    return {used_by.split()[0].rstrip(",")}


def test_readme_lists_every_setting_once(tables):
    documented = [n for names, _, _ in readme_rows() for n in names]
    assert len(documented) == len(set(documented)), documented
    read = set().union(*(t.names for t in tables.values()))
    assert set(documented) == read, (f"README.md lacks {sorted(read - set(documented))}, "
                                     f"lists what no process reads: {sorted(set(documented) - read)}")


def test_readme_says_who_reads_each_setting(tables):
    for names, _, used_by in readme_rows():
        for name in names:
            assert readers(tables, name) == documented_readers(used_by), \
                f"README.md: {name} is read by {sorted(readers(tables, name))}, not '{used_by}'"


def test_readme_defaults_are_the_binaries(tables):
    for names, cell, _ in readme_rows():
        documented = set(re.findall(r"`([^`]*)`", cell.split("(", 1)[0]))
        if not documented:
            continue  # described in words
        actual = {default_of(tables, p, n) for n in names for p in readers(tables, n)}
        assert actual == documented, f"README.md: default of {names} is {sorted(documented)}, the binaries say {actual}"


# ---- docs/architecture.md, "Settings" ----

def architecture_groups():
    """{'services' | process: names} of the Settings section."""
    text = (REPO / "docs/architecture.md").read_text()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^(order-service|payment-service|inventory-service|api-gateway):", section, flags=re.M)
    groups = {"services": parts[0]}
    groups.update({parts[i]: parts[i + 1] for i in range(1, len(parts), 2)})
    names = {}
    for group, body in groups.items():
        found = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", body))
        for m in re.finditer(r"`(READ_)POSTGRES_HOST`((?:/`_[A-Z]+`)+)", body):
            found |= {f"READ_POSTGRES_{s}" for s in re.findall(r"`_([A-Z]+)`", m.group(2))}
        names[group] = found
    return names, section


def test_architecture_lists_every_setting(tables):
    groups, _ = architecture_groups()
    documented = set().union(*groups.values())
    read = set().union(*(t.names for t in tables.values()))
    assert documented == read, (f"docs/architecture.md lacks {sorted(read - documented)}, "
                                f"lists what no process reads: {sorted(documented - read)}")


def test_architecture_groups_settings_by_who_reads_them(tables):
    groups, _ = architecture_groups()
    for group, names in groups.items():
        for name in names:
            who = readers(tables, name)
            if group == "services":
                assert set(SERVICES) <= who, f"docs/architecture.md: {name} is not read by every service: {who}"
            else:
                assert who == {group}, f"docs/architecture.md: {name} is read by {sorted(who)}, not only {group}"


def test_architecture_numbers_are_the_binaries(tables):
    _, section = architecture_groups()
    checked = 0
    for m in re.finditer(r"`([A-Z][A-Z0-9_]+)` \((\d+(?:\.\d+)?)(?:, (\d+)-(\d+))?", section):
        name, default, low, high = m.groups()
        for p in readers(tables, name):
            row = tables[p].row(name)
            assert row["default"] == default, f"docs/architecture.md: {name} defaults to {row['default']}, not {default}"
            if low:
                assert (row["min"], row["max"]) == (int(low), int(high)), \
                    f"docs/architecture.md: {name} is {row['min']}-{row['max']}, not {low}-{high}"
        checked += 1
    assert checked >= 10, "docs/architecture.md: the Settings section changed shape"
