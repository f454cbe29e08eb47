"""The real server (granian through ``diplomatie gate``): it owns its port alone, and slow clients cannot
starve the others.

Slow clients come from 127.0.0.2 and the well-behaved one from 127.0.0.3 (distinct loopback source
addresses, as distinct machines would be); the gate listens on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from gate import store as storage
from gate import tokens
from gate.server import ServerLimits
from pipeline.cli import main
from tests.gatekit import ROOT, running_gate

SLOW_CLIENTS = 2000


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    base = tmp_path_factory.mktemp("server")
    storage.open_store(base / "store")
    tokens.init(base / "keys")
    return base


def gate_command(base, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "gate", "--store", str(base / "store"), "--keys", str(base / "keys"),
            "--base-url", f"http://127.0.0.1:{port}", "--port", str(port), "--insecure-dev", "--metrics-listen", "off",
            *extra]


def start_refused(base, port: int) -> subprocess.CompletedProcess:
    return subprocess.run(gate_command(base, port), cwd=ROOT, capture_output=True, text=True, timeout=60)


def healthz(port: int, source: str = "127.0.0.3", timeout: float = 5.0) -> tuple[float, bytes]:
    """Seconds until the first bytes of GET /healthz from ``source``, and those bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as conn:
        started = time.monotonic()
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: gate\r\nConnection: close\r\n\r\n")
        first = conn.recv(64)
        return time.monotonic() - started, first


# --- the port -------------------------------------------------------------------------------------------

def test_gate_refuses_a_port_another_server_listens_on(deployment):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = start_refused(deployment, port)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr and "panicked" not in result.stderr


def test_second_gate_on_the_same_port_refuses_to_start_and_the_first_keeps_serving(deployment):
    with running_gate(deployment / "store", deployment / "keys", workers=2) as first:
        result = start_refused(deployment, first.port)
        assert result.returncode == 1 and "already in use" in result.stderr
        # Every connection still reaches the first gate (no second listener shares the port).
        for _ in range(20):
            assert first.get("/healthz").status in (200, 503)


# --- limits -----------------------------------------------------------------------------------------------

def test_limits_are_options_of_the_gate_command():
    shown = CliRunner().invoke(main, ["gate", "--help"]).output
    for option in ("--header-timeout", "--keep-alive", "--max-connections", "--backlog"):
        assert option in shown
    assert "5.0" in shown and "16384" in shown


@pytest.mark.parametrize("bad", [{"header_timeout": 0}, {"header_timeout": 61}, {"max_connections": 0},
                                 {"backlog": 10}])
def test_impossible_limits_are_refused(bad):
    with pytest.raises(ValueError):
        ServerLimits(**bad)


@contextlib.contextmanager
def half_sent_requests(port: int, count: int, source: str = "127.0.0.2"):
    """``count`` connections from ``source`` that send half a request and then nothing."""
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            conn = socket.socket()
            opened.append(conn)
            conn.bind((source, 0))
            conn.connect(("127.0.0.1", port))
            conn.sendall(b"GET /c/presse/ HTTP/1.1\r\nHost: gate\r\nX-Slow: ")
        yield opened
    finally:
        for conn in opened:
            conn.close()


def test_healthz_answers_within_a_second_while_2000_clients_send_half_requests(deployment):
    with running_gate(deployment / "store", deployment / "keys") as gate, half_sent_requests(gate.port, SLOW_CLIENTS):
        for _ in range(3):
            elapsed, first = healthz(gate.port)
            assert first.startswith(b"HTTP/1.1 "), first
            assert elapsed < 1.0, f"/healthz took {elapsed:.2f} s under {SLOW_CLIENTS} slow clients"


def test_half_sent_and_idle_connections_are_closed_after_the_header_timeout(deployment):
    with running_gate(deployment / "store", deployment / "keys", extra=("--header-timeout", "1")) as gate:
        with half_sent_requests(gate.port, 50) as slow:
            idle = socket.create_connection(("127.0.0.1", gate.port))
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: gate\r\n\r\n")
            assert idle.recv(64).startswith(b"HTTP/1.1 ")
            silent = socket.create_connection(("127.0.0.1", gate.port))
            started = time.monotonic()
            for conn in [*slow, idle, silent]:
                conn.settimeout(10)
                while conn.recv(4096):  # whatever the server says, it then closes the connection
                    pass
            idle.close()
            silent.close()
        assert time.monotonic() - started < 5


def test_no_free_port_is_taken_by_the_refusal_itself(deployment):
    """A refused start leaves nothing behind: the port is free again once the other server is gone."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        assert start_refused(deployment, port).returncode == 1
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_healthz_answers_within_a_second_while_2000_clients_send_bodies_slowly(deployment):
    """Headers complete, body never finished: the application's per-client cap (429) and body timeout
    (408) answer them, and everyone else is served meanwhile."""
    head = (b"POST /login HTTP/1.1\r\nHost: gate\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 4000\r\n\r\nemail=")
    with running_gate(deployment / "store", deployment / "keys", extra=("--body-timeout", "2")) as gate:
        opened: list[socket.socket] = []
        try:
            for _ in range(SLOW_CLIENTS):
                conn = socket.socket()
                opened.append(conn)
                conn.bind(("127.0.0.2", 0))
                conn.connect(("127.0.0.1", gate.port))
                conn.sendall(head)
            for _ in range(3):
                elapsed, first = healthz(gate.port)
                assert first.startswith(b"HTTP/1.1 200"), first
                assert elapsed < 1.0, f"/healthz took {elapsed:.2f} s under {SLOW_CLIENTS} slow bodies"
            started, statuses = time.monotonic(), set()
            for conn in opened:
                conn.settimeout(10)
                answer = conn.recv(64)
                statuses.add(answer[9:12])
            assert statuses <= {b"408", b"429", b""} and statuses & {b"408", b"429"}, statuses
            assert time.monotonic() - started < 10
        finally:
            for conn in opened:
                conn.close()
