"""Errors the package raises on purpose.

:class:`InputError` is bad input: the command line prints its one-line message and exits 2.
:class:`UndefinedError` is an ∞ − ∞ met while evaluating an extended-real network.
"""


class InputError(ValueError):
    """Bad input; the message names the file, field, layer or shape at fault."""


class UndefinedError(ArithmeticError):
    """An undefined ∞ − ∞; the message names the layer and neuron."""
