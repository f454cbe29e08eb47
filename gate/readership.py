"""Readership: which member read which cable's page, per ISO week, for the community's owner.

What counts as a read (docs/gate.md, *Readership*): a signed-in member's GET for a cable's page of the
community's serving release (``<year>/<id>.html``, one of the manifest's ``cables``: :meth:`Readership.
cable_of`, the one rule) answered with the page (200, or 304 when the browser's copy is still good),
whoever sends it: the gate itself, the gate telling nginx to serve it (the decision subrequest), or
nginx alone on a member's grant. nginx learns from the gate's decision which cable an address is the
page of and reports the reads it serves on a grant to the gate (gate/readreports.py), which checks
and records them here like its own: counts behind nginx are those of the gate alone, but for the
reads of a report no gate could take (a few seconds' worth, while none answers). nginx's access log
has its own security purpose and retention and is not read for this. Nothing is counted for
assets, search or index pages, for HEAD, nor for anyone but a current member.

The record is ``reads/<community>/<week>/<cable>/<member>.json`` (gate/store.py), created once per
member, cable and week, holding only the time of the first read (the gate's clock when it answers,
or when nginx's report reaches it, a few seconds after the page); it is written in a worker thread
after the answer, at most once per process for each (member, cable, week), so a page costs a set
look-up. ``diplomatie activity`` reduces the weeks older than the retention period to counts and
deletes these records; ``diplomatie forget`` deletes a person's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gate import store as storage
from gate.http import Response

#: At most this many (member, cable, week) remembered as recorded; all forgotten when full (a repeat
#: then costs one create-if-absent that finds the record).
SEEN_MAX = 100_000


class Readership:
    """One gate process's recorder of reads; handed the store, the community's serving cables, a log
    and the set of futures the gate awaits after its answers."""

    def __init__(self, store: storage.Store, cables_of: Callable[[str], tuple[str, tuple[str, ...]] | None],
                 log: Callable[[dict], None], after_answer: set[asyncio.Future]) -> None:
        self.store = store
        self.cables_of = cables_of  # community -> (release id, cable ids) of the serving release, or None
        self.log = log
        self.after_answer = after_answer
        self.seen: set[tuple[str, str, str, str]] = set()
        self._cables: dict[str, tuple[str, frozenset[str]]] = {}

    def _serving(self, community: str) -> frozenset[str]:
        """The cables of the community's serving release (none while it has none)."""
        serving = self.cables_of(community)
        if serving is None:
            return frozenset()
        release, cables = serving
        known = self._cables.get(community)
        if known is None or known[0] != release:
            known = self._cables[community] = (release, frozenset(cables))
        return known[1]

    def cable_of(self, community: str, path: str) -> str | None:
        """The cable whose page ``path`` (``/c/<community>/<year>/<id>.html``) is, in the serving release:
        THE rule of what a read is, for the gate's own answers and for the pages nginx serves on a grant
        (the gate's decision names the cable, gate/app.py ``decided``)."""
        rest = path[len(community) + 4:] if path.startswith(f"/c/{community}/") else ""
        year, slash, name = rest.partition("/")
        if not slash or not name.endswith(".html") or "/" in name:
            return None
        cable = name[:-len(".html")]
        if cable[:4] != year:
            return None
        return cable if self.serves(community, cable) else None

    def serves(self, community: str, cable: str) -> bool:
        """Whether ``cable`` is one of the community's serving release's cables."""
        return cable in self._serving(community)

    def observe(self, method: str, path: str, resp: Response, now: float) -> None:
        """After an answer: record the read when it was a member's cable page (see the module's doc)."""
        if method != "GET" or resp.status not in (200, 304) or not resp.subject or not resp.community:
            return
        cable = self.cable_of(resp.community, path)
        if cable is None:
            return
        self.record(resp.community, cable, resp.subject, now)

    def record(self, community: str, cable: str, address: str, now: float) -> None:
        """Record that ``address`` read ``cable`` in ``community`` at ``now`` (checked by the caller: a
        current member, a cable of the serving release), unless this process already did this week."""
        week = storage.week_of(now)
        seen = (community, week, cable, address)
        if seen in self.seen:
            return
        if len(self.seen) >= SEEN_MAX:
            self.seen.clear()
        self.seen.add(seen)

        def write() -> None:
            try:
                storage.write_read(self.store, community, cable, address, now)
            except (storage.StoreError, ValueError) as exc:
                self.seen.discard(seen)  # the next read tries again
                self.log({"event": "read not recorded", "community": community, "error": str(exc)})

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            write()
            return
        future = loop.run_in_executor(None, write)
        self.after_answer.add(future)
        future.add_done_callback(self.after_answer.discard)
