"""The rule of what may import what (docs/architecture.md), checked on the source itself.

Every ``.py`` file under ``pipeline/`` and ``gate/`` is parsed (never imported) and every import is
collected: ``import x``, ``from x import y`` (where ``y`` may be a module), relative imports, and
imports inside functions or ``if TYPE_CHECKING:`` blocks, since a lazy import is a dependency too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "gate")

#: The gate's contract modules: the only part of the gate the pipeline may import.
CONTRACTS = {"gate.store", "gate.tokens", "gate.csp", "gate.addresses", "gate.membership", "gate.files",
             "gate.i18n", "gate.identity", "gate.letters", "gate.alerts", "gate.welcome", "gate.replies",
             "gate.replynotice", "gate.reminders"}

#: The command line: the only modules that may import pipeline.commands.
COMMAND_LINE = ("pipeline.commands", "pipeline.cli", "pipeline.__main__")

#: The gate's launcher: besides the contracts, the one part of the gate the command line may import
#: (``diplomatie gate`` and ``diplomatie demo`` start the gate).
LAUNCHER = "gate.launch"

#: The one module that talks to git.
GIT_MODULE = "pipeline.gitrepo"

#: The layers, bottom first (docs/architecture.md): a module imports only from its own layer or below.
#: Entries are modules or packages (a package covers its submodules; the most specific entry wins).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("the gate's contracts", tuple(sorted(CONTRACTS))),
    ("the gate's parts", ("gate",)),
    ("the gate's state", ("gate.state",)),
    ("the gate's views", ("gate.views", "gate.serving", "gate.preferences", "gate.replypage", "gate.legal",
                          "gate.terms", "gate.readreports", "gate.feedpage", "gate.feeds", "gate.signedin")),
    ("the gate's application", ("gate.app", "gate.server", "gate.launch")),
    ("pipeline foundations", ("pipeline", "pipeline.messages", "pipeline.findings", "pipeline.dates", "pipeline.yamlfile", "pipeline.yamledit",
                              "pipeline.gitrepo",
                              "pipeline.classification", "pipeline.html_safety", "pipeline.siteconfig",
                              "pipeline.invitations", "pipeline.parallel", "pipeline.precompress",
                              "pipeline.accessibility")),
    ("the content model", ("pipeline.cables", "pipeline.communities", "pipeline.replyfiles", "pipeline.approvals",
                           "pipeline.vocabulary", "pipeline.sitetexts")),
    ("reading a version", ("pipeline.sources", "pipeline.revisions", "pipeline.buildcache", "pipeline.repository")),
    ("deciding", ("pipeline.check", "pipeline.plan", "pipeline.plandiff", "pipeline.review", "pipeline.signatures", "pipeline.history",
                  "pipeline.withdrawals")),
    ("producing", ("pipeline.site", "pipeline.build", "pipeline.audit", "pipeline.publish", "pipeline.publication",
                   "pipeline.archive", "pipeline.drafting", "pipeline.notify",
                   "pipeline.roster", "pipeline.enrolment", "pipeline.replypull", "pipeline.forgetting",
                   "pipeline.activity", "pipeline.reminders")),
    ("the commands", ("pipeline.commands",)),
    ("the command group", ("pipeline.cli", "pipeline.__main__")),
]

@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # a project module, or the top-level name of a third-party one
    where: str  # file:line, for the failure message


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _files() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


MODULES = _files()


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from … import`` names (relative imports resolved against ``importer``)."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports_of(name: str, path: Path) -> list[Import]:
    return _imports_in(name, path.read_text(encoding="utf-8"), path.name == "__init__.py",
                       path.relative_to(ROOT).as_posix())


def _imports_in(name: str, source: str, is_package: bool, filename: str) -> list[Import]:
    """Every import of ``source`` (the module ``name``), wherever it stands in the file."""
    out = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            out += [Import(name, alias.name, where) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(name, is_package, node)
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                out.append(Import(name, submodule if submodule in MODULES else module, where))
    return out


IMPORTS = [imp for name, path in MODULES.items() for imp in _imports_of(name, path)]


def _project(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _report(bad: list[Import], rule: str, fix: str) -> str:
    lines = [f"  {i.where}: {i.importer} imports {i.imported}" for i in bad]
    return f"{rule}:\n" + "\n".join(lines) + f"\nWhat to do: {fix} (see docs/architecture.md)."


def _violations(rule) -> list[Import]:
    return [i for i in IMPORTS if rule(i)]


def test_the_source_is_found_and_parsed():
    """The checks below would pass vacuously on an empty tree: make sure they read the real one."""
    assert {"pipeline.cli", "pipeline.history", "gate.store", "gate.tokens"} <= set(MODULES)
    assert any(i.importer == "pipeline.history" and i.imported == "pipeline.signatures" for i in IMPORTS)


def test_lazy_and_type_checking_imports_count():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import git.exc\n"
        "from pipeline import history, __version__\n"
        "if TYPE_CHECKING:\n"
        "    from gate.app import GateConfig\n"
        "def later():\n"
        "    from ..commands import options\n"
        "    import gate.store as store\n"
    )
    found = {(i.imported, i.where) for i in _imports_in("pipeline.x.y", source, False, "pipeline/x/y.py")}
    assert found == {("typing", "pipeline/x/y.py:1"), ("git.exc", "pipeline/x/y.py:2"),
                     ("pipeline.history", "pipeline/x/y.py:3"), ("pipeline", "pipeline/x/y.py:3"),
                     ("gate.app", "pipeline/x/y.py:5"), ("pipeline.commands.options", "pipeline/x/y.py:7"),
                     ("gate.store", "pipeline/x/y.py:8")}


def test_the_gate_never_imports_the_pipeline():
    bad = _violations(lambda i: _in(i.importer, ("gate",)) and _in(i.imported, ("pipeline",)))
    assert not bad, _report(bad, "The gate imports the pipeline", "the gate is deployed without the pipeline; "
                            "move what both need into a gate contract module (gate/store.py, gate/tokens.py, "
                             "gate/csp.py, gate/addresses.py, gate/membership.py, gate/files.py, gate/i18n.py, "
                             "gate/identity.py) and import it from there")


def test_the_pipeline_imports_only_the_gate_contracts():
    def allowed(i: Import) -> bool:
        return i.imported in CONTRACTS or (i.imported == LAUNCHER and _in(i.importer, COMMAND_LINE))

    bad = _violations(lambda i: _in(i.importer, ("pipeline",)) and _in(i.imported, ("gate",)) and not allowed(i))
    assert not bad, _report(bad, "The pipeline imports a part of the gate that is not a contract",
                            f"import only {sorted(CONTRACTS)} (and, from the command line, {LAUNCHER}); if "
                            "the pipeline needs more, make it part of a contract module (and document it in "
                            "docs/storage.md or docs/tokens.md)")


def test_only_the_command_line_imports_the_commands():
    bad = _violations(lambda i: _in(i.imported, ("pipeline.commands",)) and not _in(i.importer, COMMAND_LINE))
    assert not bad, _report(bad, "A pipeline module imports the command line",
                            "commands parse options and print; move the shared logic into a pipeline "
                            "module and import it from both")


def test_only_the_git_module_talks_to_git():
    bad = _violations(lambda i: _in(i.imported, ("git",)) and i.importer != GIT_MODULE)
    assert not bad, _report(bad, f"A module imports GitPython besides {GIT_MODULE}",
                            f"add what you need to {GIT_MODULE} (returning plain values, never GitPython "
                            "objects) and call it from there")


def layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of ``module`` (None: not placed). ``pipeline`` itself (its
    ``__init__``, which holds only the version) covers no submodule: each must be placed."""
    matches = [(len(entry), index) for index, (_, entries) in enumerate(LAYERS) for entry in entries
               if module == entry or (entry != "pipeline" and module.startswith(entry + "."))]
    return max(matches)[1] if matches else None


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in MODULES if layer_of(m) is None)
    assert not unplaced, (f"Modules in no layer: {', '.join(unplaced)}\nWhat to do: add each to LAYERS in "
                          "tests/test_architecture.py and to the list of layers in docs/architecture.md, in the "
                          "lowest layer whose modules it needs.")


def test_nothing_imports_upward():
    def upward(i: Import) -> bool:
        low, high = layer_of(i.importer), layer_of(i.imported)
        return low is not None and high is not None and high > low

    bad = _violations(upward)
    lines = [f"  {i.where}: {i.importer} ({LAYERS[layer_of(i.importer)][0]}) imports {i.imported} "
             f"({LAYERS[layer_of(i.imported)][0]})" for i in bad]
    assert not bad, ("A module imports from a layer above its own:\n" + "\n".join(lines) + "\nWhat to do: move "
                     "what it needs down to its layer (or the module up, if it belongs there), so dependencies "
                     "point down (see docs/architecture.md).")


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for i in IMPORTS:
        if _project(i.imported) and i.imported in MODULES and i.imported != i.importer:
            graph[i.importer].add(i.imported)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle():
    cycle = find_cycle(_graph())
    assert cycle is None, (
        "Import cycle: " + " -> ".join(cycle) + "\nWhat to do: move what the modules share into the module "
        "that owns that concept (or a lower one both import), so the dependency runs one way; a lazy "
        "import inside a function still counts (see docs/architecture.md).")


@pytest.mark.parametrize(("graph", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"b2"}, "b2": {"b"}}, ["b", "b2", "b"]),
])
def test_the_cycle_finder_finds_cycles_and_only_cycles(graph, expected):
    assert find_cycle(graph) == expected


def test_relative_imports_resolve_against_the_importer():
    def resolve(importer: str, source: str, is_package: bool = False) -> str:
        node = ast.parse(source).body[0]
        assert isinstance(node, ast.ImportFrom)
        return _resolve(importer, is_package, node)

    assert resolve("pipeline.commands.build", "from . import options") == "pipeline.commands"
    assert resolve("pipeline.commands.build", "from ..history import x") == "pipeline.history"
    assert resolve("pipeline", "from .cli import main", is_package=True) == "pipeline.cli"
    assert resolve("gate.app", "from gate.store import Store") == "gate.store"
