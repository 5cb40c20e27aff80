"""The OpenAPI description (rightsdesk/api/openapi.yaml) is valid, complete and true to the code.

Its paths are the API blueprint's routes, no more and no less; the values it spells out (kinds,
statuses, fields, purposes, jurisdictions, text and e-mail patterns) are the code's.
test_api_schema.py checks the running API against it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask

from rightsdesk.api import CREATE_FIELDS, PURPOSES
from rightsdesk.api.openapi import KINDS, STATUSES, spec
from rightsdesk.domain.identity import (
    MAX_EMAIL_LENGTH,
    InvalidEmail,
    has_control_characters,
    normalise_email,
)
from rightsdesk.domain.kinds import SUBJECT_KINDS, RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.domain.profiles import builtin_profiles
from tests.helpers import make_app

DOCUMENT = spec()
SCHEMAS = DOCUMENT["components"]["schemas"]
NEW_REQUEST = SCHEMAS["NewRequest"]["properties"]
CORRECTION = NEW_REQUEST["corrections"]["items"]["properties"]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def test_the_description_is_valid_openapi() -> None:
    schema = schemathesis.openapi.from_dict(spec())
    schema.validate()  # against the OpenAPI 3.0 meta-schema
    for operation in schema.get_all_operations():
        operation.ok()  # every $ref resolves


def test_each_caller_gets_its_own_copy() -> None:
    mine = spec()
    mine["paths"].clear()
    assert spec() == DOCUMENT
    assert spec()["paths"]


# --- the paths are the routes --------------------------------------------------------------------


@pytest.fixture
def light_app(tmp_path: Path) -> Flask:
    """The app's URL map needs no database: this one is never connected to."""
    return make_app(f"sqlite:///{tmp_path / 'unused.db'}")


def routed_operations(app: Flask, prefix: str) -> set[tuple[str, str]]:
    """(method, path) of every route of the API blueprint, as the description writes paths."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        assert rule.rule.startswith(prefix + "/"), rule.rule
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix(prefix))
        operations |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return operations


def described_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_api_route_is_described_and_every_described_path_is_a_route(light_app) -> None:
    (server,) = DOCUMENT["servers"]
    routed = routed_operations(light_app, server["url"])
    assert routed, "no routes found under the api blueprint"
    described = described_operations(DOCUMENT)
    assert routed - described == set(), "routes missing from rightsdesk/api/openapi.yaml"
    assert described - routed == set(), "described in openapi.yaml but not routed"


# --- values with a source of truth in code -------------------------------------------------------


def test_kinds_are_the_domain_kinds() -> None:
    assert NEW_REQUEST["kind"]["enum"] == [kind.value for kind in SUBJECT_KINDS]
    assert SCHEMAS["Request"]["properties"]["kind"]["enum"] == [kind.value for kind in RequestKind]
    assert [kind.value for kind in SUBJECT_KINDS] == KINDS


def test_statuses_are_the_lifecycle_statuses() -> None:
    statuses = [status.value for status in Status]
    assert SCHEMAS["Request"]["properties"]["status"]["enum"] == statuses
    assert SCHEMAS["Restriction"]["properties"]["status"]["enum"] == statuses
    assert statuses == STATUSES


def test_a_new_request_has_the_fields_purposes_and_jurisdictions_the_api_accepts() -> None:
    assert set(NEW_REQUEST) == CREATE_FIELDS
    purposes = NEW_REQUEST["scope"]["oneOf"][1]["properties"]["purposes"]["items"]["enum"]
    assert set(purposes) == PURPOSES
    assert set(NEW_REQUEST["jurisdiction"]["enum"]) == set(builtin_profiles())
    assert NEW_REQUEST["email"]["maxLength"] == MAX_EMAIL_LENGTH


# Every code point a JSON string can carry (lone surrogates are refused as invalid JSON).
CODE_POINTS = [chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i <= 0xDFFF]


def test_the_text_pattern_is_the_control_character_rule() -> None:
    patterns = {NEW_REQUEST[name]["pattern"] for name in ("name", "details")}
    patterns |= {CORRECTION["current_value"]["pattern"]}
    (text,) = patterns
    allowed = re.compile(text)
    wrong = [ch for ch in CODE_POINTS if bool(allowed.match(ch)) == has_control_characters(ch)]
    assert wrong == []
    assert allowed.match("") and allowed.match("서울시 중구\r\n\t2층")
    assert not allowed.match("abc\x00")


def test_the_nonblank_pattern_is_text_that_is_not_blank() -> None:
    (nonblank,) = {CORRECTION[name]["pattern"] for name in ("item", "correct_value")}
    allowed = re.compile(nonblank)
    # As the API decides it: no control characters, and something left after str.strip().
    wrong = [
        ch
        for ch in CODE_POINTS
        if bool(allowed.match(ch)) != (not has_control_characters(ch) and bool(ch.strip()))
    ]
    assert wrong == []
    assert allowed.match(" 주소\n") and allowed.match("a b")
    assert not any(allowed.match(text) for text in ("", " ", "\t\r\n", "주소\x00"))


def accepted(email: str) -> bool:
    try:
        normalise_email(email)
    except InvalidEmail:
        return False
    return True


EMAILS = [
    "kim.minji@example.com",
    "a+tag@sub.example.co.kr",
    "kim@example",
    "@example.com",
    "kim@",
    "kim@@example.com",
    "kim@exa@mple.com",
    "kim@.",
    "kim minji@example.com",
]


def test_the_email_pattern_agrees_with_the_domain_in_ascii() -> None:
    pattern = re.compile(NEW_REQUEST["email"]["pattern"])
    emails = EMAILS + [f"k{chr(i)}m@example.com" for i in range(128)]
    assert [email for email in emails if bool(pattern.match(email)) != accepted(email)] == []
