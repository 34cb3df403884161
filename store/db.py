"""The store: cases, audit and ledger on SQLAlchemy (async), SQLite by default."""
from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, event, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from store.audit import GENESIS, ChainReport, canonical, entry_hash, verify_chain
from store.migrate import upgrade
from store.models import ApiKeyRow, AuditRow, CaseRow, ControlRow, LedgerRow

OPEN_STATUSES = ("queued", "running", "awaiting_approval", "paused")
PAUSE = "pause"


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_manual_transactions(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" hook below emit BEGIN itself


def _sqlite_begin_immediate(conn) -> None:
    """Writers take SQLite's write lock when they begin, so two processes appending to the audit chain
    serialise instead of both reading the same head (or failing to upgrade a read lock)."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


CHAIN_LOCK = 0x7265636F  # PostgreSQL advisory lock that orders appends to the audit chain


class Store:
    """Readers use `engine`; every write goes through `writer`, one transaction per call.

    Safe with several processes: the audit chain's head is read inside the write transaction that
    appends to it, which holds SQLite's write lock (BEGIN IMMEDIATE) or, on PostgreSQL, a
    transaction-scoped advisory lock; so the chain stays one valid chain under concurrent writers.
    """

    def __init__(self, url: str):
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url)
        self.writer: AsyncEngine = create_async_engine(url)
        if url.startswith("sqlite"):
            for engine in (self.engine, self.writer):
                event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.writer.sync_engine, "connect", _sqlite_manual_transactions)
            event.listen(self.writer.sync_engine, "begin", _sqlite_begin_immediate)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)
        self.postgres = self.engine.dialect.name == "postgresql"
        self._write_lock = asyncio.Lock()  # chain writers of this process queue here, not in the database

    @classmethod
    async def open(cls, url: str) -> "Store":
        store = cls(url)
        async with store.writer.begin() as conn:
            if store.postgres:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})  # one migrator at a time
            await conn.run_sync(upgrade)
        return store

    async def close(self) -> None:
        await self.engine.dispose()
        await self.writer.dispose()

    # -- cases ---------------------------------------------------------------------------------
    async def admit(self, case_id: str, event: dict[str, Any], submitted_by: str | None = None,
                    max_queued: int | None = None) -> tuple[str, str]:
        """Admit an event in one transaction: a new case, the case that already has this event id, or the
        open case for the same pickup (the event joins it as evidence). Returns (case id, "created" |
        "duplicate" | "joined" | "full"); "full" writes nothing: `max_queued` cases already wait."""
        async with self._write() as conn:
            row = (await conn.execute(select(CaseRow.id).where(CaseRow.event_id == event["id"]))).first()
            if row is not None:
                return row.id, "duplicate"
            row = (await conn.execute(select(CaseRow.id).where(CaseRow.pickup_id == event["pickup_id"],
                                                               CaseRow.status.in_(OPEN_STATUSES))
                                      .order_by(CaseRow.created_at).limit(1))).first()
            target, verdict, kind = (row.id, "joined", "evidence.joined") if row else (case_id, "created", "case.submitted")
            if verdict == "created" and max_queued is not None:
                queued = (await conn.execute(select(func.count()).select_from(CaseRow).where(CaseRow.status == "queued"))).scalar_one()
                if queued >= max_queued:
                    return case_id, "full"
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
        async with self._write() as conn:
            await conn.execute(insert(ApiKeyRow).values(id=key_id, secret_sha256=secret_sha256, role=role, label=label,
                                                        created_at=utcnow()))

    # -- work claims ---------------------------------------------------------------------------
    async def claim(self, owner: str, lease_s: float) -> CaseRow | None:
        """Take the oldest case with work to do: queued, holding a dispatcher's answer, or running under a
        lease that expired (its worker died). The claim holds a lease until renewed or released."""
        now = time.time()
        claimable = or_(CaseRow.status == "queued",
                        and_(CaseRow.status == "running", or_(CaseRow.lease_until.is_(None), CaseRow.lease_until < now)),
                        and_(CaseRow.status.in_(("awaiting_approval", "paused")), CaseRow.approval.is_not(None),
                             or_(CaseRow.lease_until.is_(None), CaseRow.lease_until < now)))
        async with self._write(chain=False) as conn:
            row = (await conn.execute(select(CaseRow.id, CaseRow.status).where(claimable)
                                      .order_by(CaseRow.created_at).limit(1).with_for_update(skip_locked=True))).first()
            if row is None:
                return None
            status = "running" if row.status == "queued" else row.status
            await conn.execute(update(CaseRow).where(CaseRow.id == row.id)
                               .values(status=status, lease_owner=owner, lease_until=now + lease_s))
        return await self.get_case(row.id)

    async def renew(self, case_id: str, owner: str, lease_s: float) -> bool:
        async with self._write(chain=False) as conn:
            result = await conn.execute(update(CaseRow).where(CaseRow.id == case_id, CaseRow.lease_owner == owner)
                                        .values(lease_until=time.time() + lease_s))
        return result.rowcount == 1

    async def release(self, case_id: str, owner: str) -> None:
        async with self._write(chain=False) as conn:
            await conn.execute(update(CaseRow).where(CaseRow.id == case_id, CaseRow.lease_owner == owner)
                               .values(lease_owner=None, lease_until=None))

    async def set_approval(self, case_id: str, answer: dict[str, Any], waiting: str = "awaiting_approval") -> bool:
        """Store an answer once, for a case that is waiting for one (`waiting`: its status)."""
        async with self._write() as conn:
            result = await conn.execute(update(CaseRow).where(CaseRow.id == case_id, CaseRow.status == waiting,
                                                              CaseRow.approval.is_(None))
                                        .values(approval=answer, updated_at=utcnow()))
            if result.rowcount == 1:
                await self._append_rows(conn, case_id, [("approval.answered", answer)], utcnow())
        return result.rowcount == 1

    # -- controls --------------------------------------------------------------------------------
    async def get_controls(self) -> dict[str, Any]:
        """The pause switch: {"paused": bool, "paused_intents": [...]} (read before every gate and action)."""
        async with self.session() as s:
            row = await s.get(ControlRow, PAUSE)
        return dict(row.value) if row else {"paused": False, "paused_intents": []}

    async def set_controls(self, value: dict[str, Any], by: str) -> None:
        at = utcnow()
        statement = self._insert(ControlRow).values(name=PAUSE, value=value, set_by=by, set_at=at)
        async with self._write() as conn:
            await conn.execute(statement.on_conflict_do_update(index_elements=[ControlRow.name],
                                                               set_={"value": value, "set_by": by, "set_at": at}))
            await self._append_rows(conn, "system", [("controls.set", {**value, "by": by})], at)

    async def count_queued(self) -> int:
        async with self.session() as s:
            return (await s.execute(select(func.count()).select_from(CaseRow).where(CaseRow.status == "queued"))).scalar_one()

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
        async with self._write() as conn:
            seqs = await self._append_rows(conn, case_id, audit, at)
            if case:
                await conn.execute(update(CaseRow).where(CaseRow.id == case_id).values(**case, updated_at=at))
            if action:
                await self._upsert_action(conn, case_id, action, at)
        return seqs

    @asynccontextmanager
    async def _write(self, chain: bool = True):
        """A write transaction. `chain`: it may append to the audit chain, so it is serialised with every
        other such writer (on PostgreSQL, writes that touch no audit rows run concurrently)."""
        if self.postgres and not chain:
            async with self.writer.begin() as conn:
                yield conn
            return
        async with self._write_lock:
            async with self.writer.begin() as conn:
                if self.postgres:
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
                yield conn

    async def _append_rows(self, conn, case_id: str, entries, at: str) -> list[int]:
        """Chain entries onto the head, read in this same write transaction."""
        if not entries:
            return []
        last = (await conn.execute(select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1))).first()
        seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
        rows = []
        for kind, payload in entries:
            seq += 1
            body = canonical(payload)
            digest = entry_hash(prev, seq, case_id, kind, at, body)
            rows.append({"seq": seq, "case_id": case_id, "kind": kind, "payload": body, "at": at, "prev_hash": prev, "hash": digest})
            prev = digest
        await conn.execute(insert(AuditRow), rows)
        return [r["seq"] for r in rows]

    async def append_audit(self, case_id: str, entries: list[tuple[str, dict[str, Any]]]) -> list[int]:
        return await self.record(case_id, audit=entries)

    async def audit_entries(self, case_id: str) -> list[dict[str, Any]]:
        async with self.session() as s:
            rows = (await s.execute(select(AuditRow).where(AuditRow.case_id == case_id).order_by(AuditRow.seq))).scalars()
            return [{"seq": r.seq, "kind": r.kind, "at": r.at, "payload": json.loads(r.payload), "hash": r.hash} for r in rows]

    async def verify_audit(self, expect: tuple[int, str] | None = None) -> ChainReport:
        async with self.session() as s:
            rows = (await s.execute(select(AuditRow).order_by(AuditRow.seq))).scalars().all()
        return verify_chain(rows, expect)

    # -- ledger --------------------------------------------------------------------------------
    async def _upsert_action(self, conn, case_id: str, result: dict[str, Any], at: str) -> None:
        """Record how the action ended and its attempts in this run (failures were counted as they happened)."""
        values = {"idempotency_key": result["idempotency_key"], "case_id": case_id, "tool": result["tool"],
                  "args": result["args"], "status": result["status"], "attempts": len(result["attempts"]),
                  "effect_id": (result.get("receipt") or {}).get("effect_id"), "updated_at": at}
        statement = self._insert(LedgerRow).values(**values)
        await conn.execute(statement.on_conflict_do_update(
            index_elements=[LedgerRow.idempotency_key],
            set_={"status": statement.excluded.status, "updated_at": statement.excluded.updated_at,
                  "attempts": LedgerRow.attempts + (1 if result["status"] == "succeeded" else 0),
                  "effect_id": func.coalesce(statement.excluded.effect_id, LedgerRow.effect_id)}))

    def _insert(self, table):
        return (postgres_insert if self.postgres else sqlite_insert)(table)

    async def count_failed_attempt(self, case_id: str, key: str, tool: str, args: dict[str, Any]) -> None:
        """Each failed attempt is counted as it happens, so a crash cannot reset an action's retry budget."""
        at = utcnow()
        statement = self._insert(LedgerRow).values(idempotency_key=key, case_id=case_id, tool=tool, args=args,
                                                   status="retrying", attempts=1, effect_id=None, updated_at=at)
        async with self._write(chain=False) as conn:
            await conn.execute(statement.on_conflict_do_update(
                index_elements=[LedgerRow.idempotency_key],
                set_={"attempts": LedgerRow.attempts + 1, "updated_at": at}))

    async def attempts_made(self, key: str) -> int:
        async with self.session() as s:
            row = await s.get(LedgerRow, key)
        return row.attempts if row and row.status == "retrying" else 0

    async def ledger(self, case_id: str | None = None) -> list[LedgerRow]:
        async with self.session() as s:
            query = select(LedgerRow)
            if case_id:
                query = query.where(LedgerRow.case_id == case_id)
            return list((await s.execute(query)).scalars())

    async def count_cases(self) -> int:
        async with self.session() as s:
            return (await s.execute(select(func.count()).select_from(CaseRow))).scalar_one()
