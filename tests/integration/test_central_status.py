"""``packstation status ORDER_ID`` on a synced station shows the central database's truth, with the
order's lease (which bench holds it, its fencing token, until when), and falls back to the
station's own copy, saying so, when the centre cannot be reached (issue 10).

A real centre (``central init`` on the test PostgreSQL server), two synced benches on SQLite files
of their own, and the command line as a person runs it (``--config`` a TOML file).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pull_support import NOW, TEE, Centre, an_order, centre_on

from packstation.cli import main as cli_main
from packstation.domain.barcodes import RawScan
from packstation.domain.packing import Verdict
from packstation.services import users

pytestmark = pytest.mark.postgres


@pytest.fixture
def centre(pg_server_instance: Any, tmp_path: Path) -> Iterator[Centre]:
    yield from centre_on(pg_server_instance, tmp_path)


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then closed): connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_file(centre: Centre, station_id: str, central_url: str, name: str = "online") -> Path:
    """The TOML file of a station built by ``centre.station(station_id)`` (its own database, its data)."""
    data = centre.tmp / station_id
    path = centre.tmp / f"{station_id}-{name}.toml"
    path.write_text(f'data_dir = "{data}"\n[station]\nid = "{station_id}"\n[database]\n'
                    f'local = "sqlite:///{data / "station.db"}"\ncentral = "{central_url}"\n', encoding="utf-8")
    return path


def status(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = cli_main(["--config", str(config), "status", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def leased_by_bench_a(centre: Centre) -> Any:
    """BENCH-01 (A) holds SO-1's lease and has pushed one scan of it; BENCH-02 (B) pulled before that."""
    centre.seed()
    users.add_user(centre.admin.ctx, centre.session(), "Pat Packer", "packer", "PACKER-001")
    a, b = centre.station("BENCH-01"), centre.station("BENCH-02")
    for st in (a, b):
        assert st.sync_now().error == ""
    t = a.terminal()
    assert t.scan("PACKER-001").verdict is Verdict.LOGGED_IN
    assert t.scan("SO-1").verdict is Verdict.ORDER_OPENED
    assert t.scan("BOX-S").verdict is Verdict.CARTON_OPENED
    assert t.scan(RawScan.from_wire(TEE)).verdict is Verdict.ACCEPTED
    pushed = a.sync_now()
    assert pushed.error == "" and pushed.drained
    with centre.admin.uow(readonly=True) as uow:
        lease = uow.leases.holder("SO-1")
    assert lease is not None and lease.station_id == "BENCH-01"
    return a, b, lease


def test_status_at_another_bench_names_the_bench_holding_the_lease(centre: Centre, leased_by_bench_a: Any,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, b, lease = leased_by_bench_a
    with b.uow(readonly=True) as uow:  # B's own copy knows nothing of A's claim or scan
        assert uow.orders.claim_of("SO-1").station_id is None
        assert uow.orders.get("SO-1").lines[0].packed == 0
    config = config_file(centre, "BENCH-02", centre.station_url())

    code, out, err = status(capsys, config, "SO-1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["source"] == "central"
    assert doc["lease"] == {"station": "BENCH-01", "holder": "Pat Packer", "token": lease.token,
                            "taken_at": lease.taken_at.isoformat(), "expires_at": lease.expires_at.isoformat()}
    assert doc["claimed_by"] == "BENCH-01"
    assert doc["lines"][0]["packed"] == 1  # A's pushed scan, as the centre applied it
    assert [s["station"] for s in doc["lines"][0]["scans"]] == ["BENCH-01"]
    assert "scan.recorded" in [e["kind"] for e in doc["events"]]

    code, out, _ = status(capsys, config, "SO-1")
    assert code == 0
    assert "from the central database" in out
    assert f"lease: held by BENCH-01 (Pat Packer), token {lease.token}, until {lease.expires_at.isoformat()}" in out


def test_status_with_the_centre_unreachable_shows_the_local_copy_and_says_so(
        centre: Centre, leased_by_bench_a: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, lease = leased_by_bench_a
    unreachable = f"postgresql+psycopg://packstation_station:x@127.0.0.1:{closed_port()}/{centre.name}"

    code, out, err = status(capsys, config_file(centre, "BENCH-02", unreachable, "cut-off"), "SO-1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["source"].startswith("local (centre unreachable: ")
    assert doc["lease"] is None and doc["claimed_by"] is None  # B's own copy: it holds nothing
    assert doc["lines"][0]["packed"] == 0
    assert "not the central database's" in err

    # the holder itself, cut off, still knows its own lease (its local copy of it)
    a_config = config_file(centre, "BENCH-01", unreachable, "cut-off")
    code, out, _ = status(capsys, a_config, "SO-1", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["source"].startswith("local (centre unreachable: ")
    assert (doc["lease"]["station"], doc["lease"]["token"]) == ("BENCH-01", lease.token)
    assert doc["claimed_by"] == "BENCH-01" and doc["lines"][0]["packed"] == 1

    code, out, _ = status(capsys, a_config, "SO-1")
    assert code == 0
    assert "LOCAL COPY ONLY" in out and "centre unreachable" in out
    assert f"lease: held by BENCH-01 (Pat Packer), token {lease.token}," in out


def test_an_order_only_this_station_knows_is_shown_from_its_copy(centre: Centre, leased_by_bench_a: Any,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    _, b, _ = leased_by_bench_a
    with b.uow() as uow:
        uow.orders.add_many([(an_order("SO-LOCAL", {"TS-1": 1}), "fp-local")], NOW)
        uow.commit()
    config = config_file(centre, "BENCH-02", centre.station_url())
    code, out, err = status(capsys, config, "SO-LOCAL", "--json")
    assert code == 0, err
    assert json.loads(out)["source"] == "local (the central database has no such order)"
    code, out, err = status(capsys, config, "SO-404", "--json")
    assert code == 1 and out == ""
    assert "No order 'SO-404' at the central database or at this station." in err


def test_the_lead_views_status_push_tab_on_a_synced_station_lists_the_centres_endpoints(
        centre: Centre, qtbot: Any) -> None:
    """The station role reads the subscriptions and their deliveries at the centre, not their
    signing secrets (``central init`` grants those columns only): a lead at a bench sees every
    endpoint and which are failing (issue 13)."""
    from packstation.services import status_push
    from packstation.ui.lead_view import LeadView

    centre.seed()
    users.add_user(centre.admin.ctx, centre.session(), "Lee Lead", "lead", "LEAD-001", pin="2468")
    status_push.add_subscription(centre.admin.ctx, centre.session(), "https://shop.example/hooks/packstation")
    bench = centre.station("BENCH-01")
    assert bench.sync_now().error == ""
    view = LeadView(bench, bench.ctx.auth.login("LEAD-001", "2468"))
    qtbot.addWidget(view)
    view.tabs.setCurrentWidget(view.push_page)
    assert view.push_caption.text() == "Status push endpoints: asking the central database…"
    qtbot.waitUntil(lambda: "asking" not in view.push_caption.text(), timeout=30_000)
    caption = view.push_caption.text()
    assert caption.startswith("Status push endpoints (the central database): 1, none failing"), caption
    cells = [view.push_table.item(0, c).text() for c in range(view.push_table.columnCount())]
    assert "https://shop.example/hooks/packstation" in cells, cells
    overview = status_push.push_overview(bench.ctx, bench.ctx.auth.login("LEAD-001", "2468"))
    assert [e.stats.subscription.secret for e in overview.endpoints] == [""]  # never read at a station


def test_the_lead_view_of_a_station_cut_off_from_the_centre_asks_it_in_the_background(
        centre: Centre, qtbot: Any) -> None:
    """The centre's conflicts and status push endpoints are asked off the GUI thread: the dialog
    opens at once saying it is asking, then says why they are not shown (never a frozen window
    while the connection times out)."""
    from packstation.bootstrap import build_station
    from packstation.config import load_config
    from packstation.ui.lead_view import LeadView

    centre.seed()
    users.add_user(centre.admin.ctx, centre.session(), "Lee Lead", "lead", "LEAD-001", pin="2468")
    assert centre.station("BENCH-01").sync_now().error == ""  # it knows the lead from the centre
    unreachable = f"postgresql+psycopg://packstation_station:x@127.0.0.1:{closed_port()}/{centre.name}"
    with build_station(load_config(config_file(centre, "BENCH-01", unreachable, "cut-off")),
                       seed_demo=False) as bench:
        view = LeadView(bench, bench.ctx.auth.login("LEAD-001", "2468"))
        qtbot.addWidget(view)
        assert view.sync_caption.text().endswith("Conflicts: asking the central database…")
        view.tabs.setCurrentWidget(view.push_page)
        assert view.push_caption.text() == "Status push endpoints: asking the central database…"
        qtbot.waitUntil(lambda: "asking" not in view.sync_caption.text() + view.push_caption.text(), timeout=60_000)
        assert "Conflicts not shown:" in view.sync_caption.text()
        assert view.push_caption.text().startswith("Status push endpoints not shown:")
        assert view.conflict_table.rowCount() == 0 and view.push_table.rowCount() == 0
        # the long reason wraps: it does not widen the dialog past the size it opens at
        assert view.minimumSizeHint().width() <= 1100, view.minimumSizeHint()
