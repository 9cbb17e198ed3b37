"""Real databases for tests: SQLite always; a fresh schema on the PostgreSQL test database when
SHANZHI_TEST_PG_URL is set (CI sets it, and SHANZHI_REQUIRE_PG=1 turns a skip into a failure)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

PG_URL = os.environ.get("SHANZHI_TEST_PG_URL")
REQUIRE_PG = os.environ.get("SHANZHI_REQUIRE_PG") == "1"


def pg_schema_url(base: str) -> Iterator[str]:
    """A fresh schema per test on the test database: isolated, and much faster than a database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(
        base.replace("postgresql://", "postgresql+psycopg://", 1) if base.startswith("postgresql://") else base
    )
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def require_pg() -> str:
    """The PostgreSQL test URL; the test is skipped without one (a failure under SHANZHI_REQUIRE_PG=1)."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SHANZHI_REQUIRE_PG=1 but SHANZHI_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL tests run when SHANZHI_TEST_PG_URL is set")
    return PG_URL


def migrated_engine(url: str) -> Iterator[sa.Engine]:
    """The database at `url` at the latest schema, and an engine on it (disposed afterwards)."""
    from storage import db

    db.upgrade(url)
    engine = db.make_engine(url)
    yield engine
    engine.dispose()
