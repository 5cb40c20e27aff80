"""The OpenAPI 3 description of ``/api/v1``, served at ``/api/v1/openapi.json``.

The description is data, ``openapi.yaml`` beside this module, read once per process. It is kept
true by a schemathesis run against the live app (tests/test_api_schema.py) and checked against
the routes and the domain's enums (tests/test_openapi.py).
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml

SOURCE = "openapi.yaml"


@functools.cache
def _document() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(SOURCE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def spec() -> dict[str, Any]:
    """The description as a fresh dict (callers may change it: the cached one stays intact)."""
    return copy.deepcopy(_document())


def _enum(schema: str, name: str) -> list[str]:
    return list(_document()["components"]["schemas"][schema]["properties"][name]["enum"])


#: The kinds a request can be filed with, and the statuses it can have, as the document says.
KINDS = _enum("NewRequest", "kind")
STATUSES = _enum("Request", "status")
