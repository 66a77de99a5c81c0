"""Benchmark of the piece search on a Dask cluster (issue 15, Performance).

    python benchmarks/cluster.py [--network 4-8-8-8-1] [--scope everywhere]
                                 [--clusters 1 2 4] [--timeout S] [--json]

Whole processes, ``deep2shallow regions NET.json --scope S --summary --json``: once with the
default process pool (``--workers``: every usable CPU), then with ``--cluster local:N`` for each
N. Printed: wall seconds, the ratio to the default pool (target on 4-8-8-8-1 everywhere:
local:2 within 1.3x), the pieces found (the same in every run, or the run is marked WRONG), and
each cluster worker's busy fraction: the seconds it spent running batches over the span from
the first batch's start to the last one's end (so the sequential first second and the cluster's
start are left out).

The busy times come from the command's own local cluster: this file is also a Dask scheduler
preload (``DASK_DISTRIBUTED__SCHEDULER__PRELOAD``, set for the cluster runs only) whose
``dask_setup`` adds Dask's task-stream plugin to the scheduler and whose ``dask_teardown``
writes every batch's worker and compute start/stop to the file named by
``DEEP2SHALLOW_BENCH_TASKS``. Nothing is imported at the top but the standard library, so that
the preload costs the measured command nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASKS_ENV = "DEEP2SHALLOW_BENCH_TASKS"
PRELOAD_ENV = "DASK_DISTRIBUTED__SCHEDULER__PRELOAD"
TARGET = 1.3  # local:2 within this factor of the default pool


# -- the scheduler preload (runs inside the measured command) --------------------------------

_stream = None


def dask_setup(scheduler) -> None:
    global _stream
    from distributed.diagnostics.task_stream import TaskStreamPlugin
    _stream = TaskStreamPlugin(scheduler)
    scheduler.add_plugin(_stream)


def dask_teardown(scheduler) -> None:
    where = os.environ.get(TASKS_ENV)
    if not where or _stream is None:
        return
    tasks = [{"worker": t["worker"], "key": str(t["key"]),
              "compute": [[s["start"], s["stop"]] for s in t["startstops"]
                          if s["action"] == "compute"]}
             for t in _stream.buffer]
    Path(where).write_text(json.dumps(tasks))


# -- the measurement ---------------------------------------------------------------------------

def busy_fractions(tasks: list[dict]) -> dict:
    """Per worker: seconds running batches over the span of all batches."""
    spans = [s for t in tasks if t["key"].startswith("_explore") for s in t["compute"]]
    if not spans:
        return {"span": 0.0, "batches": 0, "workers": {}}
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    span = max(last - first, 1e-9)
    busy: dict[str, float] = {}
    batches = 0
    for t in tasks:
        if t["key"].startswith("_explore"):
            batches += 1
            busy[t["worker"]] = busy.get(t["worker"], 0.0) + sum(b - a for a, b in t["compute"])
    return {"span": span, "batches": batches,
            "workers": {w: seconds / span for w, seconds in sorted(busy.items())}}


def measure(path: Path, scope: str, cluster: str | None, timeout: float, tmp: Path) -> dict:
    from regions import run_child, tool_command
    command = [*tool_command(), "regions", str(path), "--scope", scope, "--summary", "--json"]
    saved = {k: os.environ.get(k) for k in (TASKS_ENV, PRELOAD_ENV)}
    tasks_file = tmp / f"tasks-{cluster or 'pool'}.json".replace(":", "-")
    if cluster is not None:
        command += ["--cluster", cluster]
        os.environ[TASKS_ENV] = str(tasks_file)
        os.environ[PRELOAD_ENV] = json.dumps([str(Path(__file__).resolve())])
    try:
        child = run_child(command, timeout)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    row = {"run": cluster or "default pool", "status": child.status, "wall": child.wall,
           "cpu": child.cpu, "detail": child.detail}
    if child.status == "ok":
        row["counts_by_dim"] = child.answer.get("counts_by_dim")
        row["pieces"] = sum(child.answer.get("counts_by_dim", {}).values())
    if cluster is not None and tasks_file.exists():
        row["busy"] = busy_fractions(json.loads(tasks_file.read_text()))
    return row


def render(doc: dict) -> str:
    from regions import table
    base = doc["runs"][0]
    rows = []
    for row in doc["runs"]:
        if row["status"] != "ok":
            rows.append([row["run"], f"{row['status']}: {row['detail']}", "", "", "", ""])
            continue
        ratio = row["wall"] / base["wall"] if base["status"] == "ok" else float("nan")
        busy = row.get("busy")
        workers = ", ".join(f"{f:.2f}" for f in busy["workers"].values()) if busy else ""
        same = "" if row.get("counts_by_dim") == base.get("counts_by_dim") else " WRONG"
        rows.append([row["run"], f"{row['wall']:.2f} [{row['cpu']:.2f}]", f"{ratio:.2f}x",
                     f"{row['pieces']}{same}", f"{row['pieces'] / row['wall']:.0f}",
                     (f"{busy['batches']} batches over {busy['span']:.1f} s: {workers}"
                      if busy else "")])
    out = [f"# deep2shallow regions on a Dask cluster, {doc['date']}", "",
           f"{doc['machine']}; network {doc['network']}, scope {doc['scope']}; "
           f"load average {doc['load_start']} at the start, {doc['load_end']} at the end.", "",
           table(["run", "wall s [CPU s]", "vs default pool", "pieces", "pieces/s",
                  "busy fraction of each worker"], rows), ""]
    two = next((r for r in doc["runs"] if r["run"] == "local:2" and r["status"] == "ok"), None)
    if two is not None and base["status"] == "ok":
        ratio = two["wall"] / base["wall"]
        out.append(f"target: local:2 within {TARGET}x of the default pool: "
                   f"{'met' if ratio <= TARGET else 'not met'} ({ratio:.2f}x)")
    return "\n".join(out)


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    from regions import _load, machine, make_network

    from deep2shallow_exact.formats import save_network
    parser = argparse.ArgumentParser(description="The piece search on a Dask cluster against "
                                                 "the default process pool (issue 15).")
    parser.add_argument("--network", default="4-8-8-8-1",
                        help="widths of the seeded benchmark network (default 4-8-8-8-1)")
    parser.add_argument("--scope", choices=("everywhere", "open"), default="everywhere")
    parser.add_argument("--clusters", nargs="+", type=int, default=[1, 2, 4], metavar="N",
                        help="run --cluster local:N for each N (default: 1 2 4)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--json", action="store_true", help="one JSON document instead")
    args = parser.parse_args()
    net = make_network(args.network)
    doc: dict = {"date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
                 "machine": machine(), "network": args.network, "scope": args.scope,
                 "load_start": _load(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="d2s-cluster-bench-") as tmp:
        path = Path(tmp) / f"{args.network}.json"
        save_network(net, str(path))
        for cluster in [None, *(f"local:{n}" for n in args.clusters)]:
            print(f"... {cluster or 'default pool'}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            doc["runs"].append(measure(path, args.scope, cluster, args.timeout, Path(tmp)))
            print(f"    {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    doc["load_end"] = _load()
    print(json.dumps(doc, indent=2) if args.json else render(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
