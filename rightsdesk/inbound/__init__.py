"""Inbound e-mail webhook: mail providers POST the raw MIME message here."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, request

from rightsdesk.extensions import csrf, limiter
from rightsdesk.requests.by_email import ingest

bp = Blueprint("inbound", __name__, url_prefix="/inbound")
SIGNATURE_HEADER = "X-Rightsdesk-Signature"
ACCEPTED_TYPES = {"message/rfc822", "application/octet-stream", "text/plain"}


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@bp.post("/email")
@csrf.exempt
@limiter.exempt
def email():
    secret = current_app.config.get("INBOUND_SECRET")
    if not secret:
        abort(404)  # the webhook is off until a secret is configured
    body = request.get_data(cache=False)
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(given.encode(), signature(secret, body).encode()):
        return {"error": "bad_signature", "message": f"{SIGNATURE_HEADER} does not match"}, 401
    if request.mimetype not in ACCEPTED_TYPES:
        return {
            "error": "unsupported_media_type",
            "message": "send the raw message as message/rfc822",
        }, 415
    if not body.strip():
        return {"error": "empty", "message": "the message is empty"}, 400
    result = ingest(body, now=datetime.now(UTC))
    status = 201 if result.outcome == "created" else 200
    return {"outcome": result.outcome, "reference": result.reference}, status
