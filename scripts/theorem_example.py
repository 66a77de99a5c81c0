"""Generate the numbers of proofs/THEOREM.md with the tool itself.

Two Markdown blocks, each pasted into THEOREM.md between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->``:

- ``example``: the worked example f(x1, x2) = ReLU(ReLU(x1) + ReLU(x2) − 1) — its pieces with
  f_T and h_T, the closure constraints before and after pruning, the shallow network, the
  checker's verdict and certificate, and the closed-cells counterexample. It uses the exact LP
  backend so that every witness printed is reproducible to the last digit.
- ``cost``: pieces, terms and widths for the sawtooth at depths 1..5 and for the bundled
  examples (about a minute).

    python scripts/theorem_example.py            # print the example block
    python scripts/theorem_example.py --cost     # print the cost block
    python scripts/theorem_example.py --write    # rewrite both blocks in proofs/THEOREM.md

tests/test_theorem.py regenerates both blocks and compares them with THEOREM.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import sympy as sp
from make_certificates import domain_for

from deep2shallow_exact import kernel
from deep2shallow_exact.affine import Affine
from deep2shallow_exact.checker import check
from deep2shallow_exact.construction import (
    Closure,
    Shallow,
    Term,
    closure_of,
    distinct,
    pieces_above,
    terms_closed_cells,
    terms_faces,
    to_shallow,
)
from deep2shallow_exact.domain import Domain, box, everywhere
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.explain import formula
from deep2shallow_exact.formats import load_network
from deep2shallow_exact.linalg import express
from deep2shallow_exact.network import ReluNetwork
from deep2shallow_exact.numbers import format_number
from deep2shallow_exact.regions import Piece, counts_by_dim, enumerate_pieces
from deep2shallow_exact.symbolic_views import shallow_formula

ROOT = Path(__file__).resolve().parents[1]
THEOREM = ROOT / "proofs" / "THEOREM.md"
EXAMPLES = ROOT / "deep2shallow_exact" / "examples"
# Exact LPs: the float backend would give the same pieces but possibly other witnesses.
BACKEND = "exact"
SAWTOOTH_DEPTHS = range(1, 6)


def example_network() -> ReluNetwork:
    """f(x1, x2) = ReLU(ReLU(x1) + ReLU(x2) − 1): two hidden layers, widths 2 and 1."""
    return ReluNetwork.from_lists([([[1, 0], [0, 1]], [0, 0]), ([[1, 1]], [-1]),
                                   ([[1]], [0])])


def sawtooth(depth: int) -> ReluNetwork:
    """The tent map t(x) = 2 ReLU(x) − 4 ReLU(x − 1/2) composed ``depth`` times (as in
    examples/sawtooth3.json for depth 3): 2^depth linear regions on [0, 1]."""
    tent = ([[2, -4], [2, -4]], [0, "-1/2"])
    return ReluNetwork.from_lists([([[1], [1]], [0, "-1/2"]), *[tent] * (depth - 1),
                                   ([[2, -4]], [0])])


# -- Markdown helpers ----------------------------------------------------------------------------

def block(text: str, name: str) -> str:
    """The text between the ``name`` markers of a document (without the marker lines)."""
    begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
    start = text.index(begin) + len(begin)
    return text[start:text.index(end, start)]


def replace_block(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
    start = text.index(begin) + len(begin)
    return text[:start] + body + text[text.index(end, start):]


def _point(x: Sequence[Fraction]) -> str:
    return "(" + ", ".join(format_number(v) for v in x) + ")"


def _affine(f: Affine) -> str:
    return f"`{formula(f)}`"


def _closure_text(closure: Closure) -> str:
    rows = [*(f"{formula(g)} ≥ 0" for g in closure.nonneg),
            *(f"{formula(e)} = 0" for e in closure.zero)]
    return "`" + ", ".join(rows) + "`" if rows else "everything"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


def _counts(pieces: Sequence[Piece]) -> str:
    counts = counts_by_dim(pieces)
    return " + ".join(f"{counts[d]} of dim {d}" for d in sorted(counts, reverse=True))


# -- the worked example --------------------------------------------------------------------------

def example_markdown() -> str:
    net = example_network()
    n = net.input_dim
    domain = everywhere(n)
    pieces = sorted(enumerate_pieces(net, domain, "everywhere", BACKEND),
                    key=lambda p: (-p.dim, p.signs))
    above = pieces_above(pieces, domain)
    shortcut = terms_faces(pieces, domain, continuous=True)
    general = terms_faces(pieces, domain, continuous=False)
    lines = [
        "Network (`ReluNetwork.from_lists`): layer 1 `W = [[1, 0], [0, 1]], b = [0, 0]`, "
        "layer 2 `W = [[1, 1]], b = [-1]`, output `W = [[1]], b = [0]`, that is "
        "f(x1, x2) = ReLU(ReLU(x1) + ReLU(x2) − 1). Sign vectors list the two first-layer "
        "neurons (x1, x2), then the second-layer neuron.",
        "",
        f"**Pieces** (`regions.enumerate_pieces`, scope everywhere): {len(pieces)} = "
        f"{_counts(pieces)}; Σ_T (−1)^dim T = {sum((-1) ** p.dim for p in pieces)} "
        f"= (−1)^{n}.",
        "",
    ]
    rows = []
    for t, (piece, short, full) in enumerate(zip(pieces, shortcut, general)):
        rows.append([f"T{t + 1}", f"`{piece.signs}`", piece.dim, _point(piece.witness),
                     _affine(piece.maps[0]), _affine(short.h[0]), len(above[t]),
                     _affine(full.h[0])])
    lines += _table(["T", "signs", "dim", "witness", "f_T", "h_T = (−1)^(2−dim T) f_T",
                     "#{S ≥ T}", "h_T by the general sum"], rows)
    euler = sum(sum((-1) ** pieces[s].dim for s in above[t]) == (-1) ** n
                for t in range(len(pieces)))
    agree = sum(express(full.h[0] - short.h[0], piece.equal) is not None
                for piece, short, full in zip(pieces, shortcut, general))
    nonzero = sum(not t.h[0].is_zero for t in general)
    lines += [
        "",
        f"Local Euler relation Σ_(S ≥ T) (−1)^dim S = (−1)^{n}: holds at {euler} of "
        f"{len(pieces)} pieces (`construction.pieces_above`). The general sum minus the shortcut "
        f"vanishes on the affine hull of T (`linalg.express` against T's equality rows): "
        f"{agree} of {len(pieces)} pieces. The general sum has {nonzero} nonzero h_T, the "
        f"shortcut {sum(not t.h[0].is_zero for t in shortcut)}.",
        "",
    ]
    result = to_shallow(net, backend=BACKEND)
    lines += _pruning_lines(pieces, shortcut, result)
    lines += _shallow_lines(result)
    lines += _closed_cells_lines(net, pieces)
    return "\n".join(lines) + "\n"


def _pruning_lines(pieces: Sequence[Piece], shortcut: Sequence[Term],
                   result: Shallow) -> list[str]:
    kept = [t for t in shortcut if not t.h[0].is_zero]
    # The same step to_shallow applies, redone here to show each closure before and after.
    rows = [[f"T{pieces.index(t.piece) + 1}", _affine(t.h[0]), _closure_text(closure_of(t.piece)),
             _closure_text(distinct(closure_of(t.piece)))] for t in kept]
    return [
        f"**Terms**: {len(kept)} pieces have h_T ≠ 0 (the others get no neuron); "
        f"{result.terms} terms in `to_shallow`. Closure constraints "
        "(`construction.closure_of`, then `construction.distinct`):",
        "",
        *_table(["T", "h_T", "cl T (strict rows relaxed)", "rows of the gates"], rows),
        "",
    ]


def _shallow_lines(result: Shallow) -> list[str]:
    shallow = result.network
    verdict = result.verdict
    assert verdict is not None and verdict.certificate is not None, "the example must be proven"
    checked = kernel.verify(verdict.certificate)
    size = len(json.dumps(verdict.certificate, separators=(",", ":")))
    first = [_affine(Affine(row, b)) for row, b in zip(shallow.layers[0].weights,
                                                       shallow.layers[0].bias)]
    second = shallow.layers[1]
    infinite = sum(not isinstance(v, Fraction) for v in second.entries())
    terms = [_signed(term) for term in shallow_formula(shallow).args]
    return [
        f"**Shallow network** (`construction.build_network`): widths "
        f"{' → '.join(map(str, shallow.widths))} (unpruned "
        f"{' → '.join(map(str, result.unpruned_widths))}); first layer ReLU of "
        + ", ".join(first) + f"; second layer: {infinite} entries −∞, the rest finite, "
        "biases 0; output weights ±1. The formula (`symbolic_views.shallow_formula`), "
        "one summand per second-layer neuron:",
        "",
        "```",
        *(f"{'y =' if k == 0 else '   '} {sign} {body}" for k, (sign, body) in enumerate(terms)),
        "```",
        "",
        f"**Check** (`checker.check`): {verdict.verdict} on all of Q^2 (scope "
        f"{verdict.scope}), {verdict.pieces_checked} pieces in the tree over both networks. "
        f"Certificate: {checked.nodes} "
        f"tree nodes ({checked.pieces} pieces, {checked.empties} empty leaves), {size} bytes "
        f"as compact JSON; `kernel.verify`: {'VALID' if checked.valid else 'INVALID'}.",
        "",
    ]


def _signed(term: sp.Expr) -> tuple[str, str]:
    """A summand of the output as shallow_formula builds it: ±1 · Max(...)."""
    if isinstance(term, sp.Mul) and term.args[0] == -1:
        return "-", str(term.args[1])
    return "+", str(term)


def _closed_cells_lines(net: ReluNetwork, pieces: Sequence[Piece]) -> list[str]:
    result = to_shallow(net, method="closed-cells", backend=BACKEND)
    verdict = result.verdict
    assert verdict is not None and verdict.counterexample is not None and verdict.outputs
    x = verdict.counterexample
    deep, shallow = (o if isinstance(o, str) else format_number(o[0]) for o in verdict.outputs)
    open_verdict = check(net, result.network, everywhere(net.input_dim), "open", BACKEND)
    cells = [t for t in terms_closed_cells(pieces, net.input_dim) if t.closure.contains(x)]
    maps = ", ".join(f"`{t.piece.signs}` (map `{formula(t.h[0])}`, value "
                     f"{format_number(t.h[0](x))})" for t in cells)
    (home,) = [p for p in pieces if all(g(x) > 0 for g in p.strict)
               and all(e(x) == 0 for e in p.equal)]
    return [
        f"**Closed cells** (`to_shallow(net, method=\"closed-cells\")`): {verdict.verdict}, "
        f"counterexample x = {_point(x)}: the deep network gives {deep}, the closed-cells sum "
        f"gives {shallow}. x lies on the piece `{home.signs}` (dim {home.dim}) and in the "
        f"closures of {len(cells)} full-dimensional regions: {maps}. Each of their maps "
        "equals f at x, and the closed-cells sum adds them all. Off the walls the sum is right: "
        f"`checker.check(net, closed_cells, scope=\"open\")` gives {open_verdict.verdict} "
        f"({open_verdict.pieces_checked} open regions).",
    ]


# -- the cost table ------------------------------------------------------------------------------

def _cost_row(name: str, net: ReluNetwork, domain: Domain) -> list[object]:
    result = to_shallow(net, domain=domain, backend=BACKEND)
    verdict = result.verdict
    assert verdict is not None and verdict.certificate is not None, f"{name} must be proven"
    checked = kernel.verify(verdict.certificate)
    pieces = list(enumerate_pieces(net, domain, "everywhere", BACKEND))
    return [name, domain.description, f"{len(pieces)} ({_counts(pieces)})", result.terms,
            " → ".join(map(str, result.network.widths)),
            " → ".join(map(str, result.unpruned_widths)), verdict.pieces_checked,
            checked.nodes]


def cost_markdown() -> str:
    rows = [_cost_row(f"sawtooth depth {d}", sawtooth(d), box([Fraction(0)], [Fraction(1)]))
            for d in SAWTOOTH_DEPTHS]
    skipped = []
    for path in sorted(EXAMPLES.glob("*.json")):
        net = load_network(path)
        try:
            rows.append(_cost_row(f"examples/{path.name}", net,
                                  domain_for(path.stem, net.input_dim)))
        except InputError as exc:
            skipped.append(f"examples/{path.name}: not converted ({exc}).")
    lines = _table(["network", "domain", "pieces", "terms", "shallow widths", "unpruned widths",
                    "checker pieces", "certificate nodes"], rows)
    return "\n".join([*lines, *([""] if skipped else []), *skipped]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cost", action="store_true", help="print the cost block")
    parser.add_argument("--write", action="store_true",
                        help="rewrite both blocks of proofs/THEOREM.md")
    args = parser.parse_args(argv)
    if args.write:
        text = THEOREM.read_text()
        text = replace_block(text, "example", example_markdown())
        text = replace_block(text, "cost", cost_markdown())
        THEOREM.write_text(text)
        print(f"rewrote the example and cost blocks of {THEOREM}")
    else:
        print(cost_markdown() if args.cost else example_markdown(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
