"""Piece enumeration on several processes: subtrees of the search go to worker processes.

The search tree's open nodes are independent jobs (a node is its path and its witness), so
after a short sequential start the enumeration hands batches of them to a process pool. Each
worker explores its batch for a bounded time and sends back the pieces it found and the nodes
it left open, which go back in the queue: large subtrees get split up as they are met, so the
workers stay busy without knowing the tree's shape in advance. Nothing is shared but the
network and the domain; every worker's answers are exact, like the sequential search's.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, fields
from fractions import Fraction

from .affine import Affine
from .domain import Domain
from .errors import InputError
from .feasibility import Solver
from .network import Network
from .numbers import format_number
from .piece import Piece, piece_of_leaf
from .search import Leaf, PathRow, Search, SearchStats

# Per batch: how many open nodes a worker gets, and how long it runs before it sends back the
# nodes still open. Long enough to amortise the transfer, short enough to balance the load.
BATCH_NODES = 8
BATCH_SECONDS = 1.0

OpenNode = tuple[int, tuple[PathRow, ...], tuple[Fraction, ...]]
_Row = tuple[tuple[Fraction, ...], Fraction, str, bool]
_Plain = tuple[int, tuple[_Row, ...], tuple[Fraction, ...]]


def available_cpus() -> int:
    """The CPUs this process may run on (what a default worker count should be)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class _Job:
    net: Network
    domain: Domain
    scope: str
    backend: str
    record_tree: bool = False


_worker_search: Search | None = None


def _plain(node: OpenNode) -> _Plain:
    """An open node without the search's caches (facts, sibling links): small to send."""
    index, path, witness = node
    return index, tuple((r.function.coeffs, r.function.const, r.side, r.implied)
                        for r in path), witness


def _node(plain: _Plain) -> OpenNode:
    index, rows, witness = plain
    return index, tuple(PathRow(Affine(c, k), side, implied) for c, k, side, implied in rows), \
        witness


def _start_worker(job: _Job) -> None:
    # Ctrl-C reaches every process of the terminal; the parent decides what happens.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    global _worker_search
    _worker_search = Search([job.net], job.domain, job.scope, Solver(job.backend),
                            split_domain_walls=job.scope == "everywhere", sign_classes=True,
                            record_tree=job.record_tree)


_Explored = tuple[list[tuple[int, Piece]], list[_Plain], list[dict | None] | int,
                  dict[str, int]]


def _explore(batch: list[_Plain]) -> _Explored:
    """Explore ``batch`` for about BATCH_SECONDS. Node k of the batch is node k of a local
    tree here; returned: the pieces with their local leaf indices, the nodes left open, the
    local tree (or, when no tree is recorded, its size) and the stats."""
    search = _worker_search
    assert search is not None
    search.stats = SearchStats()
    search.resume([None] * len(batch), [(k, path, w) for k, (_, path, w)
                                        in enumerate(map(_node, batch))])
    deadline = time.monotonic() + BATCH_SECONDS
    pieces = []
    for leaf in search.leaves():
        pieces.append((leaf.index, piece_of_leaf(leaf)))
        if search.record_tree:
            search.record(leaf, leaf_entry(leaf))
        if time.monotonic() > deadline:
            break
    left = [_plain(n) for n in search.open_nodes()]
    tree = search.tree if search.record_tree else len(search.tree)
    return pieces, left, tree, {f.name: getattr(search.stats, f.name)
                                for f in fields(SearchStats)}


def leaf_entry(leaf: Leaf) -> dict:
    """A piece leaf in the certificate layout, with its witness (its lambda comes later, from
    whoever proves something on the tree)."""
    return {"piece": {"witness": [format_number(v) for v in leaf.witness]}}


class ParallelExploration:
    """The pieces below ``search``'s open nodes, explored by ``workers`` processes.

    Iterate it once. Every piece is passed to ``keep`` as soon as its batch arrives, before it
    is yielded, and ``search.stats`` is kept up to date; :meth:`open_nodes` lists what is not
    explored yet, for checkpoints taken meanwhile. If the caller stops early (or Ctrl-C), the
    workers are stopped and every node not fully explored is put back on ``search``'s stack,
    so that a checkpoint taken then resumes exactly where the run stopped and loses nothing.
    """

    def __init__(self, search: Search, net: Network, scope: str, backend: str, workers: int,
                 keep: Callable[[Piece, int], None]) -> None:
        self.search = search
        self.job = _Job(net, search.domain, scope, backend, search.record_tree)
        self.workers = workers
        self.keep = keep
        self.todo: list[_Plain] = [_plain(n) for n in search.open_nodes()]
        self.running: dict[Future, list[_Plain]] = {}
        search.stack = []

    def _graft(self, batch: list[_Plain], tree: list[dict | None] | int) -> list[int]:
        """Give a worker's new nodes indices of the whole tree (after its last), copy their
        entries there with children renumbered; the map from local to global indices."""
        size = tree if isinstance(tree, int) else len(tree)
        whole = self.search.tree
        where = [index for index, _, _ in batch] + list(range(len(whole),
                                                              len(whole) + size - len(batch)))
        whole.extend([None] * (size - len(batch)))
        if not isinstance(tree, int):
            for local, entry in enumerate(tree):
                if entry is not None:
                    if "children" in entry:
                        entry = {**entry, "children": {side: where[c] for side, c
                                                       in entry["children"].items()}}
                    whole[where[local]] = entry
        return where

    def open_nodes(self) -> list[OpenNode]:
        return [_node(p) for batch in self.running.values() for p in batch] + \
            [_node(p) for p in self.todo]

    def __iter__(self) -> Iterator[Piece]:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        # A process pool whose futures fail (BrokenProcessPool) if a worker dies, rather than
        # one that waits forever for its task.
        pool = ProcessPoolExecutor(self.workers, multiprocessing.get_context(method),
                                   _start_worker, (self.job,))
        stats = self.search.stats
        try:
            while self.todo or self.running:
                while self.todo and len(self.running) < 2 * self.workers:
                    batch, self.todo = self.todo[:BATCH_NODES], self.todo[BATCH_NODES:]
                    self.running[pool.submit(_explore, batch)] = batch
                finished, _ = wait(self.running, return_when=FIRST_COMPLETED)
                for future in finished:
                    try:
                        pieces, left, tree, counts = future.result()
                    except BrokenProcessPool:
                        raise InputError("a worker process died (out of memory?); run again "
                                         "with --checkpoint to keep progress, or --workers 1"
                                         ) from None
                    batch = self.running.pop(future)
                    where = self._graft(batch, tree)
                    # Depth first: a subtree before others.
                    self.todo = [(where[i], rows, w) for i, rows, w in left] + self.todo
                    for name, value in counts.items():
                        if name != "open_nodes":
                            setattr(stats, name, getattr(stats, name) + value)
                    stats.open_nodes = len(self.todo) + sum(map(len, self.running.values()))
                    for index, piece in pieces:
                        self.keep(piece, where[index])
                    yield from (piece for _, piece in pieces)
        finally:
            # Batches are short (BATCH_SECONDS), so waiting for the running ones is brief.
            pool.shutdown(wait=True, cancel_futures=True)
            self.search.resume(self.search.tree, self.open_nodes())
            self.running, self.todo = {}, []
