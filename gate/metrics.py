"""The gate's Prometheus metrics: plain counters on the request path, exposition by prometheus_client.

Incrementing an int costs a fraction of what a prometheus_client ``Counter.inc`` costs (which takes a
lock), and the gate counts several things per request; so the request path only adds to plain
numbers and :meth:`GateMetrics.collect` turns them into metric families when ``/metrics`` is read.
Each worker process reports its own counters (the ``pid`` label tells them apart).

Where they are read: on their own listen address (``--metrics-listen``, loopback by default, see
:func:`serve`), or on the main port with ``Authorization: Bearer <--metrics-token>``; never publicly.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from collections.abc import Callable, Iterator

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


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9108`` for IPv6) -> (host, port); ValueError naming the option otherwise."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--metrics-listen {text!r}: give host:port, e.g. 127.0.0.1:9108")
    return host, int(port)


async def serve(host: str, port: int, exposition: Callable[[], bytes]) -> asyncio.AbstractServer:
    """A minimal HTTP listener answering ``GET /metrics`` only, on its own (by default loopback) address.

    It reads one request head (at most 8 KB, within 5 s), answers and closes: enough for a Prometheus
    scraper, nothing a visitor of the main port can reach.
    """

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].split(b" ")
            if len(line) == 3 and line[0] in (b"GET", b"HEAD") and line[1].split(b"?")[0] == b"/metrics":
                body, status = exposition(), b"200 OK"
                kind = b"text/plain; version=0.0.4; charset=utf-8"
            else:
                body, status, kind = b"not found\n", b"404 Not Found", b"text/plain; charset=utf-8"
            writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: " + kind + b"\r\ncontent-length: "
                         + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
                         + (body if line[0] == b"GET" else b""))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, host, port, limit=8192)
