"""TLS to the central database: ``sslmode=verify-full`` in ``[database] central`` is really checked.

A real PostgreSQL with ``ssl = on`` and a certificate made here with the ``openssl`` command line:
a test CA, and a server certificate it signed for ``centre.example`` only (subjectAltName
DNS:centre.example). The station reaches the centre the way it always does: its TOML config is
read by ``load_config``, ``build_station`` makes the central engine (``postgres_engine``), and the
station's central unit of work opens the connection. libpq's verify-full must then refuse a
certificate for another host name (we connect to 127.0.0.1) and one from a CA we do not trust,
and accept the right name (``host=centre.example`` with ``hostaddr=127.0.0.1``, so no DNS).
Expected behaviour: libpq manual, "SSL Support" (sslmode verify-full: "verify that the server
host name matches the name stored in the server certificate") and "hostaddr".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from packstation.bootstrap import build_station
from packstation.config import load_config
from packstation.services.ports import StorageError

pytestmark = pytest.mark.postgres  # its own TLS server, from the same PostgreSQL binaries

NO_OPENSSL = "needs the openssl command line to make test certificates (apt-get install openssl)"
HOST = "centre.example"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _openssl(folder: Path, *args: str) -> None:
    proc = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")


def _make_ca(folder: Path, name: str) -> None:
    """A self-signed CA: ``{name}.crt`` and ``{name}.key``."""
    _openssl(folder, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN=packstation test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def _make_certificates(folder: Path) -> None:
    """ca.crt (signed the server's), other-ca.crt (did not), server.crt/key for centre.example."""
    _make_ca(folder, "ca")
    _make_ca(folder, "other-ca")
    _openssl(folder, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={HOST}")
    (folder / "server.ext").write_text(f"subjectAltName = DNS:{HOST}\nbasicConstraints = CA:FALSE\n"
                                       "keyUsage = critical,digitalSignature,keyEncipherment\n"
                                       "extendedKeyUsage = serverAuth\n")
    _openssl(folder, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "2",
             "-days", "2", "-extfile", "server.ext", "-out", "server.crt")
    # PostgreSQL refuses a private key others can read; the server runs as postgres when we are root
    (folder / "server.key").chmod(0o600)
    if os.geteuid() == 0:
        for path in (folder, folder / "server.key", folder / "server.crt"):
            shutil.chown(path, user="postgres", group="postgres")


@pytest.fixture(scope="module")
def tls_centre() -> Iterator[tuple[Any, str, Path]]:
    """A PostgreSQL of its own with ssl on: (server, database name, certificate folder)."""
    why = None
    pg = sys.modules["packstation_tests_pg_server"]
    bindir = pg.find_bindir()
    if shutil.which("openssl") is None:
        why = NO_OPENSSL
    elif bindir is None:
        why = pg.NOT_INSTALLED
    if why is not None:
        if _in_ci():
            pytest.fail(f"{why}; CI must run the central TLS tests", pytrace=False)
        pytest.skip(why)
    # as root the server (user postgres) must reach the files: /tmp is reachable, pytest's tmp_path is not
    certs = Path(tempfile.mkdtemp(prefix="packstation-tls-", dir="/tmp" if os.geteuid() == 0 else None))
    server = None
    try:
        _make_certificates(certs)
        server = pg.PgServer(bindir, settings={"ssl": "on", "ssl_cert_file": f"'{certs / 'server.crt'}'",
                                               "ssl_key_file": f"'{certs / 'server.key'}'"})
        try:
            server.start()
        except pg.PgServerError as exc:
            pytest.fail(f"could not start the TLS test PostgreSQL server: {exc}", pytrace=False)
        yield server, server.create_database(), certs
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(certs, ignore_errors=True)


def _central_url(server: Any, database: str, *, host: str, query: str) -> str:
    return f"postgresql+psycopg://{server.superuser}@{host}:{server.port}/{database}?{query}"


def _ssl_select_1(tmp_path: Path, central: str) -> tuple[int, bool]:
    """What a station with this ``[database] central`` gets: SELECT 1 and whether the link is TLS."""
    config_file = tmp_path / "station.toml"
    config_file.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        "[station]\n"
        'id = "BENCH-01"\n'
        "[database]\n"
        f'local = "sqlite:///{tmp_path / "station.db"}"\n'
        f'central = "{central}"\n',
        encoding="utf-8",
    )
    config = load_config(config_file)
    assert config.database.central == central
    with build_station(config, seed_demo=False) as station:
        assert station.ctx.central is not None
        with station.ctx.central(readonly=True) as cu:
            one = cu.conn.execute(sa.text("SELECT 1")).scalar_one()
            ssl = cu.conn.execute(sa.text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).scalar_one()
    return one, ssl


def test_verify_full_refuses_a_certificate_for_another_host(tls_centre: tuple[Any, str, Path],
                                                            tmp_path: Path) -> None:
    server, database, certs = tls_centre
    central = _central_url(server, database, host="127.0.0.1",
                           query=f"sslmode=verify-full&sslrootcert={certs / 'ca.crt'}")
    with pytest.raises(StorageError) as refused:
        _ssl_select_1(tmp_path, central)
    message = str(refused.value)
    assert "does not match host name" in message, message
    assert "TLS certificate was refused" in message and "cannot be reached" not in message, message
    assert HOST in message and "127.0.0.1" in message, message


def test_verify_full_accepts_the_certificate_for_its_host_name(tls_centre: tuple[Any, str, Path],
                                                               tmp_path: Path) -> None:
    server, database, certs = tls_centre
    central = _central_url(server, database, host=HOST,
                           query=f"hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={certs / 'ca.crt'}")
    assert _ssl_select_1(tmp_path, central) == (1, True)


def test_verify_full_refuses_a_certificate_from_a_ca_it_does_not_trust(tls_centre: tuple[Any, str, Path],
                                                                      tmp_path: Path) -> None:
    server, database, certs = tls_centre
    central = _central_url(server, database, host=HOST,
                           query=f"hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={certs / 'other-ca.crt'}")
    with pytest.raises(StorageError) as refused:
        _ssl_select_1(tmp_path, central)
    message = str(refused.value)
    assert "certificate verify failed" in message, message
    assert "TLS certificate was refused" in message, message


def test_without_verification_the_same_server_is_reached_over_tls(tls_centre: tuple[Any, str, Path],
                                                                  tmp_path: Path) -> None:
    """The control: sslmode=require (encrypt, check nothing) to 127.0.0.1 connects, so the refusals
    above come from verify-full checking the certificate, not from a server that cannot do TLS."""
    server, database, _certs = tls_centre
    central = _central_url(server, database, host="127.0.0.1", query="sslmode=require")
    assert _ssl_select_1(tmp_path, central) == (1, True)
