"""``parallel_map``: every result, from threads or forked processes; the first failure stops the rest."""

from __future__ import annotations

import os
import threading
import time

import pytest

from pipeline.parallel import parallel_map


def test_threads_give_every_result_once():
    assert sorted(parallel_map(lambda x: x * x, range(50), jobs=8)) == [x * x for x in range(50)]


def test_no_items_no_work():
    assert list(parallel_map(lambda x: 1 / 0, [], jobs=4, processes=True)) == []


def test_processes_receive_the_function_when_forked_never_pickled():
    lock = threading.Lock()  # cannot be pickled: the function reaches the workers through fork

    def where(x: int) -> tuple[int, int]:
        with lock:
            return x, os.getpid()

    results = list(parallel_map(where, range(6), jobs=2, processes=True))
    assert sorted(x for x, _ in results) == list(range(6))
    assert os.getpid() not in {pid for _, pid in results}


def test_one_job_runs_here_in_order():
    assert list(parallel_map(lambda x: (x, os.getpid()), range(4), jobs=1, processes=True)) == \
        [(x, os.getpid()) for x in range(4)]


def test_the_first_failure_is_raised_and_what_has_not_started_is_cancelled():
    ran = []

    def work(x: int) -> int:
        ran.append(x)
        if x == 0:
            raise ValueError("item 0 failed")
        time.sleep(0.3)  # the one worker may have taken the next item before the failure is seen
        return x

    with pytest.raises(ValueError, match="item 0 failed"):
        list(parallel_map(work, range(20), jobs=1))
    assert ran in ([0], [0, 1])


def test_a_failure_in_a_worker_process_is_raised_here():
    def work(x: int) -> int:
        if x == 3:
            raise RuntimeError(f"cable {x} cannot be converted")
        return x

    with pytest.raises(RuntimeError, match="cable 3 cannot be converted"):
        list(parallel_map(work, range(8), jobs=2, processes=True))
