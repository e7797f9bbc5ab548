"""A station behind a network cable a test can pull: a Linux network namespace, a veth pair to the
host, and nftables drop rules inside the namespace.

    ns = NetNamespace.create()          # namespace + veth; host side ns.host_addr, station side ns.addr
    proc = subprocess.Popen(ns.command([sys.executable, "bench.py"]), ...)   # runs inside it
    ns.cut()                            # nft: every packet to/from the host is dropped (silently,
                                        # as a dead switch port: the station sees timeouts, not errors)
    ns.restore()                        # the rules are gone; connections can be made again
    ns.destroy()

A PostgreSQL server the station should reach listens on ``ns.host_addr`` too:
``pg_server_for(ns)`` is the test run's throwaway server (``tests/pg_server.py``) that also
listens there and lets the namespace's address in. Addresses are link-local
(169.254.0.0/16), chosen from this process id, so test runs of several checkouts on one machine
do not collide; namespaces left by a killed run are removed by :func:`reap_stale`. Needs root,
``ip`` (iproute2) and ``nft`` (nftables); :func:`unavailable` says what is missing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "pstns"
_NAME = re.compile(rf"^{PREFIX}(\d+)x(\d+)$")
_TABLE = "packstation_cut"


class NetnsError(RuntimeError):
    pass


def _run(*argv: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, input=input, timeout=30)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def unavailable() -> str | None:
    """Why a namespace cannot be made here (None: it can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables"), ("nsenter", "util-linux")):
        if shutil.which(tool) is None:
            return f"'{tool}' is missing (apt-get install {package})"
    return None


def release_mount() -> bool:
    """Unmount ``/run/netns`` when no namespace is left in it (``ip netns add`` bind-mounts it on
    itself the first time and never takes that back; ``ip`` makes it again when needed). Returns
    True if it was unmounted. Namespaces of anyone else keep it mounted: it is left alone then."""
    run = Path("/run/netns")
    if os.geteuid() != 0 or not _mounted(run):
        return False
    try:
        if any(run.iterdir()):
            return False
    except OSError:
        return False
    return subprocess.run(["umount", str(run)], capture_output=True).returncode == 0


def _mounted(path: Path) -> bool:
    """Is *path* a mount point? (/proc/self/mountinfo: ``os.path.ismount`` misses a directory
    bind-mounted on itself within one file system, which is what ``ip netns`` makes.)"""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            return any(line.split()[4] == str(path) for line in f if len(line.split()) > 4)
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale() -> list[str]:
    """Delete namespaces (and their veth pairs) of test runs whose process is gone."""
    removed = []
    listing = _run("ip", "netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        match = _NAME.match(name)
        if match and not _alive(int(match.group(1))):
            _run("ip", "netns", "del", name, check=False)
            _run("ip", "link", "del", f"{name}h", check=False)
            removed.append(name)
    return removed


@dataclass
class NetNamespace:
    name: str
    host_if: str
    ns_if: str
    host_addr: str
    addr: str
    is_cut: bool = False

    @classmethod
    def create(cls, index: int = 0) -> NetNamespace:
        """A namespace with a veth pair to the host: host side ``host_addr``, namespace side ``addr``."""
        why = unavailable()
        if why:
            raise NetnsError(why)
        reap_stale()
        pid = os.getpid()
        name = f"{PREFIX}{pid}x{index}"  # at most 15 characters with the "h"/"n" suffix
        if len(name) > 14:
            raise NetnsError(f"namespace name {name!r} too long for an interface name")
        # one /30 per (process, index): 169.254.A.B with B a multiple of 4, never .0/.255 subnets
        slot = (pid * 8 + index) % (250 * 64)
        a, b = 1 + slot // 64, (slot % 64) * 4
        ns = cls(name, f"{name}h", f"{name}n", f"169.254.{a}.{b + 1}", f"169.254.{a}.{b + 2}")
        try:
            _run("ip", "netns", "add", name)
            _run("ip", "link", "add", ns.host_if, "type", "veth", "peer", "name", ns.ns_if)
            _run("ip", "link", "set", ns.ns_if, "netns", name)
            _run("ip", "addr", "add", f"{ns.host_addr}/30", "dev", ns.host_if)
            _run("ip", "link", "set", ns.host_if, "up")
            ns.exec("ip", "addr", "add", f"{ns.addr}/30", "dev", ns.ns_if)
            ns.exec("ip", "link", "set", ns.ns_if, "up")
            ns.exec("ip", "link", "set", "lo", "up")
        except BaseException:
            ns.destroy()
            raise
        return ns

    def command(self, argv: list[str]) -> list[str]:
        """*argv* to run inside the namespace. ``nsenter --net`` joins its network and nothing else:
        ``ip netns exec`` also remounts ``/`` and ``/sys``, which fails in a chroot (a stock Debian
        root without a mount of its own: "mount --make-rslave /" failed)."""
        return ["nsenter", f"--net=/run/netns/{self.name}", "--", *argv]

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return _run(*self.command(list(argv)))

    def cut(self) -> None:
        """Drop every packet between the namespace and the host (nftables, inside the namespace)."""
        rules = f"""
table inet {_TABLE} {{
    chain output {{ type filter hook output priority 0; policy accept; ip daddr {self.host_addr} drop; }}
    chain input {{ type filter hook input priority 0; policy accept; ip saddr {self.host_addr} drop; }}
}}
"""
        _run(*self.command(["nft", "-f", "-"]), input=rules)
        self.is_cut = True

    def restore(self) -> None:
        _run(*self.command(["nft", "delete", "table", "inet", _TABLE]))
        self.is_cut = False

    def rules(self) -> str:
        return self.exec("nft", "list", "ruleset").stdout

    def destroy(self) -> None:
        _run("ip", "netns", "del", self.name, check=False)  # takes its end of the veth pair, and so the pair
        _run("ip", "link", "del", self.host_if, check=False)


def _pg_server_module() -> Any:
    name = "packstation_tests_pg_server"  # the name tests/conftest.py loads it under
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("pg_server.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def pg_server_for(ns: NetNamespace) -> Any:
    """A throwaway PostgreSQL server (not started) that also listens on the host's end of *ns*'s
    veth pair and lets the namespace's address in with a password (SCRAM), as a real centre would."""
    pg = _pg_server_module()
    bindir = pg.find_bindir()
    if bindir is None:
        raise NetnsError(pg.NOT_INSTALLED)

    class ReachablePg(pg.PgServer):  # type: ignore[misc, name-defined]
        def _write_conf(self) -> None:
            super()._write_conf()
            conf = self.datadir / "postgresql.auto.conf"
            conf.write_text(conf.read_text().replace("listen_addresses = '127.0.0.1'",
                                                     f"listen_addresses = '127.0.0.1,{ns.host_addr}'"))
            hba = self.datadir / "pg_hba.conf"
            line = f"host all all {ns.addr}/32 scram-sha-256\n"
            if line not in hba.read_text():
                with hba.open("a") as f:
                    f.write(line)

    return ReachablePg(bindir)


__all__ = ["NetNamespace", "NetnsError", "pg_server_for", "reap_stale", "unavailable"]
