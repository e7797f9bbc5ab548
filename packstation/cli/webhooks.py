"""``packstation webhooks add URL --events ... | list | status | retry | replay``: status push out, webhooks in."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from packstation.config import Config
from packstation.domain.integration import DEFAULT_PUSH_EVENTS, PUSH_EVENTS


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("webhooks", help="status push subscriptions (out) and the shops' webhook inbox (in)")
    s = p.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)
    add = s.add_parser("add", help="subscribe an endpoint; prints its signing secret (only this once)")
    add.add_argument("url")
    add.add_argument("--events", default=",".join(DEFAULT_PUSH_EVENTS),
                     help=f"comma-separated, from: {', '.join(PUSH_EVENTS)} (default: all but in_transit)")
    add.set_defaults(func=run_add)
    s.add_parser("list", help="the subscriptions").set_defaults(func=run_list)
    st = s.add_parser("status", help="per endpoint: waiting, failing (since, tries, last error), failed; the inbox")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=run_status)
    rt = s.add_parser("retry", help="send failed deliveries (past their retry window) again now")
    rt.add_argument("--id", type=int, help="only this subscription")
    rt.set_defaults(func=run_retry)
    rp = s.add_parser("replay", help="apply rejected shop webhooks again (after fixing the catalog, say)")
    rp.add_argument("--refused", action="store_true", help="also the refused ones (changes to orders being packed)")
    rp.set_defaults(func=run_replay)


def _host(config: Config):  # type: ignore[no-untyped-def]
    from packstation.bootstrap import build_api

    return build_api(config)


def run_add(args: argparse.Namespace, config: Config) -> int:
    from packstation.services.status_push import SubscriptionRefused, add_subscription

    host = _host(config)
    try:
        sub, secret = add_subscription(host.ctx, host.cli_session(), args.url, args.events.split(","))
    except SubscriptionRefused as exc:
        print(f"packstation webhooks add: {exc}", file=sys.stderr)
        return 2
    finally:
        host.close()
    print(secret)
    print(f"subscription {sub.id}: {sub.url} hears {', '.join(sub.events)}. The secret above signs every delivery "
          "(X-Packstation-Signature); it is shown only now.", file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace, config: Config) -> int:
    from packstation.services.status_push import subscriptions

    host = _host(config)
    try:
        subs = subscriptions(host.ctx, host.cli_session())
    finally:
        host.close()
    if not subs:
        print("no subscriptions (packstation webhooks add URL --events ...)")
    for s in subs:
        print(f"{s.id:>4}  {s.kind.value:<8} {s.url}  {', '.join(s.events)}")
    return 0


def _age(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "-"
    secs = int((now - at).total_seconds())
    if secs < 120:
        return f"{secs} s ago"
    if secs < 7200:
        return f"{secs // 60} min ago"
    return f"{secs // 3600} h ago"


def run_status(args: argparse.Namespace, config: Config) -> int:
    from packstation.services.intake import inbox_overview
    from packstation.services.status_push import push_status

    host = _host(config)
    try:
        session = host.cli_session()
        stats = push_status(host.ctx, session)
        counts, attention = inbox_overview(host.ctx, session)
    finally:
        host.close()
    now = datetime.now(UTC)
    failing = [s for s in stats if s.failing]
    if args.json:
        print(json.dumps({
            "subscriptions": [{
                "id": s.subscription.id, "url": s.subscription.url, "kind": s.subscription.kind.value,
                "events": list(s.subscription.events), "pending": s.pending, "failed": s.failed,
                "delivered": s.delivered, "failing": s.failing,
                "failing_since": s.failing_since.isoformat() if s.failing_since else None, "attempts": s.attempts,
                "last_status": s.last_status, "last_error": s.last_error,
                "last_delivered_at": s.last_delivered_at.isoformat() if s.last_delivered_at else None}
                for s in stats],
            "inbox": counts,
            "inbox_attention": [{"id": i.id, "source": i.source, "topic": i.topic, "delivery_id": i.delivery_id,
                                 "state": i.state.value, "order_id": i.order_id, "reason": i.reason} for i in attention],
        }, indent=2))
        return 1 if failing else 0
    if not stats:
        print("status push: no subscriptions")
    for s in stats:
        sub = s.subscription
        state = "FAILING" if s.failing else "ok"
        print(f"{sub.id:>4} {state:<8} {sub.url}")
        print(f"      waiting {s.pending}, failed {s.failed}, delivered {s.delivered}; "
              f"last delivered {_age(s.last_delivered_at, now)}")
        if s.failing:
            print(f"      failing since {_age(s.failing_since, now)}, {s.attempts} tries; last answer: "
                  f"{s.last_error or s.last_status}")
    print("inbox: " + (", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "empty"))
    for item in attention:
        print(f"  #{item.id} {item.source} {item.topic} {item.order_id or ''}: {item.state.value}: {item.reason}")
    if failing:
        print(f"{len(failing)} endpoint(s) failing: fix them, then 'packstation webhooks retry' for failed deliveries.",
              file=sys.stderr)
        return 1
    return 0


def run_retry(args: argparse.Namespace, config: Config) -> int:
    from packstation.services.status_push import retry_failed

    host = _host(config)
    try:
        n = retry_failed(host.ctx, host.cli_session(), args.id)
    finally:
        host.close()
    print(f"{n} failed deliveries are due again")
    return 0


def run_replay(args: argparse.Namespace, config: Config) -> int:
    from packstation.domain.integration import InboxState
    from packstation.services.intake import replay_inbox

    host = _host(config)
    states = (InboxState.REJECTED, InboxState.REFUSED) if args.refused else (InboxState.REJECTED,)
    try:
        n = replay_inbox(host.ctx, host.cli_session(), states)
    finally:
        host.close()
    print(f"{n} webhook deliveries are pending again; the inbox worker of 'packstation serve' applies them")
    return 0
