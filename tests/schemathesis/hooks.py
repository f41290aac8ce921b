"""Schemathesis hooks for scripts/schemathesis (loaded through SCHEMATHESIS_HOOKS).

The webhook endpoints are authenticated by a signature over the raw body, not by the bearer
token. Unsigned, every generated delivery would only ever test the 400 path; so each one is
signed here with the secrets the test bundle verifies (handed over by tests/schemathesis/serve.mjs
through the environment), over the exact bytes that will be sent. Generated data then reaches
the handlers themselves: event parsing, Postgres, Redis, the queue.
"""

import hashlib
import hmac
import json
import os
import time

import schemathesis
from schemathesis.core import NOT_SET

STRIPE_SECRET = os.environ.get("SBA_SCHEMATHESIS_STRIPE_SECRET", "")
BASEHUB_SECRET = os.environ.get("SBA_SCHEMATHESIS_BASEHUB_SECRET", "")


def _raw_body(case) -> bytes:
    """The bytes the request will carry, pinned on the case so the signature matches them."""
    body = case.body
    if body is NOT_SET or body is None:
        raw = b"" if body is NOT_SET else b"null"
    elif isinstance(body, (bytes, bytearray)):
        raw = bytes(body)
    elif isinstance(body, str):
        raw = body.encode("utf-8")
    else:
        raw = json.dumps(body).encode("utf-8")
    case.body = raw
    return raw


def _set_header(case, name: str, value: str) -> None:
    headers = dict(case.headers or {})
    for key in list(headers):
        if key.lower() == name.lower():
            del headers[key]
    headers[name] = value
    case.headers = headers


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    if path == "/webhooks/stripe" and STRIPE_SECRET:
        raw = _raw_body(case)
        timestamp = str(int(time.time()))
        digest = hmac.new(STRIPE_SECRET.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        _set_header(case, "Stripe-Signature", f"t={timestamp},v1={digest}")
    elif path == "/webhooks/basehub" and BASEHUB_SECRET:
        raw = _raw_body(case)
        key = BASEHUB_SECRET.split(":", 1)[1] if ":" in BASEHUB_SECRET else BASEHUB_SECRET
        for name in ("svix-id", "svix-timestamp", "svix-signature"):
            if case.headers:
                case.headers = {k: v for k, v in case.headers.items() if k.lower() != name}
        _set_header(case, "x-basehub-webhook-signature", hmac.new(key.encode(), raw, hashlib.sha256).hexdigest())
