"""How the library reports a long step: the caller (the CLI, the server) draws it, or not."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...


#: Makes the progress of one named step (hashing, reading the stored vectors, building the
#: vector index, saving it); a step that cannot count its work has a total of 1.
Steps = Callable[[str], Progress]


@contextmanager
def step(steps: Steps | None, name: str, total: int = 1) -> Iterator[Callable[[int], None]]:
    """The ``advance`` of step ``name`` (a no-op without ``steps``); a step that ends without an
    error is advanced to its total, then finished."""
    if steps is None:
        yield lambda n=1: None
        return
    progress = steps(name)
    progress.start(total)
    done = 0

    def advance(n: int = 1) -> None:
        nonlocal done
        done += n
        progress.advance(n)

    try:
        yield advance
        if done < total:
            progress.advance(total - done)
    finally:
        progress.finish()
