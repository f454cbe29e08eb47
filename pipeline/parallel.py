"""One parallel map for the pipeline: a function over items on N workers, with a progress bar.

The build converts cables and builds sites in forked worker processes; publication uploads and
checks blobs on threads. Both want the same things: each result as soon as it is ready, a progress
bar on a terminal (silent elsewhere: the commands print the results), and the first failure
cancelling what has not started yet and being raised where the map is read.

In worker processes, the function (with whatever it holds, such as the build's job) reaches each
worker once, when the worker is forked, through the pool's initializer: it is never pickled. Only
the items and the results cross between processes.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

#: In a worker process only: the function it was started for (set by the pool's initializer).
_worker_function: Callable[[Any], Any] | None = None


def parallel_map(fn: Callable[[Item], Result], items: Iterable[Item], *, jobs: int, processes: bool = False,
                 progress: str | None = None, keep_bar: bool = False,
                 weight: Callable[[Item], int] | None = None) -> Iterator[Result]:
    """``fn`` over ``items`` on up to ``jobs`` workers (forked processes with ``processes``, else
    threads), yielding each result as it completes; with ``processes`` and one job or one item, in
    this process, in order. ``progress``: the label of a bar shown when stderr is a terminal,
    advanced by ``weight(item)`` (default 1) per result, left on screen with ``keep_bar``. The first
    failure cancels the items not started yet and is raised."""
    items = list(items)
    if not items:
        return
    total = sum(weight(item) for item in items) if weight else len(items)
    with _Bar(progress, total, keep_bar) as bar:
        for item, result in _results(fn, items, jobs, processes):
            bar.advance(weight(item) if weight else 1)
            yield result


def _results(fn: Callable[[Item], Result], items: list[Item], jobs: int,
             processes: bool) -> Iterator[tuple[Item, Result]]:
    workers = max(1, min(jobs, len(items)))
    if processes and workers == 1:
        for item in items:
            yield item, fn(item)
        return
    if processes:
        pool: cf.Executor = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                                   initializer=_start_worker, initargs=(fn,))
        call: Callable[[Any], Any] = _call_worker_function
    else:
        pool, call = cf.ThreadPoolExecutor(max_workers=workers), fn
    with pool:
        futures = {pool.submit(call, item): item for item in items}
        try:
            for future in cf.as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _start_worker(fn: Callable[[Any], Any]) -> None:
    global _worker_function
    _worker_function = fn


def _call_worker_function(item: Any) -> Any:
    assert _worker_function is not None, "called outside a worker process of parallel_map"
    return _worker_function(item)


class _Bar:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, label: str | None, total: int, keep: bool) -> None:
        self.progress: Any = None
        if label and total and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=Console(stderr=True), transient=not keep)
            self.task = self.progress.add_task(label, total=total)

    def __enter__(self) -> _Bar:
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def advance(self, count: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, count)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)
