"""Workers: claim cases from the store under a lease, run them, release them.

The same loop runs inside the API process (`recourse serve`) or in separate processes
(`recourse worker`). A claim is a lease: a worker renews it while it works; if the worker dies, the
lease runs out and another worker resumes the case from its checkpoint. Idempotency keys make that
resume repeat no side effect.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import datetime, timedelta, timezone

from graph.cases import CaseService
from observability import metrics
from observability.logs import log
from observability.tracing import tracer



class Workers:
    def __init__(self, service: CaseService, *, count: int, lease_s: float = 30.0, idle_poll_s: float = 0.2,
                 approval_ttl_s: float = 4 * 3600, sweep_s: float = 30.0):
        self.service, self.count, self.lease_s, self.idle_poll_s = service, count, lease_s, idle_poll_s
        self.approval_ttl_s, self.sweep_s = approval_ttl_s, sweep_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.work_available = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    @property
    def store(self):
        return self.service.store

    def notify(self) -> None:
        """Called when this process admits work, so its idle workers claim it at once instead of at the next poll."""
        self.work_available.set()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(n)) for n in range(self.count)]
        self._tasks.append(asyncio.create_task(self._sweep_loop()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _loop(self, n: int) -> None:
        owner = f"{self.owner}/{n}"
        idle = 0.01
        while True:
            row = await self.store.claim(owner, self.lease_s)
            if row is None:
                self.work_available.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.work_available.wait(), timeout=idle)
                idle = min(idle * 2, self.idle_poll_s)
                continue
            idle = 0.01
            await self._process(row, owner)

    async def _process(self, row, owner: str) -> None:
        heartbeat = asyncio.create_task(self._renew(row.id, owner))
        try:
            with tracer.start_as_current_span("case", attributes={"recourse.case_id": row.id, "recourse.worker": owner}):
                if row.approval:
                    final = await self.service.apply_approval(row.id, row.approval)
                else:
                    final = await self.service.run(row.id)
                metrics.observe_case(final, row.created_at)
                log.info("case.finished", case_id=row.id, outcome=final.get("outcome"), worker=owner,
                         category=(final.get("classification") or {}).get("category"),
                         reason=(final.get("escalation") or {}).get("reason"))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one broken case must not stop the worker
            log.exception("case.failed", case_id=row.id, worker=owner)
            await self.store.update_case(row.id, status="failed")
        finally:
            heartbeat.cancel()
            await self.store.release(row.id, owner)

    async def _renew(self, case_id: str, owner: str) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            await self.store.renew(case_id, owner, self.lease_s)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_s)
            with contextlib.suppress(Exception):
                await self.expire_approvals()

    async def expire_approvals(self, now: datetime | None = None) -> list[str]:
        """Answers approvals that waited longer than the TTL with "expired"; a worker then escalates them."""
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(seconds=self.approval_ttl_s)
        expired = []
        for row in await self.store.list_cases(status="awaiting_approval", limit=1_000_000):
            if row.approval is None and datetime.fromisoformat(row.updated_at) <= cutoff:
                if await self.service.request_approval_answer(row.id, "expired", by="recourse", comment="approval TTL elapsed"):
                    expired.append(row.id)
        if expired:
            self.notify()
        return expired


async def run_worker_process(settings) -> None:
    """`recourse worker`: workers only, against the shared store and an operations backend over HTTP."""
    import signal

    from graph.cases import open_case_service
    from tools.http_backend import HttpOperationsBackend

    from observability.logs import setup_logging
    from observability.tracing import setup_tracing

    setup_tracing(settings.trace_exporter)
    setup_logging(settings.log_level)
    backend = HttpOperationsBackend(settings.ops_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with open_case_service(backend, settings.data_dir, sleep=asyncio.sleep,
                                     base_delay_s=settings.retry_base_delay_s) as service:
            workers = Workers(service, count=max(settings.workers, 1), lease_s=settings.lease_s,
                              approval_ttl_s=settings.approval_ttl_s, sweep_s=settings.approval_sweep_s)
            await workers.start()
            await stop.wait()
            await workers.stop()
    finally:
        await backend.close()
