"""Starting the gate: the one entry point of the gate that the command line may import.

``diplomatie gate`` and ``diplomatie demo`` hold plain values (their options); :func:`launch` turns
them into the gate's configuration (:class:`gate.config.GateConfig` with its
:class:`gate.mail.SmtpSettings`, and :class:`gate.server.ServerLimits`) and serves it until
interrupted. The commands thus never depend on how the gate's configuration is split among its
modules, and the gate's defaults stay in those classes alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.config import GateConfig
from gate.mail import SmtpSettings
from gate.server import ServerLimits, serve


def launch(*, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, interface: str = "rsgi",
           limits: Mapping[str, Any] | None = None, smtp: Mapping[str, Any] | None = None,
           **settings: Any) -> None:
    """Check the configuration, then serve the gate on ``host:port`` until interrupted (blocking).

    ``settings`` are :class:`GateConfig`'s fields by name (``store``, ``keys`` and ``base_url`` at
    least), ``smtp`` :class:`SmtpSettings`' and ``limits`` :class:`ServerLimits`'; what is left out
    keeps its documented default. Raises ``ValueError`` (an option to fix, named in the message) or
    :class:`gate.tokens.KeysError` before any worker starts.
    """
    config = GateConfig(**settings, smtp=SmtpSettings(**(smtp or {})))
    serve(config, host=host, port=port, workers=workers, interface=interface,
          limits=ServerLimits(**(limits or {})))
