"""Root conftest: a safe environment for every test, and a throwaway PostgreSQL server.

The environment is set here, at import time, because it must be in place before anything
imports Qt or python-escpos or reads the station's data folder:

- ``QT_QPA_PLATFORM=offscreen`` (unless set): widgets render without a display.
- ``PACKSTATION_DATA_DIR`` points to a per-session temp folder, and ``PACKSTATION_CONFIG`` is
  removed: tests never read or write the user's real station data or config.
- ``ESCPOS_CAPABILITIES_PICKLE_DIR`` points to a temp folder: python-escpos caches its
  capability database there instead of in the user's cache folder.

Fixtures for subfolders live in their own conftest.py files.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="packstation-tests-"))
atexit.register(shutil.rmtree, _SESSION_TMP, ignore_errors=True)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["PACKSTATION_DATA_DIR"] = str(_SESSION_TMP / "data")
os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(_SESSION_TMP / "escpos")
os.environ.pop("PACKSTATION_CONFIG", None)
(_SESSION_TMP / "escpos").mkdir()


def _load_helper(file: str, name: str) -> ModuleType:
    """Import a helper module of tests/ by path: works with any pytest import mode, no sys.path
    edits; the test modules load it under the same *name*, so there is one copy."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


pg_server = _load_helper("pg_server.py", "packstation_tests_pg_server")
netns = _load_helper("netns.py", "packstation_tests_netns")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _hypothesis_profiles() -> None:
    """Deterministic hypothesis runs with no per-example deadline (2 shared, busy cores).

    ``HYPOTHESIS_PROFILE=explore`` brings back random search with more examples, locally.
    """
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:
        return
    settings.register_profile(
        "packstation",
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("explore", deadline=None, max_examples=1000)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "packstation"))


_hypothesis_profiles()


# -- SIGTERM ---------------------------------------------------------------------------------
_MAIN_PID = os.getpid()


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (``timeout``, a CI job cancelled) ends the run like Ctrl+C: fixtures tear down,
    so the PostgreSQL server is stopped and temp folders are removed. Forked children die as
    usual."""
    if os.getpid() != _MAIN_PID:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Once, in the process that ran or dispatched the tests (not in each xdist worker): the
    network-cut tests' ``ip netns add`` leaves ``/run/netns`` mounted on itself, which then keeps
    a chroot (a stock Debian root, ../shared/tools/fresh-debian) from being removed."""
    if not hasattr(session.config, "workerinput"):
        netns.release_mount()


# -- markers ---------------------------------------------------------------------------------
_PG_FIXTURES = {"pg_url", "fresh_pg_database", "pg_engine_url", "pg_server_instance"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that use the PostgreSQL fixtures get the ``postgres`` mark (for ``-m``)."""
    for item in items:
        if _PG_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _x_display_to_itself(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked ``xvfb`` has the X display to itself while it runs.

    scripts/run-tests runs pytest-xdist workers under one ``xvfb-run``: two windows on one display
    would take each other's focus, and xdotool types into whichever has it. So each such test holds
    an exclusive lock named after the display (flock: released if the worker dies) and the others
    wait their turn; the rest of the suite goes on in parallel meanwhile.
    """
    if request.node.get_closest_marker("xvfb") is None or not os.environ.get("DISPLAY"):
        yield
        return
    import fcntl

    display = "".join(c if c.isalnum() else "_" for c in os.environ["DISPLAY"])
    path = Path(tempfile.gettempdir()) / f"packstation-tests-display-{display}.lock"
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``xvfb`` need a real X display and xdotool; skip them, saying why, if absent
    (in CI a missing display or xdotool is a failure: CI must run the real-window tests)."""
    if item.get_closest_marker("xvfb") is None:
        return
    why = None
    if not os.environ.get("DISPLAY"):
        why = "needs an X server: no DISPLAY (scripts/run-tests runs pytest under xvfb-run -a)"
    elif shutil.which("xdotool") is None:
        why = "needs xdotool (apt-get install xdotool)"
    if why is not None:
        if _in_ci():
            pytest.fail(f"{why}; CI must run the tests marked xvfb", pytrace=False)
        pytest.skip(why)


# -- PostgreSQL ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_server_instance() -> Iterator[Any]:
    """The session's private PostgreSQL server (a tests/pg_server.py ``PgServer``)."""
    bindir = pg_server.find_bindir()
    if bindir is None:
        if _in_ci():
            pytest.fail(f"{pg_server.NOT_INSTALLED}; CI must run the PostgreSQL tests")
        pytest.skip(pg_server.NOT_INSTALLED)
    pg_server.reap_stale(bindir)
    server = pg_server.PgServer(bindir)
    try:
        server.start()
    except pg_server.PgServerError as exc:
        server.stop()
        pytest.fail(f"could not start the test PostgreSQL server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server_instance: Any) -> str:
    """SQLAlchemy URL (``postgresql+psycopg://...``) of a database shared by the session."""
    return pg_server_instance.url(pg_server_instance.create_database("packstation_test"))


@pytest.fixture
def fresh_pg_database(pg_server_instance: Any) -> Iterator[str]:
    """SQLAlchemy URL of a new empty database for this test only, dropped afterwards.

    Dispose your engines before the test ends if you can; the drop closes leftovers anyway.
    """
    name = pg_server_instance.create_database()
    try:
        yield pg_server_instance.url(name)
    finally:
        pg_server_instance.drop_database(name)


@pytest.fixture
def pg_engine_url(fresh_pg_database: str) -> str:
    """Same as ``fresh_pg_database``: a per-test empty database's SQLAlchemy URL."""
    return fresh_pg_database
