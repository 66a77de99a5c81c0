"""Explanations at a point and merged linear pieces, against hand-worked and independent truth."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep2shallow_exact.domain import box
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.explain import (
    explain,
    format_explanation,
    local_explanation,
    regions_meeting,
)
from deep2shallow_exact.merging import format_merging, linear_pieces, merge_regions
from deep2shallow_exact.network import GatedNetwork, Layer, ReluNetwork
from deep2shallow_exact.numbers import POS_INF
from deep2shallow_exact.regions import enumerate_pieces
from deep2shallow_exact.strategies import points, points_on_vertices, points_on_walls, relu_networks

F = Fraction
SMALL = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# y = ReLU(x1) + ReLU(x2): four quadrants, walls on the axes.
QUADRANTS = ReluNetwork.from_lists([([[1, 0], [0, 1]], [0, 0]), ([[1, 1]], [0])])


def test_hand_worked_region() -> None:
    e = local_explanation(QUADRANTS, (1, 2))
    assert (e.dim, e.on_wall, e.signs) == (2, False, "++")
    assert e.output == (F(3),)
    assert [(f.coeffs, f.const) for f in e.maps] == [((F(1), F(1)), F(0))]
    assert e.contributions() == ((F(1), F(2)),)
    walls = {w.sources: w for w in e.walls}
    assert set(walls) == {("layer 1, neuron 1",), ("layer 1, neuron 2",)}
    x1_wall, x2_wall = walls[("layer 1, neuron 1",)], walls[("layer 1, neuron 2",)]
    # Distances to the axes: 1 (foot (0, 2)) and 2 (foot (1, 0)); both feet on the walls.
    assert (x1_wall.distance_squared, x1_wall.foot, x1_wall.foot_on_wall) == (1, (0, 2), True)
    assert (x2_wall.distance_squared, x2_wall.foot, x2_wall.foot_on_wall) == (4, (1, 0), True)
    assert e.nearest_wall is x1_wall
    # Across x1 = 0 the function is x2; across x2 = 0 it is x1.
    (left,) = x1_wall.neighbours
    (below,) = x2_wall.neighbours
    assert (left.signs, left.A, left.c) == ("-+", ((0, 1),), (0,))
    assert (below.signs, below.A, below.c) == ("+-", ((1, 0),), (0,))
    assert x1_wall.point[0] == 0 and x1_wall.point[1] > 0


def test_redundant_constraint_is_no_wall() -> None:
    # Neurons x, x + 1, x − 2 at x = 1: x + 1 > 0 follows from x > 0.
    net = ReluNetwork.from_lists([([[1], [1], [1]], [0, 1, -2]), ([[1, 1, 1]], [0])])
    e = local_explanation(net, (1,))
    assert e.signs == "++-"
    assert len(e.constraints) == 3
    assert sorted(w.sources for w in e.walls) == [("layer 1, neuron 1",),
                                                   ("layer 1, neuron 3",)]
    assert all(w.distance_squared == 1 and w.foot_on_wall for w in e.walls)
    assert e.nearest_wall is not None and e.nearest_wall.distance_squared == 1


def test_two_neurons_on_one_hyperplane_share_a_wall() -> None:
    net = ReluNetwork.from_lists([([[1, 0], [2, 0], [0, 1]], [0, 0, -5]),
                                  ([[1, 1, 1]], [0])])
    e = local_explanation(net, (1, 1))
    assert ("layer 1, neuron 1", "layer 1, neuron 2") in [w.sources for w in e.walls]


def test_distances_in_a_triangle() -> None:
    # Region x2 > 0, x1 − x2 > 0, 5 − x1 > 0: the triangle (0, 0), (5, 0), (5, 5).
    net = ReluNetwork.from_lists([([[0, 1], [1, -1], [-1, 0]], [0, 0, 5]),
                                  ([[1, 2, 3]], [0])])
    e = local_explanation(net, (F(9, 2), F(1)))
    distances = {w.sources[0]: (w.distance_squared, w.foot, w.foot_on_wall) for w in e.walls}
    assert distances == {
        "layer 1, neuron 1": (F(1), (F(9, 2), F(0)), True),
        # (7/2)² / 2, foot (9/2, 1) − 7/4 · (1, −1).
        "layer 1, neuron 2": (F(49, 8), (F(11, 4), F(11, 4)), True),
        "layer 1, neuron 3": (F(1, 4), (F(5), F(1)), True),
    }
    assert e.nearest_wall is not None and e.nearest_wall.sources == ("layer 1, neuron 3",)


def test_foot_outside_the_wall_is_reported_as_a_bound() -> None:
    # Region {0 < x2 < 1, x1 < 0, x1 + x2 > -10}: from (-1/2, 9/10) the foot on the line
    # x1 + x2 = -10 is (-57/10, -43/10), below the strip, so the wall itself is farther.
    net = ReluNetwork.from_lists([([[0, 1], [0, -1], [-1, 0], [1, 1]], [0, 1, 0, 10]),
                                  ([[1, 2, 3, 4]], [0])])
    e = local_explanation(net, (F(-1, 2), F(9, 10)))
    far = next(w for w in e.walls if w.sources == ("layer 1, neuron 4",))
    # g = x1 + x2 + 10 = 104/10 at x; |∇g|² = 2; distance² = (52/5)²/2 = 1352/25.
    assert far.distance_squared == F(1352, 25)
    assert far.foot == (F(-1, 2) - F(26, 5), F(9, 10) - F(26, 5))
    assert far.foot_on_wall is False
    text = format_explanation(explain(net, (F(-1, 2), F(9, 10))))
    assert "at least" in text
    assert e.nearest_wall is not None and e.nearest_wall.foot_on_wall


@pytest.mark.parametrize(("x", "piece_dim", "meeting"), [
    ((0, 1), 1, {"++": ((1, 1),), "-+": ((0, 1),)}),
    ((1, 0), 1, {"++": ((1, 1),), "+-": ((1, 0),)}),
    ((0, 0), 0, {"++": ((1, 1),), "+-": ((1, 0),), "-+": ((0, 1),), "--": ((0, 0),)}),
])
def test_point_on_a_wall_lists_every_region_meeting_there(x, piece_dim, meeting) -> None:
    e = local_explanation(QUADRANTS, x)
    assert e.on_wall and e.dim == piece_dim
    assert {r.signs: r.A for r in e.regions_meeting} == meeting
    assert e.nearest_wall is None
    assert "lies on a wall" in format_explanation(e.to_document())


def test_dead_neuron_counts_as_zero_in_every_region() -> None:
    # The layer-2 neuron ReLU(x1) − ReLU(x1) is the constant 0: its sign is 0 in both regions
    # meeting on x1 = 0, and it is no constraint of either.
    net = ReluNetwork.from_lists([([[1, 0], [1, 0]], [0, 0]), ([[1, -1]], [0]),
                                  ([[1]], [0])])
    meeting = regions_meeting(net, (0, 5))
    assert [r.signs for r in meeting] == ["++0", "--0"]
    e = local_explanation(net, (1, 0))
    assert e.signs == "++0" and all("layer 2" not in c.source for c in e.constraints)


def test_box_domain_walls_and_boundary_points() -> None:
    domain = box([F(-1), F(-1)], [F(1), F(1)])
    inside = local_explanation(QUADRANTS, (F(1, 2), F(9, 10)), domain)
    edge = next(w for w in inside.walls if w.sources == ("domain row 4",))
    assert edge.neighbours == () and edge.distance_squared == F(1, 100)
    assert inside.nearest_wall is edge
    boundary = local_explanation(QUADRANTS, (F(1, 2), F(1)), domain)
    assert boundary.on_wall and boundary.dim == 1
    assert [r.signs for r in boundary.regions_meeting] == ["++"]
    with pytest.raises(InputError, match="outside the domain"):
        local_explanation(QUADRANTS, (2, 0), domain)


def test_bad_input() -> None:
    with pytest.raises(InputError, match="coordinates"):
        explain(QUADRANTS, (1,))
    extended = ReluNetwork((Layer(((POS_INF,),), (F(0),)), Layer(((F(1),),), (F(0),))))
    with pytest.raises(InputError):
        explain(extended, (1,))


def test_gated_network() -> None:
    # DLGN with gates x1 > 0 and x2 > 0 on the all-ones input: y = G1 + 2 G2 (jumps).
    gating = (Layer.build([[1, 0], [0, 1]], [0, 0], "g"),)
    value = (Layer.build([[1, 0], [0, 1]], [0, 0], "v0"), Layer.build([[1, 2]], [0], "v1"))
    net = GatedNetwork("dlgn", gating, value, "ones")
    e = local_explanation(net, (1, -1))
    assert e.output == evaluate(net, (1, -1)) == (F(1),)
    assert sorted(w.sources for w in e.walls) == [("gate layer 1, neuron 1",),
                                                   ("gate layer 1, neuron 2",)]
    across = {w.sources[0]: w.neighbours[0].c for w in e.walls}
    assert across == {"gate layer 1, neuron 1": (F(0),), "gate layer 1, neuron 2": (F(3),)}


@SMALL
@given(st.data())
def test_random_region_explanations_are_consistent(data: st.DataObject) -> None:
    net = data.draw(relu_networks(input_dim=2, hidden_widths=st.sampled_from([(3,), (2, 2)])))
    x = data.draw(points(2))
    e = local_explanation(net, x)
    assert e.output == evaluate(net, x)
    for f, terms, y in zip(e.maps, e.contributions(), e.output):
        assert sum(terms) + f.const == y
    for wall in e.walls:
        assert wall.function(wall.point) == 0
        for region in wall.neighbours:
            assert region.signs != e.signs
            assert evaluate(net, region.witness) == tuple(f(region.witness)
                                                          for f in region.maps)
        if wall.foot is not None:
            assert wall.function(wall.foot) == 0
            assert wall.distance_squared == sum((a - b) ** 2 for a, b in zip(x, wall.foot))
    nearest = e.nearest_wall
    if nearest is not None:
        assert nearest.foot_on_wall


def closure_contains(piece, x) -> bool:
    return all(f(x) >= 0 for f in piece.strict) and all(g(x) == 0 for g in piece.equal)


@SMALL
@given(st.data())
def test_regions_meeting_agrees_with_the_enumeration(data: st.DataObject) -> None:
    net = data.draw(relu_networks(input_dim=2, hidden_widths=st.sampled_from([(3,), (2, 2)])))
    x = data.draw(st.one_of(points_on_walls(net), points_on_vertices(net)))
    expected = sorted(p.signs for p in enumerate_pieces(net) if p.dim == 2
                      and closure_contains(p, x))
    assert [r.signs for r in regions_meeting(net, x)] == expected


# -- merging -----------------------------------------------------------------------------------

def test_merging_hand_worked() -> None:
    # Neurons x1, −x1, x2; y = h1 − h2 + h3 = x1 + ReLU(x2): 4 activation regions, and the two
    # regions on either side of x1 = 0 carry one map: 2 linear pieces.
    net = ReluNetwork.from_lists([([[1, 0], [-1, 0], [0, 1]], [0, 0, 0]),
                                  ([[1, -1, 1]], [0])])
    doc = linear_pieces(net)
    assert (doc["activation_regions"], doc["linear_pieces"]) == (4, 2)
    assert sorted(sorted(p["regions"]) for p in doc["pieces"]) == [["+-+", "-++"],
                                                                   ["+--", "-+-"]]
    boxed = linear_pieces(net, box([F(-1), F(-1)], [F(1), F(1)]))
    assert (boxed["activation_regions"], boxed["linear_pieces"]) == (4, 2)
    assert "4 activation regions form 2 linear pieces" in format_merging(doc)


def test_same_map_touching_at_a_vertex_stays_apart() -> None:
    # y = ReLU(x1 + x2) − ReLU(x1) − ReLU(x2): 0 on the open quadrants x > 0 and x < 0, which
    # meet only at the origin; the second and fourth quadrants split along x1 + x2 = 0 into
    # maps x1, −x2 and x2, −x1. Six regions, six linear pieces.
    net = ReluNetwork.from_lists([([[1, 1], [1, 0], [0, 1]], [0, 0, 0]),
                                  ([[1, -1, -1]], [0])])
    merged = merge_regions(list(enumerate_pieces(net)))
    assert (len(merged.regions), len(merged.linear_pieces)) == (6, 6)


def test_merging_needs_the_walls() -> None:
    net = ReluNetwork.from_lists([([[1, 0], [-1, 0]], [0, 0]), ([[1, -1]], [0])])
    regions_only = list(enumerate_pieces(net, scope="open"))
    with pytest.raises(InputError, match="everywhere"):
        merge_regions(regions_only)
