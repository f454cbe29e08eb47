"""Forgetting a person (``diplomatie forget EMAIL``): their records leave the store; what git keeps is said.

The store's per-person records are the key kinds of ``gate.store.PERSONAL_PREFIXES`` (sign-ins,
weekly reads, queued and sent invitations, reminders, acceptances of terms of use, alert preferences,
baselines, claims, marks and digests, and whatever later kinds are added there); each names the person by ``gate.store.member_id`` as a whole key
segment, ``<member>.json`` or ``<member>-<id>``. :func:`forget` lists each kind and deletes every key
of the person, whatever the community (a community since removed from ``communities.yaml`` too).

Two records are not deleted but rewritten, because deleting them would reopen a door:

- a one-time token's claim (``claims/<jti>``) holds the subject's address; deleting it would let a
  spent sign-in link, or a signed-out session, work again until it expires. It is rewritten without
  the address (``{"typ", "at", "forgotten": true}``), so it still refuses the token.
- ``members.json`` lists the person while they are a member; only when they are also removed from
  ``communities.yaml`` (``--remove-member``) is the snapshot rewritten without them, which also ends
  their access at once. Otherwise the next ``publish`` would list them again.

What remains outside the store is reported, not changed: commits of ``communities.yaml`` that name
the address (git history is shared and signed; rewriting it is the repository owner's decision), and
approvals or ``invited_by`` fields that name them. The gate's JSON log keeps addresses for its
security purpose, under its own retention.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gate import store as storage
from gate.addresses import InvalidAddress, parse_address
from gate.store import Store
from pipeline import gitrepo
from pipeline.cables import Cable
from pipeline.communities import Community
from pipeline.messages import N_, _
from pipeline.replyfiles import ReplyFile

#: The keys of the claims that are rewritten: the token's kind and its time stay (the refusal needs them).
_CLAIM_KEPT = ("typ", "at", "used_at")


class ForgetError(Exception):
    """The address cannot be forgotten as asked; the message says why. Nothing was changed."""


@dataclass
class Forgotten:
    """What :func:`forget` did and what it found remaining."""

    address: str
    deleted: list[str] = field(default_factory=list)
    claims_rewritten: int = 0
    still_published: list[str] = field(default_factory=list)  # communities members.json lists them in
    unpublished_from: list[str] = field(default_factory=list)  # communities members.json no longer lists them in


def canonical(email: str) -> str:
    """The canonical form of ``email`` (what the store's records hold), or :class:`ForgetError`."""
    try:
        return parse_address(email)
    except InvalidAddress as exc:
        raise ForgetError(_("{email!r} is not a valid e-mail address: {error}").format(email=email, error=exc)) from None


def names(key: str, member: str) -> bool:
    """Whether ``key`` names the member ``member`` (a :func:`gate.store.member_id`) as one of its segments,
    or between dashes in one (a reply's ``<time>-<member>-<nonce>.json``)."""
    return any(part == member or part == f"{member}.json" or part.startswith(f"{member}-")
               or f"-{member}-" in part for part in key.split("/"))


def personal_keys(store: Store, address: str) -> Iterator[str]:
    """Every key of ``gate.store.PERSONAL_PREFIXES`` that names ``address``."""
    member = storage.member_id(address)
    for prefix in storage.PERSONAL_PREFIXES:
        for key in store.list(prefix):
            if names(key, member):
                yield key


def _rewritten_claim(data: bytes, address: str) -> bytes | None:
    """The claim without the address, or None when it is not the person's."""
    try:
        record = json.loads(data)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("sub") != address:
        return None
    kept = {k: record[k] for k in _CLAIM_KEPT if k in record}
    return json.dumps({**kept, "forgotten": True}).encode()


def forget(store: Store, address: str, *, unpublish: bool) -> Forgotten:
    """Delete every per-person record of ``address`` (canonical), rewrite its claims without it, and,
    when ``unpublish``, drop it from ``members.json``. Raises :class:`gate.store.StoreError` when the
    store cannot be read or written (then run again: each step is safe to repeat)."""
    done = Forgotten(address)
    done.deleted = sorted(personal_keys(store, address))
    store.delete(done.deleted)
    for key in store.list(storage.CLAIMS_PREFIX):
        rewritten = _rewritten_claim(store.get(key), address)
        if rewritten is not None:
            store.put(key, rewritten, "application/json")
            done.claims_rewritten += 1
    _members_snapshot(store, address, unpublish, done)
    return done


def _members_snapshot(store: Store, address: str, unpublish: bool, done: Forgotten) -> None:
    try:
        snapshot = json.loads(store.get(storage.MEMBERS_KEY))
    except storage.NotFound:
        return
    except ValueError as exc:
        raise storage.StoreError(f"members.json is not valid JSON ({exc}); publish again to rewrite it") from None
    listed = [cid for cid, entry in (snapshot.get("communities") or {}).items()
              if isinstance(entry, dict) and address in (entry.get("members") or {})]
    if not listed:
        return
    if not unpublish:
        done.still_published = sorted(listed)
        return
    for cid in listed:
        del snapshot["communities"][cid]["members"][address]
        names = snapshot["communities"][cid].get("names")
        if isinstance(names, dict):
            names.pop(address, None)
    store.put(storage.MEMBERS_KEY, json.dumps(snapshot, indent=1, ensure_ascii=False).encode() + b"\n",
              "application/json")
    done.unpublished_from = sorted(listed)


@dataclass(frozen=True)
class Remaining:
    """What names the person outside the store, in the content repository's working tree and history."""

    member_of: tuple[str, ...]  # communities that list them as a member in communities.yaml
    mentions: tuple[tuple[str, str], ...]  # (what, where): owner, editor, inviter, approvals
    commits: tuple[tuple[str, dt.date], ...]  # commits of communities.yaml and content/ naming the address


def remaining(root: Path, communities: Mapping[str, Community], cables: Iterable[Cable], address: str,
              replies: Iterable[ReplyFile] = ()) -> Remaining:
    """Where ``address`` is still named: ``communities.yaml`` (member, owner, editor, inviter), the
    cables' approvals, the replies they wrote or approved (``replies/``: a reply shown on a site shows
    the member's name), and the commits that added or removed it."""
    member_of, mentions = [], []
    for cid, community in sorted(communities.items()):
        if any(m.email == address for m in community.members):
            member_of.append(cid)
        if community.owner.casefold() == address:
            mentions.append(("owner", cid))
        if address in community.editor_emails:
            mentions.append(("editor", cid))
        invited = sum(m.invited_by.casefold() == address for m in community.members)
        if invited:
            mentions.append(("inviter", f"{cid} ({invited})"))
    for cable in cables:
        if any(a.by.casefold() == address for a in cable.approvals):
            mentions.append(("approval", cable.id))
    for reply in replies:
        if reply.author.casefold() == address:
            mentions.append(("reply", reply.path))
        elif any(a.by.casefold() == address for a in reply.approvals):
            mentions.append(("reply approval", reply.path))
    commits = tuple(gitrepo.commits_naming(root, address, ["communities.yaml", "content", "replies"]))
    return Remaining(tuple(member_of), tuple(mentions), commits)


#: What ``forget`` tells (English msgids, translated where shown: pipeline/messages.py).
MESSAGES = {
    "deleted": N_("{count} record(s) of {address} deleted from the store {store}."),
    "claims": N_("{count} one-time token claim(s) rewritten without the address (still refused)."),
    "unpublished": N_("Removed from members.json (access ended now): {communities}."),
    "still_published": N_("Still a member in members.json: {communities}. Access continues until "
                          "communities.yaml no longer lists them and publish runs again; run again with "
                          "--remove-member to do it now."),
    "removed_yaml": N_("Removed from the members of {communities} in communities.yaml (commit it)."),
    "member_of": N_("communities.yaml still lists them as a member of: {communities} (run again with "
                    "--remove-member, or remove the entry by hand, then commit)."),
    "mention": {"owner": N_("communities.yaml: owner of {where}"),
                "editor": N_("communities.yaml: editor of {where}"),
                "inviter": N_("communities.yaml: invited members of {where}"),
                "approval": N_("content/: approval of cable {where}"),
                "reply": N_("replies/: their reply {where} (shown under its cable, by their name, once approved)"),
                "reply approval": N_("replies/: approval of the reply {where}")},
    "mentions": N_("The address is still named here (roles, not reading records; the content's owner "
                   "changes them if need be):"),
    "history": N_("Git history keeps the address in {count} commit(s) ({commits}): communities.yaml and "
                  "the approvals as they were. Rewriting it (git filter-repo) is the repository owner's "
                  "decision, to be taken with everyone who holds a copy."),
    "no_history": N_("Git history does not name this address."),
    "logs": N_("The gate's logs (security) keep the address until the end of their own retention."),
}


def report(done: Forgotten, left: Remaining, store_url: str, removed_from: list[str]) -> str:
    """What was done and what remains, in the run's language."""
    text = {key: _(msgid) for key, msgid in MESSAGES.items() if key != "mention"}
    mention = {what: _(msgid) for what, msgid in MESSAGES["mention"].items()}
    lines = [text["deleted"].format(count=len(done.deleted), address=done.address, store=store_url)]
    if done.claims_rewritten:
        lines.append(text["claims"].format(count=done.claims_rewritten))
    if done.unpublished_from:
        lines.append(text["unpublished"].format(communities=", ".join(done.unpublished_from)))
    if done.still_published:
        lines.append(text["still_published"].format(communities=", ".join(done.still_published)))
    if removed_from:
        lines.append(text["removed_yaml"].format(communities=", ".join(removed_from)))
    if left.member_of:
        lines.append(text["member_of"].format(communities=", ".join(left.member_of)))
    if left.mentions:
        lines.append(text["mentions"])
        lines += ["  - " + mention[what].format(where=where) for what, where in left.mentions]
    if left.commits:
        shown = ", ".join(f"{short} {day.isoformat()}" for short, day in left.commits[:10])
        more = "…" if len(left.commits) > 10 else ""
        lines.append(text["history"].format(count=len(left.commits), commits=shown + more))
    else:
        lines.append(text["no_history"])
    lines.append(text["logs"])
    return "\n".join(lines)
