"""Which environment variables each process reads, found in its C sources.

A generic scan, since the sources change while the deployment files must keep
up with them:
- a *reader* is one of oms_config_str/_required/_long/_enum/_money, or a
  function of the scanned sources that passes one of its `const char *`
  parameters on to a reader as the name (found to a fixed point, e.g. the
  gateway's read_pool(name, ...) or lib/oms/pg.c's setting(prefix, name, ...));
- a variable is read when a reader is called with a string literal (or a
  conditional whose literals are upper-case names) in the name position;
- oms_pg_settings_from_env(prefix, db_var, fallback) reads POSTGRES_HOST,
  _PORT, _USER, _PASSWORD and db_var (POSTGRES_DB when NULL), each also with
  `prefix` prepended when the prefix is a literal (lib/oms/pg.h).
A process's sources are services/<name>/src/** (api-gateway/src/** for the
gateway); a file of lib/oms or lib/pulsar counts for it when the process,
directly or through other such files, calls a function that file defines.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

BASE_READERS = {
    "oms_config_str": 0,
    "oms_config_required": 0,
    "oms_config_long": 0,
    "oms_config_enum": 0,
    "oms_config_money": 0,
}
REQUIRED_READER = "oms_config_required"
PG_SETTINGS = "oms_pg_settings_from_env"
PG_NAMES = ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD")
NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
LITERAL_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')
IDENT_RE = re.compile(r"\b[A-Za-z_]\w*\b")
C_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "else"}


def strip_comments(src):
    """Removes comments, keeping string literals (and line structure)."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching(src, open_index, opening="(", closing=")"):
    """Index just past the bracket closing the one at open_index (strings skipped)."""
    depth, i, n = 0, open_index, len(src)
    while i < n:
        c = src[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            continue
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def split_args(text):
    """Top-level comma-separated arguments of a call's parenthesised text."""
    args, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < len(text) and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    tail = text[start:].strip()
    if tail or args:
        args.append(tail)
    return args


def calls(src, function):
    """Argument lists of every call of `function` in src (not its definition)."""
    for m in re.finditer(r"\b%s\s*\(" % re.escape(function), src):
        before = src[:m.start()].rstrip()
        open_index = m.end() - 1
        close = matching(src, open_index)
        after = src[close:close + 40].lstrip()
        if after.startswith("{") or (after.startswith("__attribute__") and "{" in after):
            continue  # a definition
        if re.search(r"\b(const\s+)?(char|void|int|long|int64_t|bool|oms_pg_settings)\s*\**$", before):
            continue  # a declaration or definition header
        yield split_args(src[open_index + 1:close - 1])


def literal_names(arg):
    """The upper-case name literals of an argument ("X", or c ? v : "X")."""
    return [s for s in LITERAL_RE.findall(arg) if NAME_RE.match(s)]


@dataclass
class Function:
    name: str
    params: list
    body: str
    static: bool


def functions(src):
    """Function definitions: name, parameter names, body, static or not."""
    found = []
    for m in re.finditer(r"(^|\n)([A-Za-z_][^;{}()#]*?)\b([A-Za-z_]\w*)\s*\(", src):
        name = m.group(3)
        if name in C_KEYWORDS:
            continue
        open_index = m.end() - 1
        close = matching(src, open_index)
        rest = src[close:]
        stripped = rest.lstrip()
        if not stripped.startswith("{"):
            continue
        body_open = close + (len(rest) - len(stripped))
        body_close = matching(src, body_open, "{", "}")
        params = []
        for p in split_args(src[open_index + 1:close - 1]):
            words = IDENT_RE.findall(p)
            params.append(words[-1] if words else "")
        head = m.group(2)
        found.append(Function(name, params, src[body_open:body_close], "static" in head.split()))
    return found


@dataclass
class Reads:
    names: set = field(default_factory=set)
    required: set = field(default_factory=set)
    unresolved: list = field(default_factory=list)

    def update(self, other):
        self.names |= other.names
        self.required |= other.required
        self.unresolved += other.unresolved


def find_readers(sources):
    """Reader function -> index of its name parameter, to a fixed point."""
    readers = dict(BASE_READERS)
    defs = [f for src in sources for f in functions(src)]
    changed = True
    while changed:
        changed = False
        for f in defs:
            if f.name in readers:
                continue
            for reader, index in list(readers.items()):
                for args in calls(f.body, reader):
                    if index < len(args) and args[index] in f.params:
                        readers[f.name] = f.params.index(args[index])
                        changed = True
                        break
                if f.name in readers:
                    break
    return readers


def reads_of(src, readers, where):
    r = Reads()
    for reader, index in readers.items():
        for args in calls(src, reader):
            if index >= len(args):
                continue
            names = literal_names(args[index])
            if not names and not IDENT_RE.fullmatch(args[index] or "-"):
                r.unresolved.append(f"{where}: {reader}({args[index]}, ...)")
            r.names.update(names)
            if reader == REQUIRED_READER:
                r.required.update(names)
    for args in calls(src, PG_SETTINGS):
        if len(args) != 3:
            r.unresolved.append(f"{where}: {PG_SETTINGS}({', '.join(args)})")
            continue
        prefixes = [""]
        if args[0] != "NULL":
            lit = LITERAL_RE.fullmatch(args[0])
            if not lit:
                r.unresolved.append(f"{where}: {PG_SETTINGS} prefix {args[0]}")
                continue
            prefixes.append(lit.group(1))
        db_vars = ["POSTGRES_DB"] if args[1] == "NULL" else literal_names(args[1])
        if not db_vars:
            r.unresolved.append(f"{where}: {PG_SETTINGS} db_var {args[1]}")
        for prefix in prefixes:
            r.names.update(prefix + n for n in PG_NAMES + tuple(db_vars))
    return r


def c_files(folder):
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.c") if "tests" not in p.relative_to(folder).parts)


def process_sources(repo, process):
    repo = Path(repo)
    if process == "api-gateway":
        return c_files(repo / "api-gateway" / "src")
    return c_files(repo / "services" / process / "src")


def lib_sources(repo):
    repo = Path(repo)
    files = []
    for lib in ("lib/oms", "lib/pulsar"):
        folder = repo / lib
        if folder.is_dir():
            files += sorted(p for p in folder.glob("*.c"))
    return files


def read_text(path):
    return strip_comments(Path(path).read_text(encoding="utf-8", errors="replace"))


def settings_read(repo, process):
    """Reads (names, required names, unresolved call sites) of one process."""
    own = {p: read_text(p) for p in process_sources(repo, process)}
    libs = {p: read_text(p) for p in lib_sources(repo)}
    readers = find_readers(list(own.values()) + list(libs.values()))
    lib_exports = {p: {f.name for f in functions(src) if not f.static} for p, src in libs.items()}

    used_identifiers = set()
    for src in own.values():
        used_identifiers |= set(IDENT_RE.findall(src))
    used_libs, changed = set(), True
    while changed:
        changed = False
        for p, exports in lib_exports.items():
            if p not in used_libs and exports & used_identifiers:
                used_libs.add(p)
                used_identifiers |= set(IDENT_RE.findall(libs[p]))
                changed = True

    result = Reads()
    for p, src in own.items():
        result.update(reads_of(src, readers, str(Path(p).relative_to(repo))))
    for p in sorted(used_libs):
        result.update(reads_of(libs[p], readers, str(Path(p).relative_to(repo))))
    return result, sorted(own), sorted(used_libs)


if __name__ == "__main__":  # python3 tests/deploy/c_settings.py: print the scan
    import sys

    root = Path(__file__).resolve().parents[2]
    for name in sys.argv[1:] or ["api-gateway", "order-service", "inventory-service", "payment-service"]:
        reads, own, used = settings_read(root, name)
        print(f"{name}: {len(own)} source files, libs {[Path(u).name for u in used]}")
        print("  reads:   ", " ".join(sorted(reads.names)))
        print("  required:", " ".join(sorted(reads.required)) or "-")
        for u in reads.unresolved:
            print("  unresolved:", u)
