"""Packages only point down: a package imports its own modules and the layers below it.

    bot                    channels, dialogs, the CLI, use cases
     ↓
    exports                workbooks, CSV, the Word report, statistics
     ↓
    storage                models, repositories, unit of work, file imports
     ↓
    forms, classification  pure cores: the questionnaire engine, the rules
     ↓
    locales                the message catalogs and their lookup

Packages on one level (forms and classification) don't import each other. ``bench`` and
``tests`` sit above everything and may import anything. Every import counts: at module
level, inside a function, under ``if TYPE_CHECKING`` and ``importlib.import_module`` with
a literal name; an import that would point up is a design problem to fix by moving code
down, not one to hide inside a function.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A package may import packages of a lower level only (and its own modules).
LEVELS: dict[str, int] = {
    "locales": 0,
    "forms": 1,
    "classification": 1,
    "storage": 2,
    "exports": 3,
    "bot": 4,
}
# Above every layer; nothing in the layers may import them.
ON_TOP = {"bench": 5, "tests": 5}


@dataclass(frozen=True)
class Import:
    file: Path  # relative to the root scanned
    line: int
    module: str  # the imported module, as absolute as the source says

    @property
    def importer(self) -> str:
        return self.file.parts[0]

    @property
    def imported(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.module}"


def module_name(file: Path) -> str:
    parts = file.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_in(root: Path, file: Path) -> Iterator[Import]:
    """Every import in ``file`` (relative to ``root``), wherever it stands in the file."""
    tree = ast.parse((root / file).read_text(encoding="utf-8"), filename=str(file))
    package = module_name(file) if file.name == "__init__.py" else module_name(file.parent)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(file, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield Import(file, node.lineno, module)
        elif (
            isinstance(node, ast.Call)
            and _called(node.func) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield Import(file, node.lineno, node.args[0].value)


def _called(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def scan(root: Path, packages: Mapping[str, int]) -> list[Import]:
    """The imports between our packages made by the modules of ``packages``."""
    ours = set(packages) | set(ON_TOP)
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            for item in imports_in(root, path.relative_to(root)):
                if item.imported in ours and item.imported != item.importer:
                    found.append(item)
    return found


def upward(imports: list[Import], levels: Mapping[str, int]) -> list[str]:
    """Imports of a package on the same level or above the importer's."""
    ranks = {**ON_TOP, **levels}
    return [
        f"{item}: {item.importer} may only import packages below it "
        f"({', '.join(sorted(p for p, r in levels.items() if r < ranks[item.importer])) or '—'})"
        for item in imports
        if ranks[item.imported] >= ranks[item.importer]
    ]


def cycles(imports: list[Import]) -> list[str]:
    """Each cycle between packages, with one import that makes each of its steps."""
    edges: dict[str, dict[str, Import]] = {}
    for item in imports:
        edges.setdefault(item.importer, {}).setdefault(item.imported, item)
    found: list[str] = []
    seen: set[frozenset[str]] = set()

    def walk(path: list[str]) -> None:
        for following in sorted(edges.get(path[-1], {})):
            if following == path[0]:
                members = frozenset(path)
                if members not in seen:
                    seen.add(members)
                    steps = zip(path, [*path[1:], path[0]], strict=True)
                    found.append(
                        " → ".join([*path, path[0]])
                        + "".join(f"\n    {edges[a][b]}" for a, b in steps)
                    )
            elif following not in path:
                walk([*path, following])

    for start in sorted(edges):
        walk([start])
    return found


def test_packages_only_import_the_layers_below_them() -> None:
    bad = upward(scan(ROOT, LEVELS), LEVELS)
    assert not bad, "imports that point up or sideways:\n" + "\n".join(bad)


def test_no_cycle_between_packages() -> None:
    found = cycles(scan(ROOT, LEVELS))
    assert not found, "import cycles between packages:\n" + "\n".join(found)


def test_every_package_has_a_layer() -> None:
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert packages == set(LEVELS) | set(ON_TOP)


def test_every_layer_is_packaged_and_type_checked() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(project["tool"]["mypy"]["packages"]) == set(LEVELS)
    included = project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert set(included) == {f"{package}*" for package in LEVELS}


# -- the check itself fails on what it is meant to catch --------------------------------


def _tree(root: Path, files: Mapping[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")


def test_the_check_reports_an_upward_import_inside_a_function(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "bot/__init__.py": "",
            "bot/settings.py": "from storage.models import User\n",
            "storage/__init__.py": "",
            "storage/models.py": "User = 1\n\n\ndef f():\n    from bot.settings import X\n",
        },
    )
    levels = {"storage": 2, "bot": 4}
    bad = upward(scan(tmp_path, levels), levels)
    assert len(bad) == 1
    assert bad[0].startswith("storage/models.py:5 imports bot.settings: storage may only")


def test_the_check_reports_relative_sideways_and_dynamic_imports(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "forms/__init__.py": "from . import engine\n",
            "forms/engine.py": "from classification import rules\n",
            "classification/__init__.py": "",
            "classification/rules.py": (
                "import importlib\n\nimportlib.import_module('forms.engine')\n"
            ),
        },
    )
    levels = {"locales": 0, "forms": 1, "classification": 1}
    found = scan(tmp_path, levels)
    assert {str(item) for item in found} == {
        "forms/engine.py:1 imports classification",
        "classification/rules.py:3 imports forms.engine",
    }
    assert len(upward(found, levels)) == 2
    (cycle,) = cycles(found)
    assert cycle.splitlines() == [
        "classification → forms → classification",
        "    classification/rules.py:3 imports forms.engine",
        "    forms/engine.py:1 imports classification",
    ]


# -- the dialogs' decisions are pure -------------------------------------------------------

# Modules that decide what a turn does: plain values in, plain values out. They may import
# nothing that reaches a database, a network or an event loop, however indirectly.
PURE_MODULES = (
    "bot.decisions.interview",
    "bot.interview.outcome",
    "bot.interview.render",
    "bot.decisions.households",
    "bot.decisions.registration",
    "bot.decisions.menu",
    "bot.decisions.fallback",
    "bot.decisions.summary",
    "bot.decisions.pacing",
    "bot.decisions.outbox",
    "bot.push",
    "bot.channels.zalo_text",
    "bot.decisions.meetings",
    "bot.decisions.followup",
    "bot.decisions.reports",
    "bot.decisions.report_schedule",
    "storage.report_facts",
)
IMPURE = frozenset(
    {
        "sqlalchemy",
        "aiosqlite",
        "asyncpg",
        "telegram",
        "aiogram",
        "httpx",
        "asyncio",
        "starlette",
        "uvicorn",
    }
)


def _module_file(root: Path, module: str) -> Path | None:
    parts = module.split(".")
    for candidate in (Path(*parts).with_suffix(".py"), Path(*parts, "__init__.py")):
        if (root / candidate).is_file():
            return candidate
    return None


def reachable_imports(root: Path, module: str) -> dict[str, Import]:
    """Every module ``module`` imports, directly or through the project's own modules, with
    the import that first reaches it."""
    ours = set(LEVELS) | set(ON_TOP)
    found: dict[str, Import] = {}
    pending = [module]
    visited: set[str] = set()
    while pending:
        current = pending.pop()
        if current in visited:
            continue
        visited.add(current)
        file = _module_file(root, current)
        if file is None:
            continue
        for item in imports_in(root, file):
            found.setdefault(item.module, item)
            if item.imported in ours:
                # A package's __init__ runs too; "from bot import helpers" may name a module.
                pending += [item.module, *_parents(item.module), *_named(root, file, item)]
    return found


def _named(root: Path, file: Path, item: Import) -> list[str]:
    """The submodules a ``from package import a, b`` at ``item`` may name."""
    tree = ast.parse((root / file).read_text(encoding="utf-8"))
    return [
        f"{item.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.lineno == item.line
        for alias in node.names
    ]


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def test_the_dialog_decisions_reach_no_database_platform_or_event_loop() -> None:
    bad = [
        f"{module}: {item}"
        for module in PURE_MODULES
        for name, item in reachable_imports(ROOT, module).items()
        if name.split(".")[0] in IMPURE
    ]
    assert not bad, "pure modules that reach I/O:\n" + "\n".join(bad)


def test_the_purity_check_follows_imports_through_the_project(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "bot/__init__.py": "",
            "bot/core.py": "from bot import helpers\n",
            "bot/helpers.py": "from storage.text import fold\n",
            "storage/__init__.py": "",
            "storage/text.py": "import sqlalchemy\n",
        },
    )
    found = reachable_imports(tmp_path, "bot.core")
    assert str(found["sqlalchemy"]) == "storage/text.py:1 imports sqlalchemy"


# -- optional extras are imported where they are used ----------------------------------------

# Libraries of an optional extra (pyproject's optional-dependencies besides dev): rasoat
# without the extra must import every module of its own, so these are imported inside the
# functions that use them (or under TYPE_CHECKING, for annotations), never at module level.
OPTIONAL = frozenset({"aiogram"})


def module_level_imports(root: Path, file: Path, libraries: frozenset[str]) -> list[Import]:
    """The imports of ``libraries`` that run when ``file`` is imported."""
    tree = ast.parse((root / file).read_text(encoding="utf-8"), filename=str(file))
    found: list[Import] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(node, ast.If) and _type_checking(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                names = []
            found.extend(
                Import(file, node.lineno, name) for name in names if name.split(".")[0] in libraries
            )
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    visit([child for child in children if isinstance(child, ast.stmt)])
            for handler in getattr(node, "handlers", []):
                visit(handler.body)

    visit(tree.body)
    return found


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def test_optional_extras_are_imported_inside_functions_only() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    named = {
        requirement.split(">")[0].split("[")[0].strip()
        for extra, requirements in extras.items()
        if extra != "dev"
        for requirement in requirements
    }
    assert named == OPTIONAL
    bad = [
        str(item)
        for package in LEVELS
        for path in sorted((ROOT / package).rglob("*.py"))
        for item in module_level_imports(ROOT, path.relative_to(ROOT), OPTIONAL)
    ]
    assert not bad, "optional extras imported at module level:\n" + "\n".join(bad)


def test_the_extras_check_finds_module_level_imports(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "bot/router.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from aiogram import Router\n"
                "def make():\n    import aiogram\n"
                "try:\n    from aiogram.types import Update\nexcept ImportError:\n    pass\n"
                "class Channel:\n    import aiogram.enums\n"
            ),
        },
    )
    found = module_level_imports(tmp_path, Path("bot/router.py"), OPTIONAL)
    assert [str(item) for item in found] == [
        "bot/router.py:7 imports aiogram.types",
        "bot/router.py:11 imports aiogram.enums",
    ]
