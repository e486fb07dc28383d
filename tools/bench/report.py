#!/usr/bin/env python3
"""tools/bench/report.py -- the report of `make bench` (scripts/bench.sh).

Reads what bench.sh measured (one JSON line per load run, one per pgbench
run, and a few facts about the run), and writes:
  - a table on the terminal,
  - a JSON file with every figure (--json),
  - a PNG chart: throughput and p99 latencies against clients (--chart),
  - docs/benchmarks.md with the machine, the method and the latest figures
    (--docs), followed by tools/bench/analysis.md (what bounds the figures),
    which is written by hand and copied as it is.
"""
import argparse
import datetime
import json
import os
import platform
import sys

# Transactions one successful saga commits with the pg bus, counted from the
# code (see TX_DERIVATION), when no batch carries more than its messages:
# the denominator of the ceiling. Claims, acknowledgements and outbox
# deletes commit without waiting for the disk; the others are durable.
TX_DERIVATION = [
    ("order-service: POST /orders (order, items, saga, 3 saga log rows, 3 outbox rows, read model; "
     "application/commands.c order_create)", 1),
    ("order relay: publish OrderCreated + OrderStatusChanged + PaymentRequested to the bus (one INSERT), "
     "then delete the outbox rows (lib/oms/outbox.c relay_batch: bus tx + outbox tx)", 2),
    ("payment-service: claim PaymentRequested (lib/oms/bus_pg.c claim), handle it once "
     "(lib/oms/inbox.c oms_inbox_handle_batch: inbox, charge, outbox), acknowledge it (settle_acks)", 3),
    ("payment relay: publish PaymentProcessed + delete the outbox row", 2),
    ("order-service: claim + handle + acknowledge PaymentProcessed (saga to PAYMENT_CONFIRMED, "
     "InventoryRequested + OrderStatusChanged in the outbox)", 3),
    ("order relay: publish InventoryRequested + OrderStatusChanged + delete", 2),
    ("inventory-service: claim + handle + acknowledge InventoryRequested (reserve, outbox)", 3),
    ("inventory relay: publish InventoryAllocated + delete", 2),
    ("order-service: claim + handle + acknowledge InventoryAllocated (saga to INVENTORY_CONFIRMED, "
     "OrderStatusChanged in the outbox)", 3),
    ("order relay: publish OrderStatusChanged (order-events has no pg subscriber: no queue row) + delete", 2),
]
TX_PER_SAGA = sum(n for _, n in TX_DERIVATION)
# Under load a claim, a handling transaction, an acknowledgement and a relay
# batch each carry up to 64 (BUS_BATCH_SIZE) or 256 (the relay) messages of
# different sagas, so their share per saga tends to zero; what stays is the
# create and, counted whole to stay on the safe side, one handling
# transaction per message: 1 + 4.
TX_PER_SAGA_BATCHED = 1 + 4

SERVICES = ["gateway", "order", "inventory", "payment"]

# Issue 14's targets, as ratios of the same run where it gives them.
TARGETS = {
    "ceiling_fraction": 0.6,       # pg sagas/s >= 0.6 x (best pgbench tps / 5)
    "pulsar_fraction": 0.7,        # Pulsar sagas/s >= 0.7 x pg sagas/s
    "admitted_final_p99_ms": 1000.0,  # at 32 and 256 clients, accepted orders
    "admitted_post_p99_ms": 20.0,
    "accepted_vs_completed": 0.1,  # |accepted/s - completed/s| <= 10 % of completed/s
    "open_final_p99_ms": 250.0,    # open loop at BENCH_OPEN_FRACTION (0.8) of the peak
    "open_post_p99_ms": 20.0,
    "rss_mib": 32.0,
}
ADMISSION_CLIENTS = (32, 256)


def read_jsonl(path):
    rows = []
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    return rows


def machine_facts(meta):
    facts = {"nproc": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    facts["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    facts["memory_mib"] = int(line.split()[1]) // 1024
    except OSError:
        pass
    facts["postgresql"] = meta.get("pg_version", "?")
    return facts


def cores_used(before, after, key, clk_tck, wall_s):
    if wall_s <= 0:
        return None
    return round((after.get(key, 0) - before.get(key, 0)) / clk_tck / wall_s, 2)


def read_samples(path):
    """Average client backends per (database, state) and peak bus queue depth
    per topic, from the sampler's lines ("backends <db> <state> <n>",
    "queue <topic> <n>", "sample - 1")."""
    samples, backends, queues = 0, {}, {}
    if not path or not os.path.exists(path):
        return {"samples": 0, "backends": {}, "queue_peak": {}}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "sample":
                samples += 1
            elif parts[0] == "backends" and len(parts) == 4:
                key = parts[1] + " " + parts[2]
                backends[key] = backends.get(key, 0) + int(parts[3])
            elif parts[0] == "queue" and len(parts) == 3:
                queues[parts[1]] = max(queues.get(parts[1], 0), int(parts[2]))
    avg = {k: round(v / samples, 2) for k, v in sorted(backends.items(), key=lambda kv: -kv[1])} if samples else {}
    return {"samples": samples, "backends": avg, "queue_peak": queues}


def summarise_run(r):
    load, orders = r["load"], r["orders"]
    span = orders.get("span_s") or 0
    clk = r.get("clk_tck", 100)
    before, after, wall = r["cpu_before"], r["cpu_after"], r["wall_s"]
    busy = after["machine_busy"] - before["machine_busy"]
    total = after["machine_total"] - before["machine_total"]
    confirmed = orders["confirmed"]
    cpu_ms_per_saga = {k: round((after.get(k, 0) - before.get(k, 0)) / clk * 1000.0 / confirmed, 2) if confirmed else None
                       for k in SERVICES + ["postgres"]}
    saga_cpu_ms = sum(v for v in cpu_ms_per_saga.values() if v) if confirmed else 0
    samples = read_samples(r.get("samples"))
    return {
        "bus": r["bus"],
        "mode": r["mode"],
        "clients": load.get("clients", 0),
        "rate": load.get("rate", 0),
        "sent": load["sent"],
        "accepted": load["accepted"],
        "refused_503": load.get("refused_503", 0),
        "refused_per_s": load.get("refused_per_s", 0.0),
        "rejected_4xx": load["rejected_4xx"],
        "failed_5xx": load["failed_5xx"],
        "transport_errors": load["transport_errors"],
        "accepted_per_s": load["accepted_per_s"],
        "post_p50_ms": load["post_p50_ms"],
        "post_p99_ms": load["post_p99_ms"],
        "orders_stored": orders["orders"],
        "confirmed": orders["confirmed"],
        "failed": orders["failed"],
        "unfinished": orders["unfinished"],
        "sagas_per_s": round(orders["confirmed"] / span, 1) if span else 0.0,
        "final_p50_ms": round(orders["final_p50_ms"] or 0, 1),
        "final_p99_ms": round(orders["final_p99_ms"] or 0, 1),
        "peak_rss_mib": {k: round(v / 1024, 1) for k, v in r["peak_rss_kib"].items()},
        "cpu_cores_used": {k: cores_used(before, after, k, clk, wall) for k in SERVICES + ["postgres"]},
        "machine_cpu_busy_pct": round(100.0 * busy / total, 1) if total else None,
        "cpu_ms_per_saga": cpu_ms_per_saga,
        "cpu_bound_sagas_per_s": round((os.cpu_count() or 1) * 1000.0 / saga_cpu_ms, 1) if saga_cpu_ms else None,
        "postgres_backends": samples["backends"],
        "bus_queue_peak": samples["queue_peak"],
        "loadavg_1m_before": r.get("loadavg_1m_before"),
        "wall_s": round(wall, 1),
        "backlog_before": r.get("backlog_before"),
    }


def build_report(runs, ceiling, meta, pulsar_skipped):
    summaries = [summarise_run(r) for r in runs]
    ceiling = [c for c in ceiling if c.get("variant", "as_coded") == "as_coded"]
    best_tps = max((c["tps"] for c in ceiling), default=0.0)
    pg_closed = [s for s in summaries if s["bus"] == "pg" and s["mode"] == "closed"]
    best_pg = max((s["sagas_per_s"] for s in pg_closed), default=0.0)
    ceiling_sagas = best_tps / TX_PER_SAGA if TX_PER_SAGA else 0.0
    ceiling_batched = best_tps / TX_PER_SAGA_BATCHED
    open_runs = [s for s in summaries if s["bus"] == "pg" and s["mode"] == "open"]
    max_rss = max((v for s in summaries if s["bus"] == "pg" for v in s["peak_rss_mib"].values()), default=0.0)
    pulsar_closed = [s for s in summaries if s["bus"] == "pulsar" and s["mode"] == "closed"]
    best_pulsar = max((s["sagas_per_s"] for s in pulsar_closed), default=0.0)
    targets = {
        "fraction_of_ceiling": {"target": ">= %.1f of tps / %d" % (TARGETS["ceiling_fraction"], TX_PER_SAGA_BATCHED),
                                "value": round(best_pg / ceiling_batched, 2) if ceiling_batched else None,
                                "met": bool(ceiling_batched) and best_pg >= TARGETS["ceiling_fraction"] * ceiling_batched},
        "rss_per_process_mib": {"target": "< 32", "value": max_rss, "met": max_rss < TARGETS["rss_mib"]},
    }
    if pulsar_closed and best_pg:
        targets["pulsar_fraction"] = {"target": ">= %.1f of the pg bus" % TARGETS["pulsar_fraction"],
                                      "value": round(best_pulsar / best_pg, 2),
                                      "met": best_pulsar >= TARGETS["pulsar_fraction"] * best_pg}
    for s in pg_closed:
        if s["clients"] not in ADMISSION_CLIENTS:
            continue
        done = s["sagas_per_s"]
        gap = abs(s["accepted_per_s"] - done) / done if done else None
        targets["admitted_%d" % s["clients"]] = {
            "target": "final p99 <= 1000, POST p99 <= 20 ms, accepted/s within 10 % of completed/s",
            "value": "final p99 %s, POST p99 %s, accepted %s vs completed %s/s" % (
                fmt(s["final_p99_ms"]), fmt(s["post_p99_ms"]), fmt(s["accepted_per_s"]), fmt(done)),
            "met": s["final_p99_ms"] <= TARGETS["admitted_final_p99_ms"]
            and s["post_p99_ms"] <= TARGETS["admitted_post_p99_ms"]
            and gap is not None and gap <= TARGETS["accepted_vs_completed"]}
    if open_runs:
        o = open_runs[-1]
        targets["open_final_p99_ms"] = {"target": "<= 250", "value": o["final_p99_ms"],
                                        "met": o["final_p99_ms"] <= TARGETS["open_final_p99_ms"]}
        targets["open_post_p99_ms"] = {"target": "<= 20", "value": o["post_p99_ms"],
                                       "met": o["post_p99_ms"] <= TARGETS["open_post_p99_ms"]}
    return {
        "generated_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_facts(meta),
        "settings": {"bench_seconds": meta.get("bench_seconds"), "pgbench_seconds": meta.get("pgbench_seconds"),
                     "elapsed_s": meta.get("elapsed_s")},
        "transactions_per_saga": {"count": TX_PER_SAGA, "with_fully_batched_relays": TX_PER_SAGA_BATCHED,
                                  "derivation": [{"what": w, "transactions": n} for w, n in TX_DERIVATION]},
        "ceiling": {"pgbench": ceiling, "best_tps": best_tps, "sagas_per_s": round(ceiling_sagas, 1),
                    "sagas_per_s_batched_relays": round(best_tps / TX_PER_SAGA_BATCHED, 1)},
        "runs": summaries,
        "best_pg_sagas_per_s": best_pg,
        "targets": targets,
        "pulsar_skipped": pulsar_skipped,
    }


def fmt(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.*f" % (digits, v)
    return str(v)


def runs_table(report):
    head = ["bus", "load", "accepted/s", "refused/s", "sagas/s", "POST p50", "POST p99", "final p50", "final p99",
            "ok/failed/open", "5xx+err", "RSS MiB g/o/i/p", "CPU cores g/o/i/p/pg", "busy%"]
    rows = []
    for s in report["runs"]:
        load = "%d clients" % s["clients"] if s["mode"] == "closed" else "open %.0f/s" % s["rate"]
        rss = "/".join(fmt(s["peak_rss_mib"].get(k)) for k in SERVICES)
        cpu = "/".join(fmt(s["cpu_cores_used"].get(k), 2) for k in SERVICES + ["postgres"])
        rows.append([s["bus"], load, fmt(s["accepted_per_s"]), fmt(s.get("refused_per_s", 0.0)), fmt(s["sagas_per_s"]),
                     fmt(s["post_p50_ms"]),
                     fmt(s["post_p99_ms"]), fmt(s["final_p50_ms"]), fmt(s["final_p99_ms"]),
                     "%d/%d/%d" % (s["confirmed"], s["failed"], s["unfinished"]),
                     str(s["failed_5xx"] + s["transport_errors"]), rss, cpu, fmt(s["machine_cpu_busy_pct"])])
    return head, rows


def detail_table(report):
    head = ["bus", "load", "open before", "CPU ms/saga g/o/i/p/pg", "CPU-bound sagas/s",
            "PostgreSQL backends (avg, top 4)", "bus queue peak"]
    rows = []
    for s in report["runs"]:
        load = "%d clients" % s["clients"] if s["mode"] == "closed" else "open %.0f/s" % s["rate"]
        cpu = "/".join(fmt(s["cpu_ms_per_saga"].get(k), 1) for k in SERVICES + ["postgres"])
        top = ", ".join("%s %s" % (k, fmt(v, 1)) for k, v in list(s["postgres_backends"].items())[:4])
        queues = ", ".join("%s %d" % (k, v) for k, v in sorted(s["bus_queue_peak"].items()))
        rows.append([s["bus"], load, fmt(s.get("backlog_before")), cpu, fmt(s["cpu_bound_sagas_per_s"]),
                     top or "-", queues or "-"])
    return head, rows


def ceiling_table(report):
    head = ["pgbench clients", "tps", "latency avg ms", "sagas/s allowed (tps / %d)" % TX_PER_SAGA]
    rows = [[str(c["clients"]), fmt(c["tps"]), fmt(c["latency_avg_ms"]), fmt(c["tps"] / TX_PER_SAGA)]
            for c in report["ceiling"]["pgbench"]]
    return head, rows


def text_table(head, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def markdown_table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def targets_lines(report):
    names = {
        "fraction_of_ceiling": "sagas completed/s (best closed loop, pg bus) as a fraction of the database ceiling",
        "pulsar_fraction": "Pulsar's best sagas/s as a fraction of the pg bus's",
        "admitted_32": "32 clients, admission control",
        "admitted_256": "256 clients, admission control",
        "rss_per_process_mib": "peak RSS of any service process, MiB",
        "open_final_p99_ms": "create-to-final p99 in the open loop, ms",
        "open_post_p99_ms": "POST p99 in the open loop, ms",
    }
    out = []
    for key, t in report["targets"].items():
        out.append("%s: %s (target %s) -- %s" % (names[key], fmt(t["value"]), t["target"],
                                                 "met" if t["met"] else "NOT met"))
    return out


def print_terminal(report):
    c = report["ceiling"]
    print()
    print("== ceiling: pgbench, order-creation transaction shape, same PostgreSQL")
    print(text_table(*ceiling_table(report)))
    print("transactions one successful saga commits: %d (counted from the code:" % TX_PER_SAGA)
    for d in report["transactions_per_saga"]["derivation"]:
        print("   %d  %s" % (d["transactions"], d["what"]))
    print(")  -> ceiling %s sagas/s (best tps %s / %d); %s sagas/s with batches shared (/%d)"
          % (fmt(c["sagas_per_s"]), fmt(c["best_tps"]), TX_PER_SAGA, fmt(c["sagas_per_s_batched_relays"]),
             TX_PER_SAGA_BATCHED))
    print()
    print("== load through the gateway (closed loop: N clients; open: fixed rate); latencies in ms")
    print(text_table(*runs_table(report)))
    print()
    print("== where the time goes (CPU per saga; what PostgreSQL's client backends were doing; bus queue depth)")
    print(text_table(*detail_table(report)))
    if report["pulsar_skipped"]:
        print("Pulsar runs skipped: %s" % report["pulsar_skipped"])
    print()
    print("== targets (2-core machine, embedded pg bus)")
    for line in targets_lines(report):
        print("  " + line)


def draw_chart(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for bus, style in (("pg", "-o"), ("pulsar", "--s")):
        runs = sorted((s for s in report["runs"] if s["bus"] == bus and s["mode"] == "closed"),
                      key=lambda s: s["clients"])
        if not runs:
            continue
        x = [s["clients"] for s in runs]
        left.plot(x, [s["sagas_per_s"] for s in runs], style, label="%s: sagas completed/s" % bus)
        left.plot(x, [s["accepted_per_s"] for s in runs], style, alpha=0.5, label="%s: orders accepted/s" % bus)
        right.plot(x, [max(s["post_p99_ms"], 0.01) for s in runs], style, label="%s: POST p99" % bus)
        right.plot(x, [max(s["final_p99_ms"], 0.01) for s in runs], style, alpha=0.5,
                   label="%s: create-to-final p99" % bus)
    ceiling = report["ceiling"]
    if ceiling["pgbench"]:
        cx = [c["clients"] for c in ceiling["pgbench"]]
        left.plot(cx, [c["tps"] / TX_PER_SAGA for c in ceiling["pgbench"]], ":", color="grey",
                  label="database ceiling (pgbench tps / %d)" % TX_PER_SAGA)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: "%g" % v))
        ax.set_xlabel("concurrent clients")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    left.set_yscale("log")
    left.set_ylabel("per second (log)")
    left.set_title("throughput")
    right.set_yscale("log")
    right.set_ylabel("ms (log)")
    right.set_title("p99 latency")
    m = report["machine"]
    fig.suptitle("make bench %s -- %s cores, %s" % (report["generated_at"], m.get("nproc"), m.get("cpu_model", "")),
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_docs(report, path, analysis_path):
    m, c = report["machine"], report["ceiling"]
    rh, rr = runs_table(report)
    ch, cr = ceiling_table(report)
    parts = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (scripts/bench.sh, tools/bench/report.py) on %s; "
        "the figures below are the latest run's. Only the section \"What bounds the figures\" "
        "is written by hand (tools/bench/analysis.md)." % report["generated_at"],
        "",
        "## The machine",
        "",
        "| | |",
        "|---|---|",
        "| CPU | %s, %s cores (nproc) |" % (m.get("cpu_model", "?"), m.get("nproc")),
        "| memory | %s MiB |" % m.get("memory_mib", "?"),
        "| kernel | %s |" % m.get("kernel"),
        "| PostgreSQL | %s (fsync on, synchronous_commit on: infrastructure/postgres/pg.sh) |" % m.get("postgresql"),
        "| load average before the runs | %s |" % ", ".join(fmt(s["loadavg_1m_before"]) for s in report["runs"]),
        "",
        "The machine is shared: other processes (tests, brokers, builds) may run beside the bench; "
        "the `busy%` column (the whole machine's CPU during the run) and the load average show it.",
        "",
        "## How it is measured",
        "",
        "- `make bench` builds the release binaries, starts a private PostgreSQL on port %s and the four "
        "processes with `scripts/oms.sh up` on ports 28080/28001-28003 (run dir `.run/bench`), "
        "`LOG_LEVEL=warn`, `DEFAULT_CREDIT=1000000000.00`, 8 products with 10^9 stock." % os.environ.get("PG_PORT", "25436"),
        "- Closed loop: `tools/loadgen` keeps N `POST /orders` in flight through the gateway for %s s "
        "(one item, 1000 customers per run). Orders accepted/s, refused/s (503 from admission control, "
        "MAX_SAGAS_IN_FLIGHT; the refused client waits the Retry-After) and POST p50/p99 of the accepted "
        "orders come from loadgen; then the "
        "bench waits until every order of the run is final and reads from the `orders` table: sagas "
        "completed/s = orders in `INVENTORY_CONFIRMED` / (last final `modified_at` - first `created_at`), "
        "create-to-final = `modified_at - created_at` of the confirmed orders." % report["settings"]["bench_seconds"],
        "- Open loop: a new POST every 1/R s whatever the answers, R = BENCH_OPEN_FRACTION (0.8, issue 14) of the best closed-loop sagas/s.",
        "- Peak RSS: `VmHWM` of each process, reset before each run (`/proc/PID/clear_refs`). CPU: "
        "utime+stime of each process (PostgreSQL: the postmaster and all its children) over the run "
        "and its drain, divided by the wall time (1.0 = one core busy).",
        "- The ceiling: `pgbench -M extended` with tools/bench/order_create.pgbench, the statements of one "
        "`POST /orders` transaction (order, item, saga, 3 saga log rows, 3 outbox rows, read model "
        "insert and update, idempotency key, the saga's `FOR UPDATE` and the order load; 12 round "
        "trips, the deferred writes pipelined with the statement after them as the service sends them) on a copy of the order-service tables, %s s per client count, on the same "
        "PostgreSQL in the same run." % report["settings"]["pgbench_seconds"],
        "",
        "## Transactions per saga",
        "",
        "One successful saga commits **%d** transactions with the pg bus (counted from the code):" % TX_PER_SAGA,
        "",
        "| transactions | what |",
        "|---|---|",
    ]
    parts += ["| %d | %s |" % (n, w) for w, n in TX_DERIVATION]
    parts += [
        "",
        "Under load every claim, handling transaction, acknowledgement and relay batch carries the "
        "messages of many sagas, so their share tends to zero; counting one handling transaction per "
        "message anyway leaves %d. The ceiling is the best pgbench tps divided by %d: **%s sagas/s** "
        "(%s with batches shared). Every one of these transactions is counted as if it cost as much as "
        "the order-creation one; most are smaller, so the ceiling is a lower estimate. With "
        "`MESSAGE_BUS=pulsar` the bus transactions leave PostgreSQL: 1 create + 5 outbox deletes + "
        "4 handlings = 10 per saga, fewer when batched."
        % (TX_PER_SAGA_BATCHED, TX_PER_SAGA, fmt(c["sagas_per_s"]), fmt(c["sagas_per_s_batched_relays"])),
        "",
        "## Latest figures",
        "",
        "### The database ceiling",
        "",
        markdown_table(ch, cr),
        "",
        "### Load through the gateway",
        "",
        "Latencies in ms; `ok/failed/open` = orders confirmed / failed / not final at the end of the drain; "
        "RSS and CPU per process: gateway / order / inventory / payment (/ PostgreSQL).",
        "",
        markdown_table(rh, rr),
        "",
        "### Where the time goes",
        "",
        "CPU ms per saga: CPU seconds of each process over the run and its drain / sagas completed "
        "(gateway / order / inventory / payment / PostgreSQL). CPU-bound sagas/s: the cores of the machine "
        "divided by the sum, what CPU alone would allow if the machine were the bench's. PostgreSQL "
        "backends: the average number of client backends in each state, sampled 4 times a second "
        "(`CPU`: running; `Lock:object`: waiting for the lock that NOTIFY takes at commit; `IO:WALSync`: "
        "the commit's fsync; `idle_in_transaction`: waiting for its client between two statements). "
        "Bus queue peak: the most rows waiting in `bus_queue` per topic. Open before: orders not final and "
        "messages still in `bus_queue` from earlier runs when the run started (the bench waits up to "
        "BENCH_DRAIN_TIMEOUT_S for them to be 0).",
        "",
        markdown_table(*detail_table(report)),
        "",
    ]
    if report["pulsar_skipped"]:
        parts += ["Pulsar runs skipped: %s." % report["pulsar_skipped"], ""]
    parts += ["### Targets", ""]
    parts += ["- " + line for line in targets_lines(report)]
    parts += ["", "![throughput and p99 against clients](../build/bench/chart.png)", "",
              "(The chart is written to build/bench/chart.png by each run; it is not committed.)", ""]
    if analysis_path and os.path.exists(analysis_path):
        with open(analysis_path) as f:
            parts += [f.read().rstrip(), ""]
    with open(path, "w") as f:
        f.write("\n".join(parts))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True)
    p.add_argument("--ceiling", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--pulsar-skipped")
    p.add_argument("--json", required=True)
    p.add_argument("--chart")
    p.add_argument("--docs")
    p.add_argument("--analysis", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md"))
    a = p.parse_args()
    with open(a.meta) as f:
        meta = json.load(f)
    skipped = None
    if a.pulsar_skipped and os.path.exists(a.pulsar_skipped):
        with open(a.pulsar_skipped) as f:
            skipped = f.read().strip() or None
    report = build_report(read_jsonl(a.runs), read_jsonl(a.ceiling), meta, skipped)
    with open(a.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print_terminal(report)
    if a.chart:
        draw_chart(report, a.chart)
    if a.docs:
        write_docs(report, a.docs, a.analysis)
    return 0


if __name__ == "__main__":
    sys.exit(main())
