"""The service's work queue: bounded, drained by a fixed pool of workers, resumed after a restart,
and swept for approvals that waited too long."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from graph.cases import CaseService
from service import metrics

log = logging.getLogger("recourse.work")


class QueueFull(Exception):
    pass


class CaseQueue:
    def __init__(self, service: CaseService, *, workers: int, size: int, approval_ttl_s: float, sweep_s: float):
        self.service, self.size = service, size
        self.approval_ttl_s, self.sweep_s = approval_ttl_s, sweep_s
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._reserved = 0
        self._tasks: list[asyncio.Task] = []
        self._workers = workers

    @property
    def depth(self) -> int:
        return self._queue.qsize() + self._reserved

    def reserve(self) -> None:
        """Claims a slot before anything is written, so a full queue rejects without accepting half-way."""
        if self.depth >= self.size:
            raise QueueFull()
        self._reserved += 1

    def release(self) -> None:
        self._reserved -= 1

    def enqueue_reserved(self, case_id: str) -> None:
        self._reserved -= 1
        self._queue.put_nowait(case_id)
        metrics.QUEUE_DEPTH.set(self.depth)

    async def start(self) -> None:
        """Re-queues every case a previous process accepted but did not finish, then starts the workers."""
        for row in await self.service.store.list_cases(statuses=("queued", "running"), limit=1_000_000):
            self._queue.put_nowait(row.id)
        self._tasks = [asyncio.create_task(self._work(n)) for n in range(self._workers)]
        self._tasks.append(asyncio.create_task(self._sweep_expired_approvals()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _work(self, n: int) -> None:
        while True:
            case_id = await self._queue.get()
            metrics.QUEUE_DEPTH.set(self.depth)
            try:
                row = await self.service.store.get_case(case_id)
                if row is None or row.status not in ("queued", "running"):
                    continue  # finished or abandoned while it waited
                final = await self.service.run(case_id)
                metrics.observe_case(final)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one broken case must not stop the worker
                log.exception("case failed case_id=%s worker=%d", case_id, n)
                await self.service.store.update_case(case_id, status="failed")
            finally:
                self._queue.task_done()

    async def _sweep_expired_approvals(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_s)
            await self.expire_approvals()

    async def expire_approvals(self, now: datetime | None = None) -> list[str]:
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(seconds=self.approval_ttl_s)
        expired = []
        for row in await self.service.store.list_cases(status="awaiting_approval", limit=1_000_000):
            if datetime.fromisoformat(row.updated_at) <= cutoff:
                await self.service.answer_approval(row.id, "expired", by="recourse", comment="approval TTL elapsed")
                expired.append(row.id)
        return expired
