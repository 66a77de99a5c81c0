"""A one-page report on a network: summary, pieces, shallow rewrite, picture, local models.

:func:`write_report` writes HTML (the picture embedded as a base64 PNG) or Markdown (the
picture saved as a PNG next to it). Every number in it is exact; region sizes are exact areas
(2 inputs) or lengths (1 input) inside the box, and for 3 or more inputs the picture and the
table are of the exact 2-D slice through the box's centre (or the origin) along x1 and x2.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from .affine import formula
from .construction import to_shallow
from .domain import Domain, everywhere
from .errors import InputError
from .local import local_view
from .merging import merge_regions
from .network import Network
from .numbers import format_number
from .piece import counts_by_dim
from .plotting import Scene, box_bounds, draw, prepare, region_intervals
from .regions import enumerate_pieces
from .search import SIGN_TEXT

# Rows of the local-model table.
TOP_REGIONS = 10


def _scene(net: Network, domain: Domain, backend: str) -> Scene:
    n = net.input_dim
    bounds = box_bounds(domain)
    if n <= 2:
        return prepare(net, bounds, backend=backend)
    if bounds is None:
        return prepare(net, backend=backend)
    centre = tuple((lo + hi) / 2 for lo, hi in bounds)
    plane_box = [(lo - c, hi - c) for (lo, hi), c in zip(bounds[:2], centre)]
    directions = [[int(i == k) for i in range(n)] for k in range(2)]
    return prepare(net, plane_box, centre, directions, backend)


def _largest(net: Network, scene: Scene) -> list[dict]:
    """The largest regions of the picture with their local models in the input coordinates."""
    rows = []
    if scene.polygons:
        sized = [(poly.area, poly.piece, poly.centroid) for poly in scene.polygons]
    else:
        sized = [(i.length, i.piece, ((i.low + i.high) / 2,))
                 for i in region_intervals(scene.pieces)]
    sized.sort(key=lambda item: -item[0])
    for size, piece, centre in sized[:TOP_REGIONS]:
        if scene.plane is None:
            maps, signs = piece.maps, piece.signs
        else:
            point, d1, d2 = scene.plane
            x = tuple(p + centre[0] * u + centre[1] * v for p, u, v in zip(point, d1, d2))
            view = local_view(net, x)
            maps = view.output
            signs = "".join(SIGN_TEXT[s] for layer in view.signs for s in layer)
        rows.append({"signs": signs, "size": format_number(size),
                     "size_float": f"{float(size):.4g}",
                     "map": [formula(f) for f in maps]})
    return rows


def _shallow(net: Network, domain: Domain, backend: str) -> dict:
    result = to_shallow(net, domain=domain, backend=backend)
    return {"widths": list(result.network.widths),
            "parameters": result.network.parameter_count,
            "unpruned_widths": list(result.unpruned_widths), "terms": result.terms,
            "verdict": result.verdict.verdict if result.verdict is not None else "not checked"}


def report_data(net: Network, box: Domain | None = None, backend: str = "auto",
                shallow: bool = True) -> tuple[dict, Scene]:
    """Everything the report shows, as plain data, and the scene of its picture; without
    ``shallow`` the (often slowest) construction and proof of the shallow network is left out
    and "shallow" is None."""
    domain = box if box is not None else everywhere(net.input_dim)
    pieces = list(enumerate_pieces(net, domain, "everywhere", backend))
    merged = merge_regions(pieces, domain)
    scene = _scene(net, domain, backend)
    data = {
        "summary": {"kind": net.kind, "input_dim": net.input_dim,
                    "output_dim": net.output_dim, "widths": list(net.widths),
                    "parameters": net.parameter_count,
                    "max_denominator": net.max_denominator},
        "domain": domain.description,
        "counts_by_dim": {str(d): c for d, c in sorted(counts_by_dim(pieces).items(),
                                                       reverse=True)},
        "activation_regions": len(merged.regions),
        "linear_pieces": len(merged.linear_pieces),
        "shallow": _shallow(net, domain, backend) if shallow else None,
        "picture": scene.to_document(),
        "largest_regions": _largest(net, scene),
    }
    return data, scene


def _png(scene: Scene) -> bytes:
    buffer = io.BytesIO()
    fig = draw(scene, None, show_output=len(scene.bounds) == 2)
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return buffer.getvalue()


def _picture_caption(data: dict) -> str:
    picture = data["picture"]
    box_text = " × ".join(f"[{lo}, {hi}]" for lo, hi in picture["box"])
    if "slice" in picture:
        s = picture["slice"]
        return (f"Exact slice x = ({', '.join(s['point'])}) + s·({', '.join(s['d1'])}) "
                f"+ t·({', '.join(s['d2'])}), (s, t) in {box_text}: "
                f"{picture['regions']} regions.")
    if len(picture["axes"]) == 1:
        return f"The function on {box_text} with its {picture['walls']} breakpoints."
    return f"{picture['regions']} activation regions in {box_text}, coloured by the output."


def _size_name(data: dict) -> str:
    return "length" if len(data["picture"]["axes"]) == 1 else "area"


def _shallow_text(sh: dict | None, strong: str) -> str:
    if sh is None:
        return "Not built for this report."
    return (f"Three-layer extended-real network of widths {' → '.join(map(str, sh['widths']))} "
            f"({sh['parameters']} parameters, {sh['terms']} terms; before pruning "
            f"{' → '.join(map(str, sh['unpruned_widths']))}); equality with the network: "
            f"{strong}{sh['verdict']}{strong}.")


def _markdown(data: dict, title: str, image: str) -> str:
    s, sh = data["summary"], data["shallow"]
    lines = [f"# {title}", "",
             f"- kind: {s['kind']}, widths {' → '.join(map(str, s['widths']))}, "
             f"{s['parameters']} parameters, largest denominator {s['max_denominator']}",
             f"- domain: {data['domain']}",
             f"- {data['activation_regions']} activation regions forming "
             f"{data['linear_pieces']} linear pieces", "",
             "## Pieces by dimension", "", "| dimension | pieces |", "|---:|---:|"]
    lines += [f"| {d} | {c} |" for d, c in data["counts_by_dim"].items()]
    lines += ["", "## Shallow network", "", _shallow_text(sh, "**"), "", "## Regions", "",
              f"![regions]({image})", "", _picture_caption(data), "",
              f"## Largest regions ({_size_name(data)} in the picture)", "",
              f"| # | signs | {_size_name(data)} | local model |", "|---:|---|---:|---|"]
    for k, row in enumerate(data["largest_regions"]):
        lines.append(f"| {k + 1} | `{row['signs']}` | {row['size']} (≈ {row['size_float']}) | "
                     + "; ".join(f"y{j + 1} = {m}" for j, m in enumerate(row["map"])) + " |")
    return "\n".join(lines) + "\n"


def _html(data: dict, title: str, png: bytes) -> str:
    e = html.escape
    s, sh = data["summary"], data["shallow"]
    counts = "".join(f"<tr><td>{d}</td><td>{c}</td></tr>"
                     for d, c in data["counts_by_dim"].items())
    table = "".join(
        f"<tr><td>{k + 1}</td><td><code>{e(row['signs'])}</code></td>"
        f"<td>{e(row['size'])} (≈ {e(row['size_float'])})</td><td>"
        + "<br>".join(f"y{j + 1} = {e(m)}" for j, m in enumerate(row["map"]))
        + "</td></tr>" for k, row in enumerate(data["largest_regions"]))
    image = base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.4; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; }}
td {{ vertical-align: top; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>{e(title)}</h1>
<ul>
<li>kind: {e(s['kind'])}, widths {' → '.join(map(str, s['widths']))}, {s['parameters']}
parameters, largest denominator {s['max_denominator']}</li>
<li>domain: {e(data['domain'])}</li>
<li>{data['activation_regions']} activation regions forming {data['linear_pieces']} linear
pieces</li>
</ul>
<h2>Pieces by dimension</h2>
<table><tr><th>dimension</th><th>pieces</th></tr>{counts}</table>
<h2>Shallow network</h2>
<p>{e(_shallow_text(sh, ""))}</p>
<h2>Regions</h2>
<p><img alt="regions" src="data:image/png;base64,{image}"></p>
<p>{e(_picture_caption(data))}</p>
<h2>Largest regions ({_size_name(data)} in the picture)</h2>
<table><tr><th>#</th><th>signs</th><th>{_size_name(data)}</th><th>local model</th></tr>
{table}</table>
</body></html>
"""


def write_report(net: Network, path: str | Path, box: Domain | None = None,
                 backend: str = "auto", title: str | None = None,
                 shallow: bool = True) -> dict:
    """Write the report to ``path`` (.html / .htm or .md) and return its content as plain
    data, with "path" and "picture_path" (None when the picture is embedded). ``title`` heads
    it (the command line passes the network file's name); by default "<kind> network", never
    the name of the file written."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".html", ".htm", ".md"):
        raise InputError(f"{path}: the report must be .html, .htm or .md")
    data, scene = report_data(net, box, backend, shallow)
    png = _png(scene)
    heading = title or f"{net.kind} network"
    picture_path = None
    try:
        if suffix == ".md":
            picture_path = target.with_name(f"{target.stem}.png")
            picture_path.write_bytes(png)
            target.write_text(_markdown(data, heading, picture_path.name))
        else:
            target.write_text(_html(data, heading, png))
    except OSError as exc:
        raise InputError(f"{path}: cannot write the report: {exc.strerror}") from None
    data["path"] = str(target)
    data["picture_path"] = None if picture_path is None else str(picture_path)
    return data


def format_report(doc: dict) -> str:
    """The lines a person reads for a document made by :func:`write_report`."""
    picture = "" if doc["picture_path"] is None else f" (picture {doc['picture_path']})"
    sh = doc["shallow"]
    rewrite = "" if sh is None else (f", shallow network {' -> '.join(map(str, sh['widths']))} "
                                     f"{sh['verdict']}")
    return (f"wrote {doc['path']}{picture}: {doc['activation_regions']} activation regions, "
            f"{doc['linear_pieces']} linear pieces{rewrite}")

