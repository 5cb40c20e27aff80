"""A job for a webhook system of the data map, over HTTP: the body, its signature, the answer.

rightsdesk POSTs the job as JSON::

    {"job": 12, "reference": "RD-2026-000042", "action": "access",
     "identities": {"email": "kim@example.com"}, "scope": {"all": true}}

signed like the status webhooks: ``X-Rightsdesk-Signature: t=<unix time>,v1=<hex
HMAC-SHA256(secret, "<t>.<body>")>``, with ``X-Rightsdesk-Job-Id`` to deduplicate on (a job
may arrive more than once). The host app answers 2xx with JSON: for access
``{"tables": {"push_tokens": [{...}, ...]}}``, for erasure, correction and stop
``{"counts": {"push_tokens": 2}}``. Anything else — another status, a time-out, a body that
is not that JSON — is an error whose text never holds the answer's content (it may be
personal data).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from rightsdesk.domain.signing import SIGNATURE_HEADER, sign

JOB_HEADER = "X-Rightsdesk-Job-Id"
MAX_ANSWER_BYTES = 20 * 1024 * 1024
SIGNATURE_TOLERANCE = 300  # seconds a receiver should accept a signature's timestamp
_TABLE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


class JobError(ValueError):
    """The host app did not do the job; the message names why, never what it sent."""


@dataclass(frozen=True)
class JobResult:
    counts: dict[str, int]
    tables: dict[str, list[dict[str, Any]]] | None = None  # access only


def job_body(
    job_id: int,
    reference: str,
    action: str,
    identities: Mapping[str, str],
    scope: Mapping[str, Any] | None,
    **extra: Any,
) -> str:
    body = {
        "job": job_id,
        "reference": reference,
        "action": action,
        "identities": dict(identities),
        "scope": scope,
        **extra,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def verify_signature(secret: str, header: str, body: bytes, *, now: float) -> bool:
    """What a receiver checks: the HMAC over ``t.body`` and a timestamp within 5 minutes."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > SIGNATURE_TOLERANCE:
        return False
    expected = sign(secret, timestamp, body.decode("utf-8", "replace"))
    return hmac.compare_digest(expected.encode(), header.encode())


def post_job(
    client: httpx.Client,
    url: str,
    *,
    secret: str,
    body: str,
    job_id: int,
    action: str,
    timeout: float,
    timestamp: int,
) -> JobResult:
    """Send one job and read its result; :class:`JobError` for anything but a valid answer."""
    headers = _headers(secret, timestamp, body, job_id)
    try:
        with client.stream(
            "POST", url, content=body.encode(), headers=headers, timeout=timeout
        ) as response:
            if not 200 <= response.status_code < 300:
                raise JobError(f"HTTP {response.status_code}")
            raw = _read_capped(response)
    except httpx.TimeoutException:
        raise JobError(f"no answer within {timeout:g} s") from None
    except httpx.HTTPError as error:
        raise JobError(f"cannot reach the endpoint ({type(error).__name__})") from None
    return parse_result(action, raw)


def _headers(secret: str, timestamp: int, body: str, job_id: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        JOB_HEADER: str(job_id),
        "User-Agent": "rightsdesk-connectors",
    }


def _read_capped(response: httpx.Response) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise JobError(f"the answer is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_result(action: str, raw: bytes) -> JobResult:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise JobError("the answer is not JSON") from None
    if not isinstance(data, dict):
        raise JobError("the answer is not a JSON object")
    if action == "access":
        tables = _tables(data.get("tables"))
        return JobResult(counts={name: len(rows) for name, rows in tables.items()}, tables=tables)
    return JobResult(counts=_counts(data.get("counts")))


def _tables(value: object) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(value, dict):
        raise JobError('the answer has no "tables" object')
    for name, rows in value.items():
        if not _TABLE_NAME.fullmatch(name):
            raise JobError("a table name is not a plain name (letters, digits, _ . -)")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise JobError(f'"tables.{name}" is not a list of objects')
    return value


def _counts(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise JobError('the answer has no "counts" object')
    for name, count in value.items():
        if not _TABLE_NAME.fullmatch(name):
            raise JobError("a count's name is not a plain name (letters, digits, _ . -)")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise JobError(f'"counts.{name}" is not a whole number')
    return value
