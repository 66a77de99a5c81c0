"""Errors the package raises on purpose, and reading a user's text file with them.

:class:`InputError` is bad input: the command line prints its one-line message and exits 2.
:class:`UndefinedError` is an ∞ − ∞ met while evaluating an extended-real network.
:class:`KernelRejected` is the trusted kernel refusing a certificate the package wrote.
"""


from pathlib import Path


class InputError(ValueError):
    """Bad input; the message names the file, field, layer or shape at fault."""


class UndefinedError(ArithmeticError):
    """An undefined ∞ − ∞; the message names the layer and neuron."""


class KernelRejected(RuntimeError):
    """The trusted kernel rejected a certificate this package wrote: a bug, reported as such
    (exit code 1) and never as PROVEN."""


def read_text(path: str | Path) -> str:
    """The text of a file the user named; a missing or unreadable file is an InputError."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
