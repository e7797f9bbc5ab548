"""The pipelined import of a big order file (``_Import.run_pipelined``): a second process reads and
checks the file while the import's process stores, ahead of the whole-file checks.

Whatever the file holds, the outcome must be the one-process import's: the same report (counts,
every rejection with its position and reason), the same rows stored, or none. Each test imports
the same file into two stations made alike, once pipelined and once in one process, and
compares. The pipeline starts at ``PIPELINE_MIN_BYTES`` (4 MiB); here it is forced on for small
files, with chunks of 50 orders so that several are stored ahead before the fault.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helpers_faults as hf
import pytest

from packstation import demo
from packstation.bootstrap import Station
from packstation.services import imports
from packstation.services.imports import ImportFileError, ImportReport, import_file

FIXTURES = Path(__file__).parents[1] / "fixtures"
N = 300


def _orders(n: int = N) -> list[dict[str, Any]]:
    products = demo.catalog(40)
    recs = demo.orders(products, n)[:n]
    for i, rec in enumerate(recs):
        rec["order_id"] = f"SO-{20001 + i}"
        rec["tote"] = None
    return recs


def _station(tmp_path: Path, name: str) -> Any:
    st = hf.new_station(tmp_path / name)
    session = hf.importer(st)
    assert imports.import_records(st.ctx, session, "catalog", [(f"record {i}", p) for i, p in
                                                               enumerate(demo.catalog(40), 1)], "catalog").ok
    return st


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(imports, "CHUNK", 50)
    piped, plain = _station(tmp_path, "piped"), _station(tmp_path, "plain")
    yield piped, plain
    piped.close()
    plain.close()


def _run(station: Station, path: Path, *, pipelined: bool, monkeypatch: pytest.MonkeyPatch) -> ImportReport:
    monkeypatch.setattr(imports, "PIPELINE_MIN_BYTES", 0 if pipelined else 2**62)
    report = import_file(station.ctx, hf.importer(station), "orders", path)
    assert ("pipelined" in report.timings) is pipelined, report.timings
    return report


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    if path.suffix == ".json":
        path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _stored(station: Station) -> dict[str, Any]:
    """What a bench could see of the file's orders, without the stations' own times and ids."""
    own = ("created_at", "updated_at", "import_batch", "claimed_at", "lease_token", "lease_expires_at")
    orders = [{k: v for k, v in r.items() if k not in own}
              for r in hf.rows(station, "orders", order_by="order_id")]
    lines = hf.rows(station, "order_lines", order_by="order_id")
    events = sorted((e["kind"], e["order_id"], e["payload"]) for e in hf.rows(station, "events")
                    if e["kind"].startswith(("order.", "import.")))
    return {"orders": orders, "lines": lines, "events": events}


def _same(report: ImportReport, other: ImportReport) -> None:
    assert (report.records, report.created, report.updated, report.unchanged) == \
        (other.records, other.created, other.updated, other.unchanged)
    assert [(r.position, r.key, r.reason) for r in report.rejected] == \
        [(r.position, r.key, r.reason) for r in other.rejected]


def _both(pair: Any, path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ImportReport, ImportReport]:
    piped, plain = pair
    report = _run(piped, path, pipelined=True, monkeypatch=monkeypatch)
    expected = _run(plain, path, pipelined=False, monkeypatch=monkeypatch)
    _same(report, expected)
    assert _stored(piped) == _stored(plain)
    return report, expected


@pytest.mark.parametrize("suffix", [".ndjson", ".json"])
def test_a_valid_file_is_stored_as_the_one_process_import_stores_it(
        pair: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    report, _ = _both(pair, _write(tmp_path / f"orders{suffix}", _orders()), monkeypatch)
    assert report.ok and report.created == N
    piped, _ = pair
    (batch,) = hf.rows(piped, "import_batches")
    assert (batch["state"], batch["records"], batch["created"]) == ("done", N, N)
    assert sum(1 for e in hf.rows(piped, "events") if e["kind"] == "order.received") == N


def _late(i: int, **changes: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(recs: list[dict[str, Any]]) -> None:
        recs[i].update(changes)
    return change


def _twice(first: int, second: int) -> Callable[[list[dict[str, Any]]], None]:
    def change(recs: list[dict[str, Any]]) -> None:
        recs[second]["order_id"] = recs[first]["order_id"]
    return change


def _tote_twice(first: int, second: int) -> Callable[[list[dict[str, Any]]], None]:
    def change(recs: list[dict[str, Any]]) -> None:
        recs[first]["tote"] = recs[second]["tote"] = "TOTE-77"
    return change


@pytest.mark.parametrize("fault", [
    pytest.param(_late(280, ship_to={**_orders(1)[0]["ship_to"], "country": "Germany"}), id="bad-record-late"),
    pytest.param(_late(290, lines=[{"sku": "NOPE-1", "qty": 1, "unit_price": "1.00"}]), id="unknown-sku-late"),
    pytest.param(_twice(10, 250), id="order-twice-far-apart"),
    pytest.param(_twice(10, 12), id="order-twice-in-one-chunk"),
    pytest.param(_tote_twice(20, 220), id="tote-twice"),
    pytest.param(_tote_twice(20, 22), id="tote-twice-in-one-chunk"),
])
def test_a_file_with_a_fault_anywhere_is_reported_and_stores_nothing(
        pair: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: Callable[[list[dict[str, Any]]], None]
) -> None:
    recs = _orders()
    fault(recs)
    piped, _ = pair
    report, _ = _both(pair, _write(tmp_path / "orders.ndjson", recs), monkeypatch)
    assert report.rejected and report.created == 0
    assert not any(r["order_id"].startswith("SO-") for r in hf.rows(piped, "orders"))
    assert not any(e["kind"] == "order.received" for e in hf.rows(piped, "events"))
    # what was stored ahead of the fault is rolled back, and the journal says so
    assert {b["state"] for b in hf.rows(piped, "import_batches")} <= {"rolled_back"}


@pytest.mark.parametrize("faults", [("tote",), ("packing",), ("tote", "packing")])
def test_a_tote_in_use_or_an_order_being_packed_refuses_the_file(
        pair: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults: tuple[str, ...]) -> None:
    recs = _orders()
    for station in pair:
        first = _run(station, _write(tmp_path / "first.ndjson", [{**recs[0], "tote": "TOTE-5"}, recs[1]]),
                     pipelined=False, monkeypatch=monkeypatch)
        assert first.created == 2
        hf.add_user(station, "Pat Packer", "packer", hf.BADGE)
        assert hf.login(station, hf.BADGE).scan(recs[1]["order_id"]).verdict.value == "order_opened"
    changed = [dict(r) for r in recs]  # SO-20001 is not in this file: it keeps TOTE-5
    expected = []
    if "tote" in faults:
        changed[120] = {**recs[120], "tote": "TOTE-5"}  # the tote holds SO-20001, still open
        expected.append("SO-20121")
    if "packing" in faults:
        changed[1] = {**recs[1], "carrier": "TNT"}  # being packed: can no longer change
        expected.append("SO-20002")
    report, _ = _both(pair, _write(tmp_path / "orders.ndjson", changed[1:]), monkeypatch)
    assert sorted(r.key for r in report.rejected) == sorted(expected), report.rejected


def test_a_file_imported_again_changes_nothing_and_updates_go_through(
        pair: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = _orders()
    path = _write(tmp_path / "orders.ndjson", recs)
    _both(pair, path, monkeypatch)
    piped, _ = pair
    before = hf.table_counts(piped)
    again, _ = _both(pair, path, monkeypatch)
    assert (again.created, again.unchanged) == (0, N)
    assert hf.table_counts(piped) == before  # not even a batch or an event
    for i in (5, 150, 299):
        recs[i]["carrier"] = "TNT"
    changed, _ = _both(pair, _write(tmp_path / "changed.ndjson", recs), monkeypatch)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 3, N - 3)
    assert sorted(r["order_id"] for r in hf.rows(piped, "orders") if r["carrier"] == "TNT") == \
        ["SO-20006", "SO-20151", "SO-20300"]


def test_a_file_that_breaks_half_way_raises_what_the_one_process_import_raises(
        pair: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "orders.json"
    text = json.dumps(_orders())
    path.write_text(text[: len(text) * 3 // 4] + "}}}", encoding="utf-8")  # the array never closes
    piped, plain = pair
    with pytest.raises(ImportFileError) as piped_error:
        _run(piped, path, pipelined=True, monkeypatch=monkeypatch)
    with pytest.raises(ImportFileError) as plain_error:
        _run(plain, path, pipelined=False, monkeypatch=monkeypatch)
    assert str(piped_error.value) == str(plain_error.value)
    assert _stored(piped) == _stored(plain)
    assert not any(r["order_id"].startswith("SO-") for r in hf.rows(piped, "orders"))


def test_if_the_reading_process_cannot_run_the_import_reads_the_file_itself(
        pair: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    piped, plain = pair
    path = _write(tmp_path / "orders.ndjson", _orders())
    monkeypatch.setattr(imports, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the reader exits at once, having said nothing
    report = import_file(piped.ctx, hf.importer(piped), "orders", path)
    monkeypatch.undo()
    monkeypatch.setattr(imports, "CHUNK", 50)
    assert "pipelined" in report.timings and "read" in report.timings  # tried, then read here
    expected = _run(plain, path, pipelined=False, monkeypatch=monkeypatch)
    _same(report, expected)
    assert report.created == N and _stored(piped) == _stored(plain)
