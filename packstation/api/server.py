"""``packstation serve``: the API under uvicorn, with the webhook inbox and status push workers,
and the carrier tracking worker where this server is the deployment's poller
(``Config.polls_tracking("serve")``: by default with ``[database] central``).

With ``[api] processes`` above 1, uvicorn runs that many server processes on the one port (each
with its own connection pool and workers: they share nothing but the database, as several servers
behind a load balancer do); each builds itself from the config file (``PACKSTATION_CONFIG``). The
tracking worker then runs once, in the parent process, so the carriers are not asked N times.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from packstation.api.app import create_app
from packstation.domain.identity import ActorKind
from packstation.services import status_push
from packstation.workers import IntakeWorker, StatusPushWorker

log = logging.getLogger("packstation.api")
_WORKERS_ENV = "PACKSTATION_SERVE_WORKERS"


def workers_for(host: Any) -> tuple[IntakeWorker, StatusPushWorker]:
    """The two workers on *host* (a ``bootstrap.ApiHost``): not started."""
    cfg = host.config

    def session_for(item: Any) -> Any:
        return host.system_session(ActorKind.API, f"{item.source}:{item.shop or 'unknown'}")

    inbox = IntakeWorker(host.ctx, host.reader, session_for, poll_s=cfg.api.inbox_poll_s)
    push = StatusPushWorker(host.ctx, host.system_session(ActorKind.SYSTEM, "status-push"), host.sender,
                            policy=host.retry, poll_s=cfg.api.push_poll_s, batch=cfg.webhooks.batch,
                            grace_s=cfg.webhooks.missing_grace_s)
    return inbox, push


def connect_shop(host: Any) -> None:
    """With ``[shopify] access_token``: the shop's fulfillment subscription exists (made once)."""
    if host.shopify_admin_url:
        status_push.ensure_shop_subscription(host.ctx, host.system_session(ActorKind.SYSTEM, "api"),
                                             host.shopify_admin_url, host.config.shopify.shop or host.shopify_admin_url)


def app_for(host: Any, *, workers: bool = True, tracking: bool = True) -> ASGIApp:
    """The app on *host*, starting and stopping its workers with the server (*tracking*: its
    tracking worker too, if it has one)."""
    connect_shop(host)
    inbox, push = workers_for(host)

    def start() -> None:
        if workers:
            inbox.start()
            push.start()
            if tracking and host.tracking_worker is not None:
                host.tracking_worker.start()

    def stop() -> None:
        inbox.stop()
        push.stop()
        host.close()

    return create_app(host, wake_inbox=inbox.wake if workers else None, threads=host.config.api.pool_size * 2,
                      on_start=start, on_stop=stop)


def app_from_environment() -> ASGIApp:
    """uvicorn's factory in each server process of ``[api] processes > 1``."""
    from packstation.bootstrap import build_api
    from packstation.config import load_config

    # the parent process polls the carriers (serve); its server processes do not
    return app_for(build_api(load_config()), workers=os.environ.get(_WORKERS_ENV, "1") == "1", tracking=False)


def serve(host: Any, *, bind: str = "127.0.0.1", port: int = 8080, workers: bool = True, log_level: str = "info",
          on_ready: Callable[[], None] | None = None) -> int:
    """Run until stopped (SIGINT/SIGTERM). Returns the exit status."""
    processes = host.config.api.processes
    common: dict[str, Any] = {"host": bind, "port": port, "log_level": log_level, "access_log": False,
                              "lifespan": "on", "timeout_keep_alive": 30, "server_header": False}
    if processes > 1:
        source = host.config.source
        tracking = host.tracking_worker if workers else None
        if tracking is None:
            host.close()  # each process builds its own
        if source is not None:
            os.environ["PACKSTATION_CONFIG"] = str(source)
        os.environ[_WORKERS_ENV] = "1" if workers else "0"
        if on_ready is not None:
            on_ready()
        if tracking is not None:
            tracking.start()
        try:
            uvicorn.run("packstation.api.server:app_from_environment", factory=True, workers=processes, **common)
        finally:
            if tracking is not None:
                host.close()  # stops the tracking worker
        return 0
    server = uvicorn.Server(uvicorn.Config(app_for(host, workers=workers), **common))
    if on_ready is not None:
        on_ready()
    server.run()
    return 0


__all__ = ["app_for", "app_from_environment", "connect_shop", "serve", "workers_for"]
