"""The checkpointer factory: SQLite on a file by default, PostgreSQL when the store is PostgreSQL."""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql", "postgres://"))


@asynccontextmanager
async def open_checkpointer(target: str) -> AsyncIterator[BaseCheckpointSaver]:
    """`target`: a SQLite file path, or a PostgreSQL URL (SQLAlchemy style is fine: `postgresql+psycopg://`)."""
    if is_postgres(target):
        async with _postgres(target) as saver:
            yield saver
        return
    async with AsyncSqliteSaver.from_conn_string(target) as saver:
        await saver.conn.execute("PRAGMA journal_mode=WAL")
        await saver.conn.execute("PRAGMA synchronous=NORMAL")
        yield saver


@asynccontextmanager
async def _postgres(url: str) -> AsyncIterator[BaseCheckpointSaver]:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    # The saver's documented connection settings: autocommit, dict rows, no server-side prepares.
    async with AsyncConnectionPool(conninfo, min_size=1, max_size=16, open=False,
                                   kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": 0}) as pool:
        saver = AsyncPostgresSaver(pool)
        await saver.setup()  # creates or migrates its tables; idempotent
        yield saver


async def compact(path: str) -> None:
    """Give the space of deleted checkpoints back to the file system (SQLite; PostgreSQL autovacuums)."""
    import asyncio
    import sqlite3

    if is_postgres(path):
        return

    def vacuum() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            db.execute("VACUUM")
        finally:
            db.close()

    await asyncio.to_thread(vacuum)
