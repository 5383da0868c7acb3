"""`scripts/pay ORDER_ID [--api URL]`: pay a local order as the fake payment gateway would.

The `fake` provider (`retouch.payments.fake`, local, test and dev stages only) has no checkout
page: this is the gateway's side. It reads the order's amount and currency from the running
local stack's database (settings from `.local/env`, as `scripts/admin` reads them), signs a
`TRANSACTION.SUCCESS` notification with the fake's key and sends it to the stack's
`POST /v1/payments/notify/fake`, which applies the product once (docs/payments.md). The
answer is printed as JSON; an unknown order, one not of the fake provider or one not waiting
for payment exits 2, a refused notification 1.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from collections.abc import Sequence

import httpx

from retouch.core.settings import SettingsError, get_settings
from scripts.local.lambda_runtime import load_local_env

NOTIFY = "/v1/payments/notify/fake"


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/pay", description="Pay a local order as the fake payment gateway."
    )
    parser.add_argument("order_id", help="the order's id (ord_…), from POST /v1/orders")
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="the local gateway")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    load_local_env()
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    from retouch.core.db import get_database
    from retouch.payments.fake import fake_key, payment_event, signed_notification
    from retouch.payments.repository import MySQLOrderRepository

    with get_database("job").read_only() as uow:
        order = MySQLOrderRepository(uow).get(arguments.order_id)
    if order is None or order.provider != "fake" or order.status != "created":
        state = "no such order" if order is None else f"{order.provider}, {order.status}"
        print(
            f"scripts/pay: {arguments.order_id}: not a fake order to pay ({state})", file=sys.stderr
        )
        return 2
    event = payment_event(
        order_id=order.public_id,
        amount_cents=order.amount_cents,
        currency=order.currency,
        transaction_id=f"fake-{secrets.token_hex(8)}",
    )
    body, headers = signed_notification(
        fake_key(settings), event, timestamp=int(time.time()), nonce=secrets.token_hex(16)
    )
    answer = httpx.post(arguments.api.rstrip("/") + NOTIFY, content=body, headers=headers)
    print(
        json.dumps(
            {"order": order.public_id, "status": answer.status_code, "answer": answer.json()}
        )
    )
    return 0 if answer.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
