"""Signatures of what rightsdesk POSTs (status webhooks, connector jobs): HMAC-SHA256
over "t.body".
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Rightsdesk-Signature"


def sign(secret: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
