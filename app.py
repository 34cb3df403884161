"""The FastAPI application: settings, lifespan (case service, workers), routers. No business logic here."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from api import admin, cases, chat, errors, exceptions, health, sim, web
from api.deps import Runtime
from graph.cases import open_case_service
from observability.logs import setup_logging
from observability.tracing import setup_tracing
from service.work import Workers
from settings import Settings, get_settings
from tools.backend import OperationsBackend
from tools.http_backend import HttpOperationsBackend
from tools.sim.faults import FaultRate
from tools.sim.persist import PersistentSimulatedBackend


def simulator_for(settings: Settings) -> PersistentSimulatedBackend:
    """The simulator, resumed from its state file, or seeded from a scenario file's `world` (and `faults`);
    with `sim_fault_rate`, seeded random faults on top."""
    from evals.loader import load_scenario

    rate = FaultRate(rate=settings.sim_fault_rate, seed=settings.sim_fault_seed) if settings.sim_fault_rate else None
    if PersistentSimulatedBackend.exists(settings.data_dir) or settings.world is None:
        return PersistentSimulatedBackend.open(settings.data_dir, fault_rate=rate)
    scenario = load_scenario(Path(settings.world))
    return PersistentSimulatedBackend.open(settings.data_dir, scenario.world, scenario.faults, fault_rate=rate)


def operations_backend(settings: Settings) -> OperationsBackend:
    if settings.ops_url:
        return HttpOperationsBackend(settings.ops_url)
    return simulator_for(settings)


def create_app(settings: Settings | None = None, backend: OperationsBackend | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        setup_tracing(settings.trace_exporter)
        setup_logging(settings.log_level)
        ops = backend or operations_backend(settings)
        async with open_case_service(ops, settings.data_dir, sleep=asyncio.sleep,
                                     base_delay_s=settings.retry_base_delay_s) as service:
            workers = Workers(service, count=settings.workers, lease_s=settings.lease_s,
                              approval_ttl_s=settings.approval_ttl_s, sweep_s=settings.approval_sweep_s) if settings.workers else None
            app.state.runtime = Runtime(settings=settings, service=service, workers=workers, backend=ops)
            if workers:
                await workers.start()
            try:
                yield
            finally:
                if workers:
                    await workers.stop()

    app = FastAPI(title="Recourse", version="0.1.0", lifespan=lifespan,
                  description="Autonomous handling of logistics exceptions: classify, plan, gate, execute, verify.")
    errors.install(app, settings.max_body_bytes)
    for router in (exceptions.router, cases.router, chat.router, admin.router, health.router, web.router):
        app.include_router(router)
    if (backend is None and not settings.ops_url) or isinstance(backend, PersistentSimulatedBackend):
        app.include_router(sim.router)  # simulator controls exist only for an in-process simulator
    return app
