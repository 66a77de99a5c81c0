"""The piece search on a Dask cluster gives exactly the pieces of the sequential search.

A LocalCluster of 2 worker processes on the loopback interface serves the whole module. Ground
truth: closed-form face counts (an arrangement of lines, the sawtooth), the Euler relation and
the sequential enumeration. Batches are made tiny (``BATCH_SECONDS = 0``, travelling with the
job to the workers) and workers start at the first node, so that work really is shared (the
ground-truth tests check, from Dask's task stream, that both workers ran batches). Pieces are
compared whole: dimension, sign vector and witness.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import sys
import time
from fractions import Fraction
from math import comb
from pathlib import Path

import pytest

import deep2shallow_exact.cli as cli
import deep2shallow_exact.cluster as cluster_module
import deep2shallow_exact.construction as construction
import deep2shallow_exact.parallel as parallel
from deep2shallow_exact import kernel
from deep2shallow_exact.domain import box, everywhere
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.formats import load_network, network_to_document, save_network
from deep2shallow_exact.network import ReluNetwork
from deep2shallow_exact.regions import PieceEnumeration, counts_by_dim

distributed = pytest.importorskip("distributed")

F = Fraction
EXAMPLES = os.path.join(os.path.dirname(cli.__file__), "examples")


def random_net(widths, seed):
    import random
    rng = random.Random(seed)
    return ReluNetwork.from_lists([
        ([[F(rng.randint(-6, 6), 3) for _ in range(a)] for _ in range(b)],
         [F(rng.randint(-6, 6), 3) for _ in range(b)]) for a, b in zip(widths, widths[1:])])


def key(pieces):
    return sorted((p.dim, p.signs, p.witness) for p in pieces)


@pytest.fixture(scope="module")
def dask():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as local, \
            distributed.Client(local) as client:
        yield client


@pytest.fixture(autouse=True)
def tiny_batches(monkeypatch):
    monkeypatch.setattr(parallel, "BATCH_SECONDS", 0.0)
    monkeypatch.setattr(parallel, "BATCH_NODES", 2)


def address(client):
    client.wait_for_workers(2, timeout=60)
    return client.scheduler.address


def on_cluster(client, net, domain=None, scope="everywhere", **options):
    """The enumeration on the cluster, and the workers that ran its batches."""
    with distributed.get_task_stream(client) as stream:
        run = PieceEnumeration(net, domain, scope, cluster=address(client),
                               sequential_seconds=0, **options)
        pieces = list(run)
    assert run.complete and key(run.found) == key(pieces)
    return run, pieces, batch_workers(stream)


def batch_workers(stream):
    return {t["worker"] for t in stream.data if t["key"].startswith("_explore_shared")}


def arrangement_faces(N: int, n: int, k: int) -> int:
    """k-faces of N affine hyperplanes in general position in R^n."""
    if n - k > N:
        return 0
    return comb(N, n - k) * sum(comb(N - n + k, i) for i in range(k + 1))


def test_an_arrangement_of_lines_has_its_closed_form_faces(dask):
    # Five lines in general position (no two parallel, no three through a point).
    rows = [(1, 0, 0), (0, 1, 0), (1, 1, -1), (1, -2, F(1, 2)), (3, 1, 2)]
    net = ReluNetwork.from_lists([([r[:2] for r in rows], [r[2] for r in rows]),
                                  ([[1] * len(rows)], [0])])
    run, pieces, workers = on_cluster(dask, net)
    assert len(workers) == 2
    assert counts_by_dim(pieces) == {k: arrangement_faces(5, 2, k) for k in range(3)}
    assert key(pieces) == key(PieceEnumeration(net))


def test_the_sawtooth_has_2_to_the_L_regions_and_their_vertices(dask):
    net = load_network(os.path.join(EXAMPLES, "sawtooth3.json"))
    unit = box([F(0)], [F(1)])
    run, pieces, workers = on_cluster(dask, net, unit)
    assert len(workers) == 2
    assert counts_by_dim(pieces) == {1: 8, 0: 9}
    assert sorted(p.witness[0] for p in pieces if p.dim == 0) == [F(k, 8) for k in range(9)]
    assert key(pieces) == key(PieceEnumeration(net, unit))


@pytest.mark.parametrize("widths,scope", [([2, 5, 4, 1], "everywhere"), ([3, 4, 3, 1],
                                                                          "everywhere"),
                                          ([2, 5, 4, 1], "open")])
def test_euler_and_the_sequential_pieces_on_random_networks(dask, widths, scope):
    net = random_net(widths, f"cluster/{widths}")
    n = widths[0]
    run, pieces, workers = on_cluster(dask, net, scope=scope)
    assert len(workers) == 2
    assert key(pieces) == key(PieceEnumeration(net, scope=scope))
    for p in pieces:
        assert tuple(m(p.witness) for m in p.maps) == evaluate(net, p.witness)
    if scope == "everywhere":
        assert sum((-1) ** p.dim for p in pieces) == (-1) ** n
    assert run.stats.lp_calls > 0 and run.stats.leaves == len(pieces)


def test_a_tree_recorded_on_the_cluster_proves_the_conversion(dask, monkeypatch):
    monkeypatch.setattr(construction, "PieceEnumeration",
                        functools.partial(PieceEnumeration, sequential_seconds=0))
    net = random_net([2, 5, 4, 1], "cluster/convert")
    with distributed.get_task_stream(dask) as stream:
        result = construction.to_shallow(net, cluster=address(dask))
    assert len(batch_workers(stream)) == 2
    assert result.verdict is not None and result.verdict.proven
    verdict = kernel.verify(result.verdict.certificate,
                            (network_to_document(net), network_to_document(result.network)))
    assert verdict.valid
    plain = construction.to_shallow(net, verify=False)
    assert result.pieces == plain.pieces


def test_a_worker_killed_mid_batch_has_its_batch_run_again(dask, monkeypatch):
    # Batches of 0.2 s, so that a worker is caught in the middle of one.
    monkeypatch.setattr(parallel, "BATCH_SECONDS", 0.2)
    net = random_net([3, 6, 5, 1], "cluster/kill")
    whole = key(PieceEnumeration(net))
    pids = dask.run(os.getpid)
    killed, lost = None, ()
    with distributed.get_task_stream(dask) as stream:
        run = PieceEnumeration(net, cluster=address(dask), sequential_seconds=0)
        pieces = []
        for piece in run:
            pieces.append(piece)
            if killed is None:
                busy = [(w, keys) for w, keys in dask.processing().items() if keys]
                if busy:
                    killed, lost = busy[0]
                    os.kill(pids[killed], signal.SIGKILL)
    assert killed is not None and lost
    assert run.complete and key(pieces) == whole
    # Every batch the dead worker was running finished on another worker.
    finished = {t["key"]: t["worker"] for t in stream.data}
    assert all(finished.get(k) not in (None, killed) for k in lost), (lost, finished)
    assert pids[killed] not in dask.run(os.getpid).values()  # the nanny started another


def test_an_error_in_a_cluster_worker_reaches_the_caller(dask):
    # The output +inf*ReLU(x) is infinite on the whole piece x > 0: the worker that meets it
    # raises, and the caller sees that error (not a lost worker, not a hang).
    net = ReluNetwork.from_lists([([[1], [-1]], [0, 0]), ([["inf", 0]], [0])])
    with pytest.raises(InputError, match="infinite on a whole piece"):
        list(PieceEnumeration(net, everywhere(1), cluster=address(dask), sequential_seconds=0))


def test_a_checkpoint_taken_on_the_cluster_resumes_to_the_same_pieces(dask):
    net = random_net([2, 5, 4, 1], "cluster/checkpoint")
    square = box([F(-2), F(-2)], [F(2), F(2)])
    whole = key(PieceEnumeration(net, square))
    where = address(dask)
    run = PieceEnumeration(net, square, cluster=where, sequential_seconds=0)
    iterator = iter(run)
    for _ in range(5):
        next(iterator)
    busy = run.checkpoint(network_to_document(net))  # while batches are in flight ...
    assert not busy["complete"] and busy["open"]
    iterator.close()  # ... and after stopping, as after --max-pieces or Ctrl-C
    stopped = run.checkpoint(network_to_document(net))
    assert not run.complete and not stopped["complete"]
    for doc in (busy, stopped):
        again = PieceEnumeration(net, square, cluster=where, sequential_seconds=0)
        again.restore(json.loads(json.dumps(doc)), "checkpoint")
        list(again)
        assert again.complete and key(again.found) == whole


def workers_of_this_process() -> set[int]:
    """Child processes, but multiprocessing's resource tracker (started once, kept)."""
    import psutil
    return {p.pid for p in psutil.Process().children(recursive=True)
            if "resource_tracker" not in " ".join(p.cmdline())}


def test_a_local_cluster_is_started_and_stopped_by_the_run():
    before = workers_of_this_process()
    net = random_net([2, 5, 4, 1], "cluster/local")
    run = PieceEnumeration(net, cluster="local:2", sequential_seconds=0)
    assert key(run) == key(PieceEnumeration(net)) and run.complete
    deadline = time.monotonic() + 10
    while workers_of_this_process() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not workers_of_this_process() - before


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_line_on_the_cluster_says_what_it_says_without(dask, capsys, monkeypatch,
                                                                  tmp_path):
    start_at_once = functools.partial(PieceEnumeration, sequential_seconds=0)
    monkeypatch.setattr(cli, "PieceEnumeration", start_at_once)
    monkeypatch.setattr(construction, "PieceEnumeration", start_at_once)
    net = random_net([2, 5, 4, 1], "cluster/cli")
    path = str(tmp_path / "net.json")
    save_network(net, path)
    code, alone, _ = run_cli(capsys, "regions", path, "--json", "--workers", "1")
    assert code == 0
    code, shared, err = run_cli(capsys, "regions", path, "--json", "--cluster", address(dask))
    # The answer is the same; how the search went ("stats": nodes, LP calls) is not.
    shared_doc, alone_doc = json.loads(shared), json.loads(alone)
    assert code == 0 and shared_doc.pop("stats") and alone_doc.pop("stats"), err
    assert shared_doc == alone_doc
    out = str(tmp_path / "shallow.json")
    code, text, err = run_cli(capsys, "convert", path, "-o", out, "--json",
                              "--cluster", address(dask))
    assert code == 0, err
    assert json.loads(text)["verified"] is True


def test_an_unreachable_scheduler_is_one_line_exit_2(capsys, monkeypatch):
    monkeypatch.setattr(cluster_module, "CONNECT_SECONDS", 1)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    where = f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    code, out, err = run_cli(capsys, "regions", os.path.join(EXAMPLES, "sawtooth3.json"),
                             "--cluster", where)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and where in err and "Traceback" not in err, err
    assert time.monotonic() - started < 30
    for bad in ("local:0", "local:two", " "):
        code, _, err = run_cli(capsys, "regions", os.path.join(EXAMPLES, "tiny.json"),
                               "--cluster", bad)
        assert code == 2 and err.count("\n") == 1 and "--cluster" in err, err


def test_without_the_extra_the_option_says_how_to_get_it(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(InputError, match=r"pip install 'deep2shallow-exact\[cluster\]'"):
        PieceEnumeration(random_net([1, 2, 1], "cluster/missing"), everywhere(1),
                         cluster="local:2")
    code, _, err = run_cli(capsys, "regions", os.path.join(EXAMPLES, "tiny.json"),
                           "--cluster", "local:2")
    assert code == 2 and err.count("\n") == 1 and "[cluster]" in err


def test_ctrl_c_on_a_local_cluster_keeps_every_node_for_the_checkpoint(tmp_path):
    # As from a terminal: SIGINT to the command and its local cluster's workers at once.
    import subprocess

    import psutil
    net = random_net([3, 12, 8, 1], "cluster/ctrl-c")  # 12 s in one process: still running
    path, saved = str(tmp_path / "net.json"), str(tmp_path / "checkpoint.json")
    save_network(net, path)
    command = [sys.executable, "-m", "deep2shallow_exact.cli", "regions", path, "--summary",
               "--json", "--checkpoint", saved]
    proc = subprocess.Popen([*command, "--cluster", "local:2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(psutil.Process(proc.pid).children()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the resource tracker and two workers: the cluster is starting
    time.sleep(2.2)  # and then (after about 1.7 s) running batches
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert json.loads(out)["partial"] is True and "resume with --checkpoint" in err
    doc = json.loads(Path(saved).read_text())
    assert not doc["complete"] and doc["open"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts_by_dim"] == {
        str(d): c for d, c in sorted(counts_by_dim(PieceEnumeration(net)).items(),
                                     reverse=True)}


def test_a_property_is_decided_the_same_on_the_cluster(dask, monkeypatch, tmp_path):
    # The property's pieces come from the cluster (from the first node on); the verdict, the
    # pieces checked and the counterexample are those of one process, and "holds" has a
    # certificate the kernel accepts, about this network.
    from deep2shallow_exact import properties
    from deep2shallow_exact.formats import load_vnnlib_property

    monkeypatch.setattr(properties, "PieceEnumeration",
                        functools.partial(PieceEnumeration, sequential_seconds=0))
    net = random_net([2, 5, 4, 1], "cluster/property")
    values = [evaluate(net, (F(a, 2), F(b, 2)))[0] for a in range(-4, 5) for b in range(-4, 5)]
    for threshold, expect in ((max(values), "violated"), (max(values) + 1000, "holds")):
        path = tmp_path / "p.vnnlib"
        path.write_text("\n".join([
            "(declare-const X_0 Real)", "(declare-const X_1 Real)", "(declare-const Y_0 Real)",
            "(assert (>= X_0 -2))", "(assert (<= X_0 2))", "(assert (>= X_1 -2))",
            "(assert (<= X_1 2))",
            f"(assert (>= Y_0 {threshold.numerator}/{threshold.denominator}))"]))
        prop = load_vnnlib_property(path, 2, 1)
        alone = properties.decide_property(net, prop, workers=1)
        shared = properties.decide_property(net, prop, cluster=address(dask))
        assert shared.verdict == alone.verdict == expect
        if expect == "holds":
            assert shared.pieces_checked == alone.pieces_checked
            verdict = kernel.verify(shared.certificate, (network_to_document(net),))
            assert verdict.valid and "outside the unsafe set" in verdict.claim
        else:
            assert evaluate(net, shared.counterexample)[0] >= threshold
