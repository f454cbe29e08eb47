"""Arbitrary front matter and communities.yaml never crash the checker: a clear error, never a traceback."""

import string

from contentrepo import COMMUNITIES, cable_text, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.check import exit_code
from pipeline.repository import load

yaml_text = st.text(alphabet=string.printable + "éàç—«»\u2028\x00\x85", max_size=300)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=30), st.dates(), st.datetimes())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=10), inner, max_size=3), max_leaves=8)
keys = st.sampled_from(["id", "title", "date", "post", "author", "classification", "subjects", "language",
                        "summary", "ministry", "communities", "embargo", "status", "supersedes", "approvals",
                        "other"])

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@SETTINGS
@given(front=yaml_text, body=yaml_text)
def test_arbitrary_front_matter_text_never_crashes(tmp_path_factory, front, body):
    repo = make_repo(tmp_path_factory.mktemp("fuzz") / "repo")
    repo.write("content/2026/2026-BERLIN-0001.md", f"---\n{front}\n---\n{body}")
    loaded = load(repo.root)
    if loaded.errors:
        assert exit_code(loaded.findings) == 1
        assert all(f.path and f.line >= 1 and f.code and f.message for f in loaded.findings)


@SETTINGS
@given(overrides=st.dictionaries(keys, values, max_size=4))
def test_arbitrary_values_never_crash(tmp_path_factory, overrides):
    repo = make_repo(tmp_path_factory.mktemp("fuzz") / "repo")
    try:
        text = cable_text("2026-BERLIN-0001", **overrides)
    except Exception:  # values YAML itself cannot write are not the checker's concern
        return
    repo.write("content/2026/2026-BERLIN-0001.md", text)
    result = repo.run("check")
    assert result.code in (0, 1)
    assert "Traceback" not in result.output


@SETTINGS
@given(text=yaml_text)
def test_arbitrary_communities_yaml_never_crashes(tmp_path_factory, text):
    repo = make_repo(tmp_path_factory.mktemp("fuzz") / "repo", communities=text)
    repo.cable()
    result = repo.run("check")
    assert result.code in (0, 1)


@SETTINGS
@given(community=st.dictionaries(st.sampled_from(["title", "description", "language", "owner", "editors",
                                                  "select", "domains", "members", "require_signed_approvals"]),
                                 values, max_size=6))
def test_arbitrary_community_values_never_crash(tmp_path_factory, community):
    data = {"communities": {"energie": {**COMMUNITIES["communities"]["energie"], **community}}}
    try:
        repo = make_repo(tmp_path_factory.mktemp("fuzz") / "repo", communities=data)
    except Exception:
        return
    repo.cable()
    result = repo.run("check")
    assert result.code in (0, 1)
