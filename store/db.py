"""The store: cases, audit and ledger on SQLAlchemy (async), SQLite by default."""
from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from store.audit import GENESIS, ChainReport, canonical, entry_hash, verify_chain
from store.models import ApiKeyRow, AuditRow, Base, CaseRow, LedgerRow

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
        self._pending_head: tuple[int, str] | None = None

    @classmethod
    async def open(cls, url: str) -> "Store":
        store = cls(url)
        async with store.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        return store

    async def close(self) -> None:
        await self.engine.dispose()

    # -- cases ---------------------------------------------------------------------------------
    async def admit(self, case_id: str, event: dict[str, Any], submitted_by: str | None = None) -> tuple[str, str]:
        """Admit an event in one transaction: a new case, the case that already has this event id, or the
        open case for the same pickup (the event joins it as evidence). Returns (case id, "created" |
        "duplicate" | "joined")."""
        async with self._audit_transaction() as conn:
            row = (await conn.execute(select(CaseRow.id).where(CaseRow.event_id == event["id"]))).first()
            if row is not None:
                return row.id, "duplicate"
            row = (await conn.execute(select(CaseRow.id).where(CaseRow.pickup_id == event["pickup_id"],
                                                               CaseRow.status.in_(OPEN_STATUSES))
                                      .order_by(CaseRow.created_at).limit(1))).first()
            target, verdict, kind = (row.id, "joined", "evidence.joined") if row else (case_id, "created", "case.submitted")
            now = utcnow()
            if verdict == "created":
                await conn.execute(insert(CaseRow).values(id=case_id, event_id=event["id"], pickup_id=event["pickup_id"],
                                                          status="queued", event=event, submitted_by=submitted_by,
                                                          created_at=now, updated_at=now))
            await self._append_rows(conn, target, [(kind, event)], now)
        return target, verdict

    async def get_case(self, case_id: str) -> CaseRow | None:
        async with self.session() as s:
            return await s.get(CaseRow, case_id)

    async def update_case(self, case_id: str, **fields: Any) -> None:
        await self.record(case_id, case=fields)

    async def list_cases(self, *, status: str | None = None, pickup_id: str | None = None, submitted_by: str | None = None,
                         statuses: tuple[str, ...] = (), limit: int = 100, offset: int = 0) -> list[CaseRow]:
        async with self.session() as s:
            query = select(CaseRow).order_by(CaseRow.created_at, CaseRow.id)
            if status:
                query = query.where(CaseRow.status == status)
            if statuses:
                query = query.where(CaseRow.status.in_(statuses))
            if pickup_id:
                query = query.where(CaseRow.pickup_id == pickup_id)
            if submitted_by:
                query = query.where(CaseRow.submitted_by == submitted_by)
            return list((await s.execute(query.limit(limit).offset(offset))).scalars())

    # -- API keys ------------------------------------------------------------------------------
    async def add_api_key(self, key_id: str, secret_sha256: str, role: str, label: str = "") -> None:
        async with self.session.begin() as s:
            s.add(ApiKeyRow(id=key_id, secret_sha256=secret_sha256, role=role, label=label, created_at=utcnow()))

    async def get_api_key(self, key_id: str) -> ApiKeyRow | None:
        async with self.session() as s:
            return await s.get(ApiKeyRow, key_id)

    # -- one node's writes, in one transaction ------------------------------------------------
    async def record(self, case_id: str, audit: list[tuple[str, dict[str, Any]]] = (), case: dict[str, Any] | None = None,
                     action: dict[str, Any] | None = None) -> list[int]:
        """Append audit entries, update the case row and upsert a ledger entry atomically.

        Returns the audit sequence numbers (the ids that explanations cite).
        """
        at = utcnow()
        async with self._audit_transaction() as conn:
            seqs = await self._append_rows(conn, case_id, audit, at)
            if case:
                await conn.execute(update(CaseRow).where(CaseRow.id == case_id).values(**case, updated_at=at))
            if action:
                await self._upsert_action(conn, case_id, action, at)
        return seqs

    @asynccontextmanager
    async def _audit_transaction(self):
        """One transaction under the audit lock; the cached chain head moves only when it commits."""
        async with self._audit_lock:
            self._pending_head = None
            try:
                async with self.engine.begin() as conn:
                    yield conn
            except BaseException:
                self._head = None  # reload from the database next time
                raise
            if self._pending_head:
                self._head = self._pending_head

    async def _append_rows(self, conn, case_id: str, entries, at: str) -> list[int]:
        """Chain entries onto the head; call inside `_audit_transaction`."""
        if not entries:
            return []
        seq, prev = self._head or await self._load_head()
        rows = []
        for kind, payload in entries:
            seq += 1
            body = canonical(payload)
            digest = entry_hash(prev, seq, case_id, kind, at, body)
            rows.append({"seq": seq, "case_id": case_id, "kind": kind, "payload": body, "at": at, "prev_hash": prev, "hash": digest})
            prev = digest
        await conn.execute(insert(AuditRow), rows)
        self._pending_head = (seq, prev)
        return [r["seq"] for r in rows]

    async def append_audit(self, case_id: str, entries: list[tuple[str, dict[str, Any]]]) -> list[int]:
        return await self.record(case_id, audit=entries)

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
    async def _upsert_action(self, conn, case_id: str, result: dict[str, Any], at: str) -> None:
        """Insert the ledger row for this idempotency key, or add this run's attempts to it."""
        values = {"idempotency_key": result["idempotency_key"], "case_id": case_id, "tool": result["tool"],
                  "args": result["args"], "status": result["status"], "attempts": len(result["attempts"]),
                  "effect_id": (result.get("receipt") or {}).get("effect_id"), "updated_at": at}
        dialect_insert = postgres_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(LedgerRow).values(**values)
        await conn.execute(statement.on_conflict_do_update(
            index_elements=[LedgerRow.idempotency_key],
            set_={"status": statement.excluded.status, "updated_at": statement.excluded.updated_at,
                  "attempts": LedgerRow.attempts + statement.excluded.attempts,
                  "effect_id": func.coalesce(statement.excluded.effect_id, LedgerRow.effect_id)}))

    async def ledger(self, case_id: str | None = None) -> list[LedgerRow]:
        async with self.session() as s:
            query = select(LedgerRow)
            if case_id:
                query = query.where(LedgerRow.case_id == case_id)
            return list((await s.execute(query)).scalars())

    async def count_cases(self) -> int:
        async with self.session() as s:
            return (await s.execute(select(func.count()).select_from(CaseRow))).scalar_one()
