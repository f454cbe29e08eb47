"""Real browsing through the shipped nginx with grants, in headless Chromium: sign in by link, read a
real mkdocs-material site and search it, with the gate asked about once per grant, never for the
files the pages load; the grant cookie stays on its community's path."""

from __future__ import annotations

import time

import pytest

from gate import store as storage
from gate import tokens
from pipeline.invitations import invitation_url
from tests.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.gatekit import write_members
from tests.test_gate_browser import WORD, publish_press_site
from tests.test_nginx import behind_nginx, front

pytestmark = [pytest.mark.browser, pytest.mark.nginx]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("nginx-browser")
    store = storage.open_store(base / "store")
    publish_press_site(base, store)
    write_members(store, {"presse": {"members": {"a@press.org": None}}, "business": {"members": {}}})
    tokens.init(base / "keys")
    gates, server, port = behind_nginx(base, base / "store", extra=("--grant-ttl", "60"))
    try:
        with server:
            yield front(gates[0], port)
    finally:
        for g in gates:
            g.stop()


def gate_requests(world) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in world.direct.metrics().splitlines()
               if line.startswith("diplomatie_gate_requests_total{"))


def test_a_member_browses_a_real_site_through_nginx_on_one_grant(world, browser):  # noqa: F811 - fixture
    link = invitation_url(tokens.load(world.keys_dir), world.base, "presse", "a@press.org", 600)
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    site_responses: list[tuple[int, str]] = []
    page.on("response", lambda r: site_responses.append((r.status, r.url)) if "/c/presse/" in r.url else None)
    try:
        page.goto(link)
        page.click("button[type=submit]")
        page.wait_for_url(f"{world.base}/c/presse/")
        assert page.title().startswith("Presse")
        grants = [c for c in context.cookies() if c["name"] == "diplomatie-grant"]
        assert len(grants) == 1 and grants[0]["path"] == "/c/presse/" and grants[0]["httpOnly"]
        assert grants[0]["sameSite"] == "Lax"
        page.goto(f"{world.base}/c/presse/2026/2026-PARIS-0007/")
        page.wait_for_load_state("networkidle")
        before, served, started = gate_requests(world), len(site_responses), time.monotonic()
        page.goto(f"{world.base}/c/presse/2026/2026-BERLIN-0042/")  # its files are known to nginx now
        page.wait_for_load_state("networkidle")
        page.click("input.md-search__input")
        page.keyboard.type(WORD)
        page.locator(".md-search-result__item a").first.wait_for(timeout=15_000)
        screenshot(page, "nginx-grant-search")
        elapsed, loaded = time.monotonic() - started, site_responses[served:]
        assert len(loaded) >= 5 and all(status in (200, 304) for status, _ in loaded), loaded
        # a cable page, its styles, scripts and search files: nginx alone, but for a new address or
        # the news of the current release (at most one every 1.5 s) and a grant renewal
        asked = gate_requests(world) - before
        assert asked <= 2 + elapsed / 1.5, (asked, len(loaded), elapsed)
        csp = [p for p in problems if "Content Security Policy" in p or "Refused to" in p]
        assert not csp, csp
        refused = page.goto(f"{world.base}/c/business/")
        assert refused.status == 403
    finally:
        context.close()
