"""Domains: boxes, the --box syntax, polytope files, membership on the boundary."""

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given

from deep2shallow_exact.affine import Affine
from deep2shallow_exact.domain import (
    box,
    domain_from_document,
    everywhere,
    load_polytope,
    parse_box,
)
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.strategies import points

F = Fraction


def test_everywhere_contains_every_point() -> None:
    domain = everywhere(3)
    assert domain.is_everything and domain.dim == 3
    assert domain.contains((F(10**9), F(-1, 7), F(0)))
    assert domain.description == "all of Q^3"


@given(points(2))
def test_box_membership_is_the_interval_test(x: tuple[Fraction, ...]) -> None:
    domain = box([F(-1), F(0)], [F(2), F(1, 2)])
    assert domain.contains(x) == (-1 <= x[0] <= 2 and 0 <= x[1] <= F(1, 2))


@pytest.mark.parametrize(("x", "inside"), [
    ((F(-1), F(0)), True),             # a corner
    ((F(2), F(1, 2)), True),           # the opposite corner
    ((F(1, 3), F(1, 2)), True),        # on a facet
    ((F(2), F(1, 4)), True),
    ((F(201, 100), F(1, 4)), False),   # just outside
    ((F(0), F(-1, 10**9)), False),
])
def test_box_is_closed(x: tuple[Fraction, ...], inside: bool) -> None:
    assert box([F(-1), F(0)], [F(2), F(1, 2)]).contains(x) is inside


def test_box_constraints_are_the_facets() -> None:
    domain = box([F(-1)], [F(3, 2)])
    assert not domain.is_everything
    assert domain.inequalities == (Affine.of([1], 1), Affine.of([-1], F(3, 2)))
    assert domain.equalities == ()
    assert domain.to_document() == {"dim": 1, "inequalities": [["1", "1"], ["-1", "3/2"]],
                                    "equalities": []}


def test_degenerate_box_is_allowed() -> None:
    domain = box([F(1)], [F(1)])
    assert domain.contains((F(1),)) and not domain.contains((F(1, 2),))


def test_box_with_crossed_bounds() -> None:
    with pytest.raises(InputError, match="box: coordinate 2 has lower bound 3 above upper 1"):
        box([F(0), F(3)], [F(1), F(1)])


def test_parse_box_per_coordinate() -> None:
    domain = parse_box("0:1, -1/2:0.5", 2)
    assert domain == box([F(0), F(-1, 2)], [F(1), F(1, 2)])
    assert domain.description == "box [0, 1] × [-1/2, 1/2]"


def test_parse_box_single_interval_for_every_input() -> None:
    assert parse_box("-1:1", 3) == box([F(-1)] * 3, [F(1)] * 3)


@pytest.mark.parametrize(("text", "n", "message"), [
    ("0:1,0:1", 3, "--box: gives 2 intervals, the network takes 3 inputs"),
    ("", 1, "--box: gives 0 intervals, the network takes 1 inputs"),
    ("0:1,0-1", 2, "--box: interval 2 '0-1' is not of the form lo:hi"),
    ("0:1:2", 1, "--box: interval 1 '0:1:2' is not of the form lo:hi"),
    ("a:1", 1, "--box interval 1 lower bound: 'a' is not a rational number"),
    ("0:1,0:inf", 2, "--box interval 2 upper bound: infinite entry"),
    ("2:1", 1, "box: coordinate 1 has lower bound 2 above upper 1"),
])
def test_parse_box_errors(text: str, n: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_box(text, n)


def write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "domain.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


TRIANGLE = {
    "format": "deep2shallow-exact/polytope", "version": 1,
    # x ≥ 0, y ≥ 0, x + y ≤ 1, written as a·x ≤ b.
    "inequalities": [{"a": [-1, 0], "b": 0}, {"a": [0, -1], "b": 0}, {"a": [1, 1], "b": 1}],
}


def test_polytope_triangle(tmp_path: Path) -> None:
    domain = load_polytope(write(tmp_path, TRIANGLE), 2)
    assert domain.dim == 2
    assert domain.contains((F(0), F(0)))             # a vertex
    assert domain.contains((F(1, 3), F(2, 3)))       # on the slanted facet
    assert domain.contains((F(1, 4), F(1, 4)))
    assert not domain.contains((F(1, 2), F(501, 1000)))
    assert not domain.contains((F(-1, 100), F(1, 2)))


def test_polytope_equalities_and_exact_decimals(tmp_path: Path) -> None:
    # The line x = 0.1 inside the strip 0 ≤ y ≤ 1; 0.1 in the file means 1/10 exactly.
    doc = {"format": "deep2shallow-exact/polytope", "version": 1,
           "inequalities": [{"a": [0, 1], "b": 1}, {"a": [0, "-1"], "b": "0"}]}
    text = json.dumps(doc)[:-1] + ', "equalities": [{"a": [1, 0], "b": 0.1}]}'
    domain = load_polytope(write(tmp_path, text), 2)
    assert domain.equalities == (Affine.of([-1, 0], F(1, 10)),)
    assert domain.contains((F(1, 10), F(1)))
    assert not domain.contains((F(1, 10) + F(1, 10**20), F(1, 2)))


@pytest.mark.parametrize(("doc", "message"), [
    ("{not json", "malformed JSON"),
    ({"format": "something-else", "version": 1}, "format: expected 'deep2shallow-exact/polytope'"),
    ([1, 2], "format: expected"),
    ({"format": "deep2shallow-exact/polytope", "version": 2}, "version: expected 1, found 2"),
    ({"format": "deep2shallow-exact/polytope", "version": 1, "inequalities": {}},
     "inequalities: expected a list"),
    ({"format": "deep2shallow-exact/polytope", "version": 1, "inequalities": [[1, 2]]},
     r"inequalities\[0\]: expected"),
    ({"format": "deep2shallow-exact/polytope", "version": 1,
      "equalities": [{"a": [1, 0], "b": 0}, {"a": [1], "b": 0}]},
     r"equalities\[1\]\.a has 1 entries, the network takes 2 inputs"),
    ({"format": "deep2shallow-exact/polytope", "version": 1,
      "inequalities": [{"a": [1, "x"], "b": 0}]}, r"inequalities\[0\]\.a\[1\]: 'x'"),
    ({"format": "deep2shallow-exact/polytope", "version": 1,
      "inequalities": [{"a": [1, 0]}]}, r"inequalities\[0\]\.b: None is not a number"),
    ({"format": "deep2shallow-exact/polytope", "version": 1,
      "inequalities": [{"a": [1, 0], "b": "inf"}]}, r"inequalities\[0\]\.b: infinite entry"),
])
def test_polytope_errors_name_the_file_and_field(tmp_path: Path, doc: object,
                                                 message: str) -> None:
    path = write(tmp_path, doc)
    with pytest.raises(InputError, match=message) as info:
        load_polytope(path, 2)
    assert str(info.value).startswith(f"{path}: ")


def test_polytope_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_polytope(tmp_path / "absent.json", 2)


def test_polytope_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_polytope(tmp_path, 2)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="cannot read"):
        load_polytope(binary, 2)


def test_document_round_trip(tmp_path: Path) -> None:
    for domain in (everywhere(2), box([F(-1), F(0)], [F(2), F(1, 3)]),
                   load_polytope(write(tmp_path, TRIANGLE), 2)):
        back = domain_from_document(domain.to_document(), "checkpoint")
        assert (back.dim, back.inequalities, back.equalities) == (
            domain.dim, domain.inequalities, domain.equalities)
    assert domain_from_document(everywhere(2).to_document(), "c").is_everything


@pytest.mark.parametrize(("doc", "message"), [
    ([], "checkpoint: domain: expected"),
    ({"dim": "2"}, "checkpoint: domain: expected"),
    ({"dim": 2, "inequalities": [["1", "0"]]}, r"domain\.inequalities: expected rows of 3"),
    ({"dim": 1, "equalities": [["1", "x"]]}, r"domain\.equalities\[0\]: 'x'"),
])
def test_document_errors(doc: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        domain_from_document(doc, "checkpoint")
