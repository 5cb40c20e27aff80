"""The demo shop's mobile-app backend: the endpoint of the demo data map's webhook system.

Only in demo mode (``RIGHTSDESK_DEMO``, which production refuses; 404 otherwise). It checks the
job's signature with ``RIGHTSDESK_SHOP_WEBHOOK_SECRET`` exactly as a host app should, then
answers with made-up app data derived from the e-mail address: push tokens and notification
settings for access, counts for erasure, correction and stop. It keeps no state.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from flask import abort, current_app, request

from rightsdesk.delivery.webhooks import SIGNATURE_HEADER
from rightsdesk.extensions import csrf, limiter
from rightsdesk.public.blueprint import bp
from rightsdesk.systems.webhook import verify_signature

SECRET_ENV = "RIGHTSDESK_SHOP_WEBHOOK_SECRET"
DEVICES = ("Galaxy S24", "iPhone 15", "Galaxy Tab S9")


@bp.post("/dev/app-webhook")
@csrf.exempt
@limiter.exempt
def demo_app_webhook():
    secret = os.environ.get(SECRET_ENV)
    if not current_app.config["DEMO"] or not secret:
        abort(404)
    body = request.get_data(cache=False)
    header = request.headers.get(SIGNATURE_HEADER, "")
    if not verify_signature(secret, header, body, now=time.time()):
        return {"error": "bad_signature"}, 401
    try:
        job = json.loads(body)
        email = str(job["identities"]["email"])
        action = str(job["action"])
    except (ValueError, KeyError, TypeError):
        return {"error": "bad_job"}, 400
    return _answer(action, email, job)


def _answer(action: str, email: str, job: dict) -> dict:
    tokens, settings = _app_data(email)
    if action == "access":
        return {"tables": {"push_tokens": tokens, "notification_settings": settings}}
    if action == "erasure":
        return {"counts": {"deleted": len(tokens) + len(settings), "anonymised": 0}}
    if action == "stop":
        return {"counts": {"notification_settings": len(settings)}}
    return {"counts": {"changed": len(job.get("changes") or [])}}


def _app_data(email: str) -> tuple[list[dict], list[dict]]:
    digest = hashlib.sha256(email.lower().encode()).hexdigest()
    count = 1 + int(digest[0], 16) % 2
    tokens = [
        {
            "device": DEVICES[(int(digest[1 + i], 16) + i) % len(DEVICES)],
            "token": f"fcm:{digest[8 + 16 * i : 24 + 16 * i]}",
            "registered_at": f"2025-0{1 + i}-1{int(digest[2], 16) % 9}T09:30:00+09:00",
        }
        for i in range(count)
    ]
    settings = [
        {
            "marketing_push": int(digest[3], 16) % 2 == 0,
            "night_push": False,
            "updated_at": "2025-06-01T12:00:00+09:00",
        }
    ]
    return tokens, settings
