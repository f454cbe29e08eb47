"""Each cable page links to the gate's reply page of that cable (theme/partials/dip-reply.html), in the
community's language; no other page does, and search does not index the link."""

from __future__ import annotations

import re

from test_build import CANARY_ENERGIE, build, sample_repo

from pipeline.audit import search_file_text


def test_each_cable_page_links_to_its_reply_page_and_no_other_page_does(tmp_path):
    sample_repo(tmp_path / "content")
    out = tmp_path / "site"
    build(tmp_path / "content", out, jobs=1)
    for community, cable, label in [("energie", "2026-BERLIN-0001", "Répondre à ce télégramme"),
                                    ("energie", "2026-PARIS-0002", "Répondre à ce télégramme"),
                                    ("onu", "2026-NEW-YORK-ONU-0001", "Answer this cable")]:
        page = (out / community / "2026" / f"{cable}.html").read_text(encoding="utf-8")
        links = re.findall(r'<a class="md-button" href="(/replies/[^"]+)">([^<]+)</a>', page)
        assert links == [(f"/replies/{community}/2026/{cable}.html", label)], (cable, links)
    for other in ("index.html", "dates/index.html", "version.html"):
        assert "/replies/" not in (out / "energie" / other).read_text(encoding="utf-8"), other
    index = [search_file_text(p.name, p.read_bytes()) for p in (out / "energie").rglob("*.pf_fragment")]
    assert any(CANARY_ENERGIE in text for text in index)
    assert not any("Répondre" in text for text in index)  # the search index holds cables only
