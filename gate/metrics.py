"""The gate's Prometheus metrics: plain counters on the request path, exposition by prometheus_client.

Incrementing an int costs a fraction of what a prometheus_client ``Counter.inc`` costs (which takes a
lock), and the gate counts several things per request; so the request path only adds to plain
numbers and :meth:`GateMetrics.collect` turns them into metric families when ``/metrics`` is read.
Each worker process reports its own counters (the ``pid`` label tells them apart).
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


class GateMetrics:
    """Requests by status, a latency histogram, blob and session cache hits; one instance per process."""

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.blob_hits = self.blob_misses = 0
        self.session_hits = self.session_misses = 0
        self.blob_cache_bytes = 0
        self.pid = str(os.getpid())

    def observe(self, status: int, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.buckets[bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def collect(self) -> Iterator[Metric]:
        pid = self.pid
        requests = CounterMetricFamily("diplomatie_gate_requests", "Requests answered, by status code.",
                                       labels=["pid", "status"])
        for status, count in sorted(self.statuses.items()):
            requests.add_metric([pid, str(status)], count)
        yield requests
        cumulative, running = [], 0
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), self.buckets, strict=True):
            running += count
            cumulative.append((bound, running))
        latency = HistogramMetricFamily("diplomatie_gate_request_seconds", "Time to answer a request.",
                                        labels=["pid"])
        latency.add_metric([pid], cumulative, self.latency_sum)
        yield latency
        blobs = CounterMetricFamily("diplomatie_gate_blob_cache", "Blob cache look-ups, by result.",
                                    labels=["pid", "result"])
        blobs.add_metric([pid, "hit"], self.blob_hits)
        blobs.add_metric([pid, "miss"], self.blob_misses)
        yield blobs
        sessions = CounterMetricFamily("diplomatie_gate_session_cache",
                                       "Session look-ups: hit = verified claims reused, miss = signature checked.",
                                       labels=["pid", "result"])
        sessions.add_metric([pid, "hit"], self.session_hits)
        sessions.add_metric([pid, "miss"], self.session_misses)
        yield sessions
        size = GaugeMetricFamily("diplomatie_gate_blob_cache_bytes", "Bytes held by the blob cache.", labels=["pid"])
        size.add_metric([pid], self.blob_cache_bytes)
        yield size

    def exposition(self) -> bytes:
        """The Prometheus text format of everything above."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return generate_latest(registry)
