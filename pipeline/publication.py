"""Publishing every community: the workflow ``diplomatie publish`` and ``diplomatie demo`` run.

:func:`publish_all` reads top to bottom as the order that keeps members safe: the membership
snapshot first, from today's ``communities.yaml`` alone (a removed member loses access whatever
else is wrong); then the version to publish, its withdrawals recorded in the store's register
before anything is planned; then one build per community and one publication each, where a
community that fails does not hold the others back. One community's publication (upload, manifest,
pointer switch) is :func:`pipeline.publish.publish_site`.

What happens along the way is told to a :class:`Listener` (the command prints it; a test may
ignore it); what was published comes back as a :class:`PublicationReport`. A failure that stops
everything raises :class:`~pipeline.publish.PublishError` whose message says what still serves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.store import BlobReader, Store, StoreError, terms_key
from gate.store import terms_version as storage_terms_version
from pipeline.messages import _, ngettext
from pipeline.publish import PublishError, PublishResult, default_publisher, publish_site, write_members
from pipeline.withdrawals import Changes, Register


@dataclass(frozen=True)
class PublicationReport:
    """What :func:`publish_all` did: each community's publication, and what failed."""

    results: dict[str, PublishResult] = field(default_factory=dict)
    #: community (or ``"<community> tag"``) -> why its build, publication or tag failed
    errors: dict[str, str] = field(default_factory=dict)
    #: community -> the tag ``published/<community>/<release>`` made for its new release
    tags: dict[str, str] = field(default_factory=dict)
    #: community -> what this publication changed in its members (pipeline/roster.py)
    members: dict[str, Any] = field(default_factory=dict)

    def failure(self) -> str | None:
        """What to tell when a community failed (its previous release serves), else None."""
        if not self.errors:
            return None
        return ngettext("{count} publication failed: {names} (see above); members.json was written; run publish again",
                        "{count} publications failed: {names} (see above); members.json was written; run publish again",
                        len(self.errors)).format(count=len(self.errors), names=", ".join(self.errors))

    def to_json(self) -> dict[str, Any]:
        """The object ``diplomatie publish --format json`` prints."""
        report: dict[str, Any] = {"communities": {name: r.summary() for name, r in self.results.items()}}
        if self.members:
            report["members"] = {name: changes.to_json() for name, changes in self.members.items()}
        return {**report, "errors": self.errors} if self.errors else report


class Listener:
    """What :func:`publish_all` tells as it goes, one method per event; this one listens to nothing."""

    def repository_errors(self, count: int) -> None:
        """The version published has ``count`` errors: those cables are held."""

    def members_written(self, changes: dict) -> None:
        """members.json is written: per community, the members added, removed, renewed, expiring soon."""

    def withdrawals_recorded(self, changes: Changes, commit: str | None) -> None:
        """The register now holds what this version withdraws, and no longer what it reinstates."""

    def held_by_register(self, cable_id: str) -> None:
        """An active cable of this version that the register withdraws: it is held."""

    def failed(self, message: str) -> None:
        """One community's build, publication or tag failed; the others go on."""

    def published(self, result: PublishResult) -> None:
        """One community's publication is done (changed or not)."""

    def tagged(self, tag: str) -> None:
        """The published commit was tagged for a new release."""


class EchoListener(Listener):
    """The command line's account of a publication: ``echo(message, err=...)`` is ``click.echo``.
    With ``text`` False (``--format json``), only the notes and errors on stderr are said."""

    def __init__(self, echo: Callable[..., None], *, text: bool = True) -> None:
        self.echo = echo
        self.text = text
        self.members: dict = {}

    def members_written(self, changes: dict) -> None:
        from pipeline.roster import describe

        self.members = changes
        for community, change in changes.items():
            for line in describe(community, change) if self.text else ():
                self.echo(line)

    def repository_errors(self, count: int) -> None:
        self.echo(_("note: {count} error(s) in the repository (those cables are held); run diplomatie check").format(count=count),
                  err=True)

    def withdrawals_recorded(self, changes: Changes, commit: str | None) -> None:
        if not self.text:
            return
        for cable_id in changes.withdrawn:
            self.echo(_("{cable_id}: withdrawn, recorded in the register: no publication brings it back").format(cable_id=cable_id))
        for cable_id in changes.reinstated:
            self.echo(_("{cable_id}: reinstated (new commit {commit} and a fresh approval)").format(cable_id=cable_id, commit=(commit or '')[:12]))

    def held_by_register(self, cable_id: str) -> None:
        if self.text:
            self.echo(_("note: {cable_id} is active in this version but withdrawn in the register: held (reinstating takes a new commit and a fresh approval)").format(cable_id=cable_id), err=True)

    def failed(self, message: str) -> None:
        self.echo(_("error: {message}").format(message=message), err=True)

    def published(self, result: PublishResult) -> None:
        if not self.text:
            return
        state = _("now serves {release}").format(release=result.release) if result.changed else (
            _("site unchanged, members updated") if getattr(self.members.get(result.community), "changed", False)
            else _("unchanged"))
        self.echo(_("{community}: {state} ({cables} cables; {uploaded} uploaded, {skipped} already stored, {bytes_uploaded} bytes)").format(community=result.community, state=state, cables=result.cables, uploaded=result.uploaded, skipped=result.skipped, bytes_uploaded=result.bytes_uploaded))
        if result.unrestorable:
            self.echo(_("  withdrawn content: {n_unrestorable} older release(s) made not restorable, {deleted_blobs} blob(s) deleted").format(n_unrestorable=len(result.unrestorable), deleted_blobs=result.deleted_blobs))

    def tagged(self, tag: str) -> None:
        if self.text:
            self.echo(_("  tagged {tag}").format(tag=tag))


def publish_all(root: Path, store: Store, *, out: Path, ref: str | None = None, at: dt.datetime | None = None,
                only: list[str] | None = None, jobs: int = 16, tag: bool = False, progress: bool = False,
                listener: Listener | None = None) -> PublicationReport:
    """Publish the content repository at ``root`` (its working tree, or ``ref``, or the last commit
    on or before ``at``) to ``store``: every community, or those in ``only``; sites are built under
    ``out``. With ``tag``, each new release's commit is tagged. A failure before the builds raises
    :class:`PublishError`; a community that fails later is in the report's ``errors``."""
    from pipeline.plan import make_plan
    from pipeline.signatures import signatures_for

    listener = listener or Listener()
    # 1. Membership first, from today's communities.yaml alone: whatever else is wrong in the
    #    repository (a broken cable, a site that fails to build), a removed member loses access now.
    today = todays_membership(root)
    if tag and today.commit is None:
        raise PublishError(_("--tag needs a git repository: {root} has no commit to tag").format(root=root))
    report = PublicationReport()
    report.members.update(write_membership(store, today))
    listener.members_written(report.members)
    # 2. The version to publish, whose rules must be sure before any site is.
    repo = load_version(root, ref, at)
    if repo.errors:
        listener.repository_errors(len(repo.errors))
    refuse_unsure_rules(repo)
    # 3. Its withdrawals recorded in the store's register, then the plan, against the real clock
    #    and that register.
    signatures = signatures_for(repo)
    register = record_withdrawals(store, repo, signatures, listener)
    plan = make_plan(repo, signatures=signatures, register=register)
    # 4. Build every community; one that fails to build does not hold the others back.
    builds = build_each(repo, plan, out, only, progress, report, listener)
    # 5. Publish each built site (upload, manifest, pointer switch), and tag what is new.
    publish_each(store, root, repo, plan, builds, register, jobs=jobs, tag=tag, progress=progress,
                 report=report, listener=listener)
    # 6. Readership records past the retention period reduced to counts (pipeline/activity.py).
    reduce_readership(root, store, report)
    return report


def reduce_readership(root: Path, store: Store, report: PublicationReport) -> None:
    """Reduce the per-person readership records older than ``communities.yaml``'s retention period; a
    store that refuses is reported like a failed publication (the next publish tries again)."""
    from pipeline.activity import reduce_all
    from pipeline.communities import PATH, retention_months

    try:
        reduce_all(store, dt.datetime.now(dt.UTC), retention_months((root / PATH).read_bytes()))
    except (StoreError, OSError) as exc:
        report.errors["readership retention"] = str(exc)


def todays_membership(root: Path):
    """Today's ``communities.yaml``, read alone (no cable can stop it); when it has errors, nothing is
    published and the previous ``members.json`` keeps serving."""
    from pipeline.repository import load_communities

    today = load_communities(root)
    if today.errors:  # who may read what is unsure: keep every current release and snapshot as is
        raise PublishError(_("communities.yaml has errors; nothing was published and the previous members.json "
                             "keeps serving:\n{errors}").format(errors="\n".join(map(str, today.errors))))
    return today


def write_membership(store: Store, today) -> dict:
    """Write ``members.json`` from today's communities; when the store refuses, publish nothing.
    Returns what changed per community against the previous snapshot (pipeline/roster.py)."""
    from pipeline.communities import membership_snapshot
    from pipeline.roster import membership_changes, previous_snapshot

    try:
        before = previous_snapshot(store)
        terms = publish_terms(store, today)
        write_members(store, membership_snapshot(today.communities, today.commit, terms))
        return membership_changes(before, today.communities, dt.datetime.now(dt.UTC).date())
    except (PublishError, StoreError) as exc:
        raise PublishError(_("members.json could not be written ({exc}); nothing was published and the previous members.json keeps serving; run publish again").format(exc=exc)) from None


def publish_terms(store: Store, today) -> dict[str, str]:
    """Store each community's terms of use (``terms/<community>/<hex>.md``, create-if-absent) before
    ``members.json`` names their version, so the gate never asks a member to accept a text it cannot
    show. Returns community -> version."""
    from pipeline.repository import terms_text

    versions = {}
    for cid, community in sorted(today.communities.items()):
        if community.terms:
            text = terms_text(today, community)
            version = storage_terms_version(text)
            store.create(terms_key(cid, version), text, "text/markdown; charset=utf-8")
            versions[cid] = version
    return versions


def load_version(root: Path, ref: str | None, at: dt.datetime | None):
    """The version to publish, its cables parsed through the build cache (a build or publish before
    this one parsed most of them already)."""
    from pipeline.buildcache import CacheError, folder
    from pipeline.repository import load
    from pipeline.sources import RefError

    try:
        return load(root, ref=ref, at=at, cache=folder(root))
    except (RefError, CacheError) as exc:
        raise PublishError(str(exc)) from None


def refuse_unsure_rules(repo) -> None:
    """The version's own ``communities.yaml`` decides who gets what, and its ``vocabulary.yaml``
    what may be published: with errors in either, every current release stays as it is."""
    broken = [f for f in repo.errors if f.path == "communities.yaml"]
    if broken:
        raise PublishError(_("communities.yaml of the version published has errors; no site was published "
                             "(members.json was written from today's):\n{errors}").format(
                                 errors="\n".join(map(str, broken))))
    # Its vocabulary.yaml too: with an error in it, every cable is held (pipeline/vocabulary.py), and
    # publishing would empty every site.
    unlabelled = [f for f in repo.errors if f.path == "vocabulary.yaml"]
    if unlabelled:
        raise PublishError(_("vocabulary.yaml of the version published has errors; no site was published "
                             "(members.json was written from today's):\n{errors}").format(
                                 errors="\n".join(map(str, unlabelled))))


def record_withdrawals(store: Store, repo, signatures, listener: Listener) -> Register:
    """Record what the published version withdraws or reinstates; return the register (fail closed:
    an unreadable register stops the publication, members.json already written)."""
    from pipeline import withdrawals

    try:
        register = withdrawals.read(store)
        register, changes = withdrawals.record(store, repo, register, by=default_publisher(), counts=signatures)
    except StoreError as exc:
        raise PublishError(_("the withdrawn register cannot be read or written ({exc}); no site was published (members.json was written); run publish again").format(exc=exc)) from None
    listener.withdrawals_recorded(changes, repo.commit)
    for cable_id in sorted(register.withdrawn()):
        cable = repo.cables.get(cable_id)
        if cable is not None and cable.status == "active":
            listener.held_by_register(cable_id)
    return register


def build_each(repo, plan, out: Path, only: list[str] | None, progress: bool, report: PublicationReport,
               listener: Listener) -> dict:
    """Build every community at once; when that fails, build each alone, so that one site that
    cannot be built (a crash on one cable, a theme error) does not stop the others. A community
    that fails is recorded in ``report.errors``."""
    from pipeline.build import BuildError, UnknownCommunity, build_sites
    from pipeline.history import published_versions

    versions = published_versions(repo, plan.published(only))  # read from git before the build
    try:
        return build_sites(repo, plan, out, versions=versions, communities=only, progress=progress)
    except UnknownCommunity as exc:
        raise PublishError(str(exc)) from None
    except Exception:  # noqa: BLE001 - a crash in one community's build is reported with it, below
        pass
    builds = {}
    for name in only or sorted(plan.communities):
        try:
            builds.update(build_sites(repo, plan, out, versions=versions, communities=[name], progress=False,
                                      jobs=1))
        except BuildError as exc:
            report.errors[name] = str(exc)
        except Exception as exc:  # noqa: BLE001 - keep the others going; say what broke
            report.errors[name] = _("{name}: the build crashed ({error}: {exc}); its previous release serves").format(
                name=name, error=type(exc).__name__, exc=exc)
        if name in report.errors:
            listener.failed(report.errors[name])
    return builds


class TextDigests(Mapping[str, str]):
    """Cable id -> digest of its text, each computed when first asked: reading a cable's body costs a
    file read, and a no-op publication (nothing changed, no register text to compare) asks for none."""

    def __init__(self, cables, digest: Callable[[str], str]) -> None:
        self._cables = {c.id: c for c in cables}
        self._digest = digest
        self._known: dict[str, str] = {}

    def __getitem__(self, cable_id: str) -> str:
        if cable_id not in self._known:
            self._known[cable_id] = self._digest(self._cables[cable_id].body)
        return self._known[cable_id]

    def __contains__(self, cable_id: object) -> bool:
        return cable_id in self._cables

    def __iter__(self) -> Iterator[str]:
        return iter(self._cables)

    def __len__(self) -> int:
        return len(self._cables)


def publish_each(store: Store, root: Path, repo, plan, builds: dict, register: Register, *, jobs: int,
                 tag: bool, progress: bool, report: PublicationReport, listener: Listener) -> None:
    """Publish each built site in turn, then tag its commit when asked; a failure is recorded in
    ``report.errors`` and the others go on."""
    from pipeline.buildcache import file_digests, folder, publication_stamp
    from pipeline.history import HistoryError, tag_publication
    from pipeline.withdrawals import text_digest

    cache = folder(root)
    # manifests' nodes read or written once are kept here: a no-op publication reads none from the store
    reader = BlobReader(store, cache_dir=cache / "manifest-nodes")
    for name in sorted(builds):
        digests_at_last_publish = file_digests(cache, name)
        stamp = publication_stamp(cache, name)
        text_digests = TextDigests(plan.communities[name].publish, text_digest)
        try:
            result = publish_site(store, builds[name], jobs=jobs, progress=progress,
                                  file_digests=digests_at_last_publish, register=register,
                                  text_digests=text_digests, reader=reader, stamp=stamp)
            digests_at_last_publish.save()
            stamp.save()
        except (PublishError, StoreError, ValueError) as exc:
            report.errors[name] = str(exc)
            listener.failed(str(exc))
            continue
        report.results[name] = result
        listener.published(result)
        if tag and result.changed:
            try:
                report.tags[name] = tag_publication(root, name, result.release, repo.commit,
                                                    cables=[c.id for c in plan.communities[name].publish])
            except HistoryError as exc:
                report.errors[f"{name} tag"] = str(exc)
                listener.failed(str(exc))
                continue
            listener.tagged(report.tags[name])
