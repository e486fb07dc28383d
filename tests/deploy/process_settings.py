"""The settings each process reads, as its binary says: `<binary>
--print-settings=json` prints the process's settings table (lib/oms/config.h),
the one place a process reads its environment from.

The binaries come from $BIN_DIR (scripts/test.sh points it at the ASan
build), else build/release/bin, else build/asan/bin; `make` builds them.
"""
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ["order-service", "inventory-service", "payment-service"]
PROCESSES = ["api-gateway"] + SERVICES


def bin_dirs(repo):
    repo = Path(repo)
    dirs = [Path(os.environ["BIN_DIR"])] if os.environ.get("BIN_DIR") else []
    return dirs + [repo / "build/release/bin", repo / "build/asan/bin"]


def binary(repo, process):
    for folder in bin_dirs(repo):
        candidate = folder / process
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(f"no {process} binary in {', '.join(map(str, bin_dirs(repo)))}: run make first")


def run(repo, process, args, env=None, cwd=None):
    """Runs the process's binary with `args` and a minimal environment
    (PATH and the sanitizers' options, plus `env`), in `cwd` (default: a
    folder without a .env)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}
    return subprocess.run([str(binary(repo, process))] + list(args), env={**base, **(env or {})},
                          cwd=cwd or "/", capture_output=True, text=True, timeout=60)


@dataclass
class Settings:
    rows: list
    names: set = field(default_factory=set)
    required: set = field(default_factory=set)

    def __post_init__(self):
        self.names = {r["name"] for r in self.rows}
        self.required = {r["name"] for r in self.rows if r["required"]}

    def row(self, name):
        return next(r for r in self.rows if r["name"] == name)


def settings_of(repo, process):
    done = run(repo, process, ["--print-settings=json"])
    assert done.returncode == 0, f"{process} --print-settings=json: exit {done.returncode}\n{done.stderr}"
    table = json.loads(done.stdout)
    assert table["process"] == process, table["process"]
    return Settings(table["settings"])


if __name__ == "__main__":  # python3 tests/deploy/process_settings.py: the tables in short
    root = Path(__file__).resolve().parents[2]
    for name in PROCESSES:
        s = settings_of(root, name)
        print(f"{name}: {' '.join(r['name'] for r in s.rows)}")
