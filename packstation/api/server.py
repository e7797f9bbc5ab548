"""``packstation serve``: the API under uvicorn, with the webhook inbox and status push workers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import uvicorn

from packstation.api.app import create_app
from packstation.domain.identity import ActorKind
from packstation.services import status_push
from packstation.workers import IntakeWorker, StatusPushWorker

log = logging.getLogger("packstation.api")


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


def serve(host: Any, *, bind: str = "127.0.0.1", port: int = 8080, workers: bool = True, log_level: str = "info",
          on_ready: Callable[[], None] | None = None) -> int:
    """Run until stopped (SIGINT/SIGTERM). Returns the exit status."""
    connect_shop(host)
    inbox, push = workers_for(host)
    cfg = host.config
    app = create_app(host, wake_inbox=inbox.wake if workers else None, threads=cfg.api.pool_size * 2)
    server = uvicorn.Server(uvicorn.Config(app, host=bind, port=port, log_level=log_level, access_log=False,
                                           lifespan="on", timeout_keep_alive=30, server_header=False))
    if workers:
        inbox.start()
        push.start()
    if on_ready is not None:
        on_ready()
    try:
        server.run()
    finally:
        inbox.stop()
        push.stop()
        host.close()
    return 0


__all__ = ["connect_shop", "serve", "workers_for"]
