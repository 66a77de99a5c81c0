"""Benchmark on the real ACAS Xu network and its VNN-LIB properties (issue 14, Performance).

    python benchmarks/acasxu.py [--regions-timeout S] [--prop3-timeout S] [--prop1-timeout S]
                                [--workers N] [--json]

Whole processes on /work/shared/data/acasxu (ACASXU_run2a_1_1_batch_2000.onnx, 5 inputs, six
hidden layers of 50, 5 outputs), each with its time limit, wall-clock and CPU seconds and its
peak resident memory (benchmarks/convert.py ``run``):

1. ``deep2shallow regions NET --vnnlib prop_3.vnnlib --scope open --summary --json``;
   at its limit it gets SIGINT and prints its partial count, so a run that does not finish
   still reports how far it got (regions, regions per second);
2. ``deep2shallow property NET --vnnlib prop_3.vnnlib --certificate C --json`` (the
   literature: it holds for network 1_1), then ``deep2shallow verify C --networks NET``;
3. the same for prop_1.vnnlib.

Reported: regions (pieces checked), the bisection's bound leaves and the boxes it handed to the
piece enumeration (``property``), LP calls and LP calls per region, the neurons whose sign
the box fixed (``bound_fixed``, each function counted once per process) and their share of all
sign decisions (bound_fixed / (bound_fixed + splits)), seconds, peak memory, and the verdict.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from convert import json_answer, run  # noqa: E402
from regions import machine, table, tool_command  # noqa: E402

DATA = Path("/work/shared/data/acasxu")  # as in tests/test_formats.py
NETWORK = DATA / "ACASXU_run2a_1_1_batch_2000.onnx"
# Issue 14's limits: regions of prop_3 in 15 minutes, prop_3 decided in 10, prop_1 in 30.
LIMITS = {"regions": 900.0, "prop_3": 600.0, "prop_1": 1800.0}
# After SIGINT a run prints its partial answer; past this grace it is killed.
GRACE = 120.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def interruptible(command: list[str], seconds: float) -> list[str]:
    """``command`` sent SIGINT after ``seconds`` (coreutils timeout), so that it reports what
    it found so far; ``run``'s own limit then only catches a run that ignores it."""
    return ["timeout", "--preserve-status", "-s", "INT", f"{seconds:g}", *command]


def row_of(name: str, result, doc: dict | None, limit: float) -> dict:
    stats = (doc or {}).get("stats", {})
    regions = (doc or {}).get("regions", (doc or {}).get("pieces_checked"))
    splits, fixed = stats.get("splits"), stats.get("bound_fixed")
    lp = (doc or {}).get("lp_calls", stats.get("lp_calls"))
    if doc is not None and "search_lp_calls" in stats:
        lp = stats["search_lp_calls"] + (doc.get("lp_calls") or 0)
    return {
        "run": name, "status": result.status, "exit": result.code, "limit": limit,
        "wall": result.wall, "cpu": result.cpu, "peak_mb": result.peak_mb,
        "regions": regions, "partial": (doc or {}).get("partial", False),
        "verdict": (doc or {}).get("verdict"), "lp_calls": lp, "splits": splits,
        "bound_fixed": fixed,
        "bound_leaves": (doc or {}).get("bisection", {}).get("bound_leaves"),
        "handed_over": (doc or {}).get("bisection", {}).get("handed_over"),
        "note": "" if doc is not None else (result.err.strip().splitlines() or [""])[-1][:200],
    }


def measure(args: argparse.Namespace, tmp: Path) -> list[dict]:
    tool = tool_command()
    net = str(NETWORK)
    rows = []
    workers = ["--workers", str(args.workers)]
    log("regions prop_3 ...")
    command = interruptible([*tool, "regions", net, "--vnnlib", str(DATA / "prop_3.vnnlib"),
                             "--scope", "open", "--summary", "--json", *workers],
                            args.regions_timeout)
    result = run(command, args.regions_timeout + GRACE, ok=(0, 130))
    rows.append(row_of("regions prop_3 (open)", result, json_answer(result.out),
                       args.regions_timeout))
    for prop, limit in (("prop_3", args.prop3_timeout), ("prop_1", args.prop1_timeout)):
        log(f"property {prop} ...")
        cert = tmp / f"{prop}.certificate.json"
        command = interruptible([*tool, "property", net, "--vnnlib",
                                 str(DATA / f"{prop}.vnnlib"), "--certificate", str(cert),
                                 "--json", *workers], limit)
        result = run(command, limit + GRACE, ok=(0, 1, 130))
        row = row_of(f"property {prop}", result, json_answer(result.out), limit)
        if result.status == "ok" and cert.exists():
            checked = run([*tool, "verify", str(cert), "--networks", net, "--json", *workers],
                          limit + GRACE)
            answer = json_answer(checked.out) or {}
            row["verify_wall"] = checked.wall
            row["verify_valid"] = answer.get("valid")
            row["certificate_mb"] = cert.stat().st_size / 1e6
        rows.append(row)
    return rows


def _num(value: object, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render(doc: dict) -> str:
    headers = ["run", "status", "verdict", "regions", "bound leaves", "boxes enumerated",
               "s (wall)", "regions/s", "LP calls", "LP/region", "bound-fixed", "bound share",
               "peak MB", "certificate MB", "verify s", "note"]
    lines = []
    for r in doc["rows"]:
        regions, wall = r["regions"], r["wall"]
        share = None
        if r["bound_fixed"] is not None and r["splits"] is not None and \
                r["bound_fixed"] + r["splits"]:
            share = r["bound_fixed"] / (r["bound_fixed"] + r["splits"])
        status = r["status"] + (" (partial)" if r["partial"] else "")
        if r["status"] == "ok" and r["exit"] == 130:
            status = f"stopped at {r['limit']:g} s"
        lines.append([
            r["run"], status, _num(r["verdict"]), _num(regions), _num(r.get("bound_leaves")),
            _num(r.get("handed_over")), _num(wall),
            _num(regions / wall if regions and wall else None),
            _num(r["lp_calls"]),
            _num(r["lp_calls"] / regions if r["lp_calls"] and regions else None),
            _num(r["bound_fixed"]), "—" if share is None else f"{100 * share:.0f}%",
            _num(r["peak_mb"], 0), _num(r.get("certificate_mb")),
            _num(r.get("verify_wall")) + ("" if r.get("verify_valid") in (None, True)
                                          else " INVALID"),
            r["note"]])
    return "\n".join([f"# ACAS Xu benchmark, {doc['date']}",
                      f"machine: {doc['machine']}; --workers {doc['workers']}", "",
                      table(headers, lines), ""])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions-timeout", type=float, default=LIMITS["regions"])
    parser.add_argument("--prop3-timeout", type=float, default=LIMITS["prop_3"])
    parser.add_argument("--prop1-timeout", type=float, default=LIMITS["prop_1"])
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not NETWORK.exists():
        print(f"acasxu.py: {NETWORK} not found", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(args, Path(tmp))
    doc = {"date": datetime.date.today().isoformat(), "machine": machine(),
           "workers": args.workers, "rows": rows}
    print(json.dumps(doc, indent=1) if args.json else render(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
