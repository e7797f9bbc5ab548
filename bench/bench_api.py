"""Order API benchmark (issue 13): order intake over HTTP, ack latency, status push drain.

Runs ``packstation serve`` as its own process on a throwaway PostgreSQL server set up as a centre
(``central init``; the test suite's tests/pg_server.py starts it, or ``PACKSTATION_BENCH_PG_URL``
names an empty database to use), with a 2,000-product catalog, and measures:

- sustained intake: orders of 1-10 lines POSTed one per request as fast as 4 client connections
  (keep-alive) get answers, for ``INTAKE_S`` seconds: orders per second (target >= 500);
- ack latency at 100 orders/s: requests sent on a fixed schedule (open loop, 4 connections at 25/s
  each), time from sending to the answer: p50 and p99 (target p99 <= 50 ms); the same for
  signed Shopify webhooks (stored in the inbox, then answered);
- status push drain: every order's release event delivered to a local receiver (another process,
  a minimal HTTP/1.1 server) through the status push use cases and the HTTP sender: deliveries
  per second once collected (target >= 1,000/s), and the collect rate.

    .venv/bin/python bench/bench_api.py

Figures depend on the machine (2 shared cores here): run it a few times; docs/benchmarks.md has
the reference runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchlib import mark, percentile, pressure, stall_pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRODUCTS = 2_000
INTAKE_S = 15.0
CLIENTS = 4
PACED_RATE = 100.0  # requests per second, all clients together
PACED_S = 15.0
TARGET_INTAKE = 500.0
TARGET_ACK_P99_MS = 50.0
TARGET_DRAIN = 1_000.0

_RECEIVER = r'''
import asyncio, sys
count = 0
async def handle(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if head.startswith(b"GET /count"):
                body = str(count).encode()
            else:
                count += 1
                body = b"ok"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
'''


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the processes *pids* have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _tree(root: int) -> list[int]:
    """*root* and every process under it (uvicorn's server processes)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += [child for child, parent in parents.items() if parent == pid]
    return out


def _postgres_pids() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    out.append(int(entry.name))
            except OSError:
                pass
    return out


def _pg() -> tuple[str, Any]:
    """An empty PostgreSQL database URL, and the server to stop afterwards (None if given)."""
    given = os.environ.get("PACKSTATION_BENCH_PG_URL")
    if given:
        return given, None
    spec = importlib.util.spec_from_file_location("bench_pg_server", ROOT / "tests" / "pg_server.py")
    assert spec is not None and spec.loader is not None
    pg_server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pg_server)
    bindir = pg_server.find_bindir()
    if bindir is None:
        raise SystemExit(f"bench_api needs PostgreSQL: {pg_server.NOT_INSTALLED}")
    server = pg_server.PgServer(bindir)
    server.start()
    return server.url(server.create_database("bench_api")), server


def _order(n: int, skus: list[str], rng: random.Random) -> dict[str, Any]:
    lines = rng.sample(skus, rng.randint(1, 10))
    return {
        "order_id": f"BENCH-{n}", "channel": "bench", "placed_at": "2026-03-10T08:00:00+01:00",
        "customer": {"name": "Anna Schmidt", "email": "anna@example.com", "phone": "+49 30 1234567"},
        "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin", "postcode": "10115",
                    "country": "DE"},
        "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": "DHL", "service": "Paket",
        "lines": [{"sku": sku, "qty": rng.randint(1, 3), "unit_price": f"{rng.randint(100, 9999) / 100:.2f}"}
                  for sku in lines],
    }


def _serve(config: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "packstation", "--config", str(config), "serve", "--port", str(port),
                             "--log-level", "warning"], cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"packstation serve did not start: {log.read_text()[-2000:]}")


class _Client:
    """A lean keep-alive HTTP client (http.client): the clients run on the same cores as the server."""

    def __init__(self, url: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        self.conn.request("POST", path, body=body, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def close(self) -> None:
        self.conn.close()


def _intake(url: str, token: str, skus: list[str], start: int, seconds: float = INTAKE_S) -> tuple[int, float, list[float]]:
    stop = time.perf_counter() + seconds
    counts = [0] * CLIENTS
    lat: list[list[float]] = [[] for _ in range(CLIENTS)]
    errors: list[str] = []

    def client(k: int) -> None:
        rng = random.Random(k)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        http = _Client(url)
        n = start + k
        while time.perf_counter() < stop:
            body = json.dumps(_order(n, skus, rng)).encode()
            t0 = time.perf_counter()
            status, answer = http.post("/api/v1/orders", body, headers)
            lat[k].append(time.perf_counter() - t0)
            if status != 201:
                errors.append(f"{status} {answer[:200]!r}")
                return
            counts[k] += 1
            n += CLIENTS
        http.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"intake refused an order: {errors[0]}")
    return sum(counts), elapsed, [x for xs in lat for x in xs]


def _paced(url: str, make: Any) -> list[float]:
    """Requests on a fixed schedule (PACED_RATE per second over CLIENTS connections); latencies."""
    per_client = PACED_RATE / CLIENTS
    total = int(PACED_S * per_client)
    lat: list[list[float]] = [[] for _ in range(CLIENTS)]
    began = time.perf_counter() + 0.2

    def client(k: int) -> None:
        http = _Client(url)
        for i in range(total):
            due = began + (i + k / CLIENTS) / per_client
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            path, body, headers = make(k, i)
            t0 = time.perf_counter()
            status, answer = http.post(path, body, headers)
            lat[k].append(time.perf_counter() - t0)
            if status not in (200, 201):
                raise SystemExit(f"paced request refused: {status} {answer[:200]!r}")
        http.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return [x for xs in lat for x in xs]


def main() -> int:
    import tomli_w

    from packstation.bootstrap import build_api, init_central_database
    from packstation.config import load_config
    from packstation.demo import CARTON_TYPES, catalog
    from packstation.domain.identity import ActorKind
    from packstation.services import intake, status_push
    from packstation.services.imports import import_records

    url, pg = _pg()
    tmp = Path(tempfile.mkdtemp(prefix="packstation-bench-api-"))
    results: list[tuple[str, bool]] = []
    server = receiver = None
    try:
        init_central_database(url)
        cfg = tmp / "serve.toml"
        cfg.write_text(tomli_w.dumps({
            "data_dir": str(tmp / "data"), "database": {"central": url},
            "shopify": {"secrets": ["bench-secret"], "order_prefix": "SHB-"},
            "api": {"pool_size": 10, "processes": int(os.environ.get("BENCH_API_PROCESSES", "1"))}, "webhooks": {"concurrency": 16}}))
        host = build_api(load_config(cfg))
        products = catalog(PRODUCTS, random.Random(7))
        session = host.system_session(ActorKind.IMPORT, "bench")
        assert import_records(host.ctx, session, "catalog", [(f"record {i}", p) for i, p in enumerate(products)],
                              "catalog").ok
        import_records(host.ctx, session, "cartons", [(f"record {i}", c) for i, c in enumerate(CARTON_TYPES)], "cartons")
        skus = [p["sku"] for p in products]
        token = intake.add_api_token(host.ctx, host.system_session(ActorKind.CLI, "bench"), "bench",
                                     rate_per_s=1e6, burst=1_000_000)[1]
        server, api = _serve(cfg, tmp / "serve.log")
        _intake(api, token, skus, 10_000_000, 3.0)  # warm up: the pool's connections, first statements

        before = pressure()
        pg_pids = _postgres_pids() if pg is not None else []
        served = _tree(server.pid)
        cpu = (_cpu_s(served), _cpu_s(pg_pids), time.process_time())
        n, elapsed, lat = _intake(api, token, skus, 0)
        used = (_cpu_s(served) - cpu[0], _cpu_s(pg_pids) - cpu[1], time.process_time() - cpu[2])
        rate = n / elapsed
        stall = stall_pct(before, elapsed)
        ok = rate >= TARGET_INTAKE
        results.append(("intake", ok))
        print(f"intake: {n} orders of 1-10 lines in {elapsed:.1f} s over {CLIENTS} connections: {rate:.0f} orders/s "
              f"(target >= {TARGET_INTAKE:.0f}) {mark(ok)}; latency p50 {percentile(lat, 50) * 1000:.1f} ms, "
              f"p99 {percentile(lat, 99) * 1000:.1f} ms; CPU stall {stall.get('cpu', 0):.0f} %")
        print(f"  CPU per order: API server ({len(served)} process(es)) {used[0] / n * 1000:.2f} ms, PostgreSQL {used[1] / n * 1000:.2f} ms"
              f"{'' if pg_pids else ' (not measured: an external server)'}, the 4 clients {used[2] / n * 1000:.2f} ms")

        rng = random.Random(99)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def order_request(k: int, i: int) -> tuple[str, bytes, dict[str, str]]:  # noqa: B023
            return "/api/v1/orders", json.dumps(_order(20_000_000 + i * CLIENTS + k, skus, rng)).encode(), headers

        lat = _paced(api, order_request)
        p50, p99 = percentile(lat, 50) * 1000, percentile(lat, 99) * 1000
        ok = p99 <= TARGET_ACK_P99_MS
        results.append(("ack", ok))
        print(f"ack latency at {PACED_RATE:.0f} orders/s ({len(lat)} orders): p50 {p50:.1f} ms, p99 {p99:.1f} ms "
              f"(target p99 <= {TARGET_ACK_P99_MS:.0f} ms) {mark(ok)}")

        from packstation.api.signatures import base64_hmac

        def webhook_request(k: int, i: int) -> tuple[str, bytes, dict[str, str]]:
            n = i * CLIENTS + k
            body = json.dumps({
                "id": 9_000_000 + n, "name": f"#{n}", "updated_at": "2026-03-10T09:00:00+00:00",
                "created_at": "2026-03-10T08:00:00+00:00", "currency": "EUR", "financial_status": "paid",
                "email": "jon@example.com", "customer": {"first_name": "Jon", "last_name": "Doe"},
                "shipping_address": {"name": "Jon Doe", "address1": "Keizersgracht 101", "city": "Amsterdam",
                                     "zip": "1015 CJ", "country_code": "NL"},
                "line_items": [{"sku": sku, "quantity": 1, "price": "9.95"} for sku in rng.sample(skus, 3)]}).encode()
            return "/webhooks/shopify", body, {
                "Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-SHA256": base64_hmac("bench-secret", body), "X-Shopify-Webhook-Id": f"bench-{n}",
                "X-Shopify-Shop-Domain": "bench.myshopify.com"}

        lat = _paced(api, webhook_request)
        print(f"webhook ack latency at {PACED_RATE:.0f}/s ({len(lat)} deliveries, stored then answered): "
              f"p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms")
        server.terminate()
        server.wait(30)
        server = None

        # --- status push drain --------------------------------------------------------------------
        receiver = subprocess.Popen([sys.executable, "-c", _RECEIVER], stdout=subprocess.PIPE, text=True)
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline())
        admin = host.system_session(ActorKind.CLI, "bench")
        status_push.add_subscription(host.ctx, admin, f"http://127.0.0.1:{port}/hooks", ["order.released"])
        with host.ctx.uow() as uow:  # read the log from its start: every order's release becomes a delivery
            uow.status_push.set_cursor(status_push.CURSOR, status_push.PushCursor())
            uow.commit()
        worker = host.system_session(ActorKind.SYSTEM, "bench")
        t0 = time.perf_counter()
        made = 0
        while True:
            run = status_push.collect(host.ctx, worker, limit=2000)
            made += run.deliveries
            if run.events == 0:
                break
        collect_s = time.perf_counter() - t0
        print(f"status push collect: {made} deliveries written from the event log in {collect_s:.1f} s "
              f"({made / collect_s:.0f}/s)")
        before = pressure()
        t0 = time.perf_counter()
        delivered = 0
        while True:
            sent = status_push.send_due(host.ctx, worker, host.sender, limit=500, policy=host.retry)
            delivered += sent.delivered
            if sent.tried == 0:
                break
            if sent.delivered != sent.tried:
                raise SystemExit(f"deliveries failed: {[a.error for a in sent.results if not a.ok][:3]}")
        drain_s = time.perf_counter() - t0
        import httpx

        heard = int(httpx.get(f"http://127.0.0.1:{port}/count").text)
        rate = delivered / drain_s
        ok = rate >= TARGET_DRAIN and heard == delivered == made
        results.append(("drain", ok))
        stall = stall_pct(before, drain_s)
        print(f"status push drain: {delivered} deliveries in {drain_s:.1f} s: {rate:.0f}/s (target >= "
              f"{TARGET_DRAIN:.0f}) {mark(ok)}; the receiver heard {heard}; CPU stall {stall.get('cpu', 0):.0f} %")
        host.close()
    finally:
        if server is not None:
            server.kill()
        if receiver is not None:
            receiver.kill()
        if pg is not None:
            pg.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
