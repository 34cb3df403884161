"""Pruning finished cases' checkpoints keeps what people read and what must resume."""
from typer.testing import CliRunner

from cli import app
from graph.cases import open_case_service
from tests.conftest import make_scenario
from tools.sim import SimulatedBackend


async def test_prune_keeps_views_audit_and_waiting_cases(tmp_path):
    resolved = make_scenario()
    waiting = make_scenario(**{"world.customers.0.tier": "strategic", "world.drivers.1.status": "off_duty",
                               "event.id": "EVT-T-2"})
    for scenario, sub in ((resolved, "a"), (waiting, "b")):
        backend = SimulatedBackend(scenario.world)
        async with open_case_service(backend, tmp_path / sub, sleep=backend.sleep) as service:
            case_id = (await service.submit(scenario.event)).case_id
            before = await service.run(case_id)
            assert await service.prune_finished() == (1 if sub == "a" else 0)
            after = await service.state(case_id)
            assert after["outcome"] == before["outcome"] and after["plan"] == before["plan"]
            assert len(await service.store.audit_entries(case_id)) > 3
            if sub == "b":
                done = await service.answer_approval(case_id, "approve", by="d")
                assert done["outcome"] == "resolved"


def test_prune_command_shrinks_the_checkpoint_file(tmp_path):
    import asyncio

    async def many():
        for i in range(20):
            scenario = make_scenario(**{"event.id": f"EVT-{i}"})
            backend = SimulatedBackend(scenario.world)
            async with open_case_service(backend, tmp_path, sleep=backend.sleep) as service:
                submission = await service.submit(scenario.event)
                if submission.created:
                    await service.run(submission.case_id)
    asyncio.run(many())
    before = (tmp_path / "checkpoints.db").stat().st_size
    result = CliRunner().invoke(app, ["prune", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "checkpoints.db").stat().st_size < before
