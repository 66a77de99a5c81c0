"""A progress line on stderr for long runs; silent for runs under a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Call :meth:`update` often; it prints at most a few times a second, after ``delay``."""

    def __init__(self, label: str, stream: TextIO | None = None, delay: float = 1.0) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self.delay = delay
        self.last = 0.0
        self.shown = False
        self.tty = self.stream.isatty()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def update(self, done: int, unit: str, open_nodes: int) -> None:
        if self._due():
            rate = done / max(self.elapsed, 1e-9)
            self._show(f"{done} {unit}, {open_nodes} open nodes, {rate:.0f} {unit}/s")

    def checked(self, nodes: int, total: int) -> None:
        """The trusted kernel's progress through a certificate's tree."""
        if self._due():
            self._show(f"kernel: {nodes} of {total} certificate nodes checked")

    def _due(self) -> bool:
        now = time.monotonic()
        interval = 0.25 if self.tty else 10.0
        if now - self.start < self.delay or now - self.last < interval:
            return False
        self.last = now
        return True

    def _show(self, what: str) -> None:
        text = f"{self.label}: {what}, {self.elapsed:.0f} s"
        self.stream.write(f"\r{text}\033[K" if self.tty else text + "\n")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown and self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()
