"""The dependency rules of DESIGN.md, checked on the source: which package may import which.

Every ``import`` counts, at module level or inside a function (a lazy import couples the
packages as much as any other), and so does one under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import graphlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

import kirin_video

SOURCE = Path(kirin_video.__file__).parent

#: package → the packages it imports → where ("tasks/service.py:32"), one entry per import.
Graph = dict[str, dict[str, list[str]]]


def _imported(node: ast.Import | ast.ImportFrom, *, package: tuple[str, ...]) -> Iterator[str]:
    """The dotted modules an import statement names, relative ones made absolute."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    else:
        base = package[: len(package) - node.level + 1] if node.level else ()
        module = ".".join((*base, *([node.module] if node.module else [])))
        yield from (f"{module}.{alias.name}" for alias in node.names)


def members(source: Path) -> set[str]:
    """The top-level packages and modules of the package at ``source``."""
    modules = {path.stem for path in source.glob("*.py")} - {"__init__"}
    return modules | {path.parent.name for path in source.glob("*/__init__.py")}


def import_graph(source: Path) -> Graph:
    """Imports between the top-level packages (and modules) of the package at ``source``."""
    top, names = source.name, members(source)
    graph: Graph = defaultdict(lambda: defaultdict(list))
    for path in sorted(source.rglob("*.py")):
        relative = path.relative_to(source)
        module = (top, *relative.with_suffix("").parts)
        if len(module) < 3 and relative.name == "__init__.py":
            continue  # the root package itself holds only the version
        own = module[1]
        statements = ast.walk(ast.parse(path.read_text(), filename=str(path)))
        for node in (n for n in statements if isinstance(n, ast.Import | ast.ImportFrom)):
            for name in _imported(node, package=module[:-1]):
                parts = name.split(".")
                if parts[0] == top and len(parts) > 1 and parts[1] in names - {own}:
                    graph[own][parts[1]].append(f"{relative}:{node.lineno}")
    return graph


@cache
def kirin_graph() -> Graph:
    return import_graph(SOURCE)


@dataclass(frozen=True)
class Rule:
    """``package`` imports none of ``never``, or, when ``only`` is given, nothing outside it."""

    package: str
    never: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None

    def broken_by(self, graph: Graph) -> list[str]:
        """Each import that breaks the rule, as 'target (where)'."""
        imported = graph.get(self.package, {})
        bad = [
            target
            for target in imported
            if target in self.never or (self.only is not None and target not in self.only)
        ]
        return [f"{target} ({', '.join(imported[target])})" for target in sorted(bad)]


RULES = [
    Rule("media", never=("engines",)),
    Rule("engines", never=("api", "runtime", "tasks", "storage", "webhooks", "surfaces")),
    Rule("tasks", never=("webhooks", "runtime", "api", "surfaces")),
    # contract checks callback URLs as the sender will parse them: netpolicy, itself a leaf
    Rule("contract", only=("config", "netpolicy")),
    Rule("netpolicy", only=()),
    Rule("config", only=()),
    Rule("client", only=()),
    Rule("storage", only=("config", "contract")),
    Rule("runtime", never=("api", "surfaces", "webhooks", "cli")),
    Rule("webhooks", never=("api", "runtime", "cli", "engines", "media")),
    Rule("surfaces", never=("api", "runtime", "webhooks", "cli")),
]


@pytest.mark.parametrize("rule", RULES, ids=[rule.package for rule in RULES])
def test_each_package_imports_only_what_the_design_allows(rule: Rule) -> None:
    assert rule.broken_by(kirin_graph()) == [], f"{rule.package} imports what it must not"


def test_only_the_cli_imports_the_app() -> None:
    importers = {source for source, targets in kirin_graph().items() if "api" in targets}
    assert importers <= {"cli"}


def cycle(graph: Graph) -> list[str] | None:
    """One cycle between packages, as the packages along it, or None."""
    try:
        tuple(graphlib.TopologicalSorter({k: set(v) for k, v in graph.items()}).static_order())
    except graphlib.CycleError as exc:
        found: list[str] = exc.args[1]
        return found
    return None


def test_no_cycles_between_packages() -> None:
    assert cycle(kirin_graph()) is None


# The walker itself, on a made-up package: what it must see, so the rules above can fail.


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def edges(graph: Graph) -> set[tuple[str, str]]:
    return {(source, target) for source, targets in graph.items() for target in targets}


def test_the_walker_sees_plain_lazy_relative_and_type_only_imports(tmp_path: Path) -> None:
    source = write(
        tmp_path,
        {
            "__init__.py": "",
            "leaf.py": "",
            "low/__init__.py": "",
            "low/x.py": "from pkg import leaf\n",
            "mid/__init__.py": "import pkg.low.x\n",
            "mid/y.py": "def f():\n    from ..high import z\n",
            "high/__init__.py": "",
            "high/z.py": (
                "from typing import TYPE_CHECKING\n"
                "from . import w\n"
                "if TYPE_CHECKING:\n    from pkg.leaf import thing\n"
            ),
            "high/w.py": "import os\nfrom pkg.high import z\n",
        },
    )
    graph = import_graph(source)
    assert edges(graph) == {("low", "leaf"), ("mid", "low"), ("mid", "high"), ("high", "leaf")}
    assert graph["mid"]["high"] == ["mid/y.py:2"]


def test_a_cycle_and_a_broken_rule_are_reported_with_their_places(tmp_path: Path) -> None:
    source = write(
        tmp_path,
        {"a/__init__.py": "from pkg.b import x\n", "b/__init__.py": "def f():\n    import pkg.a\n"},
    )
    graph = import_graph(source)
    assert set(cycle(graph) or []) == {"a", "b"}
    assert Rule("b", never=("a",)).broken_by(graph) == ["a (b/__init__.py:2)"]
    assert Rule("a", only=()).broken_by(graph) == ["b (a/__init__.py:1)"]


def test_the_rules_name_real_packages() -> None:
    named = {name for rule in RULES for name in (rule.package, *rule.never, *(rule.only or ()))}
    assert named <= members(SOURCE)
