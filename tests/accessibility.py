"""Accessibility as a test: axe-core and a keyboard walk in real headless Chromium.

axe-core (Deque's rule engine, the one RGAA audits and browser extensions use) is installed from npm
by ``make install`` (tools/npm-ci.sh, version pinned by tests/axe/package-lock.json); nothing is
fetched while the tests run: without it they skip, naming the command that installs it.

The engine is injected into each document with ``add_init_script``. Pages served under a strict CSP
(the gate's ``script-src 'none'``) would refuse any script, so the *audit's* browser context is opened
with ``bypass_csp=True``: only so that axe can run; the pages' own CSP is checked elsewhere
(tests/test_gate_pages_browser.py, with CSP enforced). The pages themselves stay script-free.

Rules run: every axe rule tagged WCAG 2.0/2.1 level A or AA (RGAA 4 follows WCAG 2.1 AA), plus the
best-practice rules on landmarks, regions and headings that a screen reader user relies on to find
their way (every piece of content inside a landmark, one main, one banner, a page heading).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.accessibility import Audit, Violation

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
BEST_PRACTICE_RULES = ("region", "landmark-one-main", "landmark-unique", "landmark-no-duplicate-banner",
                       "landmark-no-duplicate-contentinfo", "landmark-no-duplicate-main",
                       "landmark-banner-is-top-level", "landmark-contentinfo-is-top-level",
                       "landmark-main-is-top-level", "landmark-complementary-is-top-level",
                       "page-has-heading-one", "heading-order", "empty-heading", "skip-link",
                       "aria-dialog-name")
SIZES = {"desktop": {"width": 1280, "height": 800}, "mobile": {"width": 390, "height": 844}}


def require_axe() -> str:
    """The engine's source; skips (naming the installer) when ``make install`` has not been run."""
    if not AXE.is_file():
        pytest.skip("axe-core is not installed: run `make install` (tools/npm-ci.sh tests/axe)")
    return AXE.read_text(encoding="utf-8")


def audit_context(browser, size: str):
    """A browser context at ``size`` in which every document gets axe-core (CSP bypassed for it)."""
    require_axe()
    context = browser.new_context(viewport=SIZES[size], bypass_csp=True)
    context.add_init_script(path=str(AXE))
    return context


_RUN = """async ([tags, extra]) => {
  const rules = axe.getRules(tags).map(r => r.ruleId).concat(extra);
  const result = await axe.run(document, {runOnly: {type: 'rule', values: rules}, resultTypes: ['violations']});
  return {version: axe.version, rules,
          violations: result.violations.map(v => ({rule: v.id, impact: v.impact || '', help: v.help,
                                                   targets: v.nodes.map(n => n.target.join(' '))}))};
}"""


def run_axe(page, name: str, size: str) -> tuple[str, tuple[str, ...], list[Violation]]:
    """axe's version, the rules it ran and the violations it found on the document loaded in ``page``."""
    found = page.evaluate(_RUN, [list(WCAG_TAGS), list(BEST_PRACTICE_RULES)])
    violations = [Violation(name, size, v["rule"], v["impact"], v["help"], tuple(v["targets"]))
                  for v in found["violations"]]
    return found["version"], tuple(sorted(set(found["rules"]))), violations


def audit_pages(browser, pages: Iterable[str], load: Callable[[object, str], None],
                sizes: Iterable[str] = tuple(SIZES)) -> Audit:
    """Audit each page (``load(page, name)`` navigates there) at each size, one context per size."""
    names = tuple(pages)
    version, rules, violations = "", (), []
    for size in sizes:
        context = audit_context(browser, size)
        try:
            page = context.new_page()
            for name in names:
                load(page, name)
                version, rules, found = run_axe(page, name, size)
                violations.extend(found)
        finally:
            context.close()
    return Audit(names, tuple(sizes), rules, version, tuple(violations))


def grouped(violations: Iterable[Violation]) -> list[str]:
    """One line per rule and element, naming the pages and sizes it fails on (for reports)."""
    where: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    for v in violations:
        where.setdefault((v.rule, v.impact, v.targets), []).append(f"{v.page} [{v.size}]")
    return [f"{rule} ({impact}) on {', '.join(targets)}: {'; '.join(pages)}"
            for (rule, impact, targets), pages in sorted(where.items())]


def readable(violations: Iterable[Violation]) -> str:
    """One line per violation, for an assertion message a person can act on."""
    lines = [str(v) for v in violations]
    return f"{len(lines)} accessibility violation(s):\n  " + "\n  ".join(lines) if lines else "none"


# -- the keyboard ----------------------------------------------------------------------------------

#: Everything a keyboard user must be able to reach, in document order.
FOCUSABLE = ("a[href], area[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), "
             "select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])")

_STEP = """async () => {
  // Two frames: what a page's own script does on focus (opening a search box...) has then been drawn.
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const look = e => { const s = getComputedStyle(e);
    const outline = s.outlineStyle === 'none' || parseFloat(s.outlineWidth) === 0 ? 'none'
                    : [s.outlineStyle, s.outlineWidth, s.outlineColor, s.outlineOffset].join(' ');
    const r = e.getBoundingClientRect();  // a skip link shows itself: on screen only when focused
    const shown = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.left < innerWidth && r.top < innerHeight;
    return [outline, s.boxShadow, s.borderColor, s.backgroundColor, s.color, s.textDecorationLine,
            shown ? 'shown' : 'hidden'].join(' | '); };
  const previous = window.__tabPrevious;
  const before = previous ? {facts: previous.facts, focused: previous.look, unfocused: look(previous.element)} : null;
  const e = document.activeElement;
  // Past the last control the focus leaves the document, or (headless, no browser toolbar) wraps round.
  if (!e || e === document.body || e === document.documentElement || e.dataset.tabWalked) {
    window.__tabPrevious = null; return {before, done: true}; }
  e.dataset.tabWalked = 'yes';
  const r = e.getBoundingClientRect();
  const facts = {index: e.dataset.tabIndexInDocument === undefined ? -1 : Number(e.dataset.tabIndexInDocument),
                 what: DESCRIBE(e),
                 onScreen: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.left < innerWidth
                           && r.top < innerHeight};
  window.__tabPrevious = {element: e, facts, look: look(e)};
  return {before, done: false};
}"""

_DESCRIBE = """e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ')[0] : '') +
  ' "' + (e.innerText || e.value || e.getAttribute('aria-label') || (e.labels && e.labels[0] ? e.labels[0].innerText : '')).trim().slice(0, 30) + '"'"""


#: Transitions off while walking (the context must bypass CSP to add it: see :func:`keyboard_context`).
STILL = "*, *::before, *::after { transition: none !important; animation: none !important; }"


def keyboard_context(browser):
    """A desktop-sized context for :func:`walk_with_tab` (CSP bypassed only to switch transitions off)."""
    return browser.new_context(viewport=SIZES["desktop"], bypass_csp=True)


@dataclass(frozen=True)
class TabStop:
    """One press of Tab: which control got the focus and whether a sighted user could see that."""

    index: int  # its place among the document's focusable controls, -1 if not one of them
    what: str
    on_screen: bool
    focused_look: str
    unfocused_look: str

    @property
    def visible_focus(self) -> bool:
        return self.on_screen and self.focused_look != self.unfocused_look


def walk_with_tab(page) -> tuple[list[str], list[TabStop]]:
    """Press Tab through the page from its top: the document's focusable controls, and each stop.

    Each control's look (outline, shadow, border, colours, underline, on screen or not) is read while focused, then
    again once Tab has moved on (the same element, unfocused), so the comparison is exactly what the
    focus changed; an outline of style ``none`` counts as no outline whatever its width.
    """
    controls = page.evaluate(f"""() => Array.from(document.querySelectorAll("{FOCUSABLE}"))
        .filter(e => e.tabIndex >= 0 && e.checkVisibility({{visibilityProperty: true}}) && !e.closest('[inert]'))
        .map((e, i) => {{ e.dataset.tabIndexInDocument = i; return ({_DESCRIBE})(e); }})""")
    page.add_style_tag(content=STILL)  # the looks compared are the settled ones, not mid-transition
    page.evaluate("() => { window.__tabPrevious = null; document.activeElement && document.activeElement.blur(); }")
    step = _STEP.replace("DESCRIBE", f"({_DESCRIBE})")
    stops: list[TabStop] = []
    for _ in range(len(controls) + 2):
        page.keyboard.press("Tab")
        found = page.evaluate(step)
        if found["before"]:
            before = found["before"]
            stops.append(TabStop(before["facts"]["index"], before["facts"]["what"], before["facts"]["onScreen"],
                                 before["focused"], before["unfocused"]))
        if found["done"]:
            break
    return controls, stops


def keyboard_problems(name: str, controls: list[str], stops: list[TabStop]) -> list[str]:
    """What is wrong with a walk: a control never reached, out of document order, or focused unseen."""
    problems = []
    order = [s.index for s in stops]
    if order != list(range(len(controls))):
        reached = {s.index for s in stops}
        missing = [controls[i] for i in range(len(controls)) if i not in reached]
        problems.append(f"{name}: Tab order {[s.what for s in stops]} is not the document's "
                        f"{controls} (never reached: {missing})")
    problems += [f"{name}: no visible focus on {s.what}" + ("" if s.on_screen else " (off screen)")
                 for s in stops if not s.visible_focus]
    return problems
