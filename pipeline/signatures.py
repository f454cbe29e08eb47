"""Signed approvals: in a community with ``require_signed_approvals``, an approval counts only when
the commit that added it is signed (git's SSH signing) by that editor's key from ``communities.yaml``.

Anyone with write access to the repository can type an approval into a cable; only the editor holds
the private key. The commit that *added* the approval is the first commit (oldest first, reachable
from the version being planned) whose file contains it; its signature is checked by git itself
against an allowed-signers file generated from the editors' ``ssh_key`` entries, and the signing
key's fingerprint must be the key listed for that editor in that community. Squash merges and
rebases re-create commits without the editor's signature: merge such merge requests with a merge
commit (or fast-forward) so the signed commit stays in the history.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gate.addresses import InvalidAddress, parse_address
from pipeline import gitrepo
from pipeline.cables import Approval, Cable
from pipeline.communities import Community
from pipeline.messages import _
from pipeline.repository import Repository
from pipeline.revisions import approval_key, approvals_added, reply_approvals_added, revisions, revisions_of

#: The namespace git signs commits in (``ssh-keygen -Y sign -n git``).
NAMESPACE = "git"


class SignatureError(Exception):
    """Signing or verifying could not run; the message says what to do."""


# --- keys ----------------------------------------------------------------------------------------

def parse_key(public_key: str) -> tuple[str, bytes] | None:
    """(type, key blob) of an OpenSSH public key line, or None when it is not one.

    Only the type and the blob are kept, so a key entry can never smuggle options or extra lines into
    the allowed-signers file.
    """
    fields = public_key.split()
    if len(fields) < 2:
        return None
    kind, data = fields[0], fields[1]
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(blob) < 4:
        return None
    size = int.from_bytes(blob[:4], "big")
    if blob[4:4 + size].decode("ascii", "replace") != kind:
        return None
    return kind, blob


def fingerprint(public_key: str) -> str | None:
    """The key's SHA256 fingerprint as ssh-keygen and git print it (``SHA256:…``)."""
    parsed = parse_key(public_key)
    if parsed is None:
        return None
    digest = hashlib.sha256(parsed[1]).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def allowed_signers(communities: Iterable[Community]) -> str:
    """The allowed-signers file (see ssh-keygen(1), ALLOWED SIGNERS) of every editor with an SSH key."""
    lines: list[str] = []
    for community in sorted(communities, key=lambda c: c.id):
        for editor in community.editors:
            parsed = parse_key(editor.ssh_key or "")
            if parsed is None:
                continue
            line = f'{editor.email} namespaces="{NAMESPACE}" {parsed[0]} {base64.b64encode(parsed[1]).decode()}'
            if line not in lines:
                lines.append(line)
    return "".join(line + "\n" for line in lines)


def editor_key(community: Community, email: str) -> str | None:
    """The fingerprint of ``email``'s key as an editor of ``community`` (None: no usable key)."""
    for editor in community.editors:
        if editor.email == email and editor.ssh_key:
            return fingerprint(editor.ssh_key)
    return None


# --- verification --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Signature:
    """What git says of one commit's signature."""

    commit: str
    status: str  # git's %G?: G good, B bad, U good but unknown key, N none, E cannot check, …
    signer: str  # the principal of the allowed-signers file that matched (an editor's e-mail)
    fingerprint: str  # SHA256:… of the signing key

    @property
    def good(self) -> bool:
        return self.status == "G"


def verify_commits(root: Path, commits: Iterable[str], signers: str) -> dict[str, Signature]:
    """Ask git for the signature of each commit, checked against the allowed-signers text ``signers``."""
    try:
        lines = gitrepo.signature_lines(root, commits, signers)
    except gitrepo.GitError as exc:
        raise SignatureError(str(exc)) from None
    return {line[0]: Signature(*line) for line in lines}


def signed_by_editor(community: Community, approval: Approval, signature: Signature | None) -> bool:
    """Whether ``signature`` (of the commit that added ``approval``) is good and made with the key
    ``communities.yaml`` lists for the approving editor in ``community``."""
    expected = editor_key(community, approval.by)
    return bool(expected and signature and signature.good and signature.signer == approval.by
                and signature.fingerprint == expected)


class SignedApprovals:
    """Which approvals of one loaded version were added by a commit signed by their editor.

    Called with a community, it gives the predicate :func:`pipeline.plan.make_plan` expects (None for
    a community that does not require signatures, so nothing is read from git for it). Work is done
    once, on first use, for every cable at once.
    """

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._written: dict[tuple, tuple[str, ...]] | None = None  # approval key -> the commits that wrote it
        self._signatures: dict[str, Signature] = {}

    def __call__(self, community: Community) -> Callable[[Approval], bool] | None:
        if not community.require_signed_approvals:
            return None
        return lambda approval: self.is_signed(community, approval)

    def written_in(self, approval: Approval) -> tuple[str, ...]:
        """The commits that wrote ``approval`` (its line in the file after the commit, in none of the
        commit's parents), oldest first; none when it is not committed in this version's history."""
        self._scan()
        assert self._written is not None
        return self._written.get(approval_key(approval), ())

    def is_signed(self, community: Community, approval: Approval) -> bool:
        """True when every commit that wrote ``approval`` has a good signature by the key
        ``communities.yaml`` lists for its editor in ``community``. Every one, not the first: a
        revoked approval's line copied back by an unsigned commit must not borrow the signature of
        the commit that first wrote it."""
        commits = self.written_in(approval)
        return bool(commits) and all(signed_by_editor(community, approval, self._signatures.get(c)) for c in commits)

    def _scan(self) -> None:
        if self._written is not None:
            return
        self._written = {}
        if self.repo.commit is None:
            return
        try:
            git = gitrepo.GitRepo(self.repo.root)
        except gitrepo.NotARepository:
            return
        signed = {cid for cid, c in self.repo.communities.items() if c.require_signed_approvals}
        paths = [cable.path for cable in self._cables_to_check(signed)]
        for revs in revisions_of(git, paths, self.repo.commit).values():
            for key, wrote in approvals_added(revs).items():
                self._written[key] = tuple(rev.commit for rev in wrote)
        replies = [r.path for r in self.repo.replies.values() if any(a.community in signed for a in r.approvals)]
        for key, commits in reply_approvals_added(git, replies, self.repo.commit).items():
            self._written.setdefault(key, commits)
        self._signatures = verify_commits(self.repo.root, {c for cs in self._written.values() for c in cs},
                                          allowed_signers(self.repo.communities.values()))

    def _cables_to_check(self, communities: set[str]) -> list[Cable]:
        return [c for c in self.repo.cables.values() if any(a.community in communities for a in c.approvals)]


def signatures_for(repo: Repository) -> SignedApprovals:
    """The ``signatures`` argument of :func:`pipeline.plan.make_plan` for this loaded version."""
    return SignedApprovals(repo)


# --- signing -------------------------------------------------------------------------------------

def uncommitted_approval(root: Path, cable: Cable, community: str, editor: str) -> Approval | None:
    """An approval of ``cable``'s current version by ``editor`` for ``community`` that is written in the
    working tree but not committed yet (``approve`` then ``approve --sign``: sign it, add nothing)."""
    try:
        editor = parse_address(editor.strip())  # approvals hold canonical addresses (gate/addresses.py)
    except InvalidAddress:
        return None  # approve() then refuses the address with its reason
    mine = [a for a in cable.approvals if a.community == community and a.by == editor and a.digest == cable.digest]
    if not mine:
        return None
    try:
        committed = revisions(gitrepo.GitRepo(root), cable.path)
    except gitrepo.NotARepository:
        return None
    last = committed[-1].cable if committed else None
    known = {approval_key(a) for a in last.approvals} if last else set()
    return next((a for a in mine if approval_key(a) not in known), None)


def commit_signed(root: Path, path: str, message: str, key: str | None = None) -> str:
    """Commit the file at ``path`` alone, signed with SSH (``key``: a private key file, or git's
    ``user.signingkey``), and return the commit's id. Other staged changes stay staged, uncommitted."""
    try:
        return gitrepo.commit_file_signed(root, path, message, key)
    except gitrepo.GitError as exc:
        raise SignatureError(_("{exc}; set your SSH signing key with --key or `git config user.signingkey`").format(exc=exc)) from None
