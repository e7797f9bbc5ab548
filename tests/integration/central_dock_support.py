"""A central deployment for the dock tests: a centre set up by ``central init``, synced benches with a
carrier account, and a dock station working on the centre (all as the station role).

One simulated carrier serves every account: a carrier is one service however many stations talk
to it, so a bench's shipments are the ones the dock's end-of-day close and the centre's tracking
poller ask it about (each station's config builds its own ``SimulatedCarrier``; the tests put the
one shared instance behind each of them).

Run as a script (``python central_dock_support.py close LOCAL_DB DATA_DIR CENTRAL_URL``) it is a dock
station process that closes the open DHL manifest and is SIGKILLed right after the centre committed
the close: the crash between the centre's commit and anything the station does after it.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from packstation.bootstrap import Station, build_station
from packstation.config import CarrierConfig, Config, DatabaseConfig, NumbersConfig, StationConfig

DHL = CarrierConfig(code="DHL", connector="simulated", tracking_prefix="00340434", track_every_s=0)


def dock_config(local_db: Path, data_dir: Path, central_url: str) -> Config:
    return Config(station=StationConfig(id="DOCK-01", name="DOCK-01"),
                  database=DatabaseConfig(local=f"sqlite:///{local_db}", central=central_url),
                  numbers=NumbersConfig(sscc_first=900_000, sscc_last=999_999), data_dir=data_dir, carriers=(DHL,))


def bench_config(station_id: str, folder: Path, central_url: str) -> Config:
    n = int(station_id.rsplit("-", 1)[1])  # disjoint SSCC ranges
    return Config(station=StationConfig(id=station_id, name=station_id),
                  database=DatabaseConfig(local=f"sqlite:///{folder / station_id}.db", central=central_url),
                  numbers=NumbersConfig(sscc_first=n * 100_000, sscc_last=n * 100_000 + 99_999),
                  data_dir=folder / station_id, carriers=(DHL,))


def close_and_die(local_db: str, data_dir: str, central_url: str) -> int:
    """Close the open DHL manifest at this dock; SIGKILL this process right after the centre's commit."""
    from packstation.adapters.db import manifests, uow
    from packstation.domain.packing import Verdict

    station: Station = build_station(dock_config(Path(local_db), Path(data_dir), central_url), seed_demo=False)
    closing = {"now": False}
    real_close, real_commit = manifests.SqlManifests.close, uow.SqlUnitOfWork.commit

    def close(self, manifest):  # type: ignore[no-untyped-def]
        closing["now"] = True
        return real_close(self, manifest)

    def commit(self):  # type: ignore[no-untyped-def]
        real_commit(self)
        if closing["now"]:  # the close is committed at the centre: stop dead, as a power cut would
            os.kill(os.getpid(), signal.SIGKILL)

    manifests.SqlManifests.close = close  # type: ignore[method-assign]
    uow.SqlUnitOfWork.commit = commit  # type: ignore[method-assign]
    dock = station.terminal()
    assert dock.scan("DISPATCH-001").verdict is Verdict.LOGGED_IN
    assert dock.scan("CARRIER-DHL").verdict is Verdict.MANIFEST_OPENED
    out = dock.scan("CMD-CLOSE-MANIFEST")
    print(f"NOT KILLED {out.verdict} {out.message}", flush=True)
    return 1


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "close":
        sys.exit(close_and_die(sys.argv[2], sys.argv[3], sys.argv[4]))
    print("usage: central_dock_support.py close LOCAL_DB DATA_DIR CENTRAL_URL", file=sys.stderr)
    sys.exit(2)
