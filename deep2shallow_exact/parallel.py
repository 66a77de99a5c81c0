"""A search on several processes: subtrees of the search go to worker processes.

The search tree's open nodes are independent jobs (a node is its path and its witness), so
after a short sequential start the search hands batches of them to a process pool. Each
worker explores its batch for a bounded time and sends back what its leaves gave (pieces, for
an enumeration; nothing but certificate entries, for a check of two networks) and the nodes
it left open, which go back in the queue: large subtrees get split up as they are met, so the
workers stay busy without knowing the tree's shape in advance. Nothing is shared but the
networks and the domain; every worker's answers are exact, like the sequential search's.

Where the batches run is one seam (DESIGN §10): by default a process pool of this machine,
whose initializer builds each worker's :class:`Search` once; or any
:class:`concurrent.futures.Executor` (a Dask cluster's, :mod:`.cluster`), to which the job is
handed once (``share``: Dask scatters it to every worker) while each worker process keeps the
Search it built from it, keyed by the job's id. Either way a batch carries node paths and
witnesses only.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any

from .affine import Affine
from .domain import Domain
from .errors import InputError
from .feasibility import Basis, Solver
from .network import Network
from .numbers import format_number
from .piece import Piece, piece_of_leaf
from .search import Leaf, OpenNode, PathRow, Search, SearchStats

# Per batch: how many open nodes a worker gets, and how long it runs before it sends back the
# nodes still open. Long enough to amortise the transfer, short enough to balance the load.
BATCH_NODES = 8
BATCH_SECONDS = 1.0
# How long a search runs in the calling process before it goes on in workers: small jobs are
# done before a pool would have started.
SEQUENTIAL_SECONDS = 0.3

_Row = tuple[tuple[Fraction, ...], Fraction, str, bool]
_Plain = tuple[int, tuple[_Row, ...], tuple[Fraction, ...], Basis]

LeafHandler = Callable[[Leaf, Search], tuple[object, dict | None]]
"""What the search does at a leaf, in whichever process found it: (what the caller gets for
the leaf, or None; the leaf's certificate entry, or None if there is none — the handler may
have split the leaf once more, :meth:`Search.refine`). A module-level function, so that it
reaches worker processes by name."""


def piece_leaf(leaf: Leaf, search: Search) -> tuple[Piece, dict | None]:
    """An enumeration's leaf handler: the leaf's piece, and its entry if a tree is recorded."""
    return piece_of_leaf(leaf), leaf_entry(leaf) if search.record_tree else None


def handled_leaves(search: Search, handle: LeafHandler, seconds: float | None = None
                   ) -> Iterator[tuple[int, object]]:
    """The search's leaves, each handed to ``handle`` and its entry recorded (if a tree is):
    (the leaf's index, what ``handle`` gave, unless None). Stops after about ``seconds`` (the
    rest stays on the search's stack), or only when the search is done."""
    deadline = None if seconds is None else time.monotonic() + seconds
    for leaf in search.leaves():
        item, entry = handle(leaf, search)
        if entry is not None and search.record_tree:
            search.record(leaf, entry)
        if item is not None:
            yield leaf.index, item
        if deadline is not None and time.monotonic() > deadline:
            return


def available_cpus() -> int:
    """The CPUs this process may run on (what a default worker count should be)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class _Job:
    """What every worker needs, sent once: it builds its Search from this, set up like the
    caller's, and hands every leaf to ``handle``."""

    networks: tuple[Network, ...]
    domain: Domain
    scope: str
    backend: str
    split_domain_walls: bool
    sign_classes: bool
    record_tree: bool
    handle: LeafHandler
    # Read when the run starts, so that a remote worker uses the caller's value.
    batch_seconds: float = BATCH_SECONDS
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    def search(self) -> Search:
        return Search(list(self.networks), self.domain, self.scope, Solver(self.backend),
                      split_domain_walls=self.split_domain_walls,
                      sign_classes=self.sign_classes, record_tree=self.record_tree)


# A process pool's worker: its job and the Search built from it by the initializer.
_worker_job: _Job | None = None
_worker_search: Search | None = None

# Any other executor's worker process: idle Searches by job id (one per thread running a
# batch of that job), the last few jobs only.
_idle: OrderedDict[str, list[Search]] = OrderedDict()
_idle_lock = threading.Lock()
_JOBS_KEPT = 4


def _plain(node: OpenNode) -> _Plain:
    """An open node without the search's caches (facts, sibling links): small to send."""
    index, path, witness, basis = node
    return index, tuple((r.function.coeffs, r.function.const, r.side, r.implied)
                        for r in path), witness, basis


def _node(plain: _Plain) -> OpenNode:
    index, rows, witness, basis = plain
    return index, tuple(PathRow(Affine(c, k), side, implied) for c, k, side, implied in rows), \
        witness, basis


def _leave_signals_to_the_parent() -> None:
    # Ctrl-C reaches every process of the terminal; the parent decides what happens, and ends
    # its pool's workers with SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _start_worker(job: _Job) -> None:
    _leave_signals_to_the_parent()
    global _worker_job, _worker_search
    _worker_job, _worker_search = job, job.search()


_Explored = tuple[list[tuple[int, object]], list[_Plain], list[dict | None] | int,
                  dict[str, int]]


def _explore(batch: list[_Plain]) -> _Explored:
    """A process pool's task: ``batch`` explored by the Search its initializer built."""
    assert _worker_job is not None and _worker_search is not None
    return _explore_with(_worker_search, batch, _worker_job)


def _explore_shared(job: _Job, batch: list[_Plain]) -> _Explored:
    """Any other executor's task: ``batch`` explored by a Search of this worker process built
    from ``job`` at its first batch (``job`` is the shared copy, e.g. Dask's scattered one)."""
    with _idle_lock:
        idle = _idle.get(job.key)
        search = idle.pop() if idle else None
    if search is None:
        search = job.search()
    try:
        return _explore_with(search, batch, job)
    finally:
        with _idle_lock:
            _idle.setdefault(job.key, []).append(search)
            _idle.move_to_end(job.key)
            while len(_idle) > _JOBS_KEPT:
                _idle.popitem(last=False)


def _explore_with(search: Search, batch: list[_Plain], job: _Job) -> _Explored:
    """Explore ``batch`` for about ``job.batch_seconds``. Node k of the batch is node k of a
    local tree here; returned: what the leaves gave with their local leaf indices, the nodes
    left open, the local tree (or, when no tree is recorded, its size) and the stats."""
    search.stats = SearchStats()
    search.resume([None] * len(batch), [(k, path, w, basis) for k, (_, path, w, basis)
                                        in enumerate(map(_node, batch))])
    items = list(handled_leaves(search, job.handle, job.batch_seconds))
    left = [_plain(n) for n in search.open_nodes()]
    tree = search.tree if search.record_tree else len(search.tree)
    return items, left, tree, {f.name: getattr(search.stats, f.name)
                               for f in fields(SearchStats)}


def leaf_entry(leaf: Leaf) -> dict:
    """A piece leaf in the certificate layout, with its witness (its lambda comes later, from
    whoever proves something on the tree)."""
    return {"piece": {"witness": [format_number(v) for v in leaf.witness]}}


ExecutorChoice = Executor | Callable[[], Executor] | None


class ParallelExploration:
    """What the leaves below ``search``'s open nodes give (``handle``; default their pieces),
    explored by ``workers`` processes, each with a Search set up like ``search``.

    Iterate it once. Every item is passed to ``keep`` as soon as its batch arrives, before it
    is yielded, and ``search.stats`` is kept up to date; an exception ``handle`` raises (a
    counterexample, say) stops the run and reaches the caller; :meth:`open_nodes` lists what is not
    explored yet, for checkpoints taken meanwhile. If the caller stops early (or Ctrl-C), the
    workers are stopped and every node not fully explored is put back on ``search``'s stack,
    so that a checkpoint taken then resumes exactly where the run stopped and loses nothing.

    ``executor`` is where the batches run: None (default) for a process pool of ``workers``
    processes of this machine, made and shut down here; or any ``concurrent.futures``
    executor, or a function of no arguments that makes one (then shut down here too). Such an
    executor may also have ``share(job)``, returning what to send instead of the job itself
    (Dask: the job scattered to every worker once), ``slots`` (how many batches run at once;
    default ``workers``) and ``died`` (the exceptions that mean a worker was lost for good).
    """

    def __init__(self, search: Search, backend: str, workers: int,
                 keep: Callable[[Any, int], None], executor: ExecutorChoice = None,
                 handle: LeafHandler = piece_leaf) -> None:
        self.search = search
        self.job = _Job(tuple(search.networks), search.domain, search.scope, backend,
                        search.split_domain_walls, search.sign_classes, search.record_tree,
                        handle, batch_seconds=BATCH_SECONDS)
        self.workers = workers
        self.keep = keep
        self.executor = executor
        self.todo: list[_Plain] = [_plain(n) for n in search.open_nodes()]
        self.running: dict[Future, list[_Plain]] = {}
        search.stack = []

    def _graft(self, batch: list[_Plain], tree: list[dict | None] | int) -> list[int]:
        """Give a worker's new nodes indices of the whole tree (after its last), copy their
        entries there with children renumbered; the map from local to global indices."""
        size = tree if isinstance(tree, int) else len(tree)
        whole = self.search.tree
        where = [index for index, _, _, _ in batch] + list(range(len(whole),
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

    def _start(self) -> tuple[Executor, bool, Callable[[list[_Plain]], Future]]:
        """The executor, whether it is ours to shut down, and how a batch is submitted."""
        if self.executor is None:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            # A process pool whose futures fail (BrokenProcessPool) if a worker dies, rather
            # than one that waits forever for its task.
            pool = ProcessPoolExecutor(self.workers, multiprocessing.get_context(method),
                                       _start_worker, (self.job,))
            # _explore looked up at each call, so that a test may replace it.
            return pool, True, lambda batch: pool.submit(_explore, batch)
        owned = not hasattr(self.executor, "submit")
        executor = self.executor() if owned else self.executor  # type: ignore[operator]
        share = getattr(executor, "share", None)
        try:
            handle = share(self.job) if share is not None else self.job
        except BaseException:
            if owned:
                executor.shutdown(wait=False, cancel_futures=True)
            raise
        return executor, owned, lambda batch: executor.submit(_explore_shared, handle, batch)

    def _slots(self, executor: Executor) -> int:
        return max(1, getattr(executor, "slots", self.workers))

    def __iter__(self) -> Iterator[object]:
        stats = self.search.stats
        executor, owned, submit = self._start()
        died = (BrokenProcessPool, *getattr(executor, "died", ()))
        try:
            while self.todo or self.running:
                while self.todo and len(self.running) < 2 * self._slots(executor):
                    # At most BATCH_NODES, and no more than a fair share of the open nodes
                    # among the free slots, so that a narrow frontier still feeds every worker.
                    free = 2 * self._slots(executor) - len(self.running)
                    size = min(BATCH_NODES, -(-len(self.todo) // free))
                    batch, self.todo = self.todo[:size], self.todo[size:]
                    try:
                        future = submit(batch)
                    except BrokenProcessPool:  # a worker died since the last batch came back
                        self.todo = batch + self.todo
                        raise _died() from None
                    self.running[future] = batch
                finished, _ = wait(self.running, return_when=FIRST_COMPLETED)
                for future in finished:
                    try:
                        items, left, tree, counts = future.result()
                    except died as exc:
                        if isinstance(exc, BrokenProcessPool):
                            raise _died() from None
                        raise InputError(f"a cluster worker was lost for good "
                                         f"({type(exc).__name__}: {_first_line(exc)}); run "
                                         f"again with --checkpoint to keep progress") from None
                    batch = self.running.pop(future)
                    where = self._graft(batch, tree)
                    # Depth first: a subtree before others.
                    self.todo = [(where[i], rows, w, b) for i, rows, w, b in left] + self.todo
                    for name, value in counts.items():
                        if name != "open_nodes":
                            setattr(stats, name, getattr(stats, name) + value)
                    stats.open_nodes = len(self.todo) + sum(map(len, self.running.values()))
                    for index, item in items:
                        self.keep(item, where[index])
                    yield from (item for _, item in items)
        finally:
            if owned:
                # Batches are short (BATCH_SECONDS), so waiting for the running ones is brief.
                executor.shutdown(wait=True, cancel_futures=True)
            else:
                # Not ours (a cluster's): its batches still running are dropped, not awaited.
                for future in self.running:
                    future.cancel()
            self.search.resume(self.search.tree, self.open_nodes())
            self.running, self.todo = {}, []


# What fork_map's children inherit: the function and the chunks of indices it is mapped over.
_FORK_MAPPED: tuple[Callable[[int], Any], list[range]] | None = None
# Below this many items fork_map stays in this process: a pool would cost more than it saves.
FORK_MAP_ITEMS = 2000


def fork_map(function: Callable[[int], Any], count: int, workers: int) -> list:
    """[function(k) for k in range(count)], on ``workers`` forked processes where that pays:
    the children inherit ``function`` and whatever it reads (nothing is pickled but the
    results), so it may be a closure over large data. In one process without fork."""
    if workers < 2 or count < FORK_MAP_ITEMS or \
            "fork" not in multiprocessing.get_all_start_methods():
        return [function(k) for k in range(count)]
    global _FORK_MAPPED
    size = -(-count // (4 * workers))
    chunks = [range(start, min(start + size, count)) for start in range(0, count, size)]
    _FORK_MAPPED = (function, chunks)
    try:
        with multiprocessing.get_context("fork").Pool(
                workers, initializer=_leave_signals_to_the_parent) as pool:
            parts = pool.map(_fork_mapped_chunk, range(len(chunks)), chunksize=1)
    finally:
        _FORK_MAPPED = None
    return [result for part in parts for result in part]


def _fork_mapped_chunk(chunk: int) -> list:
    assert _FORK_MAPPED is not None
    function, chunks = _FORK_MAPPED
    return [function(k) for k in chunks[chunk]]


def _died() -> InputError:
    return InputError("a worker process died (out of memory?); run again with --checkpoint to "
                      "keep progress, or --workers 1")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no message"
