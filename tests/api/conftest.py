"""An app on a temporary data dir with the simulator seeded from a scenario, and keys per role."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import create_app
from service.keys import Role, create_key
from settings import Settings
from tests.conftest import SCENARIOS


class Api:
    def __init__(self, client: TestClient, keys: dict[str, str]):
        self.client, self.keys = client, keys

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def submit(self, event: dict, role: str = "submitter"):
        return self.client.post("/v1/exceptions", json=event, headers=self.as_(role))

    def case(self, case_id: str, role: str = "dispatcher") -> dict:
        return self.client.get(f"/v1/cases/{case_id}", headers=self.as_(role)).json()

    def wait(self, case_id: str, timeout: float = 10, until=lambda view: view["status"] not in ("queued", "running")) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = self.case(case_id)
            if until(view):
                return view
            time.sleep(0.02)
        raise AssertionError(f"case {case_id} did not get there: {view['status']}")

    @property
    def runtime(self):
        return self.client.app.state.runtime


def start(tmp_path: Path, scenario: str, **settings) -> tuple[TestClient, Api]:
    config = Settings(**{"data_dir": tmp_path, "world": SCENARIOS / f"{scenario}.yaml", "workers": 2,
                         "retry_base_delay_s": 0, **settings})
    client = TestClient(create_app(config))
    client.__enter__()
    store = client.app.state.runtime.service.store
    keys = {role.value: client.portal.call(create_key, store, role) for role in Role}
    return client, Api(client, keys)


@pytest.fixture
def api_for(tmp_path):
    clients = []

    def make(scenario: str = "pub-01-amsterdam-sick-reefer-reassign", **settings) -> Api:
        client, api = start(tmp_path, scenario, **settings)
        clients.append(client)
        return api

    yield make
    for client in clients:
        client.__exit__(None, None, None)
