"""Synthetic content repositories for benchmarks and scale tests.

``python bench/corpus.py OUT --cables 2000 --communities 8`` writes a complete content repository:
``content/<year>/<id>.md`` (cables of 600–1,500 words, French and English, with sections, lists,
tables and links between cables) and ``communities.yaml`` (K communities, each selecting about 30 %
of the cables by subject, overlapping). Every selected cable carries a valid approval for each
community that selects it, so ``plan`` publishes all of them. Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.cables import canonical_digest  # noqa: E402

EDITOR = "redaction@diplomatie.gouv.fr"
OWNER = "ambassadeur@diplomatie.gouv.fr"
POSTS = ["BERLIN", "LONDRES", "MADRID", "ROME", "VARSOVIE", "WASHINGTON", "PEKIN", "TOKYO", "DAKAR",
         "BRASILIA", "NEW-YORK-ONU", "BRUXELLES-UE", "ALGER", "RABAT", "OTTAWA", "CANBERRA"]
SUBJECTS = ["energie", "climat", "commerce", "securite", "sante", "numerique", "culture", "migrations",
            "agriculture", "espace", "finances", "droits-humains"]
_FR = (
    "le la les un une des du de et à au aux pour par avec dans sur sous entre mais ou donc "
    "gouvernement ministre ambassade poste négociation accord sommet délégation coopération "
    "sécurité énergie climat commerce partenaires européens autorités réunion conseil président "
    "parlement réforme budget stratégie position dialogue enjeux perspective croissance industrie "
    "transition marché investissement régional bilatéral multilatéral presse opinion analyse")
_EN = (
    "the a an of and to in for with on by at from but or so government minister embassy post "
    "negotiation agreement summit delegation cooperation security energy climate trade partners "
    "european authorities meeting council president parliament reform budget strategy position "
    "dialogue stakes outlook growth industry transition market investment regional bilateral "
    "multilateral press opinion analysis")
WORDS = {"fr": _FR.split(), "en": _EN.split()}
HEADINGS = {
    "fr": ["Contexte", "Analyse", "Position des autorités", "Réactions", "Perspectives", "Commentaire du poste"],
    "en": ["Background", "Analysis", "Position of the authorities", "Reactions", "Outlook", "Post comment"],
}
TITLE_WORDS = {
    "fr": ["Réforme", "Négociations", "Visite", "Sommet", "Stratégie", "Crise", "Accord", "Élections",
    "Budget", "Dialogue", "Coopération", "Transition"],
    "en": ["Reform", "Negotiations", "Visit", "Summit", "Strategy", "Crisis", "Agreement", "Elections",
    "Budget", "Dialogue", "Cooperation", "Transition"],
}


@dataclass(frozen=True)
class CorpusCable:
    id: str
    front: dict
    body: str


def _sentence(rng: random.Random, lang: str, n: int) -> str:
    words = [rng.choice(WORDS[lang]) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random, lang: str, words: int) -> str:
    out, count = [], 0
    while count < words:
        n = rng.randint(8, 20)
        out.append(_sentence(rng, lang, n))
        count += n
    return " ".join(out)


def _body(rng: random.Random, lang: str, target: int, others: list[str]) -> str:
    parts, words = [], 0
    headings = HEADINGS[lang][:]
    rng.shuffle(headings)
    section = 0
    while words < target:
        if section < len(headings):
            parts.append(f"## {headings[section]}\n")
        section += 1
        n = rng.randint(60, 140)
        parts.append(_paragraph(rng, lang, n) + "\n")
        words += n
        if section == 2:
            items = [f"- {_sentence(rng, lang, rng.randint(5, 10))}" for _ in range(rng.randint(3, 5))]
            parts.append("\n".join(items) + "\n")
            words += 30
        if section == 3:
            head = "| Indicateur | 2025 | 2026 |" if lang == "fr" else "| Indicator | 2025 | 2026 |"
            rows = [f"| {rng.choice(WORDS[lang]).capitalize()} | {rng.randint(1, 999)} | {rng.randint(1, 999)} |"
                    for _ in range(4)]
            parts.append("\n".join([head, "|---|---:|---:|", *rows]) + "\n")
            words += 20
        if section == 4 and others:
            target_id = rng.choice(others)
            text = "voir aussi" if lang == "fr" else "see also"
            parts.append(f"{_paragraph(rng, lang, 20)} ([{text}]({target_id}), [{target_id}]({target_id})).\n")
            words += 24
    return "\n".join(parts)


def make_cables(n: int, seed: int = 1, words: int | None = None) -> list[CorpusCable]:
    """``words``: the length of every body (about; default 600–1,500 words each)."""
    rng = random.Random(seed)
    start = dt.date(2024, 1, 1)
    numbers: dict[tuple[int, str], int] = {}
    cables: list[CorpusCable] = []
    for i in range(n):
        date = start + dt.timedelta(days=(i * 1000) // max(n, 1))
        post = rng.choice(POSTS)
        key = (date.year, post)
        numbers[key] = numbers.get(key, 0) + 1
        cable_id = f"{date.year}-{post}-{numbers[key]:04d}"
        lang = "fr" if rng.random() < 0.7 else "en"
        subjects = sorted(rng.sample(SUBJECTS, 2))
        title = f"{rng.choice(TITLE_WORDS[lang])} : {post.title()} n° {i + 1}" if lang == "fr" else \
            f"{rng.choice(TITLE_WORDS[lang])}: {post.title()} no. {i + 1}"
        summary = _sentence(rng, lang, rng.randint(15, 25)) + f" ({cable_id[-4:]}/{i + 1})"
        others = [c.id for c in cables[-50:]]
        length = rng.randint(600, 1500)
        body = _body(rng, lang, length if words is None else words, others)
        front = {
            "id": cable_id, "title": title, "date": date, "post": post,
            "author": "agent@diplomatie.gouv.fr", "classification": "NON CLASSIFIÉ",
            "subjects": subjects, "language": lang, "summary": summary, "ministry": "MEAE",
        }
        cables.append(CorpusCable(cable_id, front, body))
    return cables


def make_communities(k: int, seed: int = 1) -> dict[str, dict]:
    """K communities selecting two subjects each (about 30 % of the cables), overlapping."""
    rng = random.Random(seed + 1)
    out = {}
    for j in range(k):
        lang = "fr" if j % 3 else "en"
        subjects = sorted(rng.sample(SUBJECTS, 2))
        out[f"communaute-{j + 1}"] = {
            "title": (f"Communauté {j + 1} : {' et '.join(subjects)}" if lang == "fr"
                      else f"Community {j + 1}: {' and '.join(subjects)}"),
            "description": (f"Télégrammes sur {', '.join(subjects)}." if lang == "fr"
                            else f"Cables about {', '.join(subjects)}."),
            "language": lang, "owner": OWNER, "editors": [EDITOR],
            "select": {"subjects": subjects},
            "require_signed_approvals": False,  # the synthetic approvals are not signed commits
        }
    return out


def cable_file(cable: CorpusCable, approve_for: list[str], when: dt.datetime) -> str:
    """The cable's text with one approval per community, digests computed as ``approve`` would."""
    digest = canonical_digest(cable.front, cable.body)
    front = yaml.safe_dump(cable.front, allow_unicode=True, sort_keys=False, width=10**6)
    approval_date = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if approve_for:
        front += "approvals:\n" + "".join(
            f"- community: {c}\n  by: {EDITOR}\n  date: {approval_date}\n  digest: {digest}\n" for c in approve_for)
    return "---\n" + front + "---\n" + cable.body


def write_corpus(root: Path, n: int, k: int, seed: int = 1, git: bool = False, words: int | None = None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    communities = make_communities(k, seed)
    (root / "communities.yaml").write_text(
        yaml.safe_dump({"communities": communities}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    when = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    for cable in make_cables(n, seed, words):
        approve_for = [cid for cid, c in communities.items()
                       if set(c["select"]["subjects"]) & set(cable.front["subjects"])]
        path = root / "content" / cable.id[:4] / f"{cable.id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cable_file(cable, approve_for, when), encoding="utf-8")
    if git:
        env = {"GIT_AUTHOR_DATE": "2026-11-01T12:00:00Z", "GIT_COMMITTER_DATE": "2026-11-01T12:00:00Z",
               "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.org", "PATH": "/usr/bin:/bin"}
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "synthetic corpus"]):
            subprocess.run(["git", *args], cwd=root, check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--cables", type=int, default=200)
    parser.add_argument("--communities", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--git", action="store_true", help="make it a git repository with one commit")
    parser.add_argument("--words", type=int, default=None,
                        help="words per body, about (default 600-1,500): short bodies make the first parse "
                             "of a large corpus quicker, and change nothing a command reads through the parse cache")
    args = parser.parse_args()
    write_corpus(args.out, args.cables, args.communities, args.seed, args.git, args.words)


if __name__ == "__main__":
    main()
