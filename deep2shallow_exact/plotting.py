"""Pictures of the pieces: region maps for two inputs, graphs for one, exact 2-D slices.

All geometry is exact and comes from the piece enumeration of a box: a region's polygon has
for vertices the 0-dimensional pieces in its closure (intersections of walls, or of a wall and
the box), ordered by exact angle; a wall segment joins the two vertices that close a
1-dimensional piece. Coordinates become floats only when handed to matplotlib.

For three or more inputs the picture is an exact slice x = p + s·d1 + t·d2: substituting the
plane into the first layer gives a network with the two inputs (s, t) whose function is the
restriction (:func:`restrict_to_plane`), and that network is drawn.

matplotlib is optional (the ``plot`` extra) and imported only when drawing; figures are made
on the Agg canvas without pyplot, so nothing global is touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cmp_to_key
from math import ceil, floor
from pathlib import Path
from typing import Any

from .affine import Affine
from .domain import Domain, box, everywhere
from .errors import InputError
from .network import GatedNetwork, Layer, Network, ReluNetwork
from .numbers import format_number
from .piece import Piece, counts_by_dim
from .regions import enumerate_pieces

Point = tuple[Fraction, ...]
Bounds = tuple[tuple[Fraction, Fraction], ...]

INSTALL_HINT = "pip install 'deep2shallow-exact[plot]'"
# Region numbers are written into the picture only while they stay readable.
_MAX_LABELS = 40


def _matplotlib() -> Any:
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure
        from matplotlib.patches import Polygon as PolygonPatch
    except ImportError:
        raise InputError(f"plotting needs matplotlib: {INSTALL_HINT}") from None
    return matplotlib, Figure, FigureCanvasAgg, PolygonPatch, LineCollection


# -- slices ------------------------------------------------------------------------------------

def _substitute(layer: Layer, point: Point, d1: Point, d2: Point) -> Layer:
    # Finite layers only (checked by the caller), so every entry is a Fraction.
    linear = [Affine(row, Fraction(0)) for row in layer.weights]  # type: ignore[arg-type]
    rows = tuple((f(d1), f(d2)) for f in linear)
    bias = tuple(b + f(point) for f, b in zip(linear, layer.bias))
    return Layer(rows, bias)  # type: ignore[arg-type]


def restrict_to_plane(net: Network, point: Sequence[Fraction | int],
                      d1: Sequence[Fraction | int], d2: Sequence[Fraction | int]) -> Network:
    """The two-input network (s, t) ↦ net(point + s·d1 + t·d2), built exactly."""
    n = net.input_dim
    p, u, v = (tuple(Fraction(a) for a in vec) for vec in (point, d1, d2))
    for name, vec in (("slice point", p), ("direction 1", u), ("direction 2", v)):
        if len(vec) != n:
            raise InputError(f"{name} has {len(vec)} coordinates, the network takes {n}")
    if all(u[i] * v[k] == u[k] * v[i] for i in range(n) for k in range(n)):
        raise InputError("the two slice directions must be linearly independent")
    if isinstance(net, ReluNetwork):
        net.require_finite("plot slice")
        return ReluNetwork((_substitute(net.layers[0], p, u, v), *net.layers[1:]))
    gating = (_substitute(net.gating[0], p, u, v), *net.gating[1:])
    first = net.value[0]
    if net.value_input == "x":
        value0 = _substitute(first, p, u, v)
    else:
        # The all-ones input does not depend on x: its first layer is a constant.
        value0 = Layer(tuple((Fraction(0), Fraction(0)) for _ in first.weights),
                       tuple(b + sum(row, Fraction(0))
                             for row, b in zip(first.weights, first.bias)))  # type: ignore
    return GatedNetwork(net.kind, gating, (value0, *net.value[1:]), net.value_input)


# -- exact geometry ----------------------------------------------------------------------------

def _in_closure(vertex: Piece, piece: Piece) -> bool:
    # Pre-activations are continuous: a sign nonzero at the vertex is the region's sign too.
    if any(a != "0" and a != b for a, b in zip(vertex.signs, piece.signs)):
        return False
    w = vertex.witness
    return all(f(w) >= 0 for f in piece.strict) and all(e(w) == 0 for e in piece.equal)


def _counter_clockwise(points: Sequence[Point]) -> tuple[Point, ...]:
    """Points of a convex polygon sorted by exact angle around their average."""
    cx = sum((p[0] for p in points), Fraction(0)) / len(points)
    cy = sum((p[1] for p in points), Fraction(0)) / len(points)

    def half(p: Point) -> int:
        dx, dy = p[0] - cx, p[1] - cy
        return 0 if dy > 0 or (dy == 0 and dx > 0) else 1

    def compare(p: Point, q: Point) -> int:
        if half(p) != half(q):
            return half(p) - half(q)
        cross = (p[0] - cx) * (q[1] - cy) - (p[1] - cy) * (q[0] - cx)
        return -1 if cross > 0 else 1 if cross < 0 else 0

    return tuple(sorted(points, key=cmp_to_key(compare)))


@dataclass(frozen=True)
class Polygon:
    """A region of a 2-D box with its exact vertices, counter-clockwise."""

    piece: Piece
    vertices: tuple[Point, ...]

    @property
    def area(self) -> Fraction:
        v = self.vertices
        return sum((v[i][0] * v[i - 1][1] - v[i - 1][0] * v[i][1] for i in range(len(v))),
                   Fraction(0)) / -2

    @property
    def centroid(self) -> Point:
        """The average of the vertices: inside the (convex) polygon."""
        k = len(self.vertices)
        return tuple(sum((p[i] for p in self.vertices), Fraction(0)) / k for i in range(2))


def region_polygons(pieces: Sequence[Piece]) -> tuple[Polygon, ...]:
    """The polygon of every 2-dimensional piece of an enumeration of a 2-D box."""
    vertices = [p for p in pieces if p.dim == 0]
    return tuple(Polygon(p, _counter_clockwise([v.witness for v in vertices
                                                if _in_closure(v, p)]))
                 for p in pieces if p.dim == 2)


@dataclass(frozen=True)
class Interval:
    """A region of a 1-D box: the piece and its exact end points."""

    piece: Piece
    low: Fraction
    high: Fraction

    @property
    def length(self) -> Fraction:
        return self.high - self.low


def region_intervals(pieces: Sequence[Piece]) -> tuple[Interval, ...]:
    """The interval of every 1-dimensional piece of an enumeration of a 1-D box."""
    out = []
    for p in pieces:
        if p.dim == 1:
            ends = [v.witness[0] for v in pieces if v.dim == 0 and _in_closure(v, p)]
            out.append(Interval(p, min(ends), max(ends)))
    return tuple(out)


def _interior_walls(pieces: Sequence[Piece], domain: Domain, dim: int) -> list[Piece]:
    """The pieces of dimension dim − 1 not lying on the box's boundary."""
    return [p for p in pieces if p.dim == dim - 1
            and all(g(p.witness) != 0 for g in domain.inequalities)]


def box_bounds(domain: Domain) -> Bounds | None:
    """The intervals (lo, hi) of a box domain, or None for any other domain."""
    lows: dict[int, Fraction] = {}
    highs: dict[int, Fraction] = {}
    for g in domain.inequalities:
        used = [i for i, a in enumerate(g.coeffs) if a]
        if len(used) != 1:
            return None
        i = used[0]
        bound = -g.const / g.coeffs[i]
        if g.coeffs[i] > 0:
            lows[i] = max(lows.get(i, bound), bound)
        else:
            highs[i] = min(highs.get(i, bound), bound)
    if domain.equalities or len(lows) != domain.dim or len(highs) != domain.dim:
        return None
    return tuple((lows[i], highs[i]) for i in range(domain.dim))


def _bounds_of(given: Domain | Sequence[tuple[Fraction | int, Fraction | int]],
               dim: int) -> Bounds:
    if isinstance(given, Domain):
        bounds = box_bounds(given)
        if bounds is None:
            raise InputError(f"plot box: {given.description} is not a box")
        pairs = list(bounds)
    else:
        pairs = [(Fraction(lo), Fraction(hi)) for lo, hi in given]
    if len(pairs) != dim:
        raise InputError(f"plot box: gives {len(pairs)} intervals, the picture has {dim} axes")
    for i, (lo, hi) in enumerate(pairs):
        if not lo < hi:
            raise InputError(f"plot box: axis {i + 1} needs a lower bound below its upper bound")
    return tuple(pairs)


def default_bounds(net: Network, backend: str = "auto") -> Bounds:
    """A box around every vertex of ``net`` (1 or 2 inputs) and a point of every wall without
    one, with a margin, at integer bounds; [-1, 1] on each axis when there are no walls."""
    n = net.input_dim
    pieces = list(enumerate_pieces(net, everywhere(n), "everywhere", backend))
    spots = [p.witness for p in pieces if p.dim == 0]
    spots += [p.witness for p in pieces if p.dim == n - 1 and p.dim > 0
              and not any(v.dim == 0 and _in_closure(v, p) for v in pieces)]
    out = []
    for i in range(n):
        values = [w[i] for w in spots] or [Fraction(0)]
        lo, hi = min(values), max(values)
        margin = max(Fraction(1), (hi - lo) / 2)
        out.append((Fraction(floor(lo - margin)), Fraction(ceil(hi + margin))))
    return tuple(out)


@dataclass(frozen=True)
class Scene:
    """What a picture shows, exactly: the drawn network (the slice's, for n ≥ 3 inputs), its
    box, pieces and polygons, and the plane x = point + s·d1 + t·d2 if it is a slice."""

    net: Network
    input_dim: int
    bounds: Bounds
    domain: Domain
    pieces: tuple[Piece, ...]
    polygons: tuple[Polygon, ...]
    plane: tuple[Point, Point, Point] | None

    @property
    def axis_names(self) -> tuple[str, ...]:
        if self.plane is not None:
            return ("s", "t")
        return tuple(f"x{i + 1}" for i in range(len(self.bounds)))

    @property
    def counts(self) -> dict[int, int]:
        return counts_by_dim(self.pieces)

    def to_document(self) -> dict:
        dim = len(self.bounds)
        doc: dict = {"input_dim": self.input_dim, "axes": list(self.axis_names),
                     "box": [[format_number(lo), format_number(hi)] for lo, hi in self.bounds],
                     "counts_by_dim": {str(d): c for d, c in sorted(self.counts.items(),
                                                                    reverse=True)},
                     "regions": self.counts.get(dim, 0),
                     "walls": len(_interior_walls(self.pieces, self.domain, dim))}
        if self.plane is not None:
            doc["slice"] = {name: [format_number(v) for v in vec]
                            for name, vec in zip(("point", "d1", "d2"), self.plane)}
        return doc


def prepare(net: Network, box_bounds: Domain | Sequence[tuple[Fraction | int, Fraction | int]]
            | None = None, slice_point: Sequence[Fraction | int] | None = None,
            directions: Sequence[Sequence[Fraction | int]] | None = None,
            backend: str = "auto") -> Scene:
    """The exact content of the picture of ``net``; the box is in the plotted coordinates
    ((s, t) for a slice) and defaults to :func:`default_bounds`."""
    n = net.input_dim
    plane = None
    drawn = net
    if n >= 3 or slice_point is not None or directions is not None:
        if n < 2:
            raise InputError("a slice needs a network with at least 2 inputs")
        point = tuple(Fraction(v) for v in (slice_point or (0,) * n))
        dirs = directions or [[int(i == k) for i in range(n)] for k in range(2)]
        if len(dirs) != 2:
            raise InputError(f"a slice needs exactly 2 directions, got {len(dirs)}")
        d1, d2 = (tuple(Fraction(v) for v in d) for d in dirs)
        drawn = restrict_to_plane(net, point, d1, d2)
        plane = (point, d1, d2)
    dim = drawn.input_dim
    bounds = (_bounds_of(box_bounds, dim) if box_bounds is not None
              else default_bounds(drawn, backend))
    domain = box([lo for lo, _ in bounds], [hi for _, hi in bounds])
    pieces = tuple(enumerate_pieces(drawn, domain, "everywhere", backend))
    polygons = region_polygons(pieces) if dim == 2 else ()
    return Scene(drawn, n, bounds, domain, pieces, polygons, plane)


# -- drawing -----------------------------------------------------------------------------------

def _closure_points(piece: Piece, pieces: Sequence[Piece]) -> list[Point]:
    return [v.witness for v in pieces if v.dim == 0 and _in_closure(v, piece)]


def _title(scene: Scene, what: str) -> str:
    if scene.plane is None:
        return what
    point, d1, d2 = ("(" + ", ".join(format_number(v) for v in vec) + ")" for vec in scene.plane)
    text = f"{what}\nslice x = p + s·d1 + t·d2, p = {point}, d1 = {d1}, d2 = {d2}"
    return text if len(text) < 160 else f"{what}\nexact slice through p = {point}"


def _draw_graph(scene: Scene, ax: Any, line_collection: Any) -> None:
    """One input: each region's segment drawn with its own map, breakpoints marked."""
    outputs = scene.net.output_dim
    breakpoints = _interior_walls(scene.pieces, scene.domain, 1)
    for k in range(outputs):
        segments = []
        for interval in region_intervals(scene.pieces):
            f = interval.piece.maps[k]
            segments.append([(float(x), float(f((x,)))) for x in (interval.low, interval.high)])
        colour = f"C{k}"
        ax.add_collection(line_collection(segments, colors=colour, linewidths=1.8,
                                          label=f"y{k + 1}" if outputs > 1 else None))
        if breakpoints:
            ax.plot([float(p.witness[0]) for p in breakpoints],
                    [float(p.maps[k](p.witness)) for p in breakpoints], "o", color=colour,
                    markersize=4)
    for p in breakpoints:
        ax.axvline(float(p.witness[0]), color="0.8", linewidth=0.6, zorder=0)
    ax.autoscale_view()
    ax.set_xlim(*(float(v) for v in scene.bounds[0]))
    ax.set_xlabel(scene.axis_names[0])
    ax.set_ylabel("y" if outputs == 1 else "outputs")
    if outputs > 1:
        ax.legend(frameon=False)
    ax.set_title(_title(scene, f"{len(breakpoints)} breakpoints (marked), "
                               f"{scene.counts.get(1, 0)} linear stretches"))


def _output_image(scene: Scene, output: int, matplotlib: Any, size: int = 400) -> Any:
    """Output ``output`` on a size × size pixel grid (NaN on walls), each pixel computed from
    the exact map of the region whose polygon contains it, rounded to float for drawing."""
    import numpy as np

    (x0, x1), (y0, y1) = ((float(lo), float(hi)) for lo, hi in scene.bounds)
    xs = x0 + (np.arange(size) + 0.5) * (x1 - x0) / size
    ys = y0 + (np.arange(size) + 0.5) * (y1 - y0) / size
    gx, gy = np.meshgrid(xs, ys)
    points = np.column_stack([gx.ravel(), gy.ravel()])
    image = np.full(size * size, np.nan)
    for poly in scene.polygons:
        outline = matplotlib.path.Path([(float(x), float(y)) for x, y in poly.vertices])
        inside = outline.contains_points(points)
        f = poly.piece.maps[output - 1]
        a, b, c = (float(v) for v in (*f.coeffs, f.const))
        image[inside] = a * points[inside, 0] + b * points[inside, 1] + c
    return image.reshape(size, size)


def _draw_regions(scene: Scene, fig: Any, ax: Any, modules: Any, show_output: bool,
                  output: int) -> None:
    matplotlib, _, _, polygon_patch, line_collection = modules
    if show_output and not 1 <= output <= scene.net.output_dim:
        raise InputError(f"--output {output}: the network has {scene.net.output_dim} outputs")
    palette = matplotlib.colormaps["tab20"]
    colours = [palette(k % 20) for k in range(len(scene.polygons))]
    if show_output:
        image = _output_image(scene, output, matplotlib)
        (x0, x1), (y0, y1) = ((float(lo), float(hi)) for lo, hi in scene.bounds)
        shown = ax.imshow(image, origin="lower", extent=(x0, x1, y0, y1), cmap="viridis",
                          interpolation="nearest", aspect="auto", zorder=2)
        levels = ax.contour(image, levels=8, origin="lower", extent=(x0, x1, y0, y1),
                            colors="white", linewidths=0.5, alpha=0.7, zorder=2.5)
        ax.clabel(levels, fontsize=6, fmt="%.3g")
        fig.colorbar(shown, ax=ax, label=f"y{output}")
        # Pixels on a wall stay empty; the patch beneath shows its region's centre colour.
        colours = [shown.cmap(shown.norm(float(poly.piece.maps[output - 1](poly.centroid))))
                   for poly in scene.polygons]
    for poly, colour in zip(scene.polygons, colours):
        ax.add_patch(polygon_patch([(float(x), float(y)) for x, y in poly.vertices],
                                   closed=True, fill=True, facecolor=colour, edgecolor="none",
                                   alpha=1.0 if show_output else 0.55, zorder=1))
    walls = []
    for piece in _interior_walls(scene.pieces, scene.domain, 2):
        ends = _closure_points(piece, scene.pieces)
        if len(ends) >= 2:
            walls.append([(float(x), float(y)) for x, y in (min(ends), max(ends))])
    ax.add_collection(line_collection(walls, colors="black", linewidths=0.9, zorder=3))
    if len(scene.polygons) <= _MAX_LABELS:
        for k, poly in enumerate(scene.polygons):
            cx, cy = poly.centroid
            ax.text(float(cx), float(cy), str(k + 1), ha="center", va="center", fontsize=7,
                    zorder=4, color="black" if not show_output else "white")
    (x0, x1), (y0, y1) = ((float(lo), float(hi)) for lo, hi in scene.bounds)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ratio = (y1 - y0) / (x1 - x0)
    ax.set_aspect("equal" if 1 / 4 <= ratio <= 4 else "auto")
    ax.set_xlabel(scene.axis_names[0])
    ax.set_ylabel(scene.axis_names[1])
    what = f"{len(scene.polygons)} activation regions (numbered), walls in black"
    if show_output:
        what += f"; colour: output y{output}"
    ax.set_title(_title(scene, what), fontsize=9)


def draw(scene: Scene, path: str | Path | None = None, show_output: bool = False,
         output: int = 1) -> Any:
    """The matplotlib Figure of a :class:`Scene`, saved to ``path`` when given (the format
    follows the suffix: .png, .svg, .pdf, ...)."""
    modules = _matplotlib()
    _, figure, canvas, _, line_collection = modules
    fig = figure(figsize=(6.4, 5.6) if len(scene.bounds) == 2 else (6.4, 4.2))
    canvas(fig)
    ax = fig.add_subplot()
    if len(scene.bounds) == 1:
        _draw_graph(scene, ax, line_collection)
    else:
        _draw_regions(scene, fig, ax, modules, show_output, output)
    if path is not None:
        try:
            fig.savefig(path, dpi=150, bbox_inches="tight")
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot write the picture: {exc}") from None
    return fig


def plot_regions(net: Network, path: str | Path | None,
                 box: Domain | Sequence[tuple[Fraction | int, Fraction | int]] | None = None,
                 show_output: bool = False, slice_point: Sequence[Fraction | int] | None = None,
                 directions: Sequence[Sequence[Fraction | int]] | None = None,
                 output: int = 1, backend: str = "auto") -> Any:
    """Draw the regions of ``net`` (2 inputs), its graph (1 input) or an exact 2-D slice
    (3 or more inputs, or whenever a slice point or directions are given), save the picture
    to ``path`` and return the matplotlib Figure. ``box`` is in the plotted coordinates."""
    return draw(prepare(net, box, slice_point, directions, backend), path, show_output, output)


def plot(net: Network, path: str | Path,
         box: Domain | Sequence[tuple[Fraction | int, Fraction | int]] | None = None,
         show_output: bool = False, slice_point: Sequence[Fraction | int] | None = None,
         directions: Sequence[Sequence[Fraction | int]] | None = None,
         output: int = 1, backend: str = "auto") -> dict:
    """:func:`plot_regions` for the command line: the picture's content as plain data."""
    scene = prepare(net, box, slice_point, directions, backend)
    draw(scene, path, show_output, output)
    doc = scene.to_document()
    doc["path"] = str(path)
    return doc


def format_plot(doc: dict) -> str:
    """The line a person reads for a document made by :func:`plot`."""
    box_text = " × ".join(f"[{lo}, {hi}]" for lo, hi in doc["box"])
    what = (f"graph with {doc['walls']} breakpoints" if len(doc["axes"]) == 1
            else f"{doc['regions']} regions, {doc['walls']} wall segments")
    where = ""
    if "slice" in doc:
        s = doc["slice"]
        where = (f" on the slice x = ({', '.join(s['point'])}) + s·({', '.join(s['d1'])}) "
                 f"+ t·({', '.join(s['d2'])})")
    return f"wrote {doc['path']}: {what} in {box_text}{where}"

