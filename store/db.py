"""The store: cases, audit and ledger on SQLAlchemy (async), SQLite by default."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from store.audit import GENESIS, ChainReport, canonical, entry_hash, verify_chain
from store.models import AuditRow, Base, CaseRow, LedgerRow

OPEN_STATUSES = ("queued", "running", "awaiting_approval")


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)
        self._audit_lock = asyncio.Lock()
        self._head: tuple[int, str] | None = None

    @classmethod
    async def open(cls, url: str) -> "Store":
        store = cls(url)
        async with store.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        return store

    async def close(self) -> None:
        await self.engine.dispose()

    # -- cases ---------------------------------------------------------------------------------
    async def create_case(self, case_id: str, event: dict[str, Any]) -> CaseRow:
        now = utcnow()
        row = CaseRow(id=case_id, event_id=event["id"], pickup_id=event["pickup_id"], status="queued",
                      event=event, created_at=now, updated_at=now)
        async with self.session.begin() as s:
            s.add(row)
        return row

    async def get_case(self, case_id: str) -> CaseRow | None:
        async with self.session() as s:
            return await s.get(CaseRow, case_id)

    async def case_for_event(self, event_id: str) -> CaseRow | None:
        async with self.session() as s:
            return (await s.execute(select(CaseRow).where(CaseRow.event_id == event_id))).scalar_one_or_none()

    async def open_case_for_pickup(self, pickup_id: str) -> CaseRow | None:
        async with self.session() as s:
            query = (select(CaseRow).where(CaseRow.pickup_id == pickup_id, CaseRow.status.in_(OPEN_STATUSES))
                     .order_by(CaseRow.created_at).limit(1))
            return (await s.execute(query)).scalar_one_or_none()

    async def update_case(self, case_id: str, **fields: Any) -> None:
        async with self.session.begin() as s:
            row = await s.get(CaseRow, case_id)
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = utcnow()

    async def list_cases(self, status: str | None = None) -> list[CaseRow]:
        async with self.session() as s:
            query = select(CaseRow).order_by(CaseRow.created_at)
            if status:
                query = query.where(CaseRow.status == status)
            return list((await s.execute(query)).scalars())

    # -- audit ---------------------------------------------------------------------------------
    async def append_audit(self, case_id: str, entries: list[tuple[str, dict[str, Any]]]) -> list[int]:
        """Append entries in one transaction; returns their sequence numbers (the ids chat answers cite)."""
        if not entries:
            return []
        async with self._audit_lock:
            seq, prev = self._head or await self._load_head()
            rows, at = [], utcnow()
            for kind, payload in entries:
                seq += 1
                body = canonical(payload)
                digest = entry_hash(prev, seq, case_id, kind, at, body)
                rows.append(AuditRow(seq=seq, case_id=case_id, kind=kind, payload=body, at=at, prev_hash=prev, hash=digest))
                prev = digest
            async with self.session.begin() as s:
                s.add_all(rows)
            self._head = (seq, prev)
            return [r.seq for r in rows]

    async def _load_head(self) -> tuple[int, str]:
        async with self.session() as s:
            last = (await s.execute(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1))).scalar_one_or_none()
        return (last.seq, last.hash) if last else (0, GENESIS)

    async def audit_entries(self, case_id: str) -> list[dict[str, Any]]:
        async with self.session() as s:
            rows = (await s.execute(select(AuditRow).where(AuditRow.case_id == case_id).order_by(AuditRow.seq))).scalars()
            return [{"seq": r.seq, "kind": r.kind, "at": r.at, "payload": json.loads(r.payload), "hash": r.hash} for r in rows]

    async def verify_audit(self) -> ChainReport:
        async with self.session() as s:
            rows = (await s.execute(select(AuditRow).order_by(AuditRow.seq))).scalars().all()
        return verify_chain(rows)

    # -- ledger --------------------------------------------------------------------------------
    async def record_action(self, case_id: str, result: dict[str, Any]) -> None:
        async with self.session.begin() as s:
            row = await s.get(LedgerRow, result["idempotency_key"])
            attempts = len(result["attempts"])
            effect = (result.get("receipt") or {}).get("effect_id")
            if row is None:
                s.add(LedgerRow(idempotency_key=result["idempotency_key"], case_id=case_id, tool=result["tool"],
                                args=result["args"], status=result["status"], attempts=attempts, effect_id=effect,
                                updated_at=utcnow()))
            else:
                row.status, row.attempts, row.updated_at = result["status"], row.attempts + attempts, utcnow()
                row.effect_id = effect or row.effect_id

    async def ledger(self, case_id: str | None = None) -> list[LedgerRow]:
        async with self.session() as s:
            query = select(LedgerRow)
            if case_id:
                query = query.where(LedgerRow.case_id == case_id)
            return list((await s.execute(query)).scalars())

    async def count_cases(self) -> int:
        async with self.session() as s:
            return (await s.execute(select(func.count()).select_from(CaseRow))).scalar_one()
