"""The real nginx (Debian's /usr/sbin/nginx) with the shipped deploy/nginx.conf, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.gatekit import ROOT, free_port, release_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOY = ROOT / "deploy"
TEMPLATE = DEPLOY / "nginx.conf"
ACCEL_PREFIX = "/_blobs"


def render(runtime: Path, port: int, gate_ports: list[int], store: Path, workers: int = 1,
           grant_keys: Path | None = None, report_every: float = 5, report_ports: list[int] | None = None,
           deploy: Path | None = None) -> str:
    """deploy/nginx.conf with its placeholders filled, exactly as an operator's sed would.

    ``grant_keys``: the file the gates write (``--grant-keys``); without it, a path nobody writes, so
    that nginx refuses every grant and asks the gate for every page (what it does when the file is lost).
    ``report_every``: seconds between two reports of the reads nginx served on a grant, to the gates
    (or to ``report_ports``). ``deploy``: the folder of nginx.conf, diplomatie_grant.lua and
    diplomatie_headers.conf (default: this repository's deploy/).
    """
    gates = "\n        ".join(f"server 127.0.0.1:{p};" for p in gate_ports)
    values = {"RUNTIME": str(runtime), "LISTEN": f"127.0.0.1:{port}", "GATES": gates,
              "STORE": str(Path(store).absolute()), "WORKERS": str(workers), "DEPLOY": str(deploy or DEPLOY),
              "GRANT_KEYS": str(Path(grant_keys or runtime / "no-grant-keys").absolute()),
              "REPORT_TO": " ".join(f"127.0.0.1:{p}" for p in (gate_ports if report_ports is None else report_ports)), "REPORT_EVERY": str(report_every)}
    lines = []
    for line in ((deploy or DEPLOY) / "nginx.conf").read_text().splitlines():
        if not line.lstrip().startswith("#"):  # the comments document the placeholders themselves
            for name, value in values.items():
                line = line.replace(f"@{name}@", value)
        lines.append(line)
    text = "\n".join(lines) + "\n"
    left = re.findall(r"@[A-Z]+@", "\n".join(line.split("#", 1)[0] for line in text.splitlines()))
    assert not left, f"placeholders of deploy/nginx.conf left unfilled: {left}"
    return text


class Nginx:
    """nginx in the foreground on a free port, all its files in ``runtime`` (no root paths touched)."""

    def __init__(self, runtime: Path, gate_ports: list[int], store: Path, *, workers: int = 1,
                 port: int | None = None, conf_text: str | None = None, grant_keys: Path | None = None,
                 report_every: float = 5, report_ports: list[int] | None = None, deploy: Path | None = None) -> None:
        runtime.mkdir(parents=True, exist_ok=True)
        self.runtime = runtime
        self.port = port or free_port()
        self.conf = runtime / "nginx.conf"
        self.conf.write_text(conf_text or render(runtime, self.port, gate_ports, store, workers,
                                                     grant_keys, report_every, report_ports, deploy))
        directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")  # tmp dirs are 0700
        self.proc = subprocess.Popen([NGINX, "-p", str(runtime), "-c", str(self.conf), "-e",
                                      str(runtime / "error.log"), "-g", directives],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30  # as long as a loaded machine may need
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.error_log()}")
            with contextlib.suppress(OSError):
                import socket

                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not start: {self.error_log()}")

    def error_log(self) -> str:
        path = self.runtime / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        release_port(self.port)


@contextlib.contextmanager
def running_nginx(runtime: Path, gate_ports: list[int], store: Path, **kw) -> Iterator[Nginx]:
    server = Nginx(runtime, gate_ports, store, **kw)
    try:
        yield server
    finally:
        server.stop()
