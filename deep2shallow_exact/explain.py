"""Exact explanations at a point: the piece, its map, its walls and the regions around it.

For a network and a rational point x, :func:`local_explanation` finds, all in exact arithmetic:

- the piece containing x (DESIGN section 3): its sign vector, its dimension, and its
  constraints, one per gate-deciding neuron (and per domain facet when a domain is given);
- the walls of the piece: the constraints that define a facet of its closure (within the
  piece's affine hull). A constraint is a wall iff the system {it = 0, the equalities, every
  non-equivalent constraint > 0} has a rational witness, which the feasibility
  :class:`~deep2shallow_exact.feasibility.Solver` finds or refutes with a Motzkin certificate.
  Constraints that agree on the hull up to a positive factor (two neurons with one hyperplane)
  share one wall;
- the exact local map x ↦ A x + c on the piece and the contributions A_kj x_j of each input;
- for a full-dimensional region, every region across each wall: the regions other than this one
  whose closure contains the wall's witness point w (a point of the wall's relative interior).
  Usually there is one; a later-layer neuron bending exactly at w would show several;
- for a full-dimensional region, the squared Euclidean distance from x to each wall's
  hyperplane and the foot of the perpendicular. When the foot lies in the region's closure the
  distance is exactly the distance to the wall; otherwise it is only a lower bound (reported as
  "at least"). The nearest wall is always exact: the ball around x of radius the smallest of
  these distances lies in the closure, so the foot on the nearest hyperplane lies on the wall;
- for a point on a wall (a piece of lower dimension), every full-dimensional region whose
  closure contains x, found by completing the signs of the neurons that vanish at x layer by
  layer and deciding each partial sign vector with the Solver (:func:`regions_meeting`).

Works for finite ReLU networks and for DGN / DLGN gated networks (hard gates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .affine import Affine, formula
from .domain import Domain, everywhere
from .errors import InputError
from .feasibility import LinearSystem, Solver, Witness
from .linalg import equality_rank, express
from .local import local_view
from .network import GatedNetwork, Network
from .numbers import Infinity, format_number
from .search import SIGN_TEXT
from .symbolic import Finished, Program, RunState, Undefined

Point = tuple[Fraction, ...]


def _numbers(values: Sequence[Fraction]) -> list[str]:
    return [format_number(v) for v in values]


def _point_text(values: Sequence[str]) -> str:
    return f"({', '.join(values)})"


@dataclass(frozen=True)
class Constraint:
    """``function`` > 0 on the piece, or = 0 when ``equality``; ``source`` names the neuron
    ("layer 2, neuron 1", "gate layer 1, neuron 3") or the domain row ("domain row 2")."""

    source: str
    function: Affine
    equality: bool

    def to_document(self) -> dict:
        return {"source": self.source, "relation": "=" if self.equality else ">",
                "text": f"{formula(self.function)} {'=' if self.equality else '>'} 0"}


@dataclass(frozen=True)
class Region:
    """A full-dimensional region: its sign vector, a rational point inside it, its map."""

    signs: str
    witness: Point
    A: tuple[tuple[Fraction, ...], ...]
    c: tuple[Fraction, ...]

    @property
    def maps(self) -> tuple[Affine, ...]:
        return tuple(Affine(row, c) for row, c in zip(self.A, self.c))

    def to_document(self) -> dict:
        return {"signs": self.signs, "witness": _numbers(self.witness),
                "A": [_numbers(row) for row in self.A], "c": _numbers(self.c),
                "map": [formula(f) for f in self.maps]}


@dataclass(frozen=True)
class Wall:
    """A facet of the closure of a piece: ``function`` ≥ 0 on the closure, = 0 on the facet.

    ``point`` lies in the facet's relative interior. For a full-dimensional region,
    ``distance_squared`` is the squared distance from x to the facet's hyperplane, ``foot`` the
    nearest point of that hyperplane, and ``foot_on_wall`` says whether the foot lies on the
    facet itself (then the distance to the wall is exact, else it is a lower bound);
    ``neighbours`` are the regions across the wall at ``point``."""

    sources: tuple[str, ...]
    function: Affine
    point: Point
    distance_squared: Fraction | None = None
    foot: Point | None = None
    foot_on_wall: bool | None = None
    neighbours: tuple[Region, ...] = ()

    def to_document(self) -> dict:
        doc: dict = {"sources": list(self.sources), "text": f"{formula(self.function)} >= 0",
                     "point": _numbers(self.point)}
        if self.distance_squared is not None and self.foot is not None:
            doc["distance_squared"] = format_number(self.distance_squared)
            doc["foot"] = _numbers(self.foot)
            doc["distance_exact"] = bool(self.foot_on_wall)
            doc["neighbours"] = [r.to_document() for r in self.neighbours]
        return doc


@dataclass(frozen=True)
class Explanation:
    """Everything :func:`local_explanation` finds at ``point``; see the module docstring."""

    point: Point
    output: tuple[Fraction, ...]
    dim: int
    region_dim: int
    signs: str
    constraints: tuple[Constraint, ...]
    walls: tuple[Wall, ...]
    maps: tuple[Affine, ...]
    regions_meeting: tuple[Region, ...]

    @property
    def on_wall(self) -> bool:
        return self.dim < self.region_dim

    @property
    def nearest_wall(self) -> Wall | None:
        measured = [(w.distance_squared, k) for k, w in enumerate(self.walls)
                    if w.distance_squared is not None]
        return self.walls[min(measured)[1]] if measured else None

    def contributions(self) -> tuple[tuple[Fraction, ...], ...]:
        """A_kj x_j for every output k and input j; with c_k they sum to f_k(x)."""
        return tuple(tuple(a * v for a, v in zip(f.coeffs, self.point)) for f in self.maps)

    def to_document(self) -> dict:
        nearest = self.nearest_wall
        return {
            "point": _numbers(self.point), "output": _numbers(self.output),
            "piece": {"dim": self.dim, "region_dim": self.region_dim, "on_wall": self.on_wall,
                      "signs": self.signs,
                      "equalities": [c.to_document() for c in self.constraints
                                     if c.equality]},
            "map": {"A": [_numbers(f.coeffs) for f in self.maps],
                    "c": [format_number(f.const) for f in self.maps],
                    "text": [formula(f) for f in self.maps]},
            "contributions": [{"output": k + 1, "terms": _numbers(terms),
                               "constant": format_number(f.const),
                               "total": format_number(self.output[k])}
                              for k, (f, terms) in enumerate(zip(self.maps,
                                                                 self.contributions()))],
            "walls": [w.to_document() for w in self.walls],
            "nearest_wall": None if nearest is None else {
                "sources": list(nearest.sources),
                "distance_squared": format_number(nearest.distance_squared or 0),
                "point": _numbers(nearest.foot or ())},
            "regions_meeting": [r.to_document() for r in self.regions_meeting],
        }


def _neuron_names(net: Network, shape: Sequence[int]) -> list[list[str]]:
    prefix = "gate layer" if isinstance(net, GatedNetwork) else "layer"
    return [[f"{prefix} {layer + 1}, neuron {j + 1}" for j in range(width)]
            for layer, width in enumerate(shape)]


def _checked_domain(net: Network, domain: Domain | None, x: Point) -> Domain:
    domain = domain if domain is not None else everywhere(net.input_dim)
    if domain.dim != net.input_dim:
        raise InputError(f"domain has dimension {domain.dim}, the network takes "
                         f"{net.input_dim} inputs")
    if len(x) == net.input_dim and not domain.contains(x):
        raise InputError(f"point {_point_text(_numbers(x))} lies outside the domain "
                         f"({domain.description})")
    return domain


def _oracle(point: Point, known: dict[tuple[int, ...], int], queried: list[Affine]
            ) -> Callable[[Affine], int | None]:
    """Signs fixed on the branch, else the sign at ``point``; unknown where f(point) = 0.
    Every function decided from ``point`` is recorded, oriented to be > 0, in ``queried``."""
    def oracle(f: Affine) -> int | None:
        g, s = f.direction()
        if g in known:
            return known[g] * s
        value = f(point)
        if value == 0:
            return None
        queried.append(f if value > 0 else -f)
        return 1 if value > 0 else -1
    return oracle


def regions_meeting(net: Network, x: Sequence[Fraction | int], domain: Domain | None = None,
                    solver: Solver | None = None) -> tuple[Region, ...]:
    """Every full-dimensional region (inside the domain's interior) whose closure contains x.

    Pre-activations are continuous, so such a region keeps the sign of every neuron that is
    nonzero at x. Neurons vanishing at x are completed in order, each to > 0 or < 0 (or to 0
    when it is constant zero on the domain's affine hull, a dead neuron), and each partial sign
    vector is kept only if the Solver finds a rational point satisfying it strictly; the
    symbolic engine recomputes later layers for every completion. The result is sorted by
    sign vector."""
    point = tuple(Fraction(v) for v in x)
    domain = _checked_domain(net, domain, point)
    solver = solver if solver is not None else Solver()
    n = net.input_dim
    interior = tuple(g for g in domain.inequalities if not g.is_constant)
    hull = tuple(e for e in domain.equalities if not e.is_constant)
    program = Program(net)
    found: list[Region] = []
    stack: list[tuple[RunState, dict[tuple[int, ...], int], tuple[Affine, ...]]] = [
        (program.start(), {e.direction()[0]: 0 for e in hull}, ())]
    while stack:
        state, known, rows = stack.pop()
        queried: list[Affine] = []
        outcome = program.run(state, _oracle(point, known, queried))
        rows = (*rows, *queried)
        if isinstance(outcome, Undefined):
            raise InputError(f"undefined (∞ − ∞) at layer {outcome.layer}, neuron "
                             f"{outcome.neuron} near the point")
        if isinstance(outcome, Finished):
            answer = solver.solve(LinearSystem(n, (*interior, *rows), (), hull))
            if isinstance(answer, Witness):
                found.append(_region(outcome, answer.point))
            continue
        f = outcome.function
        g, orientation = f.direction()
        if express(f, hull) is not None:
            stack.append((outcome.state, {**known, g: 0}, rows))
            continue
        for side in (-1, 1):
            row = f if side > 0 else -f
            if isinstance(solver.solve(LinearSystem(n, (*interior, *rows, row), (), hull)),
                          Witness):
                stack.append((outcome.state, {**known, g: side * orientation}, (*rows, row)))
    return tuple(sorted(found, key=lambda r: r.signs))


def _region(outcome: Finished, witness: Point) -> Region:
    maps = []
    for k, f in enumerate(outcome.outputs):
        if isinstance(f, Infinity):
            raise InputError(f"output {k + 1} is {f!r} on a whole region near the point")
        maps.append(f)
    return Region("".join(SIGN_TEXT[s] for layer in outcome.signs for s in layer), witness,
                  tuple(f.coeffs for f in maps), tuple(f.const for f in maps))


def _constraints(net: Network, point: Point, domain: Domain) -> tuple[str, tuple[Constraint, ...],
                                                                        tuple[Affine, ...]]:
    """The sign vector, constraints and output maps of the piece of ``point``."""
    view = local_view(net, point)
    names = _neuron_names(net, [len(layer) for layer in view.preactivations])
    rows: list[Constraint] = []
    for layer_names, layer, layer_signs in zip(names, view.preactivations, view.signs):
        for name, f, s in zip(layer_names, layer, layer_signs):
            if f.is_constant:
                continue  # a constant's sign holds everywhere: no constraint
            rows.append(Constraint(name, f if s >= 0 else -f, s == 0))
    for i, g in enumerate(domain.inequalities):
        if not g.is_constant:
            rows.append(Constraint(f"domain row {i + 1}", g, g(point) == 0))
    for i, e in enumerate(domain.equalities):
        if not e.is_constant:
            rows.append(Constraint(f"domain equality {i + 1}", e, True))
    signs = "".join(SIGN_TEXT[s] for layer in view.signs for s in layer)
    return signs, tuple(rows), view.output


def _orthogonal_basis(rows: Sequence[tuple[Fraction, ...]]) -> list[tuple[Fraction, ...]]:
    basis: list[tuple[Fraction, ...]] = []
    for r in rows:
        u = _minus_projection(r, basis)
        if any(u):
            basis.append(u)
    return basis


def _dot(u: Sequence[Fraction], v: Sequence[Fraction]) -> Fraction:
    return sum((a * b for a, b in zip(u, v)), Fraction(0))


def _minus_projection(v: tuple[Fraction, ...], basis: Sequence[tuple[Fraction, ...]]
                      ) -> tuple[Fraction, ...]:
    """v minus its orthogonal projection onto the span of the orthogonal ``basis``."""
    for b in basis:
        ratio = _dot(v, b) / _dot(b, b)
        v = tuple(a - ratio * c for a, c in zip(v, b))
    return v


def _walls(point: Point, constraints: Sequence[Constraint], solver: Solver
           ) -> list[tuple[tuple[Constraint, ...], Point]]:
    """The facets of the closure: classes of constraints equal on the affine hull up to a
    positive factor, with a witness in each facet's relative interior."""
    equal = [c.function for c in constraints if c.equality]
    classes: list[list[Constraint]] = []
    for c in constraints:
        if c.equality:
            continue
        for members in classes:
            combination = express(c.function, [members[0].function, *equal])
            if combination is not None and combination[0] > 0:
                members.append(c)
                break
        else:
            classes.append([c])
    walls = []
    for members in classes:
        others = tuple(c.function for other in classes if other is not members for c in other)
        system = LinearSystem(len(point), others, (), (*equal, members[0].function))
        answer = solver.solve(system)
        if isinstance(answer, Witness):
            walls.append((tuple(members), answer.point))
    return walls


def local_explanation(net: Network, x: Sequence[Fraction | int], domain: Domain | None = None,
                      backend: str = "auto") -> Explanation:
    """The exact explanation of ``net`` at ``x`` (see the module docstring)."""
    n = net.input_dim
    if len(x) != n:
        raise InputError(f"point has {len(x)} coordinates, the network takes {n}")
    point = tuple(Fraction(v) for v in x)
    domain = _checked_domain(net, domain, point)
    solver = Solver(backend)
    signs, constraints, maps = _constraints(net, point, domain)
    equal = [c.function for c in constraints if c.equality]
    dim = n - equality_rank(equal, n)
    region_dim = n - equality_rank([e for e in domain.equalities if not e.is_constant], n)
    full = dim == region_dim
    basis = _orthogonal_basis([f.coeffs for f in equal])
    strict = [c.function for c in constraints if not c.equality]
    walls = []
    for members, w in _walls(point, constraints, solver):
        g = members[0].function
        if not full:
            walls.append(Wall(tuple(c.source for c in members), g, w))
            continue
        # Within the hull, the perpendicular from x to {g = 0} runs along g's gradient
        # projected onto the hull's directions.
        normal = _minus_projection(g.coeffs, basis)
        step = g(point) / _dot(normal, normal)
        foot = tuple(v - step * a for v, a in zip(point, normal))
        neighbours = tuple(r for r in regions_meeting(net, w, domain, solver) if r.signs != signs)
        walls.append(Wall(tuple(c.source for c in members), g, w, g(point) * step, foot,
                          all(h(foot) >= 0 for h in strict), neighbours))
    meeting = regions_meeting(net, point, domain, solver) if not full else ()
    output = tuple(f(point) for f in maps)
    return Explanation(point, output, dim, region_dim, signs, constraints, tuple(walls), maps,
                       meeting)


def explain(net: Network, x: Sequence[Fraction | int], domain: Domain | None = None,
            backend: str = "auto") -> dict:
    """:func:`local_explanation` as plain data: numbers as "p/q" strings, maps as text."""
    return local_explanation(net, x, domain, backend).to_document()


def format_explanation(doc: dict) -> str:
    """The text a person reads for a document made by :func:`explain`."""
    lines = [f"point x = {_point_text(doc['point'])}",
             f"output f(x) = {_point_text(doc['output'])}"]
    piece = doc["piece"]
    if piece["on_wall"]:
        on = "; ".join(f"{e['source']}: {e['text']}" for e in piece["equalities"])
        lines.append(f"x lies on a wall: its piece has dimension {piece['dim']} of "
                     f"{piece['region_dim']} (signs {piece['signs']}), where {on}")
    else:
        lines.append(f"x lies in a full-dimensional region (dimension {piece['dim']}), "
                     f"signs {piece['signs']}")
    lines.append("local affine map on this piece:")
    for k, text in enumerate(doc["map"]["text"]):
        lines.append(f"  y{k + 1} = {text}")
    lines.append("contributions A_kj * x_j:")
    for item in doc["contributions"]:
        terms = ", ".join(f"x{j + 1}: {t}" for j, t in enumerate(item["terms"]))
        lines.append(f"  y{item['output']}: {terms}; constant {item['constant']}; "
                     f"total {item['total']}")
    if doc["walls"]:
        lines.append("walls (irredundant constraints of the piece's closure):")
    for wall in doc["walls"]:
        lines.append(f"  {' = '.join(wall['sources'])}: {wall['text']}")
        if "distance_squared" in wall:
            how = "exactly" if wall["distance_exact"] else "at least (to its hyperplane)"
            lines.append(f"    squared distance {how} {wall['distance_squared']}, "
                         f"foot {_point_text(wall['foot'])}")
            if not wall["neighbours"]:
                lines.append(f"    nothing across at {_point_text(wall['point'])} "
                             "(the domain's boundary)")
            for r in wall["neighbours"]:
                lines.append(f"    across at {_point_text(wall['point'])}: region "
                             f"{r['signs']} with y = ({'; '.join(r['map'])})")
    nearest = doc["nearest_wall"]
    if nearest is not None:
        lines.append(f"nearest wall: {' = '.join(nearest['sources'])}, squared distance "
                     f"{nearest['distance_squared']}, at {_point_text(nearest['point'])}")
    elif not piece["on_wall"]:
        lines.append("the region has no walls: the network is affine on the whole domain")
    if doc["regions_meeting"]:
        lines.append(f"{len(doc['regions_meeting'])} full-dimensional regions meet at x:")
        for r in doc["regions_meeting"]:
            lines.append(f"  {r['signs']} (e.g. at {_point_text(r['witness'])}): "
                         f"y = ({'; '.join(r['map'])})")
    return "\n".join(lines)
