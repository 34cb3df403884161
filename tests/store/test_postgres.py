"""The store and the checkpointer on a real PostgreSQL: one audit chain under concurrent writers,
claims that never hand a case to two workers, and a case end to end with an approval."""
import asyncio
from collections import Counter

from graph.cases import open_case_service
from store import Store
from tests.conftest import make_scenario
from tests.pg import pg_url  # noqa: F401 - fixture
from tools.sim import SimulatedBackend


async def test_concurrent_writers_keep_one_valid_chain(pg_url):
    stores = [await Store.open(pg_url) for _ in range(3)]  # as three processes would
    try:
        async def write(store, n):
            for i in range(40):
                await store.append_audit(f"case-{n}", [("note", {"n": n, "i": i}), ("note", {"n": n, "i": i, "second": True})])
        await asyncio.gather(*(write(s, n) for n, s in enumerate(stores)))
        report = await stores[0].verify_audit()
    finally:
        for s in stores:
            await s.close()
    assert report.ok and report.entries == 3 * 40 * 2


async def test_claims_never_hand_a_case_to_two_workers(pg_url):
    stores = [await Store.open(pg_url) for _ in range(4)]
    try:
        for i in range(60):
            await stores[0].admit(f"case-{i}", {"id": f"E{i}", "pickup_id": f"P{i}", "type": "pickup_missed"})

        async def drain(store, n):
            got = []
            while (row := await store.claim(f"w{n}", lease_s=60)) is not None:
                got.append(row.id)
            return got
        claimed = [c for got in await asyncio.gather(*(drain(s, n) for n, s in enumerate(stores))) for c in got]
    finally:
        for s in stores:
            await s.close()
    assert sorted(claimed) == sorted(f"case-{i}" for i in range(60))
    assert max(Counter(claimed).values()) == 1


async def test_a_case_with_an_approval_runs_end_to_end_on_postgres(pg_url, tmp_path):
    scenario = make_scenario(**{"world.customers.0.tier": "strategic", "world.drivers.1.status": "off_duty"})
    backend = SimulatedBackend(scenario.world)
    async with open_case_service(backend, tmp_path, sleep=backend.sleep, database_url=pg_url) as service:
        case_id = (await service.submit(scenario.event)).case_id
        assert (await service.run(case_id))["outcome"] == "awaiting_approval"
    async with open_case_service(backend, tmp_path, sleep=backend.sleep, database_url=pg_url) as restarted:
        done = await restarted.answer_approval(case_id, "approve", by="dispatcher")
        assert done["outcome"] == "resolved"
        assert (await restarted.store.verify_audit()).ok
    assert Counter(e["tool"] for e in backend.effects) == {"reschedule_pickup": 1, "issue_credit": 1, "notify_customer": 1}
    assert not (tmp_path / "recourse.db").exists()  # nothing went to SQLite
