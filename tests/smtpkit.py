"""A real SMTP server for the tests (aiosmtpd on a free loopback port) and the mailbox it fills.

Use the ``smtp`` fixture of a test module: ``smtp = smtp_fixture()`` at module level gives
``(controller, mailbox)``; ``controller.port`` is where the gate sends.
"""

from __future__ import annotations

import email
import email.message
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from tests.gatekit import free_port


class Mailbox:
    """aiosmtpd handler that keeps each message with its envelope (MAIL FROM, RCPT TO)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], email.message.Message]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"

    @property
    def messages(self) -> list[email.message.Message]:
        return [message for _, _, message in self.received]

    def to(self, address: str) -> list[email.message.Message]:
        return [m for m in self.messages if m["To"] == address]


def smtp_fixture():
    """A module-scoped fixture: a running SMTP server and its mailbox, stopped after the module."""

    @pytest.fixture(scope="module")
    def smtp() -> Iterator[tuple[Controller, Mailbox]]:
        mailbox = Mailbox()
        controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
        controller.start()
        try:
            yield controller, mailbox
        finally:
            controller.stop()

    return smtp
