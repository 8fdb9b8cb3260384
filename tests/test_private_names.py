"""The project uses only the public API of its database libraries: SQLAlchemy, aiosqlite and
asyncpg may change their private names in any release, and code built on them breaks with
no deprecation first.

Every module is read with ``ast``. Flagged: a private name imported from one of those
libraries or reached through one of their modules (``sqlalchemy.util._x``); a class that
derives from one of their classes and defines a private member (an override of a private
hook); and any access to ``obj._name``, written or through ``getattr``, where ``_name`` is
defined nowhere in the project's own code (since the type of ``obj`` is unknown here, a
private name the project does not define can only belong to someone else).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "storage", "exports", "forms", "classification", "locales", "bench", "tests")
LIBRARIES = ("sqlalchemy", "aiosqlite", "asyncpg")
# Names with a leading underscore that their library documents as public: os._exit is "the
# way to exit a child process after os.fork()" (the os module's documentation).
DOCUMENTED = {("os", "_exit")}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _library(module: str | None) -> bool:
    return module is not None and module.split(".")[0] in LIBRARIES


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


@dataclass(slots=True)
class _Module:
    path: str
    tree: ast.Module
    # Local names bound to a library's module (``import sqlalchemy as sa``) or to something
    # imported from one (``from sqlalchemy.orm import Session``).
    library_names: dict[str, str]


def _parse(path: str, source: str) -> _Module:
    tree = ast.parse(source, filename=path)
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _library(alias.name):
                    # ``import a.b`` binds ``a``; ``import a.b as c`` binds ``c`` to ``a.b``.
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        root = alias.name.split(".")[0]
                        names[root] = root
        elif isinstance(node, ast.ImportFrom) and _library(node.module):
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return _Module(path, tree, names)


def _derives_from_library(node: ast.ClassDef, module: _Module) -> bool:
    for base in node.bases:
        root = base
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id in module.library_names:
            return True
    return False


def _class_members(node: ast.ClassDef) -> Iterator[tuple[str, int]]:
    """Names a class body defines: methods, nested classes, attributes, fields, slots."""
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield item.name, item.lineno
        elif isinstance(item, ast.Assign | ast.AnnAssign):
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    yield target.id, item.lineno
                    if target.id == "__slots__" and item.value is not None:
                        for slot in ast.walk(item.value):
                            if isinstance(slot, ast.Constant) and isinstance(slot.value, str):
                                yield slot.value, item.lineno


def _definitions(module: _Module) -> set[str]:
    """The private names the project itself defines in ``module``; members of classes
    derived from a library's don't count (they are flagged instead)."""
    foreign: set[int] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ClassDef) and _derives_from_library(node, module):
            foreign.update(id(item) for item in ast.walk(node))
    names: set[str] = set()
    for node in ast.walk(module.tree):
        if id(node) in foreign:
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(name for name, _ in _class_members(node))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        # A parameter's name is no attribute of anything: counted, a listener's ``_conn``
        # would hide a use of the driver's ``_conn`` elsewhere.
    return {name for name in names if _private(name)}


def _chain(node: ast.Attribute) -> tuple[ast.expr, list[str]]:
    """``a.b._c.d`` as (``a``, ["b", "_c", "d"])."""
    parts: list[str] = []
    root: ast.expr = node
    while isinstance(root, ast.Attribute):
        parts.append(root.attr)
        root = root.value
    return root, parts[::-1]


def _uses(module: _Module, defined: set[str]) -> Iterator[Finding]:
    def finding(node: ast.AST, what: str) -> Finding:
        return Finding(module.path, getattr(node, "lineno", 0), what)

    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom) and _library(node.module):
            assert node.module is not None
            if any(_private(part) for part in node.module.split(".")):
                yield finding(node, f"import from private module {node.module}")
            for alias in node.names:
                if _private(alias.name):
                    yield finding(node, f"import of {node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _library(alias.name) and any(_private(p) for p in alias.name.split(".")):
                    yield finding(node, f"import of private module {alias.name}")
        elif isinstance(node, ast.ClassDef) and _derives_from_library(node, module):
            for name, line in _class_members(node):
                if _private(name):
                    what = f"{node.name}, of a library class, defines {name}"
                    yield Finding(module.path, line, what)
        elif isinstance(node, ast.Attribute):
            root, parts = _chain(node)
            if isinstance(root, ast.Name) and root.id in module.library_names:
                if _private(node.attr):
                    dotted = ".".join([module.library_names[root.id], *parts])
                    yield finding(node, f"private name in {dotted}")
            elif isinstance(root, ast.Name) and (root.id, node.attr) in DOCUMENTED:
                continue
            elif _private(node.attr) and node.attr not in defined:
                yield finding(node, f"attribute {node.attr}, defined nowhere in the project")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
            and node.args[1].value not in defined
        ):
            yield finding(node, f"{node.func.id} of {node.args[1].value}, not the project's")


def private_uses(sources: Mapping[str, str]) -> list[Finding]:
    """Every private name of another library that ``sources`` ({path: text}, the whole
    project) use."""
    modules = [_parse(path, text) for path, text in sources.items()]
    defined = set().union(*(_definitions(module) for module in modules))
    return [found for module in modules for found in _uses(module, defined)]


def project_sources() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def test_no_private_name_of_a_database_library_is_used() -> None:
    findings = private_uses(project_sources())
    assert not findings, "\n".join(map(str, findings))


# Lines of the SQLite driver this project once had (storage/sqlite_driver.py), which
# crossed threads through aiosqlite's and SQLAlchemy's private names.
OLD_DRIVER = """
import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    def __init__(self, adapt_connection):
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._rows = []

    async def _run(self, operation, parameters, many):
        driver: aiosqlite.Connection = self._connection
        async with self._adapt_connection._execute_mutex:
            outcome = await driver._execute(lambda: run(driver._conn, operation))

    async def _execute_async(self, operation, parameters):
        await self._run(operation, parameters, many=False)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    _cursor_cls = OneTripCursor
"""


def test_the_old_sqlite_driver_would_have_been_caught() -> None:
    sources = project_sources() | {"storage/sqlite_driver.py": OLD_DRIVER}

    found = {
        (finding.path, finding.what)
        for finding in private_uses(sources)
        if finding.path == "storage/sqlite_driver.py"
    }

    driver = "storage/sqlite_driver.py"
    assert (driver, "attribute _execute_mutex, defined nowhere in the project") in found
    assert (driver, "attribute _execute, defined nowhere in the project") in found
    assert (driver, "attribute _conn, defined nowhere in the project") in found
    assert (driver, "OneTripCursor, of a library class, defines _execute_async") in found
    assert (driver, "OneTripConnection, of a library class, defines _cursor_cls") in found
    # Assigned only inside the library's subclass: that doesn't make them the project's.
    assert (driver, "attribute _connection, defined nowhere in the project") in found


def test_private_imports_and_module_paths_are_caught() -> None:
    source = (
        "import sqlalchemy as sa\n"
        "import asyncpg._testbase\n"
        "from sqlalchemy.util import _collections\n"
        "from sqlalchemy.orm._typing import OrmExecuteOptionsParameter\n"
        "sa.util._has_cy\n"
        "getattr(conn, '_protocol')\n"
    )

    found = [finding.what for finding in private_uses({"x.py": source})]

    assert found == [
        "import of private module asyncpg._testbase",
        "import of sqlalchemy.util._collections",
        "import from private module sqlalchemy.orm._typing",
        "private name in sqlalchemy.util._has_cy",
        "getattr of _protocol, not the project's",
    ]


def test_a_parameter_named_like_a_private_attribute_hides_nothing() -> None:
    sources = {
        "storage/listener.py": "def seen(_conn, cursor):\n    return cursor\n",
        "storage/driver.py": "def run(driver):\n    return driver._conn\n",
    }
    found = {(finding.path, finding.what) for finding in private_uses(sources)}
    assert found == {("storage/driver.py", "attribute _conn, defined nowhere in the project")}


def test_the_projects_own_private_names_are_not_flagged() -> None:
    source = (
        "from dataclasses import dataclass\n"
        "@dataclass(slots=True)\n"
        "class Entry:\n"
        "    _cached: int = 0\n"
        "class Cache:\n"
        "    __slots__ = ('_items',)\n"
        "    def __init__(self):\n"
        "        self._items = {}\n"
        "    def _evict(self): ...\n"
        "def use(cache, entry):\n"
        "    cache._evict(); entry._cached; cache._items; cache.__dict__\n"
    )

    assert private_uses({"x.py": source}) == []


def test_a_documented_underscored_name_of_the_standard_library_is_public() -> None:
    # os._exit after a fork (bot.turn_process) is documented; another object's _exit is not.
    sources = {"a.py": "import os\nos._exit(0)\n", "b.py": "child._exit(0)\n"}
    assert [str(found) for found in private_uses(sources)] == [
        "b.py:1: attribute _exit, defined nowhere in the project"
    ]
