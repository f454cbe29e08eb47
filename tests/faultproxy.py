"""A small fault-injecting HTTP/1.1 proxy, put between a client (boto3) and a real server (radosgw).

Each request is read whole, then :attr:`FaultProxy.rule` decides its fate from the method, path and a
running request number: forwarded untouched, answered with an error status, left unanswered (the
client times out), cut off mid-body (the upload is dropped with a TCP reset), or forwarded and then
dropped before the answer (the server did the write, the client saw a failure). Only what the S3
traffic needs: Content-Length bodies, keep-alive connections, one upstream connection per client one.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """What to do to one request: ``kind`` is "error", "timeout", "reset" or "drop"."""

    kind: str
    status: int = 503
    seconds: float = 5.0


PASS: Fault | None = None
Rule = Callable[[str, str, int], "Fault | None"]  # (method, path, request number) -> fault or None


def _read_head(sock: socket.socket, buf: bytearray) -> bytes | None:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end])
    del buf[:end]
    return head


def _read_exact(sock: socket.socket, buf: bytearray, n: int) -> bytes:
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("peer closed mid-body")
        buf += chunk
    data = bytes(buf[:n])
    del buf[:n]
    return data


def _read_line(sock: socket.socket, buf: bytearray) -> bytes:
    while b"\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("peer closed mid-body")
        buf += chunk
    end = buf.index(b"\r\n") + 2
    line = bytes(buf[:end])
    del buf[:end]
    return line


def _read_chunked(sock: socket.socket, buf: bytearray) -> bytes:
    """A whole chunked body, as the raw bytes to relay (sizes, chunks and trailer included)."""
    out = bytearray()
    while True:
        line = _read_line(sock, buf)
        out += line
        if int(line.split(b";")[0], 16) == 0:
            while True:  # optional trailer fields, then an empty line
                line = _read_line(sock, buf)
                out += line
                if line == b"\r\n":
                    return bytes(out)
        out += _read_exact(sock, buf, int(line.split(b";")[0], 16) + 2)


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if ":" in line)}


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST, like a crashed peer or a middlebox dropping the connection."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class FaultProxy:
    """``with FaultProxy(("127.0.0.1", port)) as proxy: proxy.url`` — set ``proxy.rule`` at any time."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.rule: Rule = lambda method, path, n: PASS
        self.requests = 0
        self.faults = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            # boto3 opens up to its pool size (publish uses 16 threads) at once: a backlog of 5 left
            # connections waiting past a 1 s connect timeout on a loaded machine.
            request_queue_size = 128

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        cbuf, ubuf = bytearray(), bytearray()
        try:
            while True:
                head = _read_head(client, cbuf)
                if head is None:
                    return
                method, path = head.split(b" ", 2)[:2]
                headers = _headers(head)
                length = int(headers.get("content-length", "0"))
                if headers.get("expect", "").lower() == "100-continue":
                    # answer it here: the whole body is read before anything goes upstream
                    client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    head = b"\r\n".join(line for line in head.split(b"\r\n")
                                          if not line.lower().startswith(b"expect:"))
                with self._lock:
                    self.requests += 1
                    number = self.requests
                fault = self.rule(method.decode(), path.decode(), number)
                if fault is not None:
                    with self._lock:
                        self.faults += 1
                if fault is not None and fault.kind == "reset":
                    if length:
                        _read_exact(client, cbuf, min(length, max(1, length // 2)))
                    _reset(client)
                    return
                body = _read_exact(client, cbuf, length)
                if fault is not None and fault.kind == "error":
                    msg = b"<?xml version=\"1.0\"?><Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>"
                    client.sendall(b"HTTP/1.1 %d Injected\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n"
                                   % (fault.status, len(msg)) + (b"" if method == b"HEAD" else msg))
                    continue
                if fault is not None and fault.kind == "timeout":
                    time.sleep(fault.seconds)
                    _reset(client)
                    return
                if upstream is None:
                    upstream = socket.create_connection(self.upstream)
                    upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                upstream.sendall(head + body)
                rhead = _read_head(upstream, ubuf)
                if rhead is None:
                    _reset(client)
                    return
                status = int(rhead.split(b" ", 2)[1])
                rheaders = _headers(rhead)
                rbody = b""
                if method != b"HEAD" and status not in (204, 304) and status >= 200:
                    if rheaders.get("transfer-encoding", "").lower() == "chunked":
                        rbody = _read_chunked(upstream, ubuf)
                    else:
                        rbody = _read_exact(upstream, ubuf, int(rheaders.get("content-length", "0")))
                if fault is not None and fault.kind == "drop":
                    _reset(client)
                    return
                client.sendall(rhead + rbody)
        except OSError:
            return
        finally:
            if upstream is not None:
                upstream.close()
            with contextlib.suppress(OSError):
                client.close()


def fail_from(n: int, fault: Fault, *, method: str = "PUT", path_contains: str = "/blobs/") -> Rule:
    """A rule failing every matching request from the ``n``-th matching one on (1-based)."""
    seen = 0
    lock = threading.Lock()

    def rule(m: str, path: str, number: int) -> Fault | None:
        nonlocal seen
        if m != method or path_contains not in path:
            return None
        with lock:
            seen += 1
            return fault if seen >= n else None

    return rule


def every(k: int, fault: Fault) -> Rule:
    """A rule failing every ``k``-th request (transient faults that retries should absorb)."""
    return lambda m, path, number: fault if number % k == 0 else None
