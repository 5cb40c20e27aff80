"""The OpenAPI 3 description of ``/api/v1``, served at ``/api/v1/openapi.json``.

Kept true by a schemathesis run against the live app (tests/test_api_schema.py).
"""

from __future__ import annotations

from typing import Any

KINDS = [
    "access",
    "correction",
    "deletion",
    "suspension",
    "consent_withdrawal",
    "automated_decision",
]
STATUSES = [
    "received_unverified",
    "verified",
    "in_progress",
    "awaiting_subject",
    "extended",
    "completed",
    "partially_completed",
    "refused",
    "withdrawn",
    "expired",
]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


ERRORS = {
    "401": _error("No key, or a key that is wrong or revoked"),
    "403": _error("The key lacks the scope"),
    "429": _error("Too many requests"),
}


SUBJECT_EXAMPLE = "5f1d3c0e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"

#: Text without control characters (line breaks and tabs allowed): what the API stores.
CONTROLS = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f"
TEXT_PATTERN = f"^[^{CONTROLS}]*$"
#: The same, with at least one character that is not a space.
NONBLANK_PATTERN = f"^[^{CONTROLS}]*[^\\s{CONTROLS}][^{CONTROLS}]*$"


def _text(max_length: int, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "pattern": TEXT_PATTERN} | extra


def spec() -> dict[str, Any]:
    date = {"type": "string", "format": "date"}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "rightsdesk API",
            "version": "1",
            "description": (
                "Host applications file data-subject rights requests for signed-in users, "
                "follow them, and ask whether a subject's data is restricted. Authenticate "
                "with `Authorization: Bearer <API key>`. Status changes of requests a key "
                "filed are POSTed to its webhook URL, signed: `X-Rightsdesk-Signature: "
                't=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the key\'s signing '
                "secret>`, with `X-Rightsdesk-Event-Id` for de-duplication; events of one "
                "request arrive in order."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/requests": {
                "post": {
                    "operationId": "createRequest",
                    "summary": "File a request for a user of the host application",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "A retried POST with the same key and body creates one "
                            "request and gets the first answer.",
                            "schema": {"type": "string", "maxLength": 200},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/NewRequest"}
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Created (or replayed for an Idempotency-Key)",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Request"}
                                }
                            },
                        },
                        "400": _error("Bad JSON or an unknown field"),
                        "413": _error("The body is too large"),
                        "415": _error("Not application/json"),
                        "422": _error("A field is missing or invalid"),
                        **ERRORS,
                    },
                }
            },
            "/requests/{reference}": {
                "get": {
                    "operationId": "getRequest",
                    "summary": "Status, due date and public timeline of a request this key filed",
                    "parameters": [
                        {
                            "name": "reference",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "maxLength": 40},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The request",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/RequestWithTimeline"}
                                }
                            },
                        },
                        "404": _error("No such request for this key"),
                        **ERRORS,
                    },
                }
            },
            "/restrictions": {
                "get": {
                    "operationId": "getRestrictions",
                    "summary": "Suspensions, pending corrections and withdrawn consents in force",
                    "parameters": [
                        {
                            "name": "subject",
                            "in": "query",
                            "required": True,
                            "description": "hex HMAC-SHA256 of the trimmed, lower-case "
                            "e-mail under the subject-hash key "
                            "(`rightsdesk apikey subject-key`)",
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "What must be respected now",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Restrictions"}
                                }
                            },
                        },
                        "422": _error("subject is not a 64-character hex digest"),
                        **ERRORS,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This description",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
                "NewRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["kind", "email"],
                    # A correction names what to correct.
                    "anyOf": [
                        {"properties": {"kind": {"not": {"enum": ["correction"]}}}},
                        {"required": ["corrections"]},
                    ],
                    "properties": {
                        "kind": {"type": "string", "enum": KINDS},
                        "email": {
                            "type": "string",
                            "format": "email",
                            "maxLength": 254,
                            "pattern": r'^[^@\s",;<>\x00-\x1f\x7f]+@[^@\s",;<>\x00-\x1f\x7f]+'
                            r'\.[^@\s",;<>\x00-\x1f\x7f]+$',
                        },
                        "name": _text(200),
                        "details": _text(5000),
                        "language": {"type": "string", "enum": ["ko", "en"]},
                        "jurisdiction": {
                            "type": "string",
                            "enum": ["KR", "EU", "UK", "US-CA", "BR"],
                        },
                        "assertion": {
                            "type": "string",
                            "maxLength": 2000,
                            "description": "itsdangerous URLSafeTimedSerializer token, salt "
                            "'rightsdesk.assertion', over {\"email\": ...}, signed "
                            "with the key's signing secret, at most 5 minutes "
                            "old: the identity is then confirmed at once.",
                        },
                        "scope": {
                            "oneOf": [
                                {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["all"],
                                    "properties": {"all": {"enum": [True]}},
                                },
                                {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["purposes"],
                                    "properties": {
                                        "purposes": {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": {
                                                "type": "string",
                                                "enum": [
                                                    "marketing",
                                                    "personalisation",
                                                    "analytics",
                                                    "third_party",
                                                ],
                                            },
                                        }
                                    },
                                },
                            ]
                        },
                        "corrections": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 20,
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["item", "correct_value"],
                                "properties": {
                                    "item": _text(200, minLength=1, pattern=NONBLANK_PATTERN),
                                    "current_value": _text(1000, nullable=True),
                                    "correct_value": _text(
                                        1000, minLength=1, pattern=NONBLANK_PATTERN
                                    ),
                                },
                            },
                        },
                    },
                },
                "Request": {
                    "type": "object",
                    "required": [
                        "reference",
                        "kind",
                        "status",
                        "jurisdiction",
                        "received",
                        "due",
                        "status_url",
                    ],
                    "properties": {
                        "reference": {"type": "string"},
                        "kind": {"type": "string", "enum": [*KINDS, "unclassified"]},
                        "status": {"type": "string", "enum": STATUSES},
                        "jurisdiction": {"type": "string"},
                        "received": {"type": "string", "format": "date-time"},
                        "due": date,
                        "promised_due": {**date, "nullable": True},
                        "status_url": {"type": "string"},
                    },
                },
                "RequestWithTimeline": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Request"},
                        {
                            "type": "object",
                            "required": ["timeline"],
                            "properties": {
                                "timeline": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["at", "event"],
                                        "properties": {
                                            "at": {"type": "string", "format": "date-time"},
                                            "event": {"type": "string"},
                                            "status": {"type": "string"},
                                        },
                                    },
                                }
                            },
                        },
                    ]
                },
                "Restriction": {
                    "type": "object",
                    "required": ["reference", "status", "since"],
                    "properties": {
                        "reference": {"type": "string"},
                        "status": {"type": "string", "enum": STATUSES},
                        "since": {"type": "string", "format": "date-time"},
                        "scope": {"type": "object"},
                        "items": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Restrictions": {
                    "type": "object",
                    "required": [
                        "subject",
                        "restricted",
                        "suspensions",
                        "pending_corrections",
                        "withdrawn_consents",
                    ],
                    "properties": {
                        "subject": {"type": "string"},
                        "restricted": {"type": "boolean"},
                        "suspensions": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Restriction"},
                        },
                        "pending_corrections": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Restriction"},
                        },
                        "withdrawn_consents": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Restriction"},
                        },
                    },
                },
            },
        },
    }
