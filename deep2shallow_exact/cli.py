"""The ``deep2shallow`` command line (DESIGN section 7).

Exit codes: 0 success or PROVEN; 1 REFUTED or an invalid certificate; 2 bad input, reported in
one line on stderr without a traceback. sympy and mpmath are imported only by the subcommands
that use them (show, evaluate --soft), so that start-up and --help stay fast.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path

from . import kernel
from .affine import Affine, formula
from .attribution import attributions, format_attributions
from .checker import check
from .construction import to_shallow
from .domain import Domain, everywhere, load_polytope, parse_box
from .dual import is_positive_semidefinite, load_points, npk_gram
from .errors import InputError, KernelRejected, UndefinedError, read_text
from .evaluation import evaluate
from .explain import explain, format_explanation
from .formats import (
    TORCH_SUFFIXES,
    load_network,
    load_vnnlib_box,
    load_vnnlib_property,
    network_to_document,
    parse_json_text,
    read_network_file,
    save_network,
    write_json_atomically,
)
from .gates import MAX_DPS, as_dgn, effective_hyperplanes, soft_gap
from .merging import merge_regions
from .network import Network, ReluNetwork
from .numbers import Extended, Infinity, format_number, parse_rational
from .parallel import available_cpus
from .piece import Piece, counts_by_dim
from .plotting import format_plot, plot
from .progress import Progress
from .properties import decide_property
from .regions import CHECKPOINT_FORMAT, PieceEnumeration
from .report import format_report, write_report

EXAMPLES = Path(__file__).parent / "examples"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"deep2shallow: error: {message}\n")


def _print_json(doc: object) -> None:
    print(json.dumps(doc, indent=1))


def _emit(args: argparse.Namespace, doc: dict, render: Callable[[dict], str]) -> int:
    """Print ``doc`` as JSON with --json, else as the text ``render`` makes of it."""
    if args.json:
        _print_json(doc)
    else:
        print(render(doc))
    return 0


def parse_point(text: str, n: int) -> tuple[Fraction, ...]:
    parts = [p.strip() for p in text.split(",")]
    point = tuple(parse_rational(p, f"--at coordinate {i + 1}") for i, p in enumerate(parts))
    if len(point) != n:
        raise InputError(f"--at: gives {len(point)} coordinates, the network takes {n} inputs")
    return point


def _domain(args: argparse.Namespace, n: int) -> Domain:
    given = [name for name in ("box", "polytope", "vnnlib") if getattr(args, name, None)]
    if len(given) > 1:
        raise InputError(f"give at most one of --{' / --'.join(given)}")
    if args.box:
        return parse_box(args.box, n)
    if args.polytope:
        return load_polytope(args.polytope, n)
    if args.vnnlib:
        return load_vnnlib_box(args.vnnlib, n)
    return everywhere(n)


# -- info and evaluate -------------------------------------------------------------------------

def cmd_info(args: argparse.Namespace) -> int:
    net, extra = read_network_file(args.network, args.architecture)
    info = {
        "kind": net.kind, "input_dim": net.input_dim, "output_dim": net.output_dim,
        "widths": list(net.widths), "hidden_widths": list(net.hidden_widths),
        "parameters": net.parameter_count, "max_denominator": net.max_denominator,
        "infinite_entries": net.is_extended,
    }
    for key in ("verified", "method", "unpruned_widths"):
        if key in extra:
            info[key] = extra[key]
    if args.json:
        _print_json(info)
        return 0
    print(f"{args.network}: {net.kind} network")
    print(f"  input dimension   {net.input_dim}")
    print(f"  layer widths      {' -> '.join(map(str, net.widths))}")
    if "unpruned_widths" in extra:
        print(f"  unpruned widths   {' -> '.join(map(str, extra['unpruned_widths']))}")
    print(f"  parameters        {net.parameter_count}")
    print(f"  largest denominator {net.max_denominator}")
    print(f"  infinite entries  {'yes' if net.is_extended else 'no'}")
    if "verified" in extra:
        print(f"  verified          {extra['verified']}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    net = load_network(args.network, args.architecture)
    point = parse_point(args.at, net.input_dim)
    if args.soft is not None:
        return _evaluate_soft(args, net, point)
    try:
        output = evaluate(net, point)
    except UndefinedError as exc:
        raise InputError(f"{args.network}: undefined at this point: ∞ − ∞ at {exc}") from None
    if args.json:
        _print_json({"output": [format_number(v) for v in output]})
    else:
        print(" ".join(format_number(v) for v in output))
        if any(isinstance(v, Fraction) and v.denominator != 1 for v in output):
            print(f"≈ {' '.join(_approximate(v) for v in output)} (approximate decimal, "
                  f"{APPROXIMATE_DIGITS} significant digits)")
    return 0


APPROXIMATE_DIGITS = 6


def _approximate(value: Extended) -> str:
    """A short decimal for a person to read (rounded, never used for anything else)."""
    if isinstance(value, Infinity):
        return format_number(value)
    with localcontext() as context:
        context.prec = APPROXIMATE_DIGITS
        return format(Decimal(value.numerator) / Decimal(value.denominator), "g")


def _evaluate_soft(args: argparse.Namespace, net: Network, point: tuple[Fraction, ...]) -> int:
    import mpmath

    if not 1 <= args.precision <= MAX_DPS:
        raise InputError(f"--precision: {args.precision} digits; give 1 to {MAX_DPS}")
    beta = parse_rational(args.soft, "--soft")
    soft, hard, gap = soft_gap(net, point, beta, args.precision)
    digits = args.precision
    if args.json:
        _print_json({"output": [format_number(v) for v in hard],
                     "soft_output": [mpmath.nstr(v, digits) for v in soft],
                     "beta": format_number(beta), "precision_digits": digits,
                     "max_gap": mpmath.nstr(gap, 6)})
        return 0
    print(f"hard gates (exact): {' '.join(format_number(v) for v in hard)}")
    print(f"soft gates sigmoid({format_number(beta)}*q), {digits} digits: "
          f"{' '.join(mpmath.nstr(v, digits) for v in soft)}")
    print(f"largest gap: {mpmath.nstr(gap, 6)} (on a wall, q = 0, a soft gate is 1/2 for every "
          "beta, so the soft output need not approach the hard one there)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .symbolic_views import show

    net = load_network(args.network, args.architecture)
    print(show(net, args.latex, _domain(args, net.input_dim), args.backend))
    return 0


# -- the dual view -----------------------------------------------------------------------------

def cmd_gates(args: argparse.Namespace) -> int:
    net = load_network(args.network, args.architecture)
    hyperplanes = effective_hyperplanes(net)
    if args.json:
        _print_json({"gates": [h.to_document() for h in hyperplanes]})
        return 0
    for h in hyperplanes:
        print(f"gate {h.layer}.{h.index}: on where {h.formula()} > 0")
    return 0


def cmd_npk(args: argparse.Namespace) -> int:
    net = load_network(args.network, args.architecture)
    points = load_points(args.points, net.input_dim)
    gram = npk_gram(net, points, args.bias_paths)
    psd = is_positive_semidefinite(gram)
    if args.json:
        _print_json({"points": len(points), "bias_paths": args.bias_paths,
                     "gram": [[format_number(v) for v in row] for row in gram],
                     "positive_semidefinite": psd})
        return 0
    print(f"neural path kernel of {args.network} on {len(points)} points "
          f"({'with' if args.bias_paths else 'without'} bias paths)")
    for row in gram:
        print("  " + "  ".join(format_number(v) for v in row))
    print(f"positive semi-definite: {'yes' if psd else 'no'}")
    return 0


# -- explanations and pictures -----------------------------------------------------------------

def cmd_explain(args: argparse.Namespace) -> int:
    net = load_network(args.network, args.architecture)
    point = parse_point(args.at, net.input_dim)
    doc = explain(net, point, _domain(args, net.input_dim), args.backend)
    if args.attributions:
        baseline = parse_point(args.baseline, net.input_dim) if args.baseline else None
        doc["attributions"] = attributions(net, point, baseline, args.shapley_method,
                                           integrated=not args.no_ig)
    if args.json:
        _print_json(doc)
        return 0
    print(format_explanation(doc))
    if args.attributions:
        print(format_attributions(doc["attributions"]))
    return 0


def _plot_box(text: str | None, net: Network, args: argparse.Namespace) -> Domain | None:
    if text is None:
        return None
    sliced = args.slice_point is not None or args.directions is not None
    return parse_box(text, 1 if net.input_dim == 1 and not sliced else 2)


def cmd_plot(args: argparse.Namespace) -> int:
    net = load_network(args.network, args.architecture)
    slice_point = parse_point(args.slice_point, net.input_dim) if args.slice_point else None
    directions = ([parse_point(d, net.input_dim) for d in args.directions.split(";")]
                  if args.directions else None)
    doc = plot(net, args.output, _plot_box(args.box, net, args), args.show_output, slice_point,
               directions, args.output_index, args.backend)
    return _emit(args, doc, format_plot)


def cmd_report(args: argparse.Namespace) -> int:
    net = load_network(args.network, args.architecture)
    domain = parse_box(args.box, net.input_dim) if args.box else None
    doc = write_report(net, args.output, domain, args.backend,
                       title=f"{Path(args.network).name}: {net.kind} network",
                       shallow=not args.no_shallow)
    return _emit(args, doc, format_report)


# -- regions -----------------------------------------------------------------------------------

def cmd_regions(args: argparse.Namespace) -> int:
    net = load_network(args.network, args.architecture)
    domain = _domain(args, net.input_dim)
    job = PieceEnumeration(net, domain, args.scope, args.backend, args.workers,
                           cluster=args.cluster)
    if args.merge and args.scope != "everywhere":
        raise InputError("--merge needs --scope everywhere (adjacency is read off the walls)")
    if args.checkpoint and Path(args.checkpoint).exists():
        doc = _read_checkpoint(args.checkpoint)
        if doc.get("network") != network_to_document(net):
            raise InputError(f"{args.checkpoint}: checkpoint is for a different network")
        job.restore(doc, args.checkpoint)
    progress = Progress("regions")
    partial = False
    last_save = time.monotonic()
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        for _ in job:
            progress.update(len(job.found), "pieces", job.stats.open_nodes)
            if args.max_pieces is not None and len(job.found) >= args.max_pieces \
                    and not job.complete:
                partial = True
                break
            if args.checkpoint and time.monotonic() - last_save > 30:
                write_json_atomically(job.checkpoint(network_to_document(net)), args.checkpoint)
                last_save = time.monotonic()
    except KeyboardInterrupt:
        partial = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        progress.close()
    partial = partial or not job.complete
    if args.checkpoint:
        write_json_atomically(job.checkpoint(network_to_document(net)), args.checkpoint)
    counts = counts_by_dim(job.found)
    if args.merge and not partial:
        merged = merge_regions(job.found, domain)
    doc: dict = {
        "input_dim": net.input_dim, "scope": args.scope, "domain": domain.description,
        "partial": partial,
        "counts_by_dim": {str(d): c for d, c in sorted(counts.items(), reverse=True)},
        "regions": job.regions(),
        "stats": {"nodes": job.stats.nodes, "splits": job.stats.splits,
                  "lp_calls": job.stats.lp_calls, "bound_fixed": job.stats.bound_fixed},
    }
    if args.merge and not partial:
        doc["linear_pieces"] = len(merged.linear_pieces)
    # Sorted, so that the list does not depend on how the work was shared among workers.
    pieces = [] if args.summary else sorted(job.found, key=lambda p: (-p.dim, p.signs, p.witness))
    if not args.summary:
        doc["pieces"] = [p.to_document() for p in pieces]
    if args.json:
        _print_json(doc)
    else:
        _print_pieces(doc, args.network, pieces)
        _print_counts(doc, progress.elapsed, job.stats.lp_calls)
    if partial:
        where = f"; resume with --checkpoint {args.checkpoint}" if args.checkpoint else ""
        print(f"deep2shallow: stopped early: partial result{where}", file=sys.stderr)
    return 0


def _read_checkpoint(path: str) -> dict:
    # The network readers' JSON rules: the kernel's number grammar and duplicate-key rule,
    # and one line (not a RecursionError) for brackets nested too deeply.
    doc = parse_json_text(read_text(path), path)
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not a {CHECKPOINT_FORMAT} file")
    return doc


def _print_pieces(doc: dict, name: str, pieces: Sequence[Piece]) -> None:
    """The heading, then (without --summary) one row per piece: dim, signs, witness, map."""
    status = " (PARTIAL)" if doc["partial"] else ""
    print(f"pieces of {name} on {doc['domain']}, scope {doc['scope']}{status}")
    if not pieces:
        return
    outputs = ["y"] if len(pieces[0].c) == 1 else [f"y{k + 1}" for k in range(len(pieces[0].c))]
    rows = [(str(p.dim), p.signs, "(" + ", ".join(format_number(v) for v in p.witness) + ")",
             "; ".join(f"{y} = {formula(Affine(a, c))}" for y, a, c in zip(outputs, p.A, p.c)))
            for p in pieces]
    header = ("dim", "signs", "witness", "affine map on the piece")
    widths = [max(len(row[k]) for row in (header, *rows)) for k in range(3)]
    for row in (header, *rows):
        print(f"  {row[0]:>{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")
    print()


def _print_counts(doc: dict, seconds: float, lp_calls: int) -> None:
    print(f"  {'dim':>5}  {'pieces':>8}")
    for dim, count in doc["counts_by_dim"].items():
        print(f"  {dim:>5}  {count:>8}")
    total = sum(doc["counts_by_dim"].values())
    print(f"  total {total} pieces, {doc['regions']} full-dimensional regions "
          f"({seconds:.2f} s, {lp_calls} LP calls)")
    if "linear_pieces" in doc:
        print(f"  {doc['linear_pieces']} linear pieces (adjacent regions with one affine map "
              "merged)")


# -- check and verify --------------------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    first, second = _check_architectures(args)
    a, b = load_network(args.first, first), load_network(args.second, second)
    domain = _domain(args, a.input_dim)
    progress = Progress("check")
    try:
        result = check(a, b, domain, args.scope, args.backend,
                       progress=lambda s: progress.update(s.leaves, "pieces", s.open_nodes),
                       workers=args.workers)
    finally:
        progress.close()
    if result.certificate is not None and args.certificate:
        write_json_atomically(result.certificate, args.certificate)
    doc = result.to_document()
    if args.json:
        _print_json(doc)
    else:
        print(f"{result.verdict} ({result.scope}, {result.pieces_checked} pieces checked)")
        if result.counterexample is not None:
            print(f"  counterexample x = ({', '.join(doc['counterexample'])})")
            print(f"  {args.first}: {_show(doc['outputs'][0])}")
            print(f"  {args.second}: {_show(doc['outputs'][1])}")
        else:
            print(f"  the trusted kernel accepts the proof: {doc['proves']}")
            if args.certificate:
                print(f"  certificate written to {args.certificate}")
    return 0 if result.proven else 1


def cmd_property(args: argparse.Namespace) -> int:
    net = load_network(args.network, args.architecture)
    prop = load_vnnlib_property(args.vnnlib, net.input_dim, net.output_dim)
    progress = Progress("property")
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        result = decide_property(
            net, prop, args.backend, args.workers, args.cluster,
            progress=lambda count, job: progress.update(count, "pieces",
                                                        job.stats.open_nodes),
            checkpoint=args.checkpoint, bisect=not args.no_bisect,
            box_progress=lambda boxes: progress.update(boxes.bound_leaves, "boxes closed",
                                                       boxes.open_boxes),
            kernel_progress=progress.checked)
    finally:
        signal.signal(signal.SIGTERM, previous)
        progress.close()
    code = 0 if result.holds else 130 if result.verdict == "undecided" else 1
    if result.certificate is not None and args.certificate:
        write_json_atomically(result.certificate, args.certificate)
    doc = {"property": prop.description, **result.to_document()}
    if args.json:
        _print_json(doc)
        return code
    closed = "" if result.boxes is None else \
        f"{result.boxes.bound_leaves} boxes closed by bounds, "
    print(f"{result.verdict.upper()} ({prop.description}; scope {result.scope}, {closed}"
          f"{result.pieces_checked} pieces checked, {result.lp_calls} LPs)")
    if result.verdict == "undecided":
        print("  interrupted: no counterexample among the pieces checked; nothing is proven")
        if args.checkpoint:
            print(f"  progress saved; resume with --checkpoint {args.checkpoint}")
    elif result.counterexample is not None:
        print(f"  counterexample x = ({', '.join(doc['counterexample'])})")
        print(f"  outputs y = ({', '.join(doc['outputs'])}), in disjunct {result.disjunct} of "
              "the unsafe set (exact evaluation)")
    else:
        print(f"  the trusted kernel accepts the proof: {doc['proves']}")
        if args.certificate:
            print(f"  certificate written to {args.certificate}")
    return code


def _check_architectures(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The architectures of check's two networks: --architecture applies to each of them that
    is a PyTorch file, --second-architecture (if given) to the second instead."""
    torch_file = [Path(p).suffix.lower() in TORCH_SUFFIXES for p in (args.first, args.second)]
    if args.architecture is not None and not any(torch_file):
        raise InputError("--architecture: neither network is a PyTorch file (.pt, .pth)")
    if args.second_architecture is not None and not torch_file[1]:
        raise InputError(f"--second-architecture: {args.second} is not a PyTorch file "
                         "(.pt, .pth)")
    first = args.architecture if torch_file[0] else None
    second = args.second_architecture or args.architecture if torch_file[1] else None
    return first, second


def _show(output: str | list[str]) -> str:
    return output if isinstance(output, str) else ", ".join(output)


def cmd_verify(args: argparse.Namespace) -> int:
    networks = None
    if args.networks:
        if len(args.networks) > 2:
            raise InputError(f"--networks: {len(args.networks)} files given; a certificate is "
                             "about two networks (an equality) or one (a property)")
        networks = tuple(network_to_document(load_network(path)) for path in args.networks)
    progress = Progress("verify")
    try:
        verdict = kernel.verify_text(read_text(args.certificate), networks,  # type: ignore
                                     args.workers, progress.checked)
    finally:
        progress.close()
    if args.json:
        _print_json({"valid": verdict.valid, "reason": verdict.reason, "path": verdict.path,
                     "pieces": verdict.pieces, "empties": verdict.empties,
                     "nodes": verdict.nodes, "scope": verdict.scope, "proves": verdict.claim,
                     "networks": list(verdict.networks), "domain": verdict.domain,
                     "about_given_networks": bool(networks) and verdict.valid})
    elif verdict.valid:
        print(f"VALID: {verdict.reason}")
        for k, digest in enumerate(verdict.networks):
            given = f" = {args.networks[k]}" if networks else ""
            print(f"  networks[{k}]: {digest}{given}")
    else:
        print(f"INVALID at {verdict.path}: {verdict.reason}" if verdict.path
              else f"INVALID: {verdict.reason}")
    return 0 if verdict.valid else 1


# -- convert -----------------------------------------------------------------------------------

def cmd_convert(args: argparse.Namespace) -> int:
    net = load_network(args.network, args.architecture)
    domain = _domain(args, net.input_dim)
    if args.to == "dgn":
        return _convert_to_dgn(args, net, domain)
    if args.method == "closed-cells" and not args.no_verify:
        raise InputError("--method closed-cells is wrong on walls and is only written with "
                         "--no-verify (run check on the result to see the counterexample)")
    progress = Progress("convert")
    try:
        result = to_shallow(net, args.method, domain, args.backend, verify=not args.no_verify,
                            workers=args.workers, cluster=args.cluster,
                            progress=lambda unit, done: progress.update(done, unit, 0))
    finally:
        progress.close()
    widths = " -> ".join(map(str, result.network.widths))
    if result.verdict is not None and not result.verdict.proven:
        doc = result.verdict.to_document()
        print(f"REFUTED: the {args.method} construction differs from {args.network} at "
              f"x = ({', '.join(doc['counterexample'])}); nothing written", file=sys.stderr)
        return 1
    extra = {"verified": result.verified, "method": args.method, "domain": domain.description,
             "unpruned_widths": list(result.unpruned_widths), "source": args.network}
    if result.verdict is not None and args.certificate:
        write_json_atomically(result.verdict.certificate, args.certificate)
        extra["certificate"] = args.certificate
    save_network(result.network, args.output, extra)
    doc = {"output": args.output, "widths": list(result.network.widths),
           "pieces": result.pieces, "terms": result.terms, "verified": result.verified,
           "seconds": round(progress.elapsed, 3)}
    if result.verdict is not None:
        doc.update({key: value for key, value in result.verdict.to_document().items()
                    if key in ("scope", "proves", "networks", "stats")})
        if args.certificate:
            doc["certificate"] = args.certificate
    if args.json:
        _print_json(doc)
        return 0
    status = "PROVEN equal by the trusted kernel" if result.verified \
        else "NOT verified (--no-verify)"
    print(f"wrote {args.output}: widths {widths} from {result.pieces} pieces, "
          f"{result.terms} terms; {status} on {domain.description}")
    return 0


def _convert_to_dgn(args: argparse.Namespace, net: Network, domain: Domain) -> int:
    """A ReLU network as the DGN whose gating network is itself, proven equal."""
    if not isinstance(net, ReluNetwork):
        raise InputError(f"{args.network}: --to dgn rewrites a relu network as its own DGN; "
                         f"this is already a {net.kind} network")
    net.require_finite(f"{args.network}: --to dgn: an extended-real network has no DGN form")
    gated = as_dgn(net)
    verdict = None if args.no_verify else check(net, gated, domain, backend=args.backend)
    if verdict is not None and not verdict.proven:
        print(f"REFUTED at {verdict.to_document()['counterexample']}; nothing written",
              file=sys.stderr)
        return 1
    extra = {"verified": verdict is not None, "domain": domain.description,
             "source": args.network}
    if verdict is not None and args.certificate:
        write_json_atomically(verdict.certificate, args.certificate)
    save_network(gated, args.output, extra)
    status = "PROVEN equal" if verdict is not None else "NOT verified (--no-verify)"
    print(f"wrote {args.output}: the DGN form of {args.network}; {status} on "
          f"{domain.description}")
    return 0


# -- demo --------------------------------------------------------------------------------------

def cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="deep2shallow-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    path = EXAMPLES / "tiny.json"
    net = load_network(str(path))
    print(f"1. example network {path.name}: widths {' -> '.join(map(str, net.widths))}")
    x = (Fraction(1, 2), Fraction(-1, 3))
    print(f"2. exact output at x = (1/2, -1/3): {format_number(evaluate(net, x)[0])}")
    counts = counts_by_dim(PieceEnumeration(net))
    print("3. pieces of Q^2 by dimension: "
          + ", ".join(f"dim {d}: {c}" for d, c in sorted(counts.items(), reverse=True)))
    result = to_shallow(net)
    assert result.verdict is not None
    shallow_path, cert_path = out / "tiny.shallow.json", out / "tiny.certificate.json"
    if result.verdict.certificate is None:
        print(f"4. the construction was REFUTED: {result.verdict.to_document()}")
        return 1
    save_network(result.network, shallow_path, {"verified": True, "method": "faces"})
    write_json_atomically(result.verdict.certificate, cert_path)
    print(f"4. three-layer network {' -> '.join(map(str, result.network.widths))} "
          f"(second layer gated by -inf) written to {shallow_path}")
    print(f"5. checker: {result.verdict.verdict} on all of Q^2 "
          f"({result.verdict.pieces_checked} pieces); certificate {cert_path}")
    verdict = kernel.verify_text(cert_path.read_text())
    print(f"6. trusted kernel re-verifies the certificate: "
          f"{'VALID' if verdict.valid else 'INVALID: ' + verdict.reason}")
    return 0 if verdict.valid else 1


# -- the parser --------------------------------------------------------------------------------

def _domain_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--box", help="closed box lo:hi,lo:hi,... (or one lo:hi for every input)")
    p.add_argument("--polytope", help="polytope JSON file (format deep2shallow-exact/polytope)")
    p.add_argument("--vnnlib", help="take the input box of a VNN-LIB property")


ARCHITECTURE_HELP = ("for a PyTorch state_dict, which holds no activations: its Sequential's "
                     "modules in order, e.g. linear,relu,linear; or dlgn / dgn for the DLGN "
                     "reference code's DLGN_FC_Network / DGN_FC_Network")


def _network_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("network")
    p.add_argument("--architecture", metavar="MODULES", help=ARCHITECTURE_HELP)


def _workers_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=available_cpus(),
                   help="processes for runs longer than a fraction of a second (default: the "
                        f"usable CPUs, here {available_cpus()}); the answer is the same for any "
                        "number")


def _cluster_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="run the piece search on a Dask cluster: a scheduler's address "
                        "(tcp://host:8786) or local:N (N worker processes started here); "
                        "needs the extra [cluster]; the answer is the same as without")


def _backend_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("auto", "float", "exact"), default="auto",
                   help="LP backend: float-guided (HiGHS proposes, exact arithmetic confirms), "
                        "pure exact rational simplex, or auto (default: exact for small "
                        "systems, float-guided for large ones)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deep2shallow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("demo", help="run the main job on a bundled example network")
    p.add_argument("--out", help="directory for the files it writes (default: a new temp dir)")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("info", help="kind, widths, parameters, denominators of a network")
    _network_argument(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_info)

    p = sub.add_parser("evaluate", help="exact output at a rational point")
    _network_argument(p)
    p.add_argument("--at", required=True, help="the point, e.g. 1/2,-3,0.25")
    p.add_argument("--json", action="store_true")
    p.add_argument("--soft", metavar="BETA",
                   help="also evaluate with soft gates sigmoid(BETA*q) (mpmath) and report the gap")
    p.add_argument("--precision", type=int, default=30,
                   help=f"digits for --soft (default 30, at most {MAX_DPS})")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("regions", help="enumerate the pieces of the input domain exactly")
    _network_argument(p)
    _domain_options(p)
    p.add_argument("--scope", choices=("everywhere", "open"), default="everywhere")
    p.add_argument("--json", action="store_true")
    p.add_argument("--summary", action="store_true", help="counts only, no piece list")
    p.add_argument("--max-pieces", type=int, help="stop after this many pieces (partial)")
    p.add_argument("--checkpoint", help="save progress here and resume from it if it exists")
    p.add_argument("--merge", action="store_true",
                   help="also count linear pieces (adjacent regions with the same map merged)")
    _workers_option(p)
    _cluster_option(p)
    _backend_option(p)
    p.set_defaults(run=cmd_regions)

    p = sub.add_parser("check", help="prove two networks equal on a domain, or refute")
    p.add_argument("first")
    p.add_argument("second")
    p.add_argument("--architecture", metavar="MODULES",
                   help=f"{ARCHITECTURE_HELP} (applies to each PyTorch file of the two)")
    p.add_argument("--second-architecture", metavar="MODULES",
                   help="the second network's architecture, when it differs from the first's")
    _domain_options(p)
    p.add_argument("--scope", choices=("auto", "everywhere", "open"), default="auto",
                   help="auto (default): open for two finite ReLU networks on a domain with "
                        "interior points (continuity then proves equality everywhere), else "
                        "everywhere")
    p.add_argument("--certificate", help="write the certificate here when PROVEN")
    p.add_argument("--json", action="store_true")
    _workers_option(p)
    _backend_option(p)
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("convert", help="rewrite as a three-layer extended-real network")
    _network_argument(p)
    p.add_argument("-o", "--output", required=True, help="where to write the shallow network")
    p.add_argument("--method", choices=("faces", "closed-cells"), default="faces")
    p.add_argument("--to", choices=("shallow", "dgn"), default="shallow",
                   help="the three-layer network (default), or the network's own DGN form")
    _domain_options(p)
    p.add_argument("--no-verify", action="store_true",
                   help="write without proving (the file is marked \"verified\": false)")
    p.add_argument("--certificate", help="also write the equality certificate here")
    p.add_argument("--json", action="store_true",
                   help="print what was written and proven, with the proof's statistics")
    _workers_option(p)
    _cluster_option(p)
    _backend_option(p)
    p.set_defaults(run=cmd_convert)

    p = sub.add_parser("show", help="the network as a sympy formula (text or LaTeX)")
    _network_argument(p)
    p.add_argument("--latex", action="store_true")
    _domain_options(p)
    _backend_option(p)
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("explain", help="the exact local linear model at a point")
    _network_argument(p)
    p.add_argument("--at", required=True, help="the point, e.g. 1/2,-3")
    _domain_options(p)
    p.add_argument("--attributions", action="store_true",
                   help="add exact Shapley values and integrated gradients")
    p.add_argument("--baseline", help="baseline point for attributions (default: the origin)")
    p.add_argument("--shapley-method", choices=("auto", "coalitions", "one-region"),
                   default="auto")
    p.add_argument("--no-ig", action="store_true", help="skip integrated gradients")
    p.add_argument("--json", action="store_true")
    _backend_option(p)
    p.set_defaults(run=cmd_explain)

    p = sub.add_parser("plot", help="draw the regions (2 inputs), the graph (1) or a 2-D slice")
    _network_argument(p)
    p.add_argument("-o", "--output", required=True, help="picture file (.png, .pdf, .svg)")
    p.add_argument("--box", help="plotted window lo:hi,lo:hi in the plotted coordinates")
    p.add_argument("--show-output", action="store_true", help="colour by the output value")
    p.add_argument("--output-index", type=int, default=1, help="which output to colour (1-based)")
    p.add_argument("--slice-point", help="for 3+ inputs: the point the plane goes through")
    p.add_argument("--directions", help='for 3+ inputs: two directions "d1;d2"')
    p.add_argument("--json", action="store_true")
    _backend_option(p)
    p.set_defaults(run=cmd_plot)

    p = sub.add_parser("report", help="one-page HTML or Markdown report on a network")
    _network_argument(p)
    p.add_argument("-o", "--output", required=True, help="report.html or report.md")
    p.add_argument("--box", help="domain box lo:hi,...")
    p.add_argument("--no-shallow", action="store_true",
                   help="skip the three-layer rewrite and its proof (the slow part)")
    p.add_argument("--json", action="store_true")
    _backend_option(p)
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("gates", help="the effective hyperplane of every gate of a DLGN")
    _network_argument(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_gates)

    p = sub.add_parser("npk", help="exact neural path kernel Gram matrix on given points")
    _network_argument(p)
    p.add_argument("--points", required=True,
                   help='points file: JSON {"points": [[...], ...]} or one x1,x2,... per line')
    p.add_argument("--bias-paths", action="store_true", help="include paths from the biases")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_npk)

    p = sub.add_parser("property", help="decide a VNN-LIB property exactly: holds (with a "
                       "certificate) or violated (with an exact counterexample)")
    _network_argument(p)
    p.add_argument("--vnnlib", required=True,
                   help="the property: its input box is the domain, its output assertions "
                        "the unsafe set")
    p.add_argument("--certificate", help="write the property certificate here")
    p.add_argument("--checkpoint", help="save progress here and resume from it if it exists")
    p.add_argument("--no-bisect", action="store_true",
                   help="enumerate the pieces of the whole box, without first closing parts "
                        "of it by bounds")
    p.add_argument("--json", action="store_true")
    _workers_option(p)
    _cluster_option(p)
    _backend_option(p)
    p.set_defaults(run=cmd_property)

    p = sub.add_parser("verify", help="re-verify a certificate with the trusted kernel")
    p.add_argument("certificate")
    p.add_argument("--networks", nargs="+", metavar="NET",
                   help="also check, exactly, that the certificate is about these files (two "
                        "for an equality, one for a property)")
    p.add_argument("--json", action="store_true")
    _workers_option(p)
    p.set_defaults(run=cmd_verify)
    return parser


# A value that starts with "-" and then a digit, a point or "inf": a number, a point or a box
# such as -1/2,3 or -2:3,0:1 or -inf:0, never an option.
_NEGATIVE_VALUE = re.compile(r"-(\d|\.\d|inf)", re.IGNORECASE)


def _value_options(parser: argparse.ArgumentParser) -> set[str]:
    """The long options, in the parser and its subcommands, that take one value."""
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _value_options(sub)
        elif action.option_strings and action.nargs is None:
            found.update(o for o in action.option_strings if o.startswith("--"))
    return found


def attach_negative_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``--at -1/2,3`` as ``--at=-1/2,3``: argparse takes a value that starts with "-" (and is
    not a plain negative number) for an option and fails with "expected one argument"."""
    options = _value_options(parser)
    out: list[str] = []
    items = list(argv)
    k = 0
    while k < len(items):
        token = items[k]
        if (token in options and k + 1 < len(items)
                and _NEGATIVE_VALUE.match(items[k + 1]) and items[k + 1] not in options):
            out.append(f"{token}={items[k + 1]}")
            k += 2
            continue
        if token == "--":
            out.extend(items[k:])
            break
        out.append(token)
        k += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(attach_negative_values(
        parser, sys.argv[1:] if argv is None else argv))
    if getattr(args, "max_pieces", None) is not None and args.max_pieces < 1:
        parser.error("--max-pieces must be at least 1")
    if getattr(args, "workers", 1) < 1:
        parser.error("--workers must be at least 1")
    try:
        return args.run(args)
    except InputError as exc:
        print(f"deep2shallow: error: {exc}", file=sys.stderr)
        return 2
    except KernelRejected as exc:
        print(f"deep2shallow: {exc}; nothing written", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deep2shallow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
