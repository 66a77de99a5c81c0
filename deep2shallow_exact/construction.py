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

from .affine import Affine, combination, primitive
from .checker import CheckResult, check
from .domain import Domain, everywhere
from .errors import InputError
from .network import GatedNetwork, Layer, Network, ReluNetwork
from .numbers import NEG_INF, Extended
from .piece import Piece
from .regions import PieceEnumeration

METHODS = ("faces", "closed-cells")


@dataclass(frozen=True)
class Closure:
    """cl T = {g ≥ 0 for g in ``nonneg``, e = 0 for e in ``zero``}."""

    nonneg: tuple[Affine, ...]
    zero: tuple[Affine, ...]

    def contains(self, x: Sequence[Fraction]) -> bool:
        return all(g(x) >= 0 for g in self.nonneg) and all(e(x) == 0 for e in self.zero)

    def violations(self) -> tuple[Affine, ...]:
        """Functions that are ≥ 0 everywhere, and all 0 exactly on cl T, once ReLU'd."""
        return (*(-g for g in self.nonneg), *self.zero, *(-e for e in self.zero))


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


def below(pieces: Sequence[Piece], domain: Domain) -> dict[int, list[int]]:
    """Step 4: for each piece T (by index), the pieces S with T ⊆ cl S, T itself included.

    Candidates share T's sign wherever T's sign is nonzero (pre-activations are continuous);
    a candidate is kept when T's witness lies in cl S. On a polyhedral complex that decides
    T ⊆ cl S; anywhere else the checker has the last word on the result."""
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
        else:
            candidates = range(len(pieces))
        result[t] = [s for s in candidates
                     if pieces[s].dim >= piece.dim and closures[s].contains(piece.witness)]
    return result


def _key(piece: Piece, walls: Sequence[Affine]) -> str:
    return piece.signs + "".join("+" if g(piece.witness) > 0 else "0" for g in walls)


def _fill(key: str, zeros: Sequence[int]) -> Iterable[str]:
    chars = list(key)
    for choice in product("+0-", repeat=len(zeros)):
        for i, c in zip(zeros, choice):
            chars[i] = c
        yield "".join(chars)


def terms_faces(pieces: Sequence[Piece], domain: Domain, continuous: bool) -> list[Term]:
    """Step 5: h_T for every piece (inclusion–exclusion over the pieces above T)."""
    n = domain.dim
    if continuous and domain.is_everything:
        return [Term(p, closure_of(p), tuple(f.scale((-1) ** (n - p.dim)) for f in p.maps))
                for p in pieces]
    above = below(pieces, domain)
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
    return Closure(tuple(g for g in dict.fromkeys(map(primitive, closure.nonneg))
                         if not g.is_constant),
                   tuple(e for e in dict.fromkeys(map(primitive, closure.zero))
                         if not e.is_constant))


def build_network(terms: Sequence[Term], n: int, outputs: int) -> ReluNetwork:
    """Step 7: first layer ReLU(±g) per distinct function, second layer p_T and q_T with −∞
    gates, output Σ (p_T − q_T)."""
    first: dict[Affine, int] = {}

    def neuron(f: Affine) -> tuple[int, Fraction]:
        g = primitive(f)
        factor = next((a / b for a, b in zip((*f.coeffs, f.const), (*g.coeffs, g.const))
                       if b), Fraction(1))
        return first.setdefault(g, len(first)), factor

    second: list[tuple[dict[int, Extended], int, int]] = []  # weights, output, sign
    for term in terms:
        gates = [neuron(v)[0] for v in term.closure.violations()]
        for k, h in enumerate(term.h):
            for sign, part in ((1, h), (-1, -h)):
                if part.is_constant and part.const <= 0:
                    continue  # ReLU(part) = 0 everywhere
                j, factor = neuron(part)
                if j in gates:
                    continue  # ReLU(±h) is a violation of cl T, so it is 0 wherever T counts
                weights: dict[int, Extended] = {g: NEG_INF for g in gates}
                weights[j] = factor
                second.append((weights, k, sign))
    if not second:
        zero = Affine.constant(n, 0)
        first.setdefault(zero, 0)
        second.append(({}, 0, 0))
    order = list(first)
    layer1 = Layer.sparse([tuple(enumerate(f.coeffs)) for f in order], n,
                          tuple(f.const for f in order))
    layer2 = Layer.sparse([tuple(w.items()) for w, _, _ in second], len(order),
                          (Fraction(0),) * len(second))
    layer3 = Layer.sparse([tuple((j, Fraction(s)) for j, (_, k, s) in enumerate(second)
                                 if k == out) for out in range(outputs)], len(second),
                          (Fraction(0),) * outputs)
    return ReluNetwork((layer1, layer2, layer3))


def _unpruned_widths(terms: Sequence[Term], n: int, outputs: int) -> tuple[int, ...]:
    first = sum(len(t.closure.violations()) + 2 * outputs for t in terms)
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
               progress: Callable[[str, int], None] | None = None) -> Shallow:
    """The three-layer extended-real network of DESIGN section 4 for ``net`` on ``domain``.

    With ``verify`` (the default) the result is checked against ``net`` on the domain and its
    verdict returned with it; callers must not present an unproven network as proven. If the
    check refutes the ``faces`` construction (a degenerate network whose pieces do not form a
    complex), the pieces are refined to an arrangement (:func:`refine_to_arrangement`) and the
    construction is built and checked once more; its verdict is what is returned."""
    if method not in METHODS:
        raise InputError(f"--method: {method!r} must be one of {', '.join(METHODS)}")
    domain = domain if domain is not None else everywhere(net.input_dim)
    job = PieceEnumeration(net, domain, "everywhere", backend)
    pieces = []
    for piece in job:
        pieces.append(piece)
        if progress is not None:
            progress("pieces", len(pieces))
    if method == "closed-cells":
        return _assemble(net, terms_closed_cells(pieces, net.input_dim), len(pieces), method,
                         domain, backend, verify)
    # Gated and extended networks may jump across walls; finite ReLU networks cannot.
    continuous = isinstance(net, ReluNetwork) and not net.is_extended
    result = _assemble(net, terms_faces(pieces, domain, continuous), len(pieces), method,
                       domain, backend, verify)
    if result.verdict is None or result.verdict.proven:
        return result
    faces = refine_to_arrangement(net, pieces, domain, backend)
    return _assemble(net, terms_faces(faces, domain, continuous=False), len(faces), method,
                     domain, backend, verify)


def _assemble(net: Network, terms: list[Term], pieces: int, method: str, domain: Domain,
              backend: str, verify: bool) -> Shallow:
    n, outputs = net.input_dim, net.output_dim
    terms = [t for t in terms if any(not h.is_zero for h in t.h)]
    unpruned = _unpruned_widths(terms, n, outputs)
    terms = [Term(t.piece, distinct(t.closure), t.h) for t in terms]
    shallow = build_network(terms, n, outputs)
    verdict = check(net, shallow, domain, "everywhere", backend) if verify else None
    return Shallow(shallow, method, pieces, len(terms), unpruned, verdict)
