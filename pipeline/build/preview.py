"""``preview``: a cable's page as each community selecting it would show it, approved or not.

A preview is the real build (:func:`pipeline.build.build_sites`, with its classification guard,
sanitising and audits) of each selecting community's site restricted to that one cable, with every
page of the cable marked as a preview (at the top and in the ``<title>``), into a folder of its own:
a temporary one, or one the caller names that is empty or holds a previous preview. The build cache
goes there too, so nothing else on disk is written; nothing is fetched from the network.

The page shows the members' replies the community would show under the cable once it publishes it:
those the plan's own rules (:func:`pipeline.plan.plan_replies`) show when the cable is published
there, rendered by the build as on the site (same Markdown conversion, sanitiser and audits). A
reply still waiting for an editor's approval is not on the page, not even marked: the page must be
exactly what members will see, and the build's isolation audit refuses any reply the plan does not
show (a second, marked rendering would be a second path past that audit). The preview says how many
wait instead (``diplomatie pending`` lists them once the cable is published).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import site
from pipeline.build.job import BuildError
from pipeline.build.orchestrate import build_sites
from pipeline.messages import _
from pipeline.plan import CommunityPlan, Plan, make_plan, plan_replies

#: What every previewed cable page says, at its top and in its title (both languages: the page's reader
#: may read either).
MARK = "APERÇU — non publié / PREVIEW — not published"
#: The file that says a folder holds a preview, so that a later preview may replace it.
MARKER = ".diplomatie-preview"


class PreviewError(Exception):
    """The preview cannot be made: the message says why and what to do."""


@dataclass(frozen=True)
class CommunityPreview:
    """One community's preview of the cable: its page, why it would be held now (None: published),
    the replies its page shows and those waiting for an approval (not shown), by id."""

    community: str
    page: Path
    held: str | None
    replies: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()


def output_folder(out: Path | None) -> Path:
    """``out`` when it is empty, missing or a previous preview (it holds the MARKER file); else a new temporary folder.
    Refuses any other folder, so that nothing is overwritten by surprise."""
    if out is None:
        folder = Path(tempfile.mkdtemp(prefix="diplomatie-preview-"))
    else:
        folder = Path(out)
        if folder.exists() and not folder.is_dir():
            raise PreviewError(_("{out} is a file, not a folder; give an empty folder to --out").format(out=folder))
        if folder.is_dir() and any(folder.iterdir()) and not (folder / MARKER).is_file():
            raise PreviewError(_("{out} is not empty and holds no previous preview: give an empty or new folder to --out, "
                                 "so nothing is overwritten").format(out=folder))
        folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("A preview made by Diplomatie: it may be replaced by the next one.\n", encoding="utf-8")
    return folder.resolve()


def preview(repo: Any, cable_id: str, out: Path, *, communities: list[str] | None = None,
            signatures: Any = None) -> list[CommunityPreview]:
    """Build ``<out>/<community>/`` for each community selecting ``cable_id`` (or those named, which
    must select it), holding only that cable's page, marked; say for each why it would be held now."""
    from pipeline.history import published_versions
    from pipeline.signatures import signatures_for

    cable = repo.cables.get(cable_id)
    if cable is None:
        raise PreviewError(_("unknown cable: {id} (see diplomatie check for the cables of this repository)").format(id=cable_id))
    selecting = sorted(cid for cid, community in repo.communities.items() if community.selects(cable))
    names = list(dict.fromkeys(communities)) if communities else selecting
    unknown = [n for n in names if n not in selecting]
    if unknown:
        raise PreviewError(_("{id} is not selected by: {names} (selected by: {known})").format(
            id=cable_id, names=", ".join(unknown), known=", ".join(selecting) or _("none")))
    if not names:
        raise PreviewError(_("no community selects {id}: check its subjects and post against communities.yaml").format(id=cable_id))
    # The plan's own verdict: why each community would hold the cable now (None: it publishes it).
    signatures = signatures_for(repo)
    plan = make_plan(repo, signatures=signatures)
    held = {name: next((h.reason for h in plan.communities[name].held if h.id == cable_id), None) for name in names}
    # The replies each community would show under the cable once it publishes it, by the plan's rules.
    replies = {name: _replies(repo, cable, plan.communities[name].community, signatures) for name in names}
    # Each community's plan restricted to the cable, as if it published it: what its page is built from.
    only = Plan({name: CommunityPlan(plan.communities[name].community, (cable,), (), plan.communities[name].vocabulary,
                                     replies[name][0], texts=plan.communities[name].texts)
                 for name in names}, plan.now)
    cache = out / ".cache"
    versions = published_versions(repo, [cable], cache)
    build_sites(repo, only, out, versions=versions, communities=names, jobs=1, force=True, progress=False,
                cache_dir=cache, preview_mark=MARK)
    return [CommunityPreview(name, out / name / site.cable_url(cable_id), held[name],
                             tuple(r.id for r in replies[name][0]), replies[name][1]) for name in names]


def _replies(repo: Any, cable: Any, community: Any, signatures: Any) -> tuple[tuple, tuple[str, ...]]:
    """The replies ``community`` shows under ``cable`` when it publishes it, and the ids of those that
    wait for an editor's approval (held for their approvals only: never approved, stale, unsigned)."""
    from pipeline.review import waits_for_approval

    theirs = [r for r in repo.replies.values() if r.cable == cable.id]
    shown, held = plan_replies(theirs, community, {cable.id: cable}, signatures(community))
    return shown, tuple(h.id for h in held if waits_for_approval(h.reason))


__all__ = ["MARK", "MARKER", "BuildError", "CommunityPreview", "PreviewError", "output_folder", "preview"]
