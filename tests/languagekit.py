"""The command line's language in tests.

The suite's tests were written against the English messages, and assert on them: :func:`english_messages`
(autouse, imported by conftest.py) runs every test with ``DIPLOMATIE_LANG=en``, which subprocesses
inherit. A test of the French default or of the rule that chooses the language takes the
:func:`no_language_chosen` fixture, which removes every variable that could choose one.
"""

from __future__ import annotations

import pytest

#: Every variable that may choose the command line's language (pipeline/messages.py).
LANGUAGE_VARIABLES = ("DIPLOMATIE_LANG", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture(autouse=True)
def english_messages(monkeypatch):
    monkeypatch.setenv("DIPLOMATIE_LANG", "en")


@pytest.fixture
def no_language_chosen(monkeypatch):
    """Nothing in the environment chooses a language: the command line's default applies."""
    for name in LANGUAGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
