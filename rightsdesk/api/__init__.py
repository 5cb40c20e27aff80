"""JSON API for host applications (``/api/v1``): thin — parse, authorise, call a service.

Errors are JSON ``{"error": {"code": ..., "message": ...}}`` with a stable code; bad JSON,
unknown fields, oversized bodies and wrong content types are 4xx, never 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from rightsdesk.core.clock import utcnow
from rightsdesk.core.context import settings
from rightsdesk.domain.identity import (
    InvalidEmail,
    UndeliverableEmail,
    has_control_characters,
    normalise_email,
)
from rightsdesk.domain.kinds import SUBJECT_KINDS, RequestKind
from rightsdesk.extensions import csrf, db, limiter
from rightsdesk.models import Channel
from rightsdesk.requests import host_apps as api_service
from rightsdesk.requests.deadlines import is_deferred
from rightsdesk.requests.intake import (
    CorrectionInput,
    IntakeInput,
    file_api_request,
    public_timeline,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def _key_prefix() -> str:
    """The limit's key: the API key's public prefix when the header is well formed (however
    it is padded), else the client's address, so junk headers cannot open fresh buckets."""
    header = (request.headers.get("Authorization") or "").strip()
    token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
    if token.startswith(api_service.KEY_PREFIX) and "_" in token[len(api_service.KEY_PREFIX) :]:
        return "key:" + token[len(api_service.KEY_PREFIX) :].split("_", 1)[0]
    return "addr:" + (request.remote_addr or "-")


limiter.limit("300 per minute", key_func=_key_prefix, per_method=False, scope="api-key")(bp)
limiter.limit("600 per minute", scope="api-address")(bp)

CREATE_FIELDS = {
    "kind",
    "email",
    "name",
    "details",
    "language",
    "jurisdiction",
    "assertion",
    "scope",
    "corrections",
}
PURPOSES = {"marketing", "personalisation", "analytics", "third_party"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    response, status = error_response(error.status, error.code, error.message)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="rightsdesk"'
    return response, status


def json_http_errors(error: HTTPException):
    """Every HTTP error under /api/ as JSON (registered on the app by ``init_app``)."""
    if not request.path.startswith(bp.url_prefix or "/api/"):
        return error
    code = (error.name or "error").lower().replace(" ", "_")
    response, status = error_response(error.code or 500, code, error.description or error.name)
    for name, value in error.get_headers():  # e.g. Allow on a 405, Retry-After on a 429
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


def requires(scope: str) -> Callable:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            key = api_service.authenticate(request.headers.get("Authorization"), now=utcnow())
            if key is None:
                raise ApiError(401, "unauthorized", "send a valid key: Authorization: Bearer …")
            if scope not in key.scope_set:
                raise ApiError(403, "forbidden", f"this key lacks the {scope} scope")
            g.api_key = key
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _json_body() -> dict:
    limit = int(current_app.config["API_MAX_BODY_KB"]) * 1024
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "body_too_large", f"the body is larger than {limit} bytes")
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send application/json")
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise ApiError(413, "body_too_large", f"the body is larger than {limit} bytes")
    try:
        body = json.loads(raw)
        # Escapes like "\ud800" parse to text no database can store: refuse them here.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeDecodeError, UnicodeEncodeError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body


def _string(body: dict, name: str, *, required: bool = False, limit: int = 5000) -> str | None:
    if name not in body:
        if required:
            raise ApiError(422, "missing_field", f"{name} is required")
        return None
    return _text(body[name], name, limit)


def _text(value: object, name: str, limit: int) -> str:
    """A string without NUL or other control characters (line breaks and tabs allowed)."""
    if not isinstance(value, str):
        raise ApiError(422, "invalid_field", f"{name} must be a string")
    if len(value) > limit:
        raise ApiError(422, "invalid_field", f"{name} is longer than {limit} characters")
    if has_control_characters(value):
        raise ApiError(422, "invalid_field", f"{name} contains control characters")
    return value


def _parse_create(body: dict) -> tuple[IntakeInput, str | None]:
    unknown = sorted(set(body) - CREATE_FIELDS)
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field(s): {', '.join(unknown)}")
    kind = _kind(body)
    email = _email(body)
    language = _language(body)
    jurisdiction = _jurisdiction(body)
    data = IntakeInput(
        kind=kind,
        name=_string(body, "name", limit=200),
        email=email,
        details=_string(body, "details"),
        language=language,
        corrections=_corrections(body, kind),
        scope=_scope(body),
        channel=Channel.API,
        jurisdiction=jurisdiction,
    )
    return data, _string(body, "assertion", limit=2000)


def _kind(body: dict) -> RequestKind:
    kind_text = _string(body, "kind", required=True, limit=40) or ""
    try:
        kind = RequestKind(kind_text)
        if kind not in SUBJECT_KINDS:
            raise ValueError(kind_text)
    except ValueError:
        accepted = ", ".join(k.value for k in SUBJECT_KINDS)
        raise ApiError(422, "invalid_field", f"kind must be one of: {accepted}") from None
    return kind


def _email(body: dict) -> str:
    """The address as sent: it must be one, without surrounding spaces."""
    email = _string(body, "email", required=True, limit=254) or ""
    try:
        if email != email.strip():
            raise InvalidEmail(email)
        normalise_email(email)
    except UndeliverableEmail as error:
        raise ApiError(422, "undeliverable_email", f"email cannot receive mail: {error}") from None
    except InvalidEmail:
        raise ApiError(422, "invalid_field", "email is not an e-mail address") from None
    return email


def _language(body: dict) -> str:
    language = _string(body, "language", limit=2)
    language = "ko" if language is None else language
    if language not in ("ko", "en"):
        raise ApiError(422, "invalid_field", "language must be ko or en")
    return language


def _jurisdiction(body: dict) -> str | None:
    jurisdiction = _string(body, "jurisdiction", limit=8)
    if jurisdiction is not None and jurisdiction not in settings().profiles:
        accepted = ", ".join(sorted(settings().profiles))
        raise ApiError(422, "invalid_field", f"jurisdiction must be one of: {accepted}")
    return jurisdiction


def _scope(body: dict) -> dict | None:
    if "scope" not in body:
        return None
    scope = body["scope"]
    if isinstance(scope, dict) and set(scope) == {"all"} and scope["all"] is True:
        return {"all": True}
    purposes = scope.get("purposes") if isinstance(scope, dict) else None
    if (
        not isinstance(scope, dict)
        or set(scope) != {"purposes"}
        or not isinstance(purposes, list)
        or not purposes
        or not all(isinstance(p, str) and p in PURPOSES for p in purposes)
    ):
        raise ApiError(
            422,
            "invalid_field",
            'scope must be {"all": true} or {"purposes": [...]} with purposes from: '
            + ", ".join(sorted(PURPOSES)),
        )
    return {"purposes": sorted(set(purposes))}


def _corrections(body: dict, kind: RequestKind):
    if "corrections" not in body:
        if kind is RequestKind.CORRECTION:
            raise ApiError(422, "missing_field", "corrections is required for a correction")
        return ()
    items = body["corrections"]
    if not isinstance(items, list) or not 1 <= len(items) <= 20:
        raise ApiError(422, "invalid_field", "corrections must be a list of 1 to 20 items")
    return tuple(_correction(item) for item in items)


def _correction(item: object) -> CorrectionInput:
    fields = {"item", "current_value", "correct_value"}
    if not isinstance(item, dict) or not set(item) <= fields:
        raise ApiError(
            422, "invalid_field", "each correction has item, current_value, correct_value"
        )
    if "item" not in item or "correct_value" not in item:
        raise ApiError(422, "missing_field", "each correction needs item and correct_value")
    name = _text(item["item"], "item", 200)
    correct = _text(item["correct_value"], "correct_value", 1000)
    current = item.get("current_value")
    if current is not None:
        current = _text(current, "current_value", 1000)
    if not name.strip() or not correct.strip():
        raise ApiError(422, "invalid_field", "item and correct_value must not be blank")
    return CorrectionInput(name, current, correct)


def _request_json(item) -> dict:
    return {
        "reference": item.reference,
        "kind": item.kind.value,
        "status": item.status.value,
        "jurisdiction": item.jurisdiction,
        "received": item.received_at.isoformat(),
        # While postponed until its ground ends the date held is an internal review date,
        # not a due date: none is given (법 §35③ 후문).
        "due": None if _awaiting_ground(item) else item.due_date.isoformat(),
        "promised_due": item.promised_due_date.isoformat() if item.promised_due_date else None,
        "deferred": _awaiting_ground(item),
    }


def _awaiting_ground(item) -> bool:
    return is_deferred(item) and item.deferral_ended_at is None


@bp.post("/requests")
@requires("requests:create")
def create_request():
    key = g.api_key
    idempotency_key = _idempotency_key()
    body = _json_body()
    fingerprint = api_service.request_fingerprint(request.get_data(cache=True))
    if idempotency_key:
        earlier = _replayed(key, idempotency_key, fingerprint)
        if earlier is not None:
            return earlier
    data, assertion = _parse_create(body)
    vouched = _vouched(key, assertion, data.email)
    now = utcnow()
    _item, answer = file_api_request(
        data,
        api_key=key,
        vouched=vouched,
        now=now,
        idempotency=(idempotency_key, fingerprint) if idempotency_key else None,
        response=_request_json,
    )
    return jsonify(answer), 201


def _idempotency_key() -> str:
    idempotency_key = request.headers.get("Idempotency-Key", "").strip()
    if len(idempotency_key) > 200:
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key is longer than 200")
    return idempotency_key


def _replayed(key, idempotency_key: str, fingerprint: str) -> Response | None:
    """The stored answer to an earlier request with this key and body, if there was one."""
    earlier = api_service.stored_response(key, idempotency_key)
    if earlier is None:
        return None
    if earlier.fingerprint != fingerprint:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different body",
        )
    return Response(
        _without_subject_link(earlier.body), status=earlier.status_code, mimetype="application/json"
    )


def _without_subject_link(body: str) -> str:
    """An answer stored before API answers stopped carrying the subject's private status link
    (``status_url``) is replayed without it: that link is the subject's channel, not the app's."""
    if "status_url" not in body:
        return body
    answer = json.loads(body)
    if isinstance(answer, dict):
        answer.pop("status_url", None)
    return json.dumps(answer, ensure_ascii=False)


def _vouched(key, assertion: str | None, email: str) -> bool:
    """Whether the host application vouched for the e-mail; a bad assertion is refused."""
    vouched = bool(assertion) and api_service.verify_assertion(key, assertion, email)
    if assertion and not vouched:
        raise ApiError(
            422,
            "invalid_assertion",
            "the assertion is not valid, has expired, or is for another e-mail",
        )
    return vouched


@bp.get("/requests/<reference>")
@requires("requests:read")
def get_request(reference: str):
    from rightsdesk.requests.lookup import by_reference

    item = by_reference(reference)
    if item is None or item.api_key_id != g.api_key.id:
        raise ApiError(404, "not_found", "no request with this reference for this key")
    timeline = [
        {
            "at": at.isoformat(),
            "event": action.split(".", 1)[1],
            **({"status": data["to"]} if action == "request.status" else {}),
        }
        for at, action, data in public_timeline(item)
    ]
    db.session.commit()
    return jsonify({**_request_json(item), "timeline": timeline})


@bp.get("/restrictions")
@requires("restrictions:read")
def get_restrictions():
    lookup = (request.args.get("subject") or "").lower()
    if len(lookup) != 64 or any(c not in "0123456789abcdef" for c in lookup):
        raise ApiError(
            422,
            "invalid_subject",
            "subject is the hex HMAC-SHA256 of the normalised e-mail (64 characters)",
        )
    result = api_service.restrictions(lookup)
    db.session.commit()
    return jsonify(result)


@bp.get("/openapi.json")
def openapi():
    from rightsdesk.api.openapi import spec

    return jsonify(spec())


def init_app(app) -> None:
    app.register_error_handler(HTTPException, json_http_errors)
