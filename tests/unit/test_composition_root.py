"""Structural (issue 8: "three composition roots; the window reaches into Station.engine"): one
composition root builds the engines, units of work, the authenticator and the printers, and the
drivers (window, command line, HTTP API) never touch an engine. The import contracts in
pyproject.toml keep SQLAlchemy and adapters.db out of the drivers' imports; these checks catch
what an import contract cannot see: a call or an attribute reached through an object."""

from __future__ import annotations

import ast
from pathlib import Path

import packstation

PACKAGE = Path(packstation.__file__).parent
BUILDERS = ("make_engine", "postgres_engine", "create_engine", "SqlUnitOfWork", "Authenticator", "StationPrinters")
ENGINE_ATTRIBUTES = ("engine", "_engine", "central_engine")
DRIVERS = ("ui", "cli", "api")


def _names_called(tree: ast.AST) -> set[str]:
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in BUILDERS:
                called.add(name)
    return called


def builders_outside_the_root(root: Path) -> dict[str, set[str]]:
    """Module -> the builders it calls, for modules other than bootstrap.py and the adapters."""
    found = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel == "bootstrap.py" or rel.startswith("adapters/"):
            continue
        called = _names_called(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if called:
            found[rel] = called
    return found


def engines_reached_by_drivers(root: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for driver in DRIVERS:
        for path in (root / driver).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            hits = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in ENGINE_ATTRIBUTES}
            if hits:
                found[path.relative_to(root).as_posix()] = hits
    return found


def test_only_the_composition_root_builds_engines_units_of_work_authenticators_and_printers() -> None:
    assert builders_outside_the_root(PACKAGE) == {}


def test_no_driver_reaches_into_an_engine() -> None:
    assert engines_reached_by_drivers(PACKAGE) == {}


def test_the_structural_checks_see_what_they_look_for(tmp_path: Path) -> None:
    """(Both checks can fail: the old shapes show up.)"""
    for folder in ("ui", "cli", "api", "adapters/db"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "bootstrap.py").write_text("def build(c):\n    return make_engine(c.url)\n")
    (tmp_path / "adapters" / "db" / "uow.py").write_text("def f(e):\n    return SqlUnitOfWork(e, 'B', None)\n")
    (tmp_path / "ui" / "station_window.py").write_text(
        "def w(station, c):\n    e = make_engine(c.url)\n    return station.engine.url, Authenticator(e)\n")
    (tmp_path / "cli" / "devices.py").write_text("def d(c):\n    return StationPrinters(c.dir, {})\n")
    (tmp_path / "api" / "app.py").write_text("def a(s):\n    return s._engine\n")
    assert builders_outside_the_root(tmp_path) == {
        "ui/station_window.py": {"make_engine", "Authenticator"}, "cli/devices.py": {"StationPrinters"}}
    assert engines_reached_by_drivers(tmp_path) == {"ui/station_window.py": {"engine"}, "api/app.py": {"_engine"}}
