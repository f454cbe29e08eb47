"""The gate's log: one JSON line per request and per event, written in batches off the request path."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from json.encoder import encode_basestring as _json_str  # type: ignore[attr-defined]
from typing import Any, TextIO

from gate.http import MAX_PATH, Request, Response
from gate.store import utc_text


class Log:
    """Block-buffered whatever the stream is (a pipe to a log collector, a file): flushed by the poller
    every poll_interval and at once for events, so the request path never waits on a write."""

    def __init__(self, stream: TextIO, clock: Callable[[], float]) -> None:
        self.stream = stream
        self.clock = clock
        self.lines: list[str] = []
        self.loop_thread = threading.get_ident()
        self._second_text: tuple[int, str] = (-1, "")

    def timestamp(self, now: float) -> str:
        second = int(now)
        if self._second_text[0] != second:
            self._second_text = (second, utc_text(second).removesuffix("Z"))  # then milliseconds, then Z
        return f"{self._second_text[1]}.{int((now - second) * 1000):03d}Z"

    def request(self, req: Request, resp: Response, latency: float, now: float) -> None:
        subject = _json_str(resp.subject) if resp.subject else "null"
        community = _json_str(resp.community) if resp.community else "null"
        lines = self.lines
        lines.append(
            f'{{"time":"{self.timestamp(now)}","subject":{subject},"community":{community},'
            f'"method":{_json_str(req.method)},"path":{_json_str(req.path[:MAX_PATH])},"status":{resp.status},'
            f'"bytes":{len(resp.body)},"latency_ms":{latency * 1000:.3f}}}\n')
        if len(lines) >= 4096:
            self.flush()

    def event(self, record: dict[str, Any]) -> None:
        record = {"time": self.timestamp(self.clock()), **record}
        self.lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        if threading.get_ident() == self.loop_thread:
            self.flush()  # other threads only append; the event loop's thread does every write

    def flush(self) -> None:
        """Write out the lines gathered since the last flush (one write instead of one per request)."""
        if self.lines:
            lines, self.lines = self.lines, []
            self.stream.write("".join(lines))
        self.stream.flush()
