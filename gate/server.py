"""Running the gate: granian with one or more worker processes, the RSGI interface by default.

:func:`serve` runs in the foreground until interrupted; ``diplomatie gate`` and ``diplomatie demo``
call it through :func:`gate.launch.launch`. Workers are separate processes, so the configuration
travels to them as JSON in the environment and each worker builds its own :class:`gate.app.Gate`
(its own caches; shared state lives only in the store).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

from gate.app import CONFIG_ENV, Gate, GateConfig


@dataclass(frozen=True)
class ServerLimits:
    """What the server (granian, before the application sees a request) grants each connection.

    A client that opens connections and sends headers slowly (or never finishes them) holds a slot
    until ``header_timeout``; ``max_connections`` slots per worker are served at once (granian's
    ``backpressure``: connections past it wait in the kernel's ``backlog``). The defaults keep
    thousands of half-sent requests from one address from delaying anyone else by more than a
    second; behind nginx, nginx's own limits apply first (deploy/nginx.conf).
    """

    header_timeout: float = 5.0  # seconds to receive a request's headers, and to idle between requests
    keep_alive: bool = True
    max_connections: int = 16384  # per worker
    backlog: int = 4096  # the kernel caps it at net.core.somaxconn

    def __post_init__(self) -> None:
        if not 0.001 <= self.header_timeout <= 60:
            raise ValueError("--header-timeout must be between 0.001 and 60 seconds")
        if self.max_connections < 1:
            raise ValueError("--max-connections must be at least 1")
        if self.backlog < 128:
            raise ValueError("--backlog must be at least 128")


class PortInUse(ValueError):
    """Another process listens on the gate's address and port."""


def check(config: GateConfig) -> None:
    """Fail fast, in the parent process, on what would make every worker fail (keys, store URL)."""
    with open(os.devnull, "w") as devnull:
        Gate(config, log_stream=devnull)  # raises KeysError / ValueError with a clear message


@contextlib.contextmanager
def claim_port(host: str, port: int) -> Iterator[socket.socket]:
    """Hold ``host:port`` for this gate, or raise :class:`PortInUse`, for as long as the block runs.

    granian's workers each bind their own listening socket with ``SO_REUSEPORT`` (the kernel spreads
    connections among them), so a second gate started on a busy port would join the first one's
    workers silently and links would fail at random. The claim binds first *without*
    ``SO_REUSEPORT``, which fails if anything holds the port, then sets ``SO_REUSEPORT`` on the bound
    socket so that only our own workers can join it; the held socket (never listening, so it takes
    no connection) makes every later claim on the port fail the same way. (``SO_REUSEADDR`` lets a
    restarted gate bind past its predecessor's ``TIME_WAIT`` connections; two gates started within
    the same second, before either listens, are the one case this cannot tell apart.)
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ValueError(f"--host {host!r}: {exc.strerror}") from None
    guard = socket.socket(family, kind, proto)
    try:
        guard.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed gate's TIME_WAIT is no owner
        try:
            guard.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"port {port} on {host} is already in use (another gate, or another server); "
                                f"stop it or choose another --port") from None
            raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        if hasattr(socket, "SO_REUSEPORT"):
            guard.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        yield guard
    finally:
        guard.close()


def serve(config: GateConfig, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          interface: str = "rsgi", log_level: str = "warning", limits: ServerLimits | None = None) -> None:
    """Serve the gate on ``host:port`` with ``workers`` processes until interrupted (blocking)."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    limits = limits or ServerLimits()
    check(config)
    os.environ[CONFIG_ENV] = config.to_json()
    with claim_port(host, port):
        Server(
            "gate.app:from_environment",
            address=host,
            port=port,
            interface=Interfaces.RSGI if interface == "rsgi" else Interfaces.ASGINL,
            workers=workers,
            http=HTTPModes.http1,
            http1_settings=HTTP1Settings(header_read_timeout=int(limits.header_timeout * 1000),
                                         keep_alive=limits.keep_alive),
            backlog=limits.backlog,
            backpressure=limits.max_connections,
            websockets=False,
            factory=True,
            log_level=LogLevels(log_level),
            log_access=False,
            respawn_failed_workers=True,
        ).serve()
