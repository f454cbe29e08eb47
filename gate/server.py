"""Running the gate: granian with one or more worker processes, the RSGI interface by default.

:func:`serve` runs in the foreground until interrupted; ``diplomatie gate`` and ``diplomatie demo``
call it. Workers are separate processes, so the configuration travels to them as JSON in the
environment and each worker builds its own :class:`gate.app.Gate` (its own caches; shared state lives
only in the store).
"""

from __future__ import annotations

import os

from gate.app import CONFIG_ENV, Gate, GateConfig


def check(config: GateConfig) -> None:
    """Fail fast, in the parent process, on what would make every worker fail (keys, store URL)."""
    with open(os.devnull, "w") as devnull:
        Gate(config, log_stream=devnull)  # raises KeysError / ValueError with a clear message


def serve(config: GateConfig, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          interface: str = "rsgi", log_level: str = "warning") -> None:
    """Serve the gate on ``host:port`` with ``workers`` processes until interrupted (blocking)."""
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    check(config)
    os.environ[CONFIG_ENV] = config.to_json()
    Server(
        "gate.app:from_environment",
        address=host,
        port=port,
        interface=Interfaces.RSGI if interface == "rsgi" else Interfaces.ASGINL,
        workers=workers,
        http=HTTPModes.http1,
        websockets=False,
        factory=True,
        log_level=LogLevels(log_level),
        log_access=False,
        respawn_failed_workers=True,
    ).serve()
