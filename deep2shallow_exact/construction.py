"""The constructive proof (DESIGN section 4): a network → an equal three-layer extended network.

Given the pieces T of the domain with their affine maps f_T,

    f = Σ_T 1_{cl T} · h_T,    h_T = Σ_{S ≥ T} (−1)^{dim S − dim T} f_S    (S ≥ T: T ⊆ cl S),

and for a continuous f on all of Q^n, h_T = (−1)^{n − dim T} f_T suffices. Each term becomes
p_T = ReLU(ReLU(h_T) − ∞·Σ violations of cl T) and q_T the same with −h_T; the output is
Σ_T (p_T − q_T). proofs/THEOREM.md walks through the steps and names the functions below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import product

from .affine import Affine, Scaled, combination, primitive, scaled, sign_at
from .checker import CheckResult, check, prove_on_tree
from .demand import DemandProgram
from .domain import Domain, everywhere
from .errors import InputError
from .network import GatedNetwork, Layer, Network, ReluNetwork
from .numbers import NEG_INF, Extended
from .piece import Piece
from .regions import PieceEnumeration
from .search import NodeSigns

METHODS = ("faces", "closed-cells")


@dataclass(frozen=True)
class Closure:
    """cl T = {g ≥ 0 for g in ``nonneg``, e = 0 for e in ``zero``}."""

    nonneg: tuple[Affine, ...]
    zero: tuple[Affine, ...]

    def contains(self, x: Sequence[Fraction]) -> bool:
        return self.contains_scaled(scaled(x))

    def contains_scaled(self, point: Scaled) -> bool:
        return all(sign_at(g, point) >= 0 for g in self.nonneg) and all(
            sign_at(e, point) == 0 for e in self.zero)


@dataclass(frozen=True)
class Term:
    """One summand 1_{cl T} · h_T (one affine h per output)."""

    piece: Piece
    closure: Closure
    h: tuple[Affine, ...]


@dataclass(frozen=True)
class Shallow:
    network: ReluNetwork
    method: str
    pieces: int
    terms: int
    unpruned_widths: tuple[int, ...]
    verdict: CheckResult | None

    @property
    def verified(self) -> bool:
        return self.verdict is not None and self.verdict.proven


def closure_of(piece: Piece) -> Closure:
    """Step 3: relax the strict rows of a piece (the closure of a nonempty piece)."""
    return Closure(piece.strict, piece.equal)


def pieces_above(pieces: Sequence[Piece], domain: Domain,
                 sign_patterns: bool = False) -> dict[int, list[int]]:
    """Step 4: for each piece T (by index), the pieces S with T ⊆ cl S, T itself included.

    Candidates share T's sign wherever T's sign is nonzero (pre-activations are continuous);
    a candidate is kept when T's witness lies in cl S. On a polyhedral complex that decides
    T ⊆ cl S; anywhere else the checker has the last word on the result.

    With ``sign_patterns`` — the pieces are all the sign classes of a finite ReLU network
    with the domain's walls, as its enumeration in scope everywhere finds them — every
    candidate that is a piece is above T (Lemma 3 (c) of proofs/THEOREM.md), so the witness
    test is skipped."""
    walls = domain.inequalities
    keys = [_key(p, walls) for p in pieces]
    index = {key: i for i, key in enumerate(keys)}
    closures = [closure_of(p) for p in pieces]
    result: dict[int, list[int]] = {}
    for t, (piece, key) in enumerate(zip(pieces, keys)):
        zeros = [i for i, s in enumerate(key) if s == "0"]
        if len(zeros) <= 10:
            candidates: Iterable[int] = (
                index[k] for k in _fill(key, zeros) if k in index)
            if sign_patterns:
                result[t] = list(candidates)
                continue
        else:
            candidates = range(len(pieces))
        witness = scaled(piece.witness)
        result[t] = [s for s in candidates
                     if pieces[s].dim >= piece.dim and closures[s].contains_scaled(witness)]
    return result


def _key(piece: Piece, walls: Sequence[Affine]) -> str:
    return piece.signs + "".join("+" if g(piece.witness) > 0 else "0" for g in walls)


def _fill(key: str, zeros: Sequence[int]) -> Iterable[str]:
    chars = list(key)
    for choice in product("+0-", repeat=len(zeros)):
        for i, c in zip(zeros, choice):
            chars[i] = c
        yield "".join(chars)


def terms_faces(pieces: Sequence[Piece], domain: Domain, continuous: bool,
                above: dict[int, list[int]] | None = None) -> list[Term]:
    """Step 5: h_T for every piece (inclusion–exclusion over the pieces above T, which
    :func:`pieces_above` gives unless ``above`` is that already)."""
    n = domain.dim
    if continuous and domain.is_everything:
        return [Term(p, closure_of(p), tuple(f.scale((-1) ** (n - p.dim)) for f in p.maps))
                for p in pieces]
    if above is None:
        above = pieces_above(pieces, domain)
    terms = []
    for t, piece in enumerate(pieces):
        h = tuple(
            combination([(Fraction((-1) ** (pieces[s].dim - piece.dim)), pieces[s].maps[k])
                         for s in above[t]], n)
            for k in range(len(piece.c)))
        terms.append(Term(piece, closure_of(piece), h))
    return terms


def terms_closed_cells(pieces: Sequence[Piece], n: int) -> list[Term]:
    """The naive sum over full-dimensional regions; wrong on shared walls."""
    top = max(p.dim for p in pieces)
    return [Term(p, closure_of(p), p.maps) for p in pieces if p.dim == top]


def distinct(closure: Closure) -> Closure:
    """Step 6: each row once up to a positive factor, and no constant rows (they hold on a
    nonempty closure). Rows the others imply are kept on purpose: outside cl T a gate is −∞
    only where the proof can show one violation positive on a whole piece, and the row of
    the first neuron whose sign differs from T's is such a violation (Lemma 5a) — an implied
    row may be that one, and without it the proof would have to split the piece again."""
    def once(rows: Sequence[Affine]) -> tuple[Affine, ...]:
        kept: dict[tuple[int, ...], Affine] = {}
        for g in rows:
            if not g.is_constant:
                kept.setdefault(g.integers(), g)
        return tuple(kept.values())
    return Closure(once(closure.nonneg), once(closure.zero))


def build_network(terms: Sequence[Term], n: int, outputs: int
                  ) -> tuple[ReluNetwork, list[tuple[int, ...]]]:
    """Step 7: first layer ReLU(±g) per distinct function, second layer p_T and q_T with −∞
    gates, output Σ (p_T − q_T). Also, per term, the second-layer neurons it gave."""
    # One neuron per function up to a positive factor: keyed by its coprime integer form
    # (cached on each Affine, and fast to hash), ReLU(c·g) = c·ReLU(g) for c > 0.
    first: dict[tuple[int, ...], int] = {}

    def neuron(ints: tuple[int, ...]) -> int:
        return first.setdefault(ints, len(first))

    def opposite(ints: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(-a for a in ints)

    second: list[tuple[dict[int, Extended], int, int]] = []  # weights, output, sign
    gadgets: list[tuple[int, ...]] = []
    for term in terms:
        start = len(second)
        closure = term.closure
        gates = {neuron(opposite(g.integers())) for g in closure.nonneg}
        gates.update(neuron(ints) for e in closure.zero
                     for ints in (e.integers(), opposite(e.integers())))
        for k, h in enumerate(term.h):
            if h.is_zero:
                continue
            ints = h.integers()
            i = next(i for i, a in enumerate(ints) if a)
            factor = (*h.coeffs, h.const)[i] / ints[i]  # h = factor · ints, factor > 0
            for sign, part in ((1, ints), (-1, opposite(ints))):
                if not any(part[:-1]) and part[-1] <= 0:
                    continue  # ReLU(part) = 0 everywhere
                j = neuron(part)
                if j in gates:
                    continue  # ReLU(±h) is a violation of cl T, so it is 0 wherever T counts
                weights: dict[int, Extended] = {g: NEG_INF for g in gates}
                weights[j] = factor
                second.append((weights, k, sign))
        gadgets.append(tuple(range(start, len(second))))
    if not second:
        first.setdefault((0,) * (n + 1), 0)
        second.append(({}, 0, 0))
    order = list(first)
    layer1 = Layer.sparse([tuple((c, Fraction(a)) for c, a in enumerate(f[:-1]) if a)
                           for f in order], n, tuple(Fraction(f[-1]) for f in order))
    layer2 = Layer.sparse([tuple(w.items()) for w, _, _ in second], len(order),
                          (Fraction(0),) * len(second))
    layer3 = Layer.sparse([tuple((j, Fraction(s)) for j, (_, k, s) in enumerate(second)
                                 if k == out) for out in range(outputs)], len(second),
                          (Fraction(0),) * outputs)
    return ReluNetwork((layer1, layer2, layer3)), gadgets


def _unpruned_widths(terms: Sequence[Term], n: int, outputs: int) -> tuple[int, ...]:
    first = sum(len(t.closure.nonneg) + 2 * len(t.closure.zero) + 2 * outputs for t in terms)
    return (n, first, 2 * outputs * len(terms), outputs)


def refine_to_arrangement(net: Network, pieces: Sequence[Piece], domain: Domain,
                          backend: str = "auto") -> list[Piece]:
    """Step 8 (fallback): the faces of the hyperplane arrangement of every function that
    bounds a piece, each carrying the map of the piece that contains it.

    Faces of an arrangement form a polyhedral complex, so the inclusion–exclusion identity of
    step 4 holds for them whatever the network did. They are found as the pieces of a
    one-layer DLGN whose gates are those hyperplanes."""
    n = domain.dim
    walls = list(dict.fromkeys(primitive(f) for p in pieces for f in (*p.strict, *p.equal)
                               if not f.is_constant))
    if not walls:
        return list(pieces)
    zero_value = Layer(tuple((Fraction(0),) * n for _ in walls), (Fraction(0),) * len(walls))
    output = Layer(((Fraction(0),) * len(walls),), (Fraction(0),))
    arrangement = GatedNetwork("dlgn", (Layer(tuple(f.coeffs for f in walls),
                                              tuple(f.const for f in walls)),),
                               (zero_value, output))
    faces = []
    for face in PieceEnumeration(arrangement, domain, "everywhere", backend):
        # Every face lies inside the one piece that contains its witness.
        home = next(p for p in pieces if all(f(face.witness) > 0 for f in p.strict)
                    and all(e(face.witness) == 0 for e in p.equal))
        faces.append(replace(face, A=home.A, c=home.c))
    return faces


def to_shallow(net: Network, method: str = "faces", domain: Domain | None = None,
               backend: str = "auto", verify: bool = True,
               progress: Callable[[str, int], None] | None = None,
               workers: int = 1, cluster: str | None = None) -> Shallow:
    """The three-layer extended-real network of DESIGN section 4 for ``net`` on ``domain``.

    With ``verify`` (the default) the result is proven equal to ``net`` on the domain, and the
    verdict returned with it has passed the trusted kernel; callers must not present an
    unproven network as proven. The proof reuses the enumeration's tree (:func:`prove_pieces`);
    where that does not do, a search over both networks decides (:func:`checker.check`). If
    the ``faces`` construction is refuted (a degenerate network whose pieces do not form a
    complex), the pieces are refined to an arrangement (:func:`refine_to_arrangement`) and the
    construction is built and checked once more; its verdict is what is returned.
    ``workers`` processes share the enumeration (:class:`regions.PieceEnumeration`) and the
    kernel's re-verification; with ``cluster`` (``local:N`` or a Dask scheduler's address) the
    enumeration runs there instead."""
    if method not in METHODS:
        raise InputError(f"--method: {method!r} must be one of {', '.join(METHODS)}")
    domain = domain if domain is not None else everywhere(net.input_dim)
    job = PieceEnumeration(net, domain, "everywhere", backend, workers,
                           record_tree=verify and method == "faces", cluster=cluster)
    pieces = []
    for piece in job:
        pieces.append(piece)
        if progress is not None:
            progress("pieces", len(pieces))
    pieces = job.found
    if method == "closed-cells":
        return _assemble(net, terms_closed_cells(pieces, net.input_dim), len(pieces), method,
                         domain, backend, verify)
    # Gated and extended networks may jump across walls; finite ReLU networks cannot.
    continuous = isinstance(net, ReluNetwork) and not net.is_extended
    above = pieces_above(pieces, domain, sign_patterns=continuous) \
        if verify or not (continuous and domain.is_everything) else None
    result = _assemble(net, terms_faces(pieces, domain, continuous, above), len(pieces),
                       method, domain, backend, verify, (job, above), workers)
    if result.verdict is None or result.verdict.proven:
        return result
    faces = refine_to_arrangement(net, pieces, domain, backend)
    return _assemble(net, terms_faces(faces, domain, continuous=False), len(faces), method,
                     domain, backend, verify, workers=workers)


def _assemble(net: Network, terms: list[Term], pieces: int, method: str, domain: Domain,
              backend: str, verify: bool,
              enumerated: tuple[PieceEnumeration, dict[int, list[int]] | None] | None = None,
              workers: int = 1) -> Shallow:
    n, outputs = net.input_dim, net.output_dim
    terms = [t for t in terms if any(not h.is_zero for h in t.h)]
    unpruned = _unpruned_widths(terms, n, outputs)
    terms = [Term(t.piece, distinct(t.closure), t.h) for t in terms]
    shallow, gadgets = build_network(terms, n, outputs)
    verdict = None
    if verify:
        if enumerated is not None and enumerated[1] is not None:
            verdict = prove_pieces(net, shallow, terms, gadgets, *enumerated,  # type: ignore
                                   workers=workers)
        if verdict is None:
            verdict = check(net, shallow, domain, "everywhere", backend, workers=workers)
    return Shallow(shallow, method, pieces, len(terms), unpruned, verdict)


def prove_pieces(net: Network, shallow: ReluNetwork, terms: Sequence[Term],
                 gadgets: Sequence[tuple[int, ...]], job: PieceEnumeration,
                 above: dict[int, list[int]], workers: int = 1) -> CheckResult | None:
    """The proof on the enumeration's own tree (its splits and emptiness proofs; every piece
    leaf gets its λ), with the shallow network's maps read off the construction: on a piece S
    the gates of exactly the terms T with S ⊆ cl T are open (Lemma 5a), so its output there is
    what those second-layer neurons give, all others 0. The trusted kernel then evaluates both
    networks on the tree in full; None (and a search decides) if anything does not fit."""
    program = DemandProgram(shallow)
    term_of = {id(t.piece): k for k, t in enumerate(terms)}
    piece_at = {leaf: k for k, leaf in enumerate(job.leaf_of)}

    def maps_at(index: int, signs: NodeSigns
                ) -> tuple[Sequence[Affine], Sequence[Affine]] | None:
        s = piece_at.get(index)
        if s is None:
            return None
        alive = [j for p in above[s] if id(job.found[p]) in term_of
                 for j in gadgets[term_of[id(job.found[p])]]]
        outputs = program.outputs_if(signs, [alive])
        # The enumeration's map is the one the kernel computes, but where an atom pair
        # a·ReLU(g) − a·ReLU(−g) of the deep network cancels on a piece with g = 0: there the
        # kernel's λ differs, the kernel refuses, and a search decides.
        return None if outputs is None else (job.found[s].maps, outputs)  # type: ignore

    return prove_on_tree(net, shallow, job.domain, job.search.tree, maps_at, workers)
