"""Pictures and reports: exact slices, one filled patch per region, exact areas, files written."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep2shallow_exact.domain import box
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.network import ReluNetwork
from deep2shallow_exact.plotting import (
    format_plot,
    plot,
    plot_regions,
    prepare,
    region_intervals,
    restrict_to_plane,
)
from deep2shallow_exact.regions import counts_by_dim, enumerate_pieces
from deep2shallow_exact.report import format_report, write_report
from deep2shallow_exact.strategies import gated_networks, points, rationals, relu_networks

pytest.importorskip("matplotlib")

F = Fraction
QUADRANTS = ReluNetwork.from_lists([([[1, 0], [0, 1]], [0, 0]), ([[1, 1]], [0])])
# 3 inputs, 4 hidden neurons.
THREE = ReluNetwork.from_lists([([[1, -1, 1], [1, 1, -2], [0, 1, 1], [-1, 0, 1]],
                                 [0, "1/2", -1, 0]), ([[1, -1, 2, 1]], [0])])
THREE_SLICE = restrict_to_plane(THREE, (0, 0, F(1, 2)), (1, 0, 0), (0, 1, 1))


def filled_patches(fig) -> int:
    (ax,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    return sum(1 for p in ax.patches if p.get_fill())


def test_quadrants_hand_worked(tmp_path: Path) -> None:
    scene = prepare(QUADRANTS, [(-1, 1), (-1, 1)])
    # Four unit squares; a positive shoelace area means the vertices run counter-clockwise.
    assert sorted((p.area, tuple(sorted(p.vertices))) for p in scene.polygons) == [
        (F(1), ((-1, -1), (-1, 0), (0, -1), (0, 0))),
        (F(1), ((-1, 0), (-1, 1), (0, 0), (0, 1))),
        (F(1), ((0, -1), (0, 0), (1, -1), (1, 0))),
        (F(1), ((0, 0), (0, 1), (1, 0), (1, 1))),
    ]
    fig = plot_regions(QUADRANTS, tmp_path / "q.png", box=[(-1, 1), (-1, 1)])
    assert filled_patches(fig) == 4
    assert (tmp_path / "q.png").stat().st_size > 0


def test_two_inputs_one_patch_per_region(tmp_path: Path) -> None:
    domain = box([F(-2), F(-3, 2)], [F(2), F(3)])
    for show_output in (False, True):
        fig = plot_regions(THREE_SLICE, tmp_path / "r.png", box=domain, show_output=show_output)
        regions = counts_by_dim(enumerate_pieces(THREE_SLICE, domain))[2]
        assert filled_patches(fig) == regions


def test_three_inputs_slice(tmp_path: Path) -> None:
    bounds = [(-1, 1), (-1, 1)]
    point, d1, d2 = (0, 0, F(1, 2)), (1, 0, 0), (0, 1, 1)
    fig = plot_regions(THREE, tmp_path / "s.svg", box=bounds, slice_point=point,
                       directions=[d1, d2], show_output=True)
    plane = restrict_to_plane(THREE, point, d1, d2)
    expected = counts_by_dim(enumerate_pieces(plane, box([F(-1)] * 2, [F(1)] * 2)))[2]
    assert filled_patches(fig) == expected
    assert (tmp_path / "s.svg").read_text().startswith("<?xml")
    doc = plot(THREE, tmp_path / "d.png", box=bounds)
    assert doc["regions"] == counts_by_dim(enumerate_pieces(
        restrict_to_plane(THREE, (0, 0, 0), (1, 0, 0), (0, 1, 0)),
        box([F(-1)] * 2, [F(1)] * 2)))[2]
    assert doc["slice"] == {"point": ["0", "0", "0"], "d1": ["1", "0", "0"],
                            "d2": ["0", "1", "0"]}
    assert "on the slice" in format_plot(doc)


def test_one_input_graph(tmp_path: Path) -> None:
    # The hat ReLU(x) − 2 ReLU(x − 1) + ReLU(x − 2): breakpoints 0, 1, 2.
    hat = ReluNetwork.from_lists([([[1], [1], [1]], [0, -1, -2]), ([[1, -2, 1]], [0])])
    doc = plot(hat, tmp_path / "hat.png", box=[(-1, 3)])
    assert (doc["walls"], doc["regions"]) == (3, 4)
    lengths = sorted(i.length for i in region_intervals(prepare(hat, [(-1, 3)]).pieces))
    assert lengths == [1, 1, 1, 1]
    fig = plot_regions(hat, None)
    ax = fig.axes[0]
    assert len(ax.lines[0].get_xdata()) == 3  # the marked breakpoints
    assert "breakpoints" in format_plot(doc)


def test_default_box_contains_every_vertex() -> None:
    scene = prepare(THREE_SLICE)
    vertices = [p.witness for p in enumerate_pieces(THREE_SLICE) if p.dim == 0]
    assert all(lo < v[i] < hi for v in vertices for i, (lo, hi) in enumerate(scene.bounds))


def test_bad_requests() -> None:
    with pytest.raises(InputError, match="independent"):
        restrict_to_plane(THREE, (0, 0, 0), (1, 2, 3), (2, 4, 6))
    with pytest.raises(InputError, match="intervals"):
        prepare(QUADRANTS, [(-1, 1)])
    with pytest.raises(InputError, match="lower bound"):
        prepare(QUADRANTS, [(1, 1), (0, 1)])
    with pytest.raises(InputError, match="2 directions"):
        prepare(THREE, directions=[(1, 0, 0)])
    with pytest.raises(InputError, match="outputs"):
        plot_regions(QUADRANTS, None, box=[(-1, 1), (-1, 1)], show_output=True, output=2)


def test_missing_matplotlib_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    scene = prepare(QUADRANTS, [(-1, 1), (-1, 1)])
    from deep2shallow_exact.plotting import draw

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(InputError, match=r"pip install 'deep2shallow-exact\[plot\]'"):
        draw(scene)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_restriction_to_a_plane_is_exact(data: st.DataObject) -> None:
    net = data.draw(st.one_of(relu_networks(input_dim=3),
                              gated_networks(kind=st.sampled_from(["dgn", "dlgn"]), input_dim=3,
                                             value_input=st.sampled_from(["x", "ones"]))))
    p, d1, d2 = data.draw(points(3)), data.draw(points(3)), data.draw(points(3))
    if all(d1[i] * d2[k] == d1[k] * d2[i] for i in range(3) for k in range(3)):
        return
    plane = restrict_to_plane(net, p, d1, d2)
    s, t = data.draw(rationals()), data.draw(rationals())
    x = [a + s * u + t * v for a, u, v in zip(p, d1, d2)]
    assert evaluate(plane, (s, t)) == evaluate(net, x)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(relu_networks(input_dim=2, hidden_widths=st.sampled_from([(3,), (2, 2)])))
def test_region_areas_tile_the_box(net: ReluNetwork) -> None:
    scene = prepare(net, [(-2, 2), (-1, 3)])
    assert sum(p.area for p in scene.polygons) == 16
    assert all(p.area > 0 for p in scene.polygons)
    assert len(scene.polygons) == counts_by_dim(scene.pieces)[2]


def test_report_html_and_markdown(tmp_path: Path) -> None:
    doc = write_report(QUADRANTS, tmp_path / "q.html", box([F(-1)] * 2, [F(1)] * 2))
    text = (tmp_path / "q.html").read_text()
    assert "data:image/png;base64," in text and "PROVEN" in text
    assert doc["shallow"]["verdict"] == "PROVEN" and doc["picture_path"] is None
    assert (doc["activation_regions"], doc["linear_pieces"]) == (4, 4)
    assert [row["size"] for row in doc["largest_regions"]] == ["1"] * 4
    md = write_report(QUADRANTS, tmp_path / "q.md", shallow=False)
    assert Path(md["picture_path"]).read_bytes().startswith(b"\x89PNG")
    assert "![regions](q.png)" in (tmp_path / "q.md").read_text()
    assert md["shallow"] is None and "wrote" in format_report(md)
    with pytest.raises(InputError, match=".html"):
        write_report(QUADRANTS, tmp_path / "q.txt")


def test_report_for_one_and_three_inputs(tmp_path: Path) -> None:
    hat = ReluNetwork.from_lists([([[1], [1], [1]], [0, -1, -2]), ([[1, -2, 1]], [0])])
    doc = write_report(hat, tmp_path / "hat.md", box([F(-1)], [F(3)]), shallow=False)
    assert [row["size"] for row in doc["largest_regions"]] == ["1"] * 4
    doc = write_report(THREE, tmp_path / "three.html", box([F(-1)] * 3, [F(1)] * 3),
                       shallow=False)
    # The table's maps are in the three original inputs.
    assert all("x3" in row["map"][0] or "x1" in row["map"][0]
               for row in doc["largest_regions"])
    assert sum(F(row["size"]) for row in doc["largest_regions"]) == 4
