"""The piece search on a Dask cluster (optional extra ``[cluster]``; DESIGN section 10).

:func:`executor_for` turns a ``--cluster`` address into an executor for
:class:`.parallel.ParallelExploration`: ``local:N`` starts a ``distributed.LocalCluster`` of N
worker processes on the loopback interface (stopped again when done), anything else is the
address of a running scheduler (``tcp://host:8786``). The executor is a
``concurrent.futures`` face of the Dask client: the job is scattered to every worker once, and a
batch whose worker dies is run again elsewhere by the scheduler. ``distributed`` is imported
here only, and only when used.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .errors import InputError

MISSING = "--cluster needs the optional extra: pip install 'deep2shallow-exact[cluster]'"
CONNECT_SECONDS = 5  # to reach a scheduler
WORKERS_SECONDS = 30  # for a scheduler's first worker to be there
START_SECONDS = 60  # for a local cluster to start
# A batch that raised is run again this often (a worker that dies running it is handled by
# the scheduler itself: its tasks go to other workers, up to distributed.scheduler's
# allowed-failures times).
RETRIES = 2

_LOCAL = re.compile(r"local:(\d+)")


def local_workers(address: str) -> int | None:
    """N for ``local:N``, None for a scheduler address; a malformed one is an InputError."""
    if not isinstance(address, str) or not address.strip():
        raise InputError(f"--cluster: expected local:N or a scheduler address such as "
                         f"tcp://host:8786, got {address!r}")
    match = _LOCAL.fullmatch(address.strip())
    if match is None:
        if address.strip().startswith("local"):
            raise InputError(f"--cluster {address}: expected local:N with N a positive integer")
        return None
    workers = int(match.group(1))
    if workers < 1:
        raise InputError(f"--cluster {address}: needs at least one worker")
    return workers


def check_cluster(address: str) -> None:
    """Fail now, with one line, on a malformed address or a missing extra (nothing started)."""
    local_workers(address)
    try:
        found = importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):  # a broken or blocked install
        found = False
    if not found:
        raise InputError(MISSING)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise InputError(MISSING) from None
    return distributed


class DaskExecutor(concurrent.futures.Executor):
    """The client as a ``concurrent.futures`` executor for
    :class:`.parallel.ParallelExploration`: ``share`` scatters the job to every worker,
    ``slots`` is the cluster's worker threads (re-read every few seconds, so that workers may
    join), ``died`` what a batch lost for good raises.

    Tasks go through ``client.submit`` itself rather than ``client.get_executor()``, whose
    futures, cancelled from this thread while the client's loop delivers their result, log an
    InvalidStateError; here a result is handed over only if its future was not cancelled."""

    def __init__(self, client: Any) -> None:
        distributed = _distributed()
        self.client = client
        self.died: tuple[type[BaseException], ...] = (distributed.KilledWorker,
                                                      concurrent.futures.CancelledError)
        self._slots = (0.0, 1)

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        # pure=False: every batch is its own task, never the cached result of an equal one.
        task = self.client.submit(fn, *args, retries=RETRIES, pure=False, **kwargs)
        future: concurrent.futures.Future = concurrent.futures.Future()

        def arrived(task: Any) -> None:  # on the client's callback thread
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(task.result())
            except BaseException as exc:  # the caller sees it
                future.set_exception(exc)

        def dropped(future: concurrent.futures.Future) -> None:
            if future.cancelled():
                task.cancel()

        future.add_done_callback(dropped)
        task.add_done_callback(arrived)
        return future

    def share(self, job: object) -> Any:
        """The job on every worker, once: tasks take this future and get the job."""
        return self.client.scatter(job, broadcast=True, hash=False)

    @property
    def slots(self) -> int:
        checked, slots = self._slots
        if time.monotonic() - checked > 2:
            slots = max(1, sum(self.client.nthreads().values()))
            self._slots = (time.monotonic(), slots)
        return slots

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to do: the client is closed by :func:`executor_for`."""


@contextmanager
def executor_for(address: str) -> Iterator[DaskExecutor]:
    """An executor on the cluster at ``address`` (``local:N`` or a scheduler's address), for
    the time of the ``with`` block; an unreachable scheduler is a one-line InputError."""
    workers = local_workers(address)
    distributed = _distributed()
    cluster = None
    try:
        if workers is not None:
            try:
                with _interrupts_held():
                    cluster = distributed.LocalCluster(
                        n_workers=workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=None,
                        # Dask's own log (such as a heartbeat failing as the cluster stops) is
                        # not this command's output; what matters reaches it as an exception.
                        silence_logs=logging.CRITICAL,
                        # No dashboard; the scheduler's small HTTP server (health, metrics) on
                        # any free loopback port, not on 8787 that another cluster may hold.
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                        preload=[__name__])
                client = distributed.Client(cluster, timeout=START_SECONDS)
            except Exception as exc:  # whatever stopped it, in one line
                raise InputError(f"--cluster {address}: cannot start a local Dask cluster: "
                                 f"{_one_line(exc)}") from None
        else:
            try:
                client = distributed.Client(address, timeout=CONNECT_SECONDS)
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(f"--cluster {address}: cannot reach the Dask scheduler "
                                 f"there: {_one_line(exc)}") from None
        try:
            try:
                client.wait_for_workers(1, timeout=WORKERS_SECONDS)
            except (OSError, TimeoutError) as exc:
                raise InputError(f"--cluster {address}: no Dask worker joined the scheduler "
                                 f"within {WORKERS_SECONDS} s ({_one_line(exc)})") from None
            yield DaskExecutor(client)
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Ctrl-C held back (blocked, not lost: it arrives when this ends) while a local cluster
    starts. The threads started meanwhile keep SIGINT blocked, and so do the worker processes
    they start, now and on a restart: Ctrl-C reaches every process of the terminal, and this
    command, not its workers, decides what happens."""
    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    # Started now if not yet: starting it later, on a cluster thread, unblocks SIGINT there.
    from multiprocessing import resource_tracker
    resource_tracker.ensure_running()
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def dask_setup(worker: object) -> None:
    """A local cluster's worker processes run this first (they preload this module): SIGINT
    ignored, should it not be blocked already (:func:`_interrupts_held`)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
