"""Piece enumeration on several processes gives exactly the pieces of the sequential search.

Ground truth: the sequential enumeration (itself checked against closed-form counts in
test_regions.py), the Euler relation, and every witness re-checked by a plain forward pass.
Workers are forced on from the first node (``sequential_seconds=0``) and made to hand back their
open nodes after every leaf (``BATCH_SECONDS = 0``), so that the re-queueing is exercised.
"""

from __future__ import annotations

import os
import random
from fractions import Fraction

import pytest

import deep2shallow_exact.parallel as parallel
from deep2shallow_exact.domain import box, everywhere
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.formats import network_to_document
from deep2shallow_exact.network import ReluNetwork
from deep2shallow_exact.regions import PieceEnumeration, counts_by_dim

F = Fraction


def random_net(widths: list[int], seed: str) -> ReluNetwork:
    rng = random.Random(seed)
    return ReluNetwork.from_lists([
        ([[F(rng.randint(-6, 6), 3) for _ in range(a)] for _ in range(b)],
         [F(rng.randint(-6, 6), 3) for _ in range(b)]) for a, b in zip(widths, widths[1:])])


def key(pieces):
    return sorted((p.dim, p.signs, p.witness) for p in pieces)


@pytest.fixture(autouse=True)
def tiny_batches(monkeypatch):
    monkeypatch.setattr(parallel, "BATCH_SECONDS", 0.0)
    monkeypatch.setattr(parallel, "BATCH_NODES", 2)


@pytest.mark.parametrize("scope", ["everywhere", "open"])
def test_workers_find_exactly_the_sequential_pieces(scope):
    net = random_net([2, 5, 4, 1], "parallel/1")
    sequential = list(PieceEnumeration(net, scope=scope))
    run = PieceEnumeration(net, scope=scope, workers=2, sequential_seconds=0)
    pieces = list(run)
    assert run.complete and key(pieces) == key(sequential) and key(run.found) == key(pieces)
    for p in pieces:
        assert tuple(m(p.witness) for m in p.maps) == evaluate(net, p.witness)
    if scope == "everywhere":
        assert sum((-1) ** p.dim for p in pieces) == 1  # Euler on R^2
    assert run.stats.lp_calls > 0 and run.stats.leaves == len(pieces)


def test_stop_checkpoint_and_resume_with_workers_loses_nothing():
    net = random_net([2, 5, 4, 1], "parallel/2")
    square = box([F(-2), F(-2)], [F(2), F(2)])
    whole = key(PieceEnumeration(net, square))
    run = PieceEnumeration(net, square, workers=2, sequential_seconds=0)
    iterator = iter(run)
    for _ in range(5):
        next(iterator)
    # A checkpoint taken while workers are busy (the CLI saves one every 30 s) ...
    busy = run.checkpoint(network_to_document(net))
    assert not busy["complete"] and busy["open"]
    iterator.close()  # ... and one after stopping, as after --max-pieces or Ctrl-C.
    stopped = run.checkpoint(network_to_document(net))
    assert not run.complete and not stopped["complete"]
    for doc in (busy, stopped):
        again = PieceEnumeration(net, square, workers=2, sequential_seconds=0)
        again.restore(doc, "checkpoint")
        list(again)
        assert again.complete and key(again.found) == whole
    assert counts_by_dim(PieceEnumeration(net, square)) == counts_by_dim(again.found)


def test_an_error_in_a_worker_reaches_the_caller():
    # The output +∞·ReLU(x) is infinite on the whole piece x > 0; pieces need finite maps, so
    # the worker that meets that piece raises, and the caller sees the error.
    net = ReluNetwork.from_lists([([[1], [-1]], [0, 0]), ([["inf", 0]], [0])])
    with pytest.raises(InputError, match="infinite on a whole piece"):
        list(PieceEnumeration(net, everywhere(1), workers=2, sequential_seconds=0))


def test_workers_must_be_a_positive_integer():
    net = random_net([1, 2, 1], "parallel/3")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="workers"):
            PieceEnumeration(net, workers=bad)


def _die(batch):
    os._exit(3)


def test_a_dying_worker_is_an_error_not_a_hang(monkeypatch):
    monkeypatch.setattr(parallel, "_explore", _die)
    net = random_net([2, 4, 1], "parallel/4")
    run = PieceEnumeration(net, workers=2, sequential_seconds=0)
    with pytest.raises(InputError, match="worker process died"):
        list(run)
    assert not run.complete and run.search.stack  # the nodes are back for a checkpoint


def test_fork_map_is_the_map_whatever_the_workers(monkeypatch):
    monkeypatch.setattr(parallel, "FORK_MAP_ITEMS", 1)
    data = [F(k, 7) for k in range(101)]  # read by the children, not sent to them
    for workers in (1, 2, 3):
        assert parallel.fork_map(lambda k: data[k] ** 2, len(data), workers) == \
            [v ** 2 for v in data]
    assert parallel.fork_map(lambda k: k, 0, 2) == []


def test_a_tree_recorded_by_workers_is_one_valid_certificate(monkeypatch):
    # Workers number their nodes locally; grafted back, the tree must be one tree the kernel
    # accepts as the proof of the construction, with every piece at its own leaf (its λ
    # computed on forked processes too).
    monkeypatch.setattr(parallel, "FORK_MAP_ITEMS", 1)
    from deep2shallow_exact import kernel
    from deep2shallow_exact.construction import (
        Term,
        build_network,
        distinct,
        pieces_above,
        prove_pieces,
        terms_faces,
    )
    net = random_net([2, 5, 4, 1], "parallel/4")
    run = PieceEnumeration(net, workers=2, sequential_seconds=0, record_tree=True)
    pieces = list(run)
    assert key(pieces) == key(PieceEnumeration(net))
    assert sorted(run.leaf_of) == sorted(set(run.leaf_of))
    domain = everywhere(2)
    above = pieces_above(run.found, domain)
    terms = [Term(t.piece, distinct(t.closure), t.h)
             for t in terms_faces(run.found, domain, True, above)
             if any(not h.is_zero for h in t.h)]
    shallow, gadgets = build_network(terms, 2, 1)
    result = prove_pieces(net, shallow, terms, gadgets, run, above, workers=2)
    assert result is not None and result.pieces_checked == len(pieces)
    verdict = kernel.verify(result.certificate,
                            (network_to_document(net), network_to_document(shallow)))
    assert verdict.valid and verdict.pieces == len(pieces)


def test_the_kernel_on_several_processes_says_what_it_says_on_one(monkeypatch):
    from deep2shallow_exact import kernel
    from deep2shallow_exact.checker import check
    net = random_net([2, 5, 4, 1], "parallel/5")
    other = random_net([2, 5, 4, 1], "parallel/5")
    certificate = check(net, other, scope="everywhere").certificate
    monkeypatch.setattr(kernel, "_PARALLEL_NODES", 10)
    one, two = kernel.verify(certificate), kernel.verify(certificate, workers=2)
    assert one.valid and two == one
    # Progress counts every node once, up to the size of the tree, on two processes.
    reports: list[tuple[int, int]] = []
    assert kernel.verify(certificate, workers=2, progress=lambda *r: reports.append(r)) == one
    size = len(certificate["tree"])
    assert len(reports) > 1 and reports[-1] == (size, size)
    assert all(a[0] < b[0] for a, b in zip(reports, reports[1:]))
    # A node made the child of two splits far apart, and the node it replaced left
    # unreachable: refused with either count (the merge of the workers' reached nodes).
    tree = certificate["tree"]
    splits = [i for i, node in enumerate(tree) if "split" in node]
    first, last = splits[1], splits[-1]
    shared = next(iter(tree[last]["children"].values()))
    side = next(iter(tree[first]["children"]))
    tree[first] = {**tree[first], "children": {**tree[first]["children"], side: shared}}
    for workers in (1, 2):
        assert not kernel.verify(certificate, workers=workers).valid
    tree.append({"piece": {"witness": ["0", "0"], "lambda": [[]]}})  # reached by no split
    certificate = check(net, other, scope="everywhere").certificate
    certificate["tree"].append({"empty": []})
    for workers in (1, 2):
        verdict = kernel.verify(certificate, workers=workers)
        assert not verdict.valid and "unreachable" in verdict.reason


def _reparametrised(widths: list[int], seed: str) -> tuple[list, list]:
    """The layers of random_net(widths, seed) as lists, and those of the same function with
    every hidden layer's neurons permuted and scaled by positive rationals (ReLU(c·z) =
    c·ReLU(z) for c > 0, undone by the next layer's columns)."""
    net = random_net(widths, seed)
    layers = [([list(r) for r in layer.weights], list(layer.bias)) for layer in net.layers]
    rng = random.Random(seed + "/reparametrise")
    changed = [([list(r) for r in w], list(b)) for w, b in layers]
    for k in range(len(changed) - 1):
        (w, b), (w_next, b_next) = changed[k], changed[k + 1]
        order = list(range(len(b)))
        rng.shuffle(order)
        scale = [F(rng.randint(1, 9), rng.randint(1, 9)) for _ in order]
        changed[k] = ([[scale[i] * v for v in w[order[i]]] for i in range(len(b))],
                      [scale[i] * b[order[i]] for i in range(len(b))])
        changed[k + 1] = ([[row[order[i]] / scale[i] for i in range(len(b))] for row in w_next],
                          b_next)
    return layers, changed


@pytest.mark.parametrize("scope", ["everywhere", "open"])
def test_check_on_several_processes_proves_what_it_proves_on_one(monkeypatch, scope):
    from deep2shallow_exact import checker, kernel
    monkeypatch.setattr(checker, "SEQUENTIAL_SECONDS", 0.0)
    layers, changed = _reparametrised([2, 5, 4, 1], "parallel/6")
    net, other = ReluNetwork.from_lists(layers), ReluNetwork.from_lists(changed)
    one = checker.check(net, other, scope=scope)
    two = checker.check(net, other, scope=scope, workers=2)
    assert one.proven and two.proven and two.pieces_checked == one.pieces_checked
    # The certificate the workers' trees were grafted into is about these two networks.
    verdict = kernel.verify(two.certificate,
                            (network_to_document(net), network_to_document(other)))
    assert verdict.valid and two.certificate["scope"] == scope
    assert two.certificate["domain"] == everywhere(2).to_document()


def test_check_on_several_processes_refutes_at_a_point_where_the_networks_differ(monkeypatch):
    from deep2shallow_exact import checker
    monkeypatch.setattr(checker, "SEQUENTIAL_SECONDS", 0.0)
    # One first-layer weight moved by 10^-6: the networks differ only where that neuron is
    # active — not on the first leaf the caller meets (the sequential search meets two equal
    # leaves first), so the counterexample is found by a worker.
    layers, changed = _reparametrised([2, 5, 4, 1], "parallel/7")
    changed[0][0][2][0] += F(1, 10**6)
    net, other = ReluNetwork.from_lists(layers), ReluNetwork.from_lists(changed)
    result = checker.check(net, other, workers=2)
    assert result.verdict == "REFUTED"
    point = result.counterexample
    assert evaluate(net, point) != evaluate(other, point)
