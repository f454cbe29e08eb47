"""The accessibility statement says what the audit measured, and claims full conformity only when
nothing failed on any page at any size (pipeline/accessibility.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.accessibility import Audit, Violation, conformity, from_json, merge, statement, to_json

RULES = ("color-contrast", "document-title", "html-has-lang", "region")
CLEAN = Audit(("fr: sign-in", "en: sign-in"), ("desktop", "mobile"), RULES, "4.14.1", ())
CONTRAST = Violation("energie: home", "mobile", "color-contrast", "serious",
                     "Elements must meet minimum color contrast ratio thresholds", (".md-search-result__meta",))
LANDMARK = Violation("onu: not found", "desktop", "region", "moderate",
                     "All page content should be contained by landmarks", ('body > .dip-banner[role="note"]',))


def test_no_violation_on_any_page_at_any_size_is_full_conformity():
    text = statement(CLEAN, service="Diplomatie")
    assert conformity(CLEAN) == "totalement conforme"
    assert "Diplomatie est **totalement conforme** avec le référentiel général" in text
    assert "2 pages auditées, aux tailles desktop, mobile ; 4 règles vérifiées (axe-core 4.14.1" in text
    assert "0 non-conformité(s)" in text and "- fr: sign-in" in text and "`region`" in text
    assert "Contenus non accessibles" not in text
    english = statement(CLEAN, service="Diplomatie", lang="en")
    assert "Diplomatie is **fully compliant**" in english and "0 violation(s) found" in english


def test_one_violation_anywhere_makes_it_partial_and_lists_what_failed():
    audit = merge([CLEAN, Audit(("energie: home", "onu: not found"), ("desktop", "mobile"), RULES, "4.14.1",
                                (CONTRAST, LANDMARK))])
    text = statement(audit, service="Énergie en Europe")
    assert "Énergie en Europe est **partiellement conforme**" in text and "totalement" not in text
    assert "4 pages auditées" in text and "2 non-conformité(s)" in text
    assert ("- `color-contrast` — Elements must meet minimum color contrast ratio thresholds : energie: home (mobile)"
            in text)
    assert "- `region` — All page content should be contained by landmarks : onu: not found (desktop)" in text
    assert "fully" not in statement(audit, service="X", lang="en") and "**partially compliant**" in statement(
        audit, service="X", lang="en")


@pytest.mark.parametrize("empty", [CLEAN.__class__((), ("desktop",), RULES, "4", ()),
                                   CLEAN.__class__(("p",), (), RULES, "4", ()),
                                   CLEAN.__class__(("p",), ("desktop",), (), "4", ())])
def test_an_audit_that_looked_at_nothing_supports_no_claim(empty):
    with pytest.raises(ValueError, match="supports no conformity claim"):
        statement(empty, service="Diplomatie")


VIOLATIONS = st.builds(Violation, st.sampled_from(["fr: a", "en: b"]), st.sampled_from(["desktop", "mobile"]),
                       st.sampled_from(RULES), st.sampled_from(["minor", "serious"]), st.text(max_size=20),
                       st.lists(st.text(max_size=10), max_size=3).map(tuple))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(VIOLATIONS, max_size=4))
def test_full_conformity_exactly_when_the_recorded_audit_has_no_violation(violations):
    audit = Audit(("fr: a", "en: b"), ("desktop", "mobile"), RULES, "4.14.1", tuple(violations))
    again = from_json(to_json(audit))
    assert again == audit
    assert (conformity(again) == "totalement conforme") == (not violations)


def test_a_malformed_record_is_refused():
    with pytest.raises(ValueError, match="not an accessibility audit record"):
        from_json('{"pages": ["a"], "sizes": []}')
