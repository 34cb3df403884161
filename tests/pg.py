"""PostgreSQL for tests: a fresh database per test on the server RECOURSE_TEST_DATABASE_URL points at
(.ci/postgres.sh starts one). Without it the tests skip, except in CI, where they fail."""
from __future__ import annotations

import os
import uuid

import pytest

URL = os.environ.get("RECOURSE_TEST_DATABASE_URL")


def require_postgres() -> str:
    if not URL:
        if os.environ.get("CI"):
            pytest.fail("RECOURSE_TEST_DATABASE_URL is not set in CI (.ci/run starts PostgreSQL with .ci/postgres.sh)")
        pytest.skip("no PostgreSQL: run `export RECOURSE_TEST_DATABASE_URL=$(bash .ci/postgres.sh)`")
    return URL


@pytest.fixture
def pg_url():
    import psycopg

    base = require_postgres()
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = base.replace("postgresql+psycopg://", "postgresql://", 1).rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
