"""vocabulary.yaml: subjects and ministries have French and English labels; check refuses a name the
vocabulary lacks, a broken vocabulary holds everything, and the sites print labels, slugs only in URLs."""

from __future__ import annotations

import copy
import json
import re
import shutil

import pytest
import yaml
from contentrepo import COMMUNITIES, make_repo
from hypothesis import given, settings
from hypothesis import strategies as st
from test_build import build

from pipeline import vocabulary
from pipeline.audit import decode_search_file
from pipeline.build import PROJECT_DIR
from pipeline.cables import MINISTRY_RE, SLUG_RE
from pipeline.findings import Findings
from pipeline.plan import make_plan
from pipeline.repository import load

EXAMPLES = settings(max_examples=40, deadline=None, derandomize=True)

VOCABULARY = """\
subjects:
  energie:
    fr: Énergie
    en: Energy
  securite-energetique:
    fr: Sécurité énergétique
    en: Energy security
  multilateralisme:
    fr: Multilatéralisme
    en: Multilateralism
ministries:
  MEAE:
    fr: Ministère de l'Europe et des Affaires étrangères
    en: Ministry for Europe and Foreign Affairs
  MTE:
    fr: Ministère de la Transition écologique
    en: Ministry of Ecological Transition
"""


@pytest.fixture
def repo(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001", subjects=["energie"])
    return repo


def check(repo, *paths: str) -> tuple[int, list[dict]]:
    result = repo.run("check", "--format", "json", *paths)
    return result.code, json.loads(result.stdout)["findings"]


def errors(findings: list[dict]) -> list[dict]:
    return [f for f in findings if f["severity"] == "error"]


# -- check ------------------------------------------------------------------------------------------


def test_without_a_vocabulary_any_subject_and_ministry_is_accepted(repo):
    repo.cable("2026-BERLIN-0001", subjects=["energie", "hydrogene"], ministry="MTES")
    code, findings = check(repo)
    assert code == 0 and not errors(findings)


def test_a_subject_missing_from_the_vocabulary_is_refused_with_the_known_ones(repo):
    repo.write("vocabulary.yaml", VOCABULARY)
    path = repo.cable("2026-BERLIN-0001", subjects=["energie", "hydrogene"])
    code, findings = check(repo)
    assert code == 1
    [found] = errors(findings)
    line = path.read_text(encoding="utf-8").split("\n").index("subjects: [energie, hydrogene]") + 1
    assert (found["path"], found["line"], found["code"]) == ("content/2026/2026-BERLIN-0001.md", line, "E405")
    assert "hydrogene" in found["message"] and "vocabulary.yaml" in found["message"]
    assert "energie, multilateralisme, securite-energetique" in found["hint"]
    # The cable is held: no community publishes it.
    assert "2026-BERLIN-0001" not in [c.id for c in make_plan(load(repo.root)).published()]


def selecting(*subjects: str) -> dict:
    """The test repository's communities, energie selecting ``subjects``."""
    data = copy.deepcopy(COMMUNITIES)
    data["communities"]["energie"]["select"]["subjects"] = list(subjects)
    return data


def test_a_subject_of_a_communitys_selection_missing_from_the_vocabulary_is_refused_at_its_line(repo):
    repo.write("vocabulary.yaml", VOCABULARY)
    path = repo.communities(selecting("energie", "energy"))
    code, findings = check(repo)
    assert code == 1
    [found] = errors(findings)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert (found["path"], found["code"]) == ("communities.yaml", "E405")
    assert lines[found["line"] - 1].strip() == "subjects:", lines[found["line"] - 1]
    assert "energy" in found["message"] and "energie" in found["message"] and "vocabulary.yaml" in found["message"]
    assert "energie, multilateralisme, securite-energetique" in found["hint"]


def test_a_communitys_selection_of_known_subjects_passes_and_without_a_vocabulary_any_subject_does(repo):
    repo.write("vocabulary.yaml", VOCABULARY)
    repo.communities(selecting("energie", "securite-energetique"))
    code, findings = check(repo)
    assert code == 0 and not errors(findings)
    (repo.root / "vocabulary.yaml").unlink()
    repo.communities(selecting("energie", "nimporte-quoi"))
    code, findings = check(repo)
    assert code == 0 and not errors(findings)


def test_a_known_subject_and_ministry_pass(repo):
    repo.write("vocabulary.yaml", VOCABULARY)
    repo.cable("2026-BERLIN-0001", subjects=["securite-energetique", "energie"], ministry="MTE")
    code, findings = check(repo)
    assert code == 0 and not errors(findings)


def test_a_ministry_missing_from_the_vocabulary_is_refused_even_when_the_cable_names_none(repo):
    repo.write("vocabulary.yaml", VOCABULARY)
    repo.cable("2026-BERLIN-0001", ministry="MTSE")
    [found] = errors(check(repo)[1])
    assert found["code"] == "E405" and "MTSE" in found["message"] and "MTE" in found["hint"]
    # A cable without 'ministry' is the ministry MEAE's: the vocabulary must know it too.
    repo.write("vocabulary.yaml", VOCABULARY.replace("  MEAE:", "  MEAE-X:"))
    repo.cable("2026-BERLIN-0001", ministry=None)
    [found] = errors(check(repo)[1])
    assert found["code"] == "E405" and "'MEAE'" in found["message"]


def test_a_vocabulary_without_a_section_leaves_that_kind_unchecked(repo):
    repo.write("vocabulary.yaml", VOCABULARY.split("ministries:")[0])
    repo.cable("2026-BERLIN-0001", subjects=["energie"], ministry="MTES")
    assert check(repo)[0] == 0


# -- a malformed vocabulary ---------------------------------------------------------------------------

ENTRY = "  energie:\n    fr: Énergie\n    en: Energy\n"
#: Names that are not in the form of their section.
NOT_A_SLUG = st.text(min_size=1, max_size=12).filter(lambda s: not SLUG_RE.match(s) and s.strip() and s.isprintable())
NOT_A_CODE = st.text(min_size=1, max_size=12).filter(lambda s: not MINISTRY_RE.match(s) and s.strip() and s.isprintable())
#: Labels as people write them: words of French and English, accents and apostrophes included.
WORDS = ("Énergie", "sécurité", "alimentaire", "maritime", "Santé", "mondiale", "Commerce", "l’Océan", "d'été",
         "Numérique", "Trade", "Energy", "global", "health", "Food", "ministère", "Affaires", "étrangères", "2030")
LABEL = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)


def _yaml_key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


@st.composite
def malformed(draw) -> tuple[str, int, set[str]]:
    """A vocabulary with one mistake of the class: (text, line of the mistake, codes that name it)."""
    kind = draw(st.sampled_from(["missing label", "duplicate", "not a slug", "not a code", "bad yaml",
                                 "not text", "unknown key", "same label"]))
    head = "subjects:\n" + ENTRY
    if kind == "missing label":
        language = draw(st.sampled_from(["fr", "en"]))
        entry = "  climat:\n" + ("    en: Climate\n" if language == "fr" else "    fr: Climat\n")
        return head + entry, 5, {"E201"}
    if kind == "duplicate":
        return head + "  climat:\n    fr: Climat\n    en: Climate\n" + ENTRY, 8, {"E209"}
    if kind == "not a slug":
        name = draw(NOT_A_SLUG)
        return head + f"  {_yaml_key(name)}:\n    fr: Climat\n    en: Climate\n", 5, {"E206"}
    if kind == "not a code":
        name = draw(NOT_A_CODE)
        return head + f"ministries:\n  {_yaml_key(name)}:\n    fr: Ministère\n    en: Ministry\n", 6, {"E206"}
    if kind == "bad yaml":
        broken = draw(st.sampled_from(['    fr: "Climat\n', "\tfr: Climat\n", "    fr: Climat : été\n"]))
        return head + "  climat:\n" + broken + "    en: Climate\n", 6, {"E106"}
    if kind == "not text":
        value = draw(st.sampled_from(["12", "[Climat]", "{a: b}", '""', "", "2026-01-01", "true"]))
        return head + f"  climat:\n    fr: {value}\n    en: Climate\n", 6, {"E203"}
    if kind == "unknown key":
        key = draw(st.sampled_from(["de", "label", "FR"]))
        return head + f"  climat:\n    fr: Climat\n    en: Climate\n    {key}: Klima\n", 8, {"E202"}
    return head + "  energy:\n    fr: Énergie\n    en: Power\n", 5, {"E206"}  # two names, one label


@EXAMPLES
@given(malformed())
def test_a_malformed_vocabulary_is_refused_with_its_line_and_holds_everything(case):
    text, line, codes = case
    findings = Findings()
    parsed = vocabulary.parse(text.encode("utf-8"), findings)
    assert parsed is vocabulary.BROKEN, text
    assert [f for f in findings if f.code in codes and f.line == line and f.path == "vocabulary.yaml"], (text, findings)


@st.composite
def wellformed(draw) -> tuple[str, dict[str, tuple[str, str]]]:
    """A correct vocabulary of generated names and labels (distinct labels per language)."""
    names = draw(st.lists(st.from_regex(SLUG_RE, fullmatch=True).filter(lambda s: len(s) < 30), min_size=1,
                          max_size=5, unique=True))
    labels = draw(st.lists(LABEL, min_size=2 * len(names), max_size=2 * len(names),
                           unique_by=lambda s: s.strip().casefold()))
    entries = {name: (labels[2 * i].strip(), labels[2 * i + 1].strip()) for i, name in enumerate(names)}
    text = yaml.safe_dump({"subjects": {n: {"fr": fr, "en": en} for n, (fr, en) in entries.items()}},
                          allow_unicode=True)
    return text, entries


@EXAMPLES
@given(wellformed())
def test_a_wellformed_vocabulary_is_read_as_written(case):
    text, entries = case
    findings = Findings()
    parsed = vocabulary.parse(text.encode("utf-8"), findings)
    assert not findings and not parsed.broken, (text, findings)
    for name, (fr, en) in entries.items():
        assert (parsed.subject(name, "fr"), parsed.subject(name, "en")) == (fr, en)


def test_a_malformed_vocabulary_fails_check_and_holds_every_cable(repo):
    repo.write("vocabulary.yaml", "subjects:\n" + ENTRY + "  climat:\n    fr: Climat\n")
    code, findings = check(repo)
    [found] = errors(findings)
    assert code == 1 and (found["path"], found["line"], found["code"]) == ("vocabulary.yaml", 5, "E201")
    # check PATH names it too: it is why the cable is held.
    code, findings = check(repo, "content/2026/2026-BERLIN-0001.md")
    assert code == 1 and [f["path"] for f in errors(findings)] == ["vocabulary.yaml"]
    repo.approve("2026-BERLIN-0001", "energie")
    plan = make_plan(load(repo.root))
    [held] = plan.communities["energie"].held
    assert not plan.published() and held.id == "2026-BERLIN-0001" and "diplomatie check" in str(held.reason)


def test_a_vocabulary_that_is_a_link_is_refused(repo, tmp_path):
    (tmp_path / "elsewhere.yaml").write_text(VOCABULARY, encoding="utf-8")
    (repo.root / "vocabulary.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    code, findings = check(repo)
    assert code == 1 and [(f["path"], f["code"]) for f in errors(findings)] == [("vocabulary.yaml", "E103")]


# -- the sample content ---------------------------------------------------------------------------------


def test_the_sample_content_passes_check_with_every_subject_and_ministry_labelled(tmp_path):
    root = tmp_path / "sample"
    shutil.copytree(PROJECT_DIR / "content", root / "content")
    for name in ("communities.yaml", "vocabulary.yaml"):
        shutil.copy(PROJECT_DIR / name, root)
    repo = load(root)
    assert not repo.errors, "\n".join(map(str, repo.errors))
    sample = repo.vocabulary
    assert sample.subjects and sample.ministries and not sample.broken
    for cable in repo.cables.values():
        assert not sample.unknown(cable), cable.id
        for s in cable.subjects:  # a real label in each language, not the slug
            assert sample.subject(s, "fr") != s and sample.subject(s, "en") != s


# -- the sites ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """A French site (energie) and an English one (onu), each publishing one cable, with a vocabulary."""
    repo = make_repo(tmp_path_factory.mktemp("content"))
    repo.write("vocabulary.yaml", VOCABULARY)
    repo.cable("2026-BERLIN-0001", title="Le gaz allemand", subjects=["securite-energetique", "energie"],
               ministry="MTE")
    repo.cable("2026-NEW-YORK-ONU-0001", title="Council reform", language="en", subjects=["multilateralisme"])
    repo.approve("2026-BERLIN-0001", "energie")
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    repo.commit("sample", date="2026-11-20T10:00:00Z")
    out = tmp_path_factory.mktemp("site")
    build(repo.root, out, jobs=1)
    return out


def visible(html: str) -> str:
    """A page's text as a reader sees it: no tags (so no URLs), no scripts or styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_french_site_shows_labels_and_keeps_slugs_for_urls(sites):
    page = (sites / "energie/2026/2026-BERLIN-0001.html").read_text(encoding="utf-8")
    assert '<a href="../subjects/securite-energetique.html" data-pagefind-filter="subject">Sécurité énergétique</a>' in page
    assert '<a href="../subjects/energie.html" data-pagefind-filter="subject">Énergie</a>' in page
    assert "Ministère de la Transition écologique" in page
    for slug in ("securite-energetique", "energie", "MTE"):
        assert not re.search(rf"\b{slug}\b", visible(page)), slug
    index = (sites / "energie/subjects/index.html").read_text(encoding="utf-8")
    assert '<a href="energie.html">Énergie</a> (1)' in index
    assert index.index("Énergie") < index.index("Sécurité énergétique")  # sorted as a reader expects
    subject = (sites / "energie/subjects/securite-energetique.html").read_text(encoding="utf-8")
    assert '<h1 id="securite-energetique">Sécurité énergétique' in subject
    assert "<title>Sécurité énergétique - Énergie en Europe</title>" in subject
    assert 'data-dip-preset-subject="Sécurité énergétique"' in subject
    assert not re.search(r"\bsecurite-energetique\b", visible(subject))
    feed = (sites / "energie/feed.xml").read_text(encoding="utf-8")
    assert '<category term="energie" label="Énergie"/>' in feed


def test_the_english_site_shows_english_labels(sites):
    page = (sites / "onu/2026/2026-NEW-YORK-ONU-0001.html").read_text(encoding="utf-8")
    assert ">Multilateralism</a>" in page and "Ministry for Europe and Foreign Affairs" in page
    assert not re.search(r"\b(multilateralisme|MEAE)\b", visible(page))
    index = (sites / "onu/subjects/index.html").read_text(encoding="utf-8")
    assert '<a href="multilateralisme.html">Multilateralism</a> (1)' in index


def test_search_finds_and_filters_a_cable_by_its_subject_labels(sites):
    [fragment] = [decode_search_file(p.name, p.read_bytes()) for p in (sites / "energie/pagefind").glob("*/fragment/*")]
    assert fragment["filters"]["subject"] == ["Sécurité énergétique", "Énergie"]
    assert "Sécurité énergétique, Énergie" in fragment["content"]  # searched (Pagefind folds the accents)
    assert "Ministère de la Transition écologique" in fragment["content"]



def test_the_new_cable_templates_placeholder_subject_is_refused_once_as_a_placeholder(repo):
    repo.write("vocabulary.yaml", VOCABULARY)
    repo.cable("2026-BERLIN-0001", subjects=["a-completer"])
    assert [f["code"] for f in errors(check(repo)[1])] == ["E210"]


def test_a_changed_label_rebuilds_the_pages_that_show_it(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.write("vocabulary.yaml", VOCABULARY)
    repo.cable("2026-BERLIN-0001", title="Le gaz allemand", subjects=["energie"], ministry="MTE")
    repo.approve("2026-BERLIN-0001", "energie")
    out = tmp_path / "site"
    build(repo.root, out, communities=["energie"], jobs=1)
    repo.write("vocabulary.yaml", VOCABULARY.replace("fr: Énergie", "fr: Énergie et climat"))
    [result] = build(repo.root, out, communities=["energie"], jobs=1).values()
    assert not result.cached
    page = (out / "energie/2026/2026-BERLIN-0001.html").read_text(encoding="utf-8")
    assert ">Énergie et climat</a>" in page
    assert '<a href="energie.html">Énergie et climat</a>' in (out / "energie/subjects/index.html").read_text(encoding="utf-8")


def test_check_sees_a_vocabulary_change_through_its_cache(repo):
    repo.write("vocabulary.yaml", VOCABULARY)
    assert check(repo)[0] == 0  # the cache now holds what each cable's checks found
    repo.write("vocabulary.yaml", VOCABULARY.replace("  energie:\n    fr: Énergie\n    en: Energy\n", ""))
    code, findings = check(repo)
    # The cable's subject, and the community energie's selection of it (communities.yaml).
    assert code == 1 and [(f["path"], f["code"]) for f in errors(findings)] == [
        ("communities.yaml", "E405"), ("content/2026/2026-BERLIN-0001.md", "E405")]
