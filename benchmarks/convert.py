"""Benchmark of convert, check and verify against Z3 (issue 13, Performance).

    python benchmarks/convert.py [--quick] [--networks NAME ...] [--timeout S]
                                 [--z3-timeout S] [--json] [--no-peer]

The networks are those of benchmarks/regions.py (``make_network``: seeded, weights k/3). For
each one, every measurement is a whole child process with a time limit, its wall-clock and CPU
seconds and its peak resident memory (``ru_maxrss`` from ``wait4``: the largest single process
of the child's tree, worker processes included once reaped):

1. ``deep2shallow regions NET.json --scope everywhere --summary --json``: pieces, the reference;
2. ``deep2shallow convert NET.json -o S0.json --no-verify``: seconds, peak memory, file size;
3. ``deep2shallow convert NET.json -o S.json --certificate C.json``: construction, proof and the
   kernel's re-verification;
4. ``deep2shallow verify C.json``;
5. Z3 (benchmarks/z3_peer.py) proving NET ≡ S (S0 where convert did not finish);
6. ``deep2shallow check NET.json R.json`` for R an exact reparametrisation of NET (hidden
   neurons permuted, incoming weights and bias scaled by a positive rational, outgoing weights
   divided by it) and ``check NET.json M.json`` for M a copy with one weight moved by 10^-6; Z3
   on the same two pairs.

Stats (leaves, nodes, LP calls) are read from a command's ``--json`` output where it offers one
("stats" object), else parsed from its text, else shown as "—". A run that fails or times out
is reported in its table cell; the benchmark goes on. Then the targets of issue 13 are judged.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import z3_peer  # noqa: E402  (its reader and exact evaluator need no z3)
from regions import machine, make_network, table, tool_command  # noqa: E402

from deep2shallow_exact.formats import save_network  # noqa: E402

NETWORKS = ("3-3-3-1", "2-8-8-1", "2-16-16-1", "3-10-10-1", "4-8-8-8-1")
QUICK = ("3-3-3-1", "2-8-8-1")
DASH = "—"
# Z3's own limit is --z3-timeout; its process (reading, encoding, re-checking) is killed this
# much later.
Z3_GRACE = 120.0
CHECK_LIMIT = 120.0  # issue 13: check of 4-8-8-8-1 finished in under 2 minutes
MEMORY_LIMIT_MB = 300.0  # issue 13: convert --no-verify on 2-16-16-1
RATIO_CONVERT_REGIONS = 3.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- child processes -------------------------------------------------------------------------

@dataclass
class Run:
    """A finished (or killed) child: exit code, wall and CPU seconds, peak RSS, its output."""

    status: str  # "ok", "timeout", "failed"
    code: int | None
    wall: float
    cpu: float
    peak_mb: float | None
    out: str
    err: str

    def cell(self, timeout: float) -> dict:
        cell = {"status": self.status, "wall": self.wall, "cpu": self.cpu,
                "peak_mb": self.peak_mb, "exit": self.code}
        if self.status == "timeout":
            cell["note"] = f"timeout (> {timeout:g} s)"
        elif self.status == "failed":
            # stderr's last line, else stdout's
            lines = [line for line in self.err.strip().splitlines() if line.strip()] or [
                line for line in self.out.strip().splitlines() if line.strip()]
            cell["note"] = f"failed (exit {self.code}): " + (lines[-1][:200] if lines else "")
        return cell


def run(command: list[str], timeout: float, ok: tuple[int, ...] = (0,)) -> Run:
    """Run ``command`` in its own session; kill its process group at the timeout. Reaped with
    wait4, which gives the child's rusage (CPU and peak RSS, including reaped descendants)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, start_new_session=True)
        reaped: list = []
        waiter = threading.Thread(target=lambda: reaped.append(os.wait4(proc.pid, 0)),
                                  daemon=True)
        waiter.start()
        waiter.join(timeout)
        timed_out = waiter.is_alive()
        if timed_out:
            _kill_group(proc.pid)
            waiter.join()
        wall = time.perf_counter() - start
        _kill_group(proc.pid)  # leftovers of the child's group (none, normally)
        _, status, usage = reaped[0]
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code  # reaped here; keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    state = "timeout" if timed_out else "ok" if code in ok else "failed"
    peak = usage.ru_maxrss / 1024 if not timed_out else None  # Linux: kilobytes
    return Run(state, code, wall, usage.ru_utime + usage.ru_stime, peak, stdout, stderr)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def json_answer(text: str) -> dict | None:
    """The JSON document a command printed (the whole output, or its last JSON line)."""
    try:
        doc = json.loads(text)
        return doc if isinstance(doc, dict) else None
    except json.JSONDecodeError:
        pass
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                doc = json.loads(line)
                return doc if isinstance(doc, dict) else None
            except json.JSONDecodeError:
                return None
    return None


def json_options(tool: list[str]) -> dict[str, bool]:
    """Which subcommands take --json today (the CLI is changing while this is written)."""
    found = {}
    for command in ("regions", "convert", "check", "verify"):
        try:
            proc = subprocess.run([*tool, command, "--help"], capture_output=True, text=True,
                                  timeout=120)
            found[command] = "--json" in proc.stdout
        except (OSError, subprocess.TimeoutExpired):
            found[command] = False
    return found


def stat(doc: dict | None, *keys: str) -> object:
    """The first of ``keys`` found in doc["stats"] or in doc itself, else None."""
    if not doc:
        return None
    for where in (doc.get("stats") if isinstance(doc.get("stats"), dict) else {}, doc):
        for key in keys:
            if where.get(key) is not None:
                return where[key]
    return None


# -- the networks ----------------------------------------------------------------------------

def write_network(net: z3_peer.Net, path: Path) -> None:
    """A ReLU network read by z3_peer, written dense with exact "p/q" strings."""
    layers = [{"weights": [[str(v) for v in row] for row in _dense(layer)],
               "bias": [str(v) for v in layer.bias]} for layer in net.layers]
    path.write_text(json.dumps({"format": z3_peer.NETWORK_FORMAT, "version": 1, "kind": "relu",
                                "layers": layers}, indent=1) + "\n")


def _dense(layer: z3_peer.Layer) -> list[list[Fraction]]:
    dense = [[Fraction(0)] * layer.cols for _ in layer.rows]
    for i, row in enumerate(layer.rows):
        for j, w in row:
            dense[i][j] = w
    return dense


def _from_dense(weights: list[list[Fraction]], bias: list[Fraction]) -> z3_peer.Layer:
    rows = [[(j, w) for j, w in enumerate(row) if w != 0] for row in weights]
    return z3_peer.Layer(rows, list(bias), len(weights[0]) if weights else 0)


SCALES = [Fraction(1, 2), Fraction(2, 3), Fraction(3, 4), Fraction(4, 3), Fraction(3, 2),
          Fraction(2), Fraction(5, 2), Fraction(3)]


def reparametrise(net: z3_peer.Net, name: str) -> z3_peer.Net:
    """Hidden neurons permuted within each layer; neuron k of layer l scaled by c > 0 (its
    incoming weights and bias times c, its outgoing weights divided by c). ReLU(c z) = c ReLU(z)
    makes it the same function."""
    rng = random.Random(f"deep2shallow-benchmark/reparametrise/{name}")
    layers = net.layers
    prev_order = list(range(layers[0].cols))
    prev_scale = [Fraction(1)] * layers[0].cols
    out = []
    for index, layer in enumerate(layers):
        dense = _dense(layer)
        m = len(dense)
        last = index == len(layers) - 1
        order = list(range(m))
        if not last:
            rng.shuffle(order)
        scale = [Fraction(1) if last else rng.choice(SCALES) for _ in range(m)]
        # new neuron k is old neuron order[k]; new input column c is old column prev_order[c]
        weights = [[scale[k] * dense[order[k]][prev_order[c]] / prev_scale[c]
                    for c in range(len(prev_order))] for k in range(m)]
        bias = [scale[k] * layer.bias[order[k]] for k in range(m)]
        out.append(_from_dense(weights, bias))
        prev_order, prev_scale = order, scale
    return z3_peer.Net("relu", out, [])


def random_points(n: int, count: int, seed: str) -> list[list[Fraction]]:
    rng = random.Random(seed)
    return [[Fraction(rng.randint(-60, 60), rng.randint(1, 12)) for _ in range(n)]
            for _ in range(count)]


def equal_at(a: z3_peer.Net, b: z3_peer.Net, points: list[list[Fraction]]) -> bool:
    return all(z3_peer.evaluate(a, x) == z3_peer.evaluate(b, x) for x in points)


def move_one_weight(net: z3_peer.Net, name: str) -> tuple[z3_peer.Net, str, list[Fraction]]:
    """A copy with one weight moved by 10^-6 (the first, in layer order, whose move changes
    the output at one of a few seeded points), where it was moved and a point showing it."""
    points = random_points(net.input_dim, 40, f"deep2shallow-benchmark/move/{name}")
    delta = Fraction(1, 10**6)
    for index, layer in enumerate(net.layers):
        dense = _dense(layer)
        for i, row in enumerate(dense):
            for j in range(len(row)):
                moved = [list(r) for r in dense]
                moved[i][j] += delta
                layers = list(net.layers)
                layers[index] = _from_dense(moved, layer.bias)
                copy = z3_peer.Net("relu", layers, [])
                for x in points:
                    if z3_peer.evaluate(copy, x) != z3_peer.evaluate(net, x):
                        where = (f"layer {index + 1} weight [{i + 1}, {j + 1}]: {row[j]} -> "
                                 f"{moved[i][j]}")
                        return copy, where, x
    raise SystemExit(f"{name}: no single weight move of 10^-6 changes the output at the "
                     "sample points")


# -- the measurements ------------------------------------------------------------------------

def measure(name: str, tmp: Path, args: argparse.Namespace, tool: list[str],
            has_json: dict[str, bool], peer: bool) -> dict:
    T, TZ = args.timeout, args.z3_timeout
    row: dict = {"network": name}
    net_path = tmp / f"{name}.json"
    save_network(make_network(name), net_path)
    deep = z3_peer.read_network(net_path)

    def ours(key: str, command: list[str], ok: tuple[int, ...] = (0,)) -> dict | None:
        opt = command[0]
        if has_json.get(opt) and "--json" not in command:
            command = [*command, "--json"]
        result = run([*tool, *command], T, ok)
        cell = result.cell(T)
        answer = json_answer(result.out) if result.status == "ok" else None
        cell["json"] = answer is not None
        row[key] = cell
        cell["_text"] = result.out
        return answer

    def z3(key: str, first: Path, second: Path) -> None:
        if not peer:
            row[key] = {"status": "skipped", "note": "not run"}
            return
        result = run([sys.executable, str(HERE / "z3_peer.py"), str(first), str(second),
                      "--timeout", f"{TZ:g}", "--json"], TZ + Z3_GRACE, ok=(0, 1, 3, 4))
        cell = result.cell(TZ + Z3_GRACE)
        answer = json_answer(result.out) if result.status == "ok" else None
        if answer:
            cell.update(verdict=answer.get("verdict"), result=answer.get("result"),
                        solve=answer.get("solve_seconds"),
                        encode=answer.get("encode_seconds"),
                        counterexample=answer.get("counterexample"))
            if answer.get("result") in ("timeout", "unknown"):
                cell.update(status="timeout", note=f"Z3 {answer['result']} "
                                                   f"(> {TZ:g} s)")
        elif result.status == "ok":
            cell.update(status="failed", note="no JSON answer")
        row[key] = cell

    # 1. regions
    answer = ours("regions", ["regions", str(net_path), "--scope", "everywhere", "--summary"])
    cell = row["regions"]
    if answer:
        counts = answer.get("counts_by_dim") or {}
        cell.update(pieces=sum(counts.values()) if counts else stat(answer, "pieces"),
                    regions=answer.get("regions"), partial=answer.get("partial", False),
                    lp_calls=stat(answer, "lp_calls"))
    elif cell["status"] == "ok":
        cell.update(_parse_regions_text(cell["_text"]))
    log(f"{name} regions: {_brief(cell)}")

    # 2. convert --no-verify
    fast_path = tmp / f"{name}.shallow-unverified.json"
    answer = ours("no_verify", ["convert", str(net_path), "-o", str(fast_path), "--no-verify"])
    cell = row["no_verify"]
    if cell["status"] == "ok":
        cell.update(_convert_stats(answer, cell["_text"]))
        cell["file_bytes"] = fast_path.stat().st_size if fast_path.exists() else None
    log(f"{name} convert --no-verify: {_brief(cell)}")

    # 3. convert with the proof and certificate
    shallow_path, cert_path = tmp / f"{name}.shallow.json", tmp / f"{name}.certificate.json"
    answer = ours("convert", ["convert", str(net_path), "-o", str(shallow_path),
                              "--certificate", str(cert_path)])
    cell = row["convert"]
    if cell["status"] == "ok":
        cell.update(_convert_stats(answer, cell["_text"]))
        cell["file_bytes"] = shallow_path.stat().st_size if shallow_path.exists() else None
        cell["certificate_bytes"] = cert_path.stat().st_size if cert_path.exists() else None
    log(f"{name} convert: {_brief(cell)}")

    # 4. verify
    if cell["status"] == "ok" and cert_path.exists():
        answer = ours("verify", ["verify", str(cert_path)], ok=(0, 1))
        vcell = row["verify"]
        if vcell["status"] == "ok" and vcell["exit"] != 0:  # INVALID: an answer, but a failure
            reason = (f"INVALID at {answer.get('path')}: {answer.get('reason')}" if answer
                      else vcell["_text"].strip()[:200])
            vcell.update(status="failed", note=reason, valid=False)
        elif answer:
            vcell.update(valid=answer.get("valid"), nodes=answer.get("nodes"),
                         pieces=answer.get("pieces"), empties=answer.get("empties"))
            if answer.get("pieces") is not None and answer.get("empties") is not None:
                vcell["leaves"] = answer["pieces"] + answer["empties"]
            # the certificate's size, for the convert row too
            for key in ("nodes", "leaves"):
                if cell.get(key) is None and vcell.get(key) is not None:
                    cell[key] = vcell[key]
        elif vcell["status"] == "ok":
            vcell["valid"] = vcell["_text"].startswith("VALID")
        log(f"{name} verify: {_brief(vcell)}")
    else:
        row["verify"] = {"status": "skipped", "note": "no certificate (convert did not finish)"}

    # 5. Z3 on NET ≡ S
    target = shallow_path if shallow_path.exists() else fast_path if fast_path.exists() else None
    if target is None:
        row["z3_convert"] = {"status": "skipped", "note": "no shallow network"}
    else:
        z3("z3_convert", net_path, target)
        row["z3_convert"]["shallow"] = ("convert" if target == shallow_path
                                        else "convert --no-verify")
    log(f"{name} Z3 NET = S: {_brief(row['z3_convert'])}")

    # 6. check against R (equal) and M (one weight moved by 10^-6)
    reparam = reparametrise(deep, name)
    points = random_points(deep.input_dim, 8, f"deep2shallow-benchmark/points/{name}")
    if not equal_at(deep, reparam, points):
        raise SystemExit(f"{name}: the reparametrisation differs at a sample point (a bug here)")
    moved, where, witness = move_one_weight(deep, name)
    row["reparametrised"] = {"exactly_equal_at": len(points)}
    row["moved"] = {"weight": where, "differs_at": [str(v) for v in witness]}
    for key, other in (("R", reparam), ("M", moved)):
        path = tmp / f"{name}.{key}.json"
        write_network(other, path)
        answer = ours(f"check_{key}", ["check", str(net_path), str(path)], ok=(0, 1))
        cell = row[f"check_{key}"]
        if answer:
            cell.update(verdict=answer.get("verdict"),
                        leaves=stat(answer, "leaves", "pieces_checked"),
                        nodes=stat(answer, "nodes"), lp_calls=stat(answer, "lp_calls"))
        elif cell["status"] == "ok":
            first = cell["_text"].split(" ", 1)[0] if cell["_text"] else ""
            cell["verdict"] = first if first in ("PROVEN", "REFUTED") else None
        log(f"{name} check NET {key}: {_brief(cell)}")
        z3(f"z3_{key}", net_path, path)
        log(f"{name} Z3 NET {key}: {_brief(row[f'z3_{key}'])}")
    for cell in row.values():
        if isinstance(cell, dict):
            cell.pop("_text", None)
    return row


def _parse_regions_text(text: str) -> dict:
    found = re.search(r"total (\d+) pieces, (\d+) full-dimensional regions \(([\d.]+) s, "
                      r"(\d+) LP calls\)", text)
    if not found:
        return {}
    return {"pieces": int(found[1]), "regions": int(found[2]), "lp_calls": int(found[4])}


def _convert_stats(answer: dict | None, text: str) -> dict:
    """Pieces, terms, widths, leaves, nodes, LP calls and in-process seconds of a convert run,
    from its JSON answer where there is one, else from its "wrote ..." line."""
    out: dict = {}
    if answer:
        out = {"pieces": stat(answer, "pieces"), "terms": stat(answer, "terms"),
               "leaves": stat(answer, "leaves"), "nodes": stat(answer, "nodes"),
               "lp_calls": stat(answer, "lp_calls"), "seconds": stat(answer, "seconds"),
               "proof_seconds": stat(answer, "proof_seconds", "check_seconds"),
               "widths": stat(answer, "widths")}
        if isinstance(out["widths"], list):
            out["widths"] = " -> ".join(map(str, out["widths"]))
    found = re.search(r"widths ([\d >-]+?) from (\d+) pieces, (\d+) terms", text)
    if found:
        out.setdefault("widths", None)
        out["widths"] = out["widths"] or found[1]
        out["pieces"] = out.get("pieces") or int(found[2])
        out["terms"] = out.get("terms") or int(found[3])
    return out


def _brief(cell: dict) -> str:
    if cell["status"] != "ok":
        return cell.get("note", cell["status"])
    bits = [f"{cell['wall']:.2f} s"]
    if cell.get("peak_mb") is not None:
        bits.append(f"{cell['peak_mb']:.0f} MB")
    for key in ("pieces", "leaves", "nodes", "lp_calls", "verdict", "valid"):
        if cell.get(key) is not None:
            bits.append(f"{key} {cell[key]}")
    if cell.get("solve") is not None:
        bits.append(f"solve {cell['solve']:.2f} s")
    return ", ".join(bits)


# -- targets ---------------------------------------------------------------------------------

def _ok(cell: dict | None) -> bool:
    return bool(cell) and cell.get("status") == "ok"


def _secs(cell: dict | None, key: str = "wall") -> str:
    if not cell:
        return "not run"
    if cell.get("status") != "ok":
        return _short(cell.get("note", cell.get("status", "?")))
    return f"{cell[key]:.2f} s"


def _verdict(judged: int, misses: int) -> str:
    if not judged:
        return "not measured"
    return "met" if misses == 0 else f"not met ({misses} of {judged})"


def check_targets(rows: list[dict], peer: bool, peer_note: str) -> list[dict]:
    targets: list[dict] = []

    def add(target: str, verdict: str, evidence: list[str]) -> None:
        targets.append({"target": target, "verdict": verdict, "evidence": evidence})

    # convert within 3x of regions --scope everywhere, on every network
    judged = misses = 0
    evidence = []
    for r in rows:
        reg, conv = r["regions"], r["convert"]
        if not _ok(reg):
            evidence.append(f"{r['network']}: regions {_secs(reg)} (not judged)")
            continue
        judged += 1
        good = _ok(conv) and conv["wall"] <= RATIO_CONVERT_REGIONS * reg["wall"]
        misses += not good
        ratio = f" = {conv['wall'] / reg['wall']:.1f}x" if _ok(conv) else ""
        evidence.append(f"{r['network']}: convert {_secs(conv)}{ratio} regions {_secs(reg)}")
    add("convert (construction + proof + kernel) within 3x of regions --scope everywhere",
        _verdict(judged, misses), evidence)

    # ours / Z3 <= 1.0 on convert where Z3 finishes; an answer where it does not
    if peer:
        judged = misses = 0
        evidence = []
        for r in rows:
            conv, z = r["convert"], r["z3_convert"]
            if z.get("status") == "skipped":
                evidence.append(f"{r['network']}: Z3 not run ({z.get('note')})")
                continue
            judged += 1
            if _ok(z) and z.get("solve") is not None:
                good = _ok(conv) and conv["wall"] <= z["solve"]
                ratio = f" = {conv['wall'] / z['solve']:.2f}x" if _ok(conv) else ""
                evidence.append(f"{r['network']}: convert {_secs(conv)}{ratio} Z3 solve "
                                f"{z['solve']:.2f} s (Z3 process {z['wall']:.2f} s)")
            else:
                good = _ok(conv)
                evidence.append(f"{r['network']}: Z3 {_secs(z)}; convert {_secs(conv)}")
            misses += not good
        add("convert faster than Z3 proving the same pair (ours/Z3 <= 1.0 where Z3 finishes, "
            "an answer where it does not)", _verdict(judged, misses), evidence)
        judged = misses = 0
        evidence = []
        for r in rows:
            for key, label in (("R", "reparametrised"), ("M", "moved 1e-6")):
                ours, z = r[f"check_{key}"], r[f"z3_{key}"]
                judged += 1
                if _ok(z) and z.get("solve") is not None:
                    same = _ok(ours) and ours.get("verdict") == z.get("verdict")
                    good = same and ours["wall"] <= z["solve"]
                    ratio = f" = {ours['wall'] / z['solve']:.2f}x" if _ok(ours) else ""
                    evidence.append(f"{r['network']} {label}: check {ours.get('verdict')} "
                                    f"{_secs(ours)}{ratio} Z3 {z.get('verdict')} solve "
                                    f"{z['solve']:.2f} s")
                else:
                    good = _ok(ours)
                    evidence.append(f"{r['network']} {label}: check {ours.get('verdict')} "
                                    f"{_secs(ours)}; Z3 {_secs(z)}")
                misses += not good
        add("check: the same verdicts as Z3, ours/Z3 <= 1.0 (an answer where Z3 has none)",
            _verdict(judged, misses), evidence)
        wrong = []
        for r in rows:
            z = r["z3_convert"]
            if _ok(z) and z.get("verdict") != "PROVEN":
                wrong.append(f"{r['network']}: Z3 says {z.get('verdict')} for NET = S "
                             f"({z.get('shallow')}) at x = {z.get('counterexample')}")
            for key, expected in (("R", "PROVEN"), ("M", "REFUTED")):
                for who in (f"check_{key}", f"z3_{key}"):
                    c = r[who]
                    if _ok(c) and c.get("verdict") != expected:
                        wrong.append(f"{r['network']}: {who} says {c.get('verdict')}, "
                                     f"expected {expected}")
        add("(sanity, not a target) Z3 proves each shallow network equal to its deep one; "
            "R is PROVEN and M REFUTED by both", "met" if not wrong else "not met", wrong)
    else:
        for target in ("convert faster than Z3 proving the same pair (ours/Z3 <= 1.0 where Z3 "
                       "finishes, an answer where it does not)",
                       "check: the same verdicts as Z3, ours/Z3 <= 1.0 (an answer where Z3 has "
                       "none)"):
            add(target, "not measured", [peer_note])

    # 4-8-8-8-1 check under 2 minutes
    big = next((r for r in rows if r["network"] == "4-8-8-8-1"), None)
    if big is None:
        add("check of 4-8-8-8-1 under 120 s", "not measured", ["4-8-8-8-1 not in this run"])
    else:
        cells = [big["check_R"], big["check_M"]]
        misses = sum(not (_ok(c) and c["wall"] < CHECK_LIMIT) for c in cells)
        add("check of 4-8-8-8-1 under 120 s", _verdict(2, misses),
            [f"reparametrised {_secs(cells[0])}, moved {_secs(cells[1])}"])

    # convert --no-verify on 2-16-16-1 under 300 MB
    mid = next((r for r in rows if r["network"] == "2-16-16-1"), None)
    if mid is None:
        add("convert --no-verify on 2-16-16-1 under 300 MB peak", "not measured",
            ["2-16-16-1 not in this run"])
    else:
        c = mid["no_verify"]
        good = _ok(c) and c.get("peak_mb") is not None and c["peak_mb"] < MEMORY_LIMIT_MB
        add("convert --no-verify on 2-16-16-1 under 300 MB peak", "met" if good else "not met",
            [f"{_secs(c)}, peak {c.get('peak_mb') or 0:.0f} MB" if _ok(c) else _secs(c)])

    # verify faster than the proof search
    judged = misses = 0
    evidence = []
    for r in rows:
        conv, ver, fast = r["convert"], r.get("verify", {}), r["no_verify"]
        if not (_ok(conv) and _ok(ver)):
            evidence.append(f"{r['network']}: convert {_secs(conv)}, verify {_secs(ver)}")
            continue
        if conv.get("proof_seconds") is not None:
            proof, how = conv["proof_seconds"], "proof (convert's stats)"
        elif _ok(fast):
            proof, how = conv["wall"] - fast["wall"], "proof ≈ convert − convert --no-verify"
        else:
            evidence.append(f"{r['network']}: proof time unknown")
            continue
        judged += 1
        misses += not ver["wall"] < proof
        evidence.append(f"{r['network']}: verify {ver['wall']:.2f} s vs {how} {proof:.2f} s")
    add("verify alone faster than the proof search that wrote the certificate",
        _verdict(judged, misses), evidence)
    return targets


# -- output ----------------------------------------------------------------------------------

def _num(value: object) -> str:
    return DASH if value is None else str(value)


NOTE_WIDTH = 48


def _short(note: str) -> str:
    return note if len(note) <= NOTE_WIDTH else note[:NOTE_WIDTH - 1] + "…"


def _cell_s(cell: dict | None, key: str = "wall") -> str:
    if not cell or cell.get("status") == "skipped":
        return _short((cell or {}).get("note", "not run"))
    if cell["status"] != "ok":
        return _short(cell.get("note", cell["status"]))
    value = cell.get(key)
    return DASH if value is None else f"{value:.2f}"


def _mb(cell: dict | None) -> str:
    return f"{cell['peak_mb']:.0f}" if cell and cell.get("peak_mb") is not None else DASH


def _ratio(a: dict | None, b: dict | None, key: str = "wall") -> str:
    if _ok(a) and _ok(b) and b.get(key):
        return f"{a['wall'] / b[key]:.2f}"
    return DASH


def _size(n: int | None) -> str:
    if n is None:
        return DASH
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def render(doc: dict) -> str:
    out = [f"# deep2shallow convert benchmark, {doc['date']}",
           f"machine: {doc['machine']}; load average at start {doc['load_start']}, at end "
           f"{doc['load_end']}; timeout {doc['timeout']:g} s per run of ours, Z3 "
           f"{doc['z3_timeout']:g} s; total {doc['total_seconds']:.0f} s; --json taken by "
           + ", ".join(k for k, v in doc["json_options"].items() if v), "",
           "## convert and its proof (whole processes; seconds wall-clock)", ""]
    rows = []
    for r in doc["rows"]:
        reg, conv, ver, z = r["regions"], r["convert"], r["verify"], r["z3_convert"]
        rows.append([r["network"], _num(reg.get("pieces")), _num(reg.get("lp_calls")),
                     _cell_s(reg), _cell_s(conv), _ratio(conv, reg), _num(conv.get("leaves")),
                     _num(conv.get("nodes")), _num(conv.get("lp_calls")), _mb(conv),
                     _size(conv.get("certificate_bytes")), _cell_s(ver),
                     _cell_s(z, "solve"), _cell_s(z), _ratio(conv, z, "solve"),
                     _ratio(conv, z)])
    out.append(table(["network", "pieces", "regions LP calls", "regions s", "convert s",
                      "convert / regions", "cert leaves", "cert nodes", "convert LP calls",
                      "convert peak MB", "certificate", "verify s", "Z3 solve s",
                      "Z3 process s", "convert / Z3 solve", "convert / Z3 process"], rows))
    out += ["", "## convert --no-verify", ""]
    rows = []
    for r in doc["rows"]:
        c = r["no_verify"]
        rows.append([r["network"], _cell_s(c), _mb(c), _size(c.get("file_bytes")),
                     _num(c.get("widths")), _num(c.get("pieces")), _num(c.get("terms"))])
    out.append(table(["network", "seconds", "peak MB", "file", "widths", "pieces", "terms"],
                     rows))
    out += ["", "## check against a reparametrisation (R, equal) and a copy with one weight "
            "moved by 10^-6 (M)", ""]
    rows = []
    for r in doc["rows"]:
        for key in ("R", "M"):
            ours, z = r[f"check_{key}"], r[f"z3_{key}"]
            same = (DASH if not (_ok(ours) and _ok(z)) else
                    "yes" if ours.get("verdict") == z.get("verdict") else "NO")
            rows.append([r["network"], key, _num(ours.get("verdict")), _cell_s(ours),
                         _num(ours.get("leaves")), _num(ours.get("lp_calls")), _mb(ours),
                         _num(z.get("verdict")), _cell_s(z, "solve"), _cell_s(z), same,
                         _ratio(ours, z, "solve"), _ratio(ours, z)])
    out.append(table(["network", "pair", "check", "check s", "leaves", "LP calls", "peak MB",
                      "Z3", "Z3 solve s", "Z3 process s", "same verdict", "check / Z3 solve",
                      "check / Z3 process"], rows))
    out.append("")
    for r in doc["rows"]:
        out.append(f"- {r['network']}: M moves {r['moved']['weight']} (outputs differ at "
                   f"x = ({', '.join(r['moved']['differs_at'])})); R equals NET exactly at "
                   f"{r['reparametrised']['exactly_equal_at']} seeded rational points")
    notes = [f"- {r['network']} {key}: {cell['note']}" for r in doc["rows"]
             for key, cell in r.items() if isinstance(cell, dict)
             and cell.get("status") in ("failed", "timeout") and len(cell.get("note", "")) >
             NOTE_WIDTH]
    if notes:
        out += ["", "runs that failed, in full:", *notes]
    if not doc["peer"]:
        out.append(f"\nZ3 columns skipped: {doc['peer_note']}")
    out += ["", "## targets of issue 13", ""]
    for t in doc["targets"]:
        out.append(f"- {t['target']}: **{t['verdict']}**")
        out += [f"  - {e}" for e in t["evidence"]]
    return "\n".join(out)


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark of deep2shallow convert, check and "
                                                 "verify against Z3 (issue 13).")
    parser.add_argument("--quick", action="store_true",
                        help=f"smallest networks only ({', '.join(QUICK)})")
    parser.add_argument("--networks", nargs="+", metavar="NAME",
                        help=f"networks by widths (default: {' '.join(NETWORKS)})")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds per run of ours (default 600)")
    parser.add_argument("--z3-timeout", type=float, default=None,
                        help="Z3's time limit per query (default: --timeout)")
    parser.add_argument("--no-peer", action="store_true", help="do not run Z3")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document instead of the tables")
    args = parser.parse_args()
    if args.z3_timeout is None:
        args.z3_timeout = args.timeout
    names = list(args.networks or (QUICK if args.quick else NETWORKS))
    for name in names:
        make_network(name)  # reject bad names before any run
    try:
        import z3  # noqa: F401

        peer, peer_note = not args.no_peer, "--no-peer given" if args.no_peer else ""
    except ImportError:
        peer, peer_note = False, "z3 is not installed (pip install -e '.[bench]')"
    tool = tool_command()
    started = time.perf_counter()
    doc: dict = {"date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
                 "machine": machine(), "load_start": _load(), "timeout": args.timeout,
                 "z3_timeout": args.z3_timeout, "networks": names, "peer": peer,
                 "peer_note": peer_note, "json_options": json_options(tool)}
    with tempfile.TemporaryDirectory(prefix="d2s-convert-bench-") as tmp:
        doc["rows"] = [measure(name, Path(tmp), args, tool, doc["json_options"], peer)
                       for name in names]
    doc["targets"] = check_targets(doc["rows"], peer, peer_note)
    doc["load_end"] = _load()
    doc["total_seconds"] = time.perf_counter() - started
    print(json.dumps(doc, indent=2) if args.json else render(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
