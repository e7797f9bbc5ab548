"""Service unit tests: the use cases on the in-memory fake storage (tests/fakes.py), no database.

Each test gets a freshly stocked warehouse (``warehouse.py``) and BENCH-01's context on it,
with the real Authenticator; people log in with their badge (and PIN) as at a bench.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _load(name: str, path: Path) -> None:
    """Import a helper module by path (any pytest import mode, no sys.path edits)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


_load("fakes", Path(__file__).parents[2] / "fakes.py")
_load("warehouse", Path(__file__).with_name("warehouse.py"))

from fakes import FakeDatabase, fake_context  # noqa: E402
from warehouse import LEAD_PIN, stocked_database  # noqa: E402

from packstation.domain.identity import Desk, Permission, Session  # noqa: E402
from packstation.services.context import Context  # noqa: E402


@pytest.fixture
def db() -> FakeDatabase:
    return stocked_database()


@pytest.fixture
def ctx(db: FakeDatabase) -> Context:
    """BENCH-01 on the stocked warehouse."""
    return fake_context(db)


@pytest.fixture
def bench2(db: FakeDatabase) -> Context:
    """BENCH-02 on the same warehouse."""
    return fake_context(db, station_id="BENCH-02")


@pytest.fixture
def pat(ctx: Context) -> Session:
    """Pat Packer, logged in at BENCH-01 (a packer without a PIN)."""
    return ctx.auth.login("PACKER-001")


@pytest.fixture
def lee(ctx: Context) -> Session:
    """Lee Lead, logged in at BENCH-01's pack bench with badge and PIN."""
    return ctx.auth.login("LEAD-001", LEAD_PIN, desk=Desk.BENCH)


@pytest.fixture
def lead_approval(ctx: Context) -> Session:
    """Lee Lead's approval on the spot: badge + PIN on the keypad of BENCH-01."""
    return ctx.auth.approve("LEAD-001", LEAD_PIN, Permission.APPROVE, "Test approval")
