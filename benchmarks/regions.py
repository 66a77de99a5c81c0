"""Benchmark of exact piece enumeration (issue 3, Performance).

    python benchmarks/regions.py [--quick] [--networks NAME ...] [--timeout S] [--json]

Networks are fixed seeded random ReLU networks named by their widths ("2-8-8-1"); every weight
and bias is k/3 with k a seeded random integer in [-12, 12]. Four measurements:

1. search: deep2shallow_exact.regions.PieceEnumeration in both scopes and both backends, each
   run in a child process (so a timeout can stop it) and timed around the enumeration only.
2. naive: the 2^N activation-pattern baseline (benchmarks/naive.py) on networks with at most
   NAIVE_MAX_HIDDEN hidden neurons; a seeded sample of patterns, extrapolated, unless
   --naive-sample 0 asks for all of them.
3. whole process: ``deep2shallow regions NET.json --scope S --summary --json`` on the same
   networks saved as JSON files, wall-clock and CPU time of the process.
4. peer: relucent (benchmarks/relucent_runner.py) on the same files, wall-clock and CPU time,
   its region count or the error it stops with. Skipped with a note when it is not installed.

Then the targets of issue 3 are checked against these figures.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from deep2shallow_exact.feasibility import BACKENDS as SOLVER_BACKENDS  # noqa: E402
from deep2shallow_exact.formats import save_network  # noqa: E402
from deep2shallow_exact.network import ReluNetwork  # noqa: E402
from deep2shallow_exact.parallel import available_cpus  # noqa: E402
from deep2shallow_exact.regions import PieceEnumeration, counts_by_dim  # noqa: E402

NETWORKS = ("2-8-8-1", "2-16-16-1", "3-10-10-1", "4-8-8-8-1", "2-32-32-1")
QUICK = ("2-8-8-1",)
SCOPES = ("open", "everywhere")
# Every backend the solver offers; the first, the default, is what the command line uses.
BACKENDS = SOLVER_BACKENDS
DEFAULT_BACKEND = BACKENDS[0]
# The naive baseline runs where 2^N is at most about a million patterns.
NAIVE_MAX_HIDDEN = 20
# The other backends are skipped where the default one needed more than this share of the
# timeout: measured, they are slower, so such a run would eat the time budget of the whole
# benchmark (about 15 minutes) and likely end in a timeout anyway.
SKIP_SHARE = 0.5


def make_network(name: str) -> ReluNetwork:
    """The fixed random network with these widths: weights and biases k/3, k in [-12, 12]."""
    try:
        widths = [int(w) for w in name.split("-")]
    except ValueError:
        raise SystemExit(f"network {name!r}: expected widths like 2-8-8-1") from None
    if len(widths) < 3 or min(widths) < 1:
        raise SystemExit(f"network {name!r}: needs an input, hidden layers and an output")
    rng = random.Random(f"deep2shallow-benchmark/{name}")
    return ReluNetwork.from_lists([
        ([[Fraction(rng.randint(-12, 12), 3) for _ in range(a)] for _ in range(b)],
         [Fraction(rng.randint(-12, 12), 3) for _ in range(b)])
        for a, b in zip(widths, widths[1:])])


# -- child processes -------------------------------------------------------------------------

@dataclass
class Child:
    """A finished (or stopped) child process: its JSON answer, wall and CPU seconds."""

    status: str  # "ok", "timeout", "failed"
    wall: float
    cpu: float
    answer: dict = field(default_factory=dict)
    detail: str = ""


def run_child(command: list[str], timeout: float) -> Child:
    """Run ``command`` in its own session; kill its whole group at the timeout. CPU time is
    the children's rusage delta, which covers grandchildren (relucent's workers) once reaped."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        status = "ok" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        status = "timeout"
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    answer: dict = {}
    if status == "ok":
        lines = [line for line in out.splitlines() if line.strip()]
        try:
            answer = json.loads(lines[-1] if lines and lines[-1].startswith("{") else out)
        except json.JSONDecodeError:
            status = "failed"
    detail = "" if status == "ok" else (err.strip().splitlines() or [""])[-1][:200]
    return Child(status, wall, cpu, answer, detail)


def worker(argv: list[str]) -> int:
    """Child side: ``enumerate NAME SCOPE BACKEND`` or ``naive NAME SAMPLE``; one JSON line."""
    kind, name = argv[0], argv[1]
    net = make_network(name)
    if kind == "enumerate":
        scope, backend = argv[2], argv[3]
        job = PieceEnumeration(net, None, scope, backend)
        start, cpu = time.perf_counter(), time.process_time()
        pieces = list(job)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        counts = counts_by_dim(pieces)
        solver = job.search.solver.stats
        print(json.dumps({
            "pieces": len(pieces), "regions": counts.get(net.input_dim, 0),
            "counts_by_dim": {str(d): c for d, c in counts.items()},
            "euler": sum((-1) ** d * c for d, c in counts.items()),
            "lp_calls": job.stats.lp_calls, "seconds": seconds, "cpu": cpu,
            "exact_fallbacks": solver.exact_fallbacks, "exact_calls": solver.exact_calls}))
    else:
        from naive import run_naive

        result = run_naive(net, int(argv[2]), f"deep2shallow-benchmark/naive/{name}")
        print(json.dumps({**asdict(result), "estimated_seconds": result.estimated_seconds,
                          "estimated_regions": result.estimated_regions}))
    return 0


def self_command(*args: object) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", *map(str, args)]


def tool_command() -> list[str]:
    """The installed ``deep2shallow`` script of this interpreter (not a pyenv-style shim, whose
    own start-up would be charged to us), else the first on PATH, else ``python -m``."""
    beside = Path(sys.executable).parent / "deep2shallow"
    found = str(beside) if beside.exists() else shutil.which("deep2shallow")
    return [found] if found else [sys.executable, "-m", "deep2shallow_exact.cli"]


# -- the measurements ------------------------------------------------------------------------

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure_search(names: list[str], timeout: float) -> list[dict]:
    """Every network, scope and backend; the default backend runs first and is the reference
    for skipping the others (they have always been slower)."""
    rows = []
    for name in names:
        open_finished = True
        for scope in SCOPES:
            reference: float | None = None
            for backend in BACKENDS:
                row = {"network": name, "scope": scope, "backend": backend}
                skip = ""
                if scope == "everywhere" and not open_finished:
                    # Scope everywhere refines every open region, so it cannot be faster.
                    skip = f"skipped (scope open already > {timeout:g} s)"
                elif backend != DEFAULT_BACKEND and reference is None:
                    skip = (f"skipped ({backend} backend, too slow: {DEFAULT_BACKEND} backend "
                            f"alone > {timeout:g} s)")
                elif backend != DEFAULT_BACKEND and reference > SKIP_SHARE * timeout:
                    skip = (f"skipped ({backend} backend, too slow: {DEFAULT_BACKEND} backend "
                            f"alone > {SKIP_SHARE * timeout:g} s)")
                if skip:
                    row.update(status="skipped", note=skip)
                    rows.append(row)
                    log(f"search {name} {scope} {backend}: {row['note']}")
                    continue
                child = run_child(self_command("enumerate", name, scope, backend), timeout)
                row.update(status=child.status, **child.answer)
                if child.status == "ok":
                    row["pieces_per_second"] = row["pieces"] / max(row["seconds"], 1e-9)
                    if backend == DEFAULT_BACKEND:
                        reference = row["seconds"]
                else:
                    if (scope, backend) == ("open", DEFAULT_BACKEND):
                        open_finished = False
                    row["note"] = _failure(child, timeout)
                rows.append(row)
                log(f"search {name} {scope} {backend}: {row.get('note') or _brief(row)}")
    return rows


def _brief(row: dict) -> str:
    return f"{row['pieces']} pieces, {row['regions']} regions, {row['seconds']:.2f} s"


def measure_naive(names: list[str], sample: int, timeout: float) -> list[dict]:
    rows = []
    for name in names:
        hidden = sum(make_network(name).hidden_widths)
        if hidden > NAIVE_MAX_HIDDEN:
            continue
        child = run_child(self_command("naive", name, sample), timeout)
        row = {"network": name, "hidden": hidden, "status": child.status, **child.answer}
        if child.status != "ok":
            row["note"] = _failure(child, timeout)
        rows.append(row)
        log(f"naive {name}: {row.get('note') or _naive_brief(row)}")
    return rows


def _naive_brief(row: dict) -> str:
    return (f"{row['tested']}/{row['total']} patterns in {row['seconds']:.2f} s, "
            f"about {row['estimated_seconds']:.1f} s for all")


def measure_whole(names: list[str], search: list[dict], timeout: float, peer: bool,
                  workers: int | None) -> list[dict]:
    """Our CLI in both scopes and relucent, each as a whole process on the same JSON file."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="d2s-bench-") as tmp:
        for name in names:
            path = Path(tmp) / f"{name}.json"
            save_network(make_network(name), path)
            row: dict = {"network": name}
            for scope in SCOPES:
                inside = _find(search, name, scope, DEFAULT_BACKEND)
                if inside is not None and (inside["status"] == "skipped" or (
                        inside["status"] == "timeout" and available_cpus() == 1)):
                    # The same enumeration already exceeded the timeout without start-up costs
                    # (the CLI runs it on every usable CPU, the search table on one).
                    row[scope] = {"status": "timeout", "note": _timeout(timeout)}
                    log(f"whole {name} {scope}: {row[scope]['note']}")
                    continue
                child = run_child([*tool_command(), "regions", str(path), "--scope", scope,
                                   "--summary", "--json"], timeout)
                row[scope] = _whole(child, timeout)
                if child.status == "ok":
                    row[scope]["regions"] = child.answer.get("regions")
                    row[scope]["partial"] = child.answer.get("partial", False)
                log(f"whole {name} {scope}: {_whole_brief(row[scope])}")
            if peer:
                command = [sys.executable, str(HERE / "relucent_runner.py"), str(path)]
                if workers is not None:
                    command += ["--workers", str(workers)]
                child = run_child(command, timeout)
                row["relucent"] = _whole(child, timeout)
                if child.status == "ok":
                    answer = child.answer
                    row["relucent"].update(regions=answer.get("regions"),
                                           error=answer.get("error"))
                    if answer.get("error"):
                        row["relucent"]["status"] = "error"
                log(f"whole {name} relucent: {_whole_brief(row['relucent'])}")
            rows.append(row)
    return rows


def _find(rows: list[dict], name: str, scope: str, backend: str) -> dict | None:
    return next((r for r in rows if (r["network"], r["scope"], r["backend"])
                 == (name, scope, backend)), None)


def _whole(child: Child, timeout: float) -> dict:
    out = {"status": child.status, "wall": child.wall, "cpu": child.cpu}
    if child.status != "ok":
        out["note"] = _failure(child, timeout)
    return out


def _timeout(timeout: float) -> str:
    return f"timeout (> {timeout:g} s)"


def _failure(child: Child, timeout: float) -> str:
    """The note of a child run that did not finish: timed out, or failed and why."""
    return _timeout(timeout) if child.status == "timeout" else f"failed: {child.detail}"


def _whole_brief(cell: dict) -> str:
    if cell["status"] == "ok":
        return f"{cell.get('regions')} regions, {cell['wall']:.2f} s wall"
    if cell["status"] == "error":
        return f"{cell['error']} ({cell['wall']:.2f} s wall)"
    return cell["note"]


# -- targets ---------------------------------------------------------------------------------

def check_targets(search: list[dict], naive: list[dict], whole: list[dict],
                  peer: bool) -> list[dict]:
    """Each target of issue 3 with the figures it was judged on: met, not met, or not measured."""
    targets = []

    def add(target: str, verdict: str, evidence: list[str]) -> None:
        targets.append({"target": target, "verdict": verdict, "evidence": evidence})

    if peer:
        finished = [r for r in whole if r["relucent"]["status"] == "ok"]
        gave_up = [r for r in whole if r["relucent"]["status"] == "error"]
        evidence, misses = [], 0
        for r in finished:
            ours, theirs = r["open"], r["relucent"]
            ok = ours["status"] == "ok" and ours["wall"] <= theirs["wall"]
            misses += not ok
            evidence.append(f"{r['network']}: open {_wall(ours)} vs relucent {_wall(theirs)}")
        add("scope open no slower than relucent where relucent finishes",
            _verdict(finished, misses), evidence)
        evidence, misses = [], 0
        for r in finished:
            ours, theirs = r["everywhere"], r["relucent"]
            ok = ours["status"] == "ok" and ours["wall"] <= 3 * theirs["wall"]
            misses += not ok
            ratio = (f" = {ours['wall'] / theirs['wall']:.2f}x" if ours["status"] == "ok"
                     else " vs")
            evidence.append(f"{r['network']}: everywhere {_wall(ours)}{ratio} "
                            f"relucent open {_wall(theirs)}")
        add("scope everywhere within 3x of relucent's open time", _verdict(finished, misses),
            evidence)
        evidence, misses = [], 0
        for r in gave_up:
            ok = r["open"]["status"] == "ok" and not r["open"].get("partial")
            misses += not ok
            evidence.append(f"{r['network']}: relucent {r['relucent']['error'][:60]}...; ours "
                            + (f"{r['open']['regions']} regions in {_wall(r['open'])}" if ok
                               else r["open"].get("note", "no answer")))
        add("correct answer where relucent gives up", _verdict(gave_up, misses), evidence)
        wrong = [f"{r['network']}: relucent {r['relucent']['regions']}, "
                 f"ours {r['open'].get('regions')}" for r in finished
                 if r["open"]["status"] == "ok"
                 and r["open"].get("regions") != r["relucent"]["regions"]]
        if wrong:
            add("relucent's counts agree with ours where both finish", "not met", wrong)
    else:
        for target in ("scope open no slower than relucent where relucent finishes",
                       "scope everywhere within 3x of relucent's open time",
                       "correct answer where relucent gives up"):
            add(target, "not measured", ["relucent is not installed"])

    evidence, misses, judged = [], 0, []
    for scope in SCOPES:
        fast, slow = (_find(search, "2-16-16-1", scope, b) for b in ("float", "exact"))
        if fast and slow and fast["status"] == slow["status"] == "ok":
            ratio = slow["seconds"] / fast["seconds"]
            judged.append(scope)
            misses += ratio < 5
            evidence.append(f"2-16-16-1 {scope}: exact {slow['seconds']:.2f} s / float "
                            f"{fast['seconds']:.2f} s = {ratio:.2f}x")
    add("float backend >= 5x faster than exact on 2-16-16-1", _verdict(judged, misses),
        evidence)

    evidence = []
    for name in dict.fromkeys(r["network"] for r in search):
        done = [r for r in search if r["network"] == name and r["status"] == "ok"]
        counts = {r["regions"] for r in done}
        dim = int(name.split("-")[0])
        euler_bad = [r for r in done if r["scope"] == "everywhere" and r["euler"] != (-1) ** dim]
        if len(counts) > 1 or euler_bad:
            evidence.append(f"{name}: region counts {sorted(counts)}, Euler sums "
                            f"{[r['euler'] for r in euler_bad]} (expected {(-1) ** dim})")
    add("(sanity, not a target) all scopes and backends give the same region count, and "
        "scope everywhere has Euler sum (-1)^n", "met" if not evidence else "not met", evidence)

    row = next((r for r in naive if r["network"] == "2-8-8-1" and r["status"] == "ok"), None)
    ours = _find(search, "2-8-8-1", "open", DEFAULT_BACKEND)
    if row and ours and ours["status"] == "ok":
        ratio = row["estimated_seconds"] / ours["seconds"]
        how = ("all patterns" if row["tested"] == row["total"] else
               f"extrapolated from {row['tested']} of {row['total']} patterns")
        evidence = [f"naive {row['estimated_seconds']:.1f} s ({how}) / search open "
                    f"{DEFAULT_BACKEND} {ours['seconds']:.3f} s = {ratio:.0f}x"]
        for backend in BACKENDS[1:]:
            other = _find(search, "2-8-8-1", "open", backend)
            if other and other["status"] == "ok":
                evidence.append(f"with the {backend} backend: "
                                f"{row['estimated_seconds'] / other['seconds']:.0f}x")
        add("search >= 100x faster than naive on 2-8-8-1", "met" if ratio >= 100 else "not met",
            evidence)
    else:
        add("search >= 100x faster than naive on 2-8-8-1", "not measured",
            ["2-8-8-1 not in this run (or a run failed)"])
    return targets


def _wall(cell: dict) -> str:
    return f"{cell['wall']:.2f} s" if cell["status"] in ("ok", "error") else cell["note"]


def _verdict(judged: list, misses: int) -> str:
    if not judged:
        return "not measured"
    return "met" if misses == 0 else f"not met ({misses} of {len(judged)})"


# -- output ----------------------------------------------------------------------------------

def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join(lines)


def render(doc: dict) -> str:
    out = [f"# deep2shallow regions benchmark, {doc['date']}",
           f"machine: {doc['machine']}; load average at start {doc['load_start']}, "
           f"at end {doc['load_end']}; timeout {doc['timeout']:g} s per run; "
           f"total {doc['total_seconds']:.0f} s", "", "## search (PieceEnumeration, in-process "
           "timing of the enumeration)", ""]
    rows = []
    for r in doc["search"]:
        if r["status"] == "ok":
            rows.append([r["network"], r["scope"], r["backend"], str(r["pieces"]),
                         str(r["regions"]), str(r["lp_calls"]), f"{r['seconds']:.2f}",
                         f"{r['cpu']:.2f}", f"{r['pieces_per_second']:.0f}"])
        else:
            rows.append([r["network"], r["scope"], r["backend"], r["note"], "", "", "", "", ""])
    out.append(table(["network", "scope", "backend", "pieces", "regions", "LP calls", "seconds",
                      "CPU s", "pieces/s"], rows))
    if doc["naive"]:
        out += ["", "## naive (one exact-confirmed LP per activation pattern, open regions)", ""]
        rows = []
        for r in doc["naive"]:
            if r["status"] != "ok":
                rows.append([r["network"], r["note"], "", "", "", "", ""])
                continue
            sampled = r["tested"] < r["total"]
            rows.append([r["network"], f"2^{r['hidden']} = {r['total']}",
                         f"{r['tested']}" + (" (seeded sample)" if sampled else " (all)"),
                         str(r["feasible"]), f"{r['seconds']:.2f}",
                         f"{r['estimated_seconds']:.1f}" + (" (extrapolated)" if sampled
                                                             else ""),
                         f"{r['estimated_regions']:.0f}" + (" (extrapolated)" if sampled
                                                             else "")])
        out.append(table(["network", "patterns", "tested", "feasible", "seconds",
                          "seconds for all", "regions"], rows))
    out += ["", f"## whole process (our CLI with its defaults: backend {DEFAULT_BACKEND}, "
            f"{available_cpus()} workers; wall-clock s, CPU s in brackets; regions found)", ""]
    rows = []
    for r in doc["whole"]:
        cells = [r["network"]]
        for key in (*SCOPES, "relucent"):
            cell = r.get(key)
            if cell is None:
                cells.append("not run")
            elif cell["status"] == "ok":
                partial = " PARTIAL" if cell.get("partial") else ""
                cells.append(f"{cell['wall']:.2f} [{cell['cpu']:.2f}]: "
                             f"{cell.get('regions')}{partial}")
            elif cell["status"] == "error":
                cells.append(f"{cell['wall']:.2f} [{cell['cpu']:.2f}]: {cell['error'][:70]}")
            else:
                cells.append(cell["note"])
        rows.append(cells)
    out.append(table(["network", "ours --scope open", "ours --scope everywhere",
                      "relucent (open regions)"], rows))
    if not doc["peer"]:
        out.append(f"\nrelucent column skipped: {doc['peer_note']}")
    out += ["", "## targets of issue 3", ""]
    for t in doc["targets"]:
        out.append(f"- {t['target']}: **{t['verdict']}**")
        out += [f"  - {e}" for e in t["evidence"]]
    return "\n".join(out)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(sys.argv[2:])
    parser = argparse.ArgumentParser(description="Benchmark of deep2shallow piece enumeration "
                                                 "(issue 3).")
    parser.add_argument("--quick", action="store_true",
                        help=f"smallest networks only ({', '.join(QUICK)}): a smoke run")
    parser.add_argument("--networks", nargs="+", metavar="NAME",
                        help=f"networks by widths (default: {' '.join(NETWORKS)})")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds per run; a longer run is reported as a timeout")
    parser.add_argument("--naive-sample", type=int, default=4096,
                        help="activation patterns tested by the naive method, extrapolated "
                             "to all 2^N (0: test all of them)")
    parser.add_argument("--relucent-workers", type=int, default=None,
                        help="relucent worker processes (default: relucent's own default)")
    parser.add_argument("--no-peer", action="store_true", help="do not run relucent")
    parser.add_argument("--json", action="store_true",
                        help="print the results as one JSON document instead of tables")
    args = parser.parse_args()
    names = list(args.networks or (QUICK if args.quick else NETWORKS))
    for name in names:
        make_network(name)  # reject bad names before any run
    peer = not args.no_peer and importlib.util.find_spec("relucent") is not None
    peer_note = ("--no-peer given" if args.no_peer else
                 "relucent is not installed (pip install relucent)" if not peer else "")
    started = time.perf_counter()
    doc: dict = {"date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
                 "machine": machine(), "load_start": _load(), "timeout": args.timeout,
                 "networks": names, "peer": peer, "peer_note": peer_note,
                 "naive_sample": args.naive_sample}
    doc["search"] = measure_search(names, args.timeout)
    doc["naive"] = measure_naive(names, args.naive_sample, args.timeout)
    doc["whole"] = measure_whole(names, doc["search"], args.timeout, peer,
                                 args.relucent_workers)
    doc["targets"] = check_targets(doc["search"], doc["naive"], doc["whole"], peer)
    doc["load_end"] = _load()
    doc["total_seconds"] = time.perf_counter() - started
    print(json.dumps(doc, indent=2) if args.json else render(doc))
    return 0


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
