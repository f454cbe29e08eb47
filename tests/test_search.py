"""Search by the piece (Pagefind): what each site's index holds, how it spells words, and the audits
that read every piece of it (a foreign or withdrawn cable in any fragment or index file fails)."""

from __future__ import annotations

import gzip
import json
import shutil

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_build import CANARY_ENERGIE, CANARY_ONU, HELD, build, files_text, sample_repo

from pipeline.audit import (
    PAGEFIND_SIGNATURE,
    SLICE_NAME,
    AuditError,
    audit,
    decode_search_file,
    forbidden_terms,
)
from pipeline.build import PROJECT_DIR
from pipeline.build.community import cable_months
from pipeline.build.searchindex import (
    SPELLED_OUT,
    index_site,
    reference_bundle,
    search_text,
    slice_months,
    slices,
)
from pipeline.plan import make_plan
from pipeline.repository import load


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("content")
    sample_repo(root)
    out = tmp_path_factory.mktemp("site")
    build(root, out, jobs=1)
    repo = load(root)
    return root, out, dict(repo.cables), make_plan(repo)


def fragments(site) -> dict[str, dict]:
    return {p.name: decode_search_file(p.name, p.read_bytes()) for p in (site / "pagefind").glob("*/fragment/*")}


def newest(site) -> str:
    """The folder of the site's newest slice (``pagefind/2026``)."""
    return "pagefind/" + json.loads((site / "pagefind/slices.json").read_text())["slices"][0]["name"]


def test_each_index_holds_only_its_communitys_cables_with_their_metadata_and_filters(sample):
    _, out, _, _ = sample
    energie = {f["meta"]["reference"]: f for f in fragments(out / "energie").values()}
    onu = {f["meta"]["reference"]: f for f in fragments(out / "onu").values()}
    assert set(energie) == {"2026-BERLIN-0001", "2026-PARIS-0002"} and set(onu) == {"2026-NEW-YORK-ONU-0001"}
    berlin = energie["2026-BERLIN-0001"]
    assert berlin["url"] == "/2026/2026-BERLIN-0001.html"
    assert berlin["meta"] == {"title": "Sécurité énergétique allemande", "reference": "2026-BERLIN-0001",
                              "date": "14 mars 2026", "post": "BERLIN"}
    assert berlin["filters"] == {"post": ["BERLIN"], "subject": ["energie"], "language": ["français"],
                                 "month": ["2026-03"]}
    assert CANARY_ENERGIE in berlin["content"]
    # The labels of the metadata and the version rows are not searched; the values are, a word apart.
    assert "Référence" not in berlin["content"] and "2026-BERLIN-0001 14 mars 2026 BERLIN" in berlin["content"]
    assert onu["2026-NEW-YORK-ONU-0001"]["filters"]["language"] == ["English"]
    for name in ("energie", "onu"):
        texts = files_text(out / name)
        for held_id, (title, canary) in HELD.items():
            assert not [f for f, t in texts.items() if held_id in t or canary in t or title in t], (name, held_id)
    assert not any(CANARY_ONU in t for t in files_text(out / "energie").values())


def test_the_site_ships_pagefinds_library_not_its_ui_bundles(sample):
    _, out, _, _ = sample
    assert sorted(p.name for p in (out / "energie/pagefind").iterdir() if p.is_file()) == ["pagefind.js", "slices.json"]
    names = sorted(p.name for p in (out / "energie" / newest(out / "energie")).iterdir() if p.is_file())
    assert [n for n in names if not n.endswith(".pf_meta")] == ["pagefind-entry.json", "wasm.fr.pagefind"]
    assert (out / "onu" / newest(out / "onu") / "wasm.en.pagefind").is_file()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from([*SPELLED_OUT, *"abcœéè' lL"]), max_size=30))
def test_search_text_spells_out_only_what_pagefind_does_not_fold(text):
    spelled = search_text(text)
    assert not any(c in spelled for c in SPELLED_OUT)
    # Character by character: accents and case are left as written (Pagefind folds them).
    assert spelled == "".join(SPELLED_OUT.get(c, c) for c in text)
    assert search_text("l\u2019hydrogène, l\u2019œuvre") == "l'hydrogène, l'oeuvre"


def test_the_script_spells_queries_as_the_index_spells_pages():
    script = (PROJECT_DIR / "theme/assets/javascripts/search.js").read_text()
    for char, spelled in SPELLED_OUT.items():
        escape = f"\\u{ord(char):04x}"
        assert escape in script, f"search.js does not spell out {char!r} ({escape}) as {spelled!r}"


def test_rebuilding_an_index_gives_the_same_files(sample, tmp_path):
    _, out, _, plan = sample
    copy = tmp_path / "energie"
    shutil.copytree(out / "energie", copy)
    index_site(copy, "fr", cable_months(plan.communities["energie"]))
    assert files_text(copy) == files_text(out / "energie")


# --------------------------------------------------------------------------------------------
# Slices: each a Pagefind index of its own, searched newest first


_MONTHS = st.dictionaries(st.text("abcdef", min_size=1, max_size=6),
                          st.tuples(st.integers(2019, 2026), st.integers(1, 12)).map(lambda ym: f"{ym[0]}-{ym[1]:02d}"),
                          max_size=80)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(_MONTHS, st.integers(1, 30))
def test_every_page_is_in_one_slice_covering_its_month_and_no_slice_is_above_the_cap_but_a_month(months, cap):
    cut = slices(months, cap)
    assert set(cut) == set(months)
    for page, name in cut.items():
        assert SLICE_NAME.match(name)
        first, last = slice_months(name)
        assert first <= months[page] <= last and first[:4] == last[:4] == months[page][:4]
    for name in set(cut.values()):
        held = [page for page in cut if cut[page] == name]
        assert len(held) <= cap or len({months[page] for page in held}) == 1, name
    # Slices of one year never overlap (the cut is one calendar unit for the whole year).
    for year in {m[:4] for m in months.values()}:
        assert len({len(name) for page, name in cut.items() if months[page][:4] == year}) == 1


@settings(max_examples=60, deadline=None, derandomize=True)
@given(_MONTHS, _MONTHS, st.integers(1, 30))
def test_pages_of_other_years_never_move_a_years_slices(months, others, cap):
    """A new cable changes at most its own year's cut: an edit re-indexes one year, not the archive."""
    years = {m[:4] for m in months.values()}
    others = {f"x{page}": month for page, month in others.items() if month[:4] not in years}
    both = slices({**months, **others}, cap)
    assert {page: both[page] for page in months} == slices(months, cap)


def _cable_page(title: str, body: str) -> str:
    return (f'<html lang="fr"><head><title>{title}</title></head><body><div data-pagefind-body>'
            f'<h1>{title}</h1><p>{body}</p></div></body></html>')


def test_a_sliced_index_holds_each_page_once_in_its_months_slice_and_lists_slices_newest_first(tmp_path):
    site = tmp_path / "site"
    months = {}
    for i, month in enumerate(["2024-02", "2024-05", "2024-05", "2024-11", "2025-01", "2026-03", "2026-04"]):
        rel = f"{month[:4]}/{month[:4]}-PARIS-{i:04d}.html"
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(_cable_page(f"Télégramme {i}", f"budget énergie page{i}"), encoding="utf-8")
        months[rel] = month
    files = index_site(site, "fr", months, cap=2)
    listing = json.loads((site / "pagefind/slices.json").read_text())["slices"]
    assert [s["name"] for s in listing] == ["2026", "2025", "2024-q4", "2024-q2", "2024-q1"]
    assert listing[2] == {"name": "2024-q4", "from": "2024-10", "until": "2024-12"}
    held = {}
    for s in listing:
        for path in (site / "pagefind" / s["name"] / "fragment").iterdir():
            held.setdefault(decode_search_file(path.name, path.read_bytes())["url"].lstrip("/"), []).append(s["name"])
    assert held == {rel: [slices(months, 2)[rel]] for rel in months}
    assert "pagefind/pagefind.js" in files and not any(f.endswith("/pagefind.js") and f.count("/") > 1 for f in files)


def test_a_page_without_a_month_is_refused(tmp_path):
    from pipeline.build.job import BuildError

    site = tmp_path / "site"
    (site / "2026").mkdir(parents=True)
    (site / "2026/2026-PARIS-0001.html").write_text(_cable_page("Un", "texte"), encoding="utf-8")
    with pytest.raises(BuildError, match="no date is known for 2026/2026-PARIS-0001.html"):
        index_site(site, "fr", {})


# --------------------------------------------------------------------------------------------
# The audit reads every piece of the index


def _energie_audit(sample, site):
    """The build's audit of the energie site's search index (every file under pagefind/)."""
    root, out, cables, plan = sample
    audit(site, forbidden_terms(cables, plan.communities["energie"]),
          only=[p for p in (site / "pagefind").rglob("*") if p.is_file()],
          trusted_from=[reference_bundle(root / ".cache-test", "fr")])


def _rewrite(path, change):
    """Decode a Pagefind data file, change its value, write it back as Pagefind would."""
    value = decode_search_file(path.name, path.read_bytes())
    value = change(value)
    body = json.dumps(value, ensure_ascii=False).encode() if path.suffix == ".pf_fragment" else cbor2.dumps(value)
    path.write_bytes(gzip.compress(PAGEFIND_SIGNATURE + body))


@pytest.fixture
def energie(sample, tmp_path):
    _, out, _, _ = sample
    site = tmp_path / "energie"
    shutil.copytree(out / "energie", site)
    _energie_audit(sample, site)  # as built: passes
    return site


@pytest.mark.parametrize("leak, named", [
    ("Background. " + CANARY_ONU, None),  # a sentence alone is not a term; the id and title are
    ("Voir 2026-NEW-YORK-ONU-0001.", "2026-NEW-YORK-ONU-0001"),
    ("Security Council reform talks", "title or summary of an unpublished cable"),
    ("Voir 2026-BERLIN-0006, retiré.", "2026-BERLIN-0006"),  # the withdrawn cable
    ("Titre retenu : retiré", "title or summary of an unpublished cable"),
])
@pytest.mark.parametrize("where", ["content", "meta", "filters"])
def test_a_foreign_or_withdrawn_cable_in_any_fragment_fails_the_audit(sample, energie, leak, named, where):
    path = sorted((energie / newest(energie) / "fragment").glob("*"))[0]

    def put(fragment):
        if where == "content":
            fragment["content"] += " " + leak
        elif where == "meta":
            fragment["meta"]["post"] = leak
        else:
            fragment["filters"]["subject"].append(leak)
        return fragment

    _rewrite(path, put)
    if named is None:
        _energie_audit(sample, energie)
        return
    with pytest.raises(AuditError, match=f"isolation audit: {newest(energie)}/fragment/{path.name} contains .*{named}"):
        _energie_audit(sample, energie)


@pytest.mark.parametrize("kind", ["index", "filter", "meta"])
def test_a_foreign_title_in_an_index_filter_or_metadata_file_fails_the_audit(sample, energie, kind):
    path = next(iter(sorted(energie.glob(f"pagefind/**/*.pf_{kind}"))))

    def put(value):
        value.append(["Security Council reform talks", []])
        return value

    _rewrite(path, put)
    with pytest.raises(AuditError, match=f"isolation audit: .*{path.name} contains the title"):
        _energie_audit(sample, energie)


@pytest.mark.parametrize("damage, named", [
    (lambda p: p.write_bytes(b"not gzip"), "cannot be read"),
    (lambda p: p.write_bytes(gzip.compress(b"other_signature{}")), "cannot be read"),
    (lambda p: p.write_bytes(gzip.compress(PAGEFIND_SIGNATURE + b"\xff\xfe{")), "cannot be read"),
    (lambda p: p.write_bytes(p.read_bytes()[:-8]), "cannot be read"),  # truncated
])
@pytest.mark.parametrize("kind", ["fragment", "index"])
def test_a_search_file_the_audit_cannot_read_fails_it(sample, energie, damage, named, kind):
    path = sorted((energie / newest(energie) / kind).glob("*"))[0]
    damage(path)
    with pytest.raises(AuditError, match=f"search index audit: {newest(energie)}/{kind}/{path.name} {named}"):
        _energie_audit(sample, energie)


@pytest.mark.parametrize("rel, text", [
    ("pagefind/pagefind.js", "/* changed */"),
    ("pagefind/pagefind-worker.js", "/* changed */"),
    ("pagefind/wasm.fr.pagefind", "x"),
    ("pagefind/pagefind-ui.js", "console.log(1)"),
    ("pagefind/fragment/extra.json", "{}"),
    ("pagefind/notes.txt", "hello"),
    ("pagefind/<newest>/wasm.fr.pagefind", "x"),
    ("pagefind/<newest>/pagefind.js", "/* changed */"),
    ("pagefind/<newest>/notes.txt", "hello"),
    ("pagefind/notes/fragment/x.pf_fragment", "x"),
    ("pagefind/2026/2026/fragment/x.pf_fragment", "x"),
    ("pagefind/slices.json", "x"),
])
def test_only_the_pinned_library_and_pagefinds_data_files_are_shipped(sample, energie, rel, text):
    rel = rel.replace("pagefind/<newest>", newest(energie))
    path = energie / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((path.read_bytes() if path.exists() else b"") + text.encode())
    with pytest.raises(AuditError, match=f"search index audit: {rel} is not"):
        _energie_audit(sample, energie)


def test_a_marking_in_a_search_result_fails_the_audit(sample, energie):
    """A result shows its title, reference, date and post: each is read as a reader sees it (the
    content's own paragraphs are read in the page it comes from)."""
    path = sorted((energie / newest(energie) / "fragment").glob("*"))[0]
    _rewrite(path, lambda f: dict(f, meta=dict(f["meta"], title="CONFIDENTIEL DÉFENSE")))
    with pytest.raises(AuditError, match=f"marking audit: {newest(energie)}/fragment/{path.name}"):
        _energie_audit(sample, energie)


@pytest.mark.parametrize("plugins", [["search"], [{"search": {"lang": "fr"}}], {"material/search": {}}, []])
def test_a_base_naming_search_still_loads_and_means_the_sites_pagefind_search(tmp_path, plugins):
    """`search` in a repository's mkdocs.yml is allowed and asks for the site's search, which is
    Pagefind's: mkdocs-material's plugin is taken out of the configuration MkDocs runs."""
    import yaml
    from test_site import cable, plan_of

    from pipeline import site, siteconfig

    assert siteconfig.problems(yaml.safe_dump({"plugins": plugins}), tmp_path) == []
    config = site.site_config({"plugins": plugins}, tmp_path, plan_of(cable("2026-PARIS-0001")),
                              tmp_path / "docs", tmp_path / "site", commit=None, commit_time=None)
    assert config["plugins"] == []


def test_the_site_policy_allows_search_to_compile_webassembly_and_nothing_broader():
    from gate.csp import site_policy

    policy = dict(d.strip().split(" ", 1) for d in site_policy(("sha256-" + "A" * 43 + "=",), ()).split(";"))
    assert policy["script-src"].split() == ["'self'", "'wasm-unsafe-eval'", "'sha256-" + "A" * 43 + "='"]
    assert policy["connect-src"] == "'self'" and policy["worker-src"] == "'self'"
    assert not any(word in " ".join(policy.values()) for word in ("'unsafe-eval'", "'unsafe-inline'", "blob:", "*"))


def test_a_site_without_cables_has_no_index(tmp_path):
    site = tmp_path / "site"
    (site / "dates").mkdir(parents=True)
    (site / "index.html").write_text("<html><body>Aucun télégramme.</body></html>")
    assert index_site(site, "fr") == [] and not (site / "pagefind").exists()


def test_the_reference_bundle_is_built_once_per_cache(tmp_path):
    first = reference_bundle(tmp_path / "cache", "en")
    reference_bundle.cache_clear()
    assert reference_bundle(tmp_path / "cache", "en") == first
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [first.name]


def test_a_cbor_value_pagefind_never_writes_fails_the_audit(sample, energie):
    """A CBOR tag (or any value that is not a string, number, list or map) is not read past: refused."""
    path = next(iter(sorted(energie.glob("pagefind/*/index/*.pf_index"))))
    _rewrite(path, lambda value: [*value, cbor2.CBORTag(4242, "Security Council reform talks")])
    with pytest.raises(AuditError, match=f"search index audit: {newest(energie)}/index/{path.name} cannot be read"):
        _energie_audit(sample, energie)


@pytest.mark.parametrize("listing", [
    {"slices": [{"name": "2026", "from": "2026-01", "until": "2026-12", "note": "x"}]},
    {"slices": [{"name": "../2026", "from": "2026-01", "until": "2026-12"}]},
    {"slices": [{"name": "2026\n", "from": "2026-01", "until": "2026-12"}]},
    {"slices": [{"name": 2026, "from": "2026-01", "until": "2026-12"}]},
    {"slices": [{"name": "2026", "from": "2026-01\n", "until": "2026-12"}]},
    {"slices": [{"name": "2026", "from": "Security Council reform talks", "until": "2026-12"}]},
    {"slices": "2026"},
    {"other": []},
])
def test_a_slice_list_holding_anything_but_slice_names_and_months_fails_the_audit(sample, energie, listing):
    (energie / "pagefind/slices.json").write_text(json.dumps(listing))
    with pytest.raises(AuditError, match="search index audit: pagefind/slices.json is not a list of the index's slices"):
        _energie_audit(sample, energie)


def test_a_foreign_title_in_another_slice_fails_the_audit(sample, energie):
    """Every slice is read: a copy of the index in an older slice's folder is audited like the newest."""
    older = energie / "pagefind/2019"
    shutil.copytree(energie / newest(energie), older)
    path = sorted((older / "fragment").glob("*"))[0]
    _rewrite(path, lambda f: dict(f, content=f["content"] + " Voir 2026-NEW-YORK-ONU-0001."))
    with pytest.raises(AuditError, match=f"isolation audit: pagefind/2019/fragment/{path.name} contains"):
        _energie_audit(sample, energie)
