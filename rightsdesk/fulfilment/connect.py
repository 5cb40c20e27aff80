"""Engines for the databases of the systems the data map names (never rightsdesk's own)."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine


def sql_url(url: str) -> str:
    """A bare ``postgresql://`` URL would make SQLAlchemy look for psycopg2; we ship psycopg 3."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def engine_for(url: str) -> Engine:
    """An engine for ``url``; raises ``sqlalchemy.exc.ArgumentError`` if it is malformed."""
    return create_engine(sql_url(url))
