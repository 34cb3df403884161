"""The HTTP API as submitting systems and dispatchers use it."""
from datetime import datetime, timedelta, timezone

from tests.api.conftest import start
from tests.conftest import repo_scenario

AMS = repo_scenario("pub-01-amsterdam-sick-reefer-reassign")
MILAN = repo_scenario("pub-04-milan-strategic-reschedule-approval")


def event(scenario, **changes):
    return {**scenario.event.model_dump(), **changes}


def test_submitted_exception_is_handled_and_fully_explained(api_for):
    api = api_for()
    accepted = api.submit(event(AMS))
    assert accepted.status_code == 202 and accepted.json()["created"] is True
    view = api.wait(accepted.json()["case_id"])
    assert view["status"] == "resolved" and view["category"] == "driver_unavailable"
    assert view["classification"]["confidence"] >= 0.7
    assert any("D2" in alt["option"] for alt in view["plan"]["rejected"])
    assert {d["tool"]: d["disposition"] for d in view["gate_decisions"]} == {"reassign_driver": "allowed", "notify_customer": "allowed"}
    notify = next(a for a in view["actions"] if a["tool"] == "notify_customer")
    assert [a["error"] for a in notify["attempts"]] == ["unavailable", "unavailable", None]
    assert view["verification"]["ok"] is True
    assert api.runtime.backend.pickups["P1"].driver_id == "D5"


def test_repeat_submission_returns_the_same_case_and_does_nothing_twice(api_for):
    api = api_for()
    first = api.submit(event(AMS)).json()
    api.wait(first["case_id"])
    again = api.submit(event(AMS))
    assert again.status_code == 200 and again.json()["case_id"] == first["case_id"] and again.json()["created"] is False
    assert len(api.runtime.backend.effects) == 2


def test_authentication_and_roles(api_for):
    api = api_for()
    assert api.client.post("/v1/exceptions", json=event(AMS)).status_code == 401
    assert api.client.post("/v1/exceptions", json=event(AMS), headers={"Authorization": "Bearer rk_nope_nope"}).status_code == 401
    case_id = api.submit(event(AMS)).json()["case_id"]
    api.wait(case_id)
    forbidden = api.client.post(f"/v1/cases/{case_id}/approvals", json={"decision": "approve"}, headers=api.as_("submitter"))
    assert forbidden.status_code == 403 and "dispatcher" in forbidden.json()["detail"]
    assert api.client.get("/v1/audit/verify", headers=api.as_("submitter")).status_code == 403


def test_submitters_see_only_their_own_cases(api_for):
    api = api_for()
    case_id = api.submit(event(AMS), role="admin").json()["case_id"]
    assert api.client.get(f"/v1/cases/{case_id}", headers=api.as_("submitter")).status_code == 404
    assert api.client.get("/v1/cases", headers=api.as_("submitter")).json()["items"] == []
    assert [c["id"] for c in api.client.get("/v1/cases", headers=api.as_("dispatcher")).json()["items"]] == [case_id]


def test_bad_input_gets_a_4xx_naming_the_field(api_for):
    api = api_for()
    post = lambda **kw: api.client.post("/v1/exceptions", headers={**api.as_("submitter"), **kw.pop("headers", {})}, **kw)
    malformed = post(content=b'{"id": "E1", ', headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["detail"]
    unknown = post(json={**event(AMS), "priority": "urgent"})
    assert unknown.status_code == 422 and "priority: unknown field" in unknown.json()["detail"]
    wrong_enum = post(json=event(AMS, type="alien_landing"))
    assert wrong_enum.status_code == 422 and wrong_enum.json()["errors"][0]["field"] == "type"
    missing = post(json={k: v for k, v in event(AMS).items() if k != "pickup_id"})
    assert missing.status_code == 422 and "pickup_id" in missing.json()["detail"]
    no_pickup = post(json=event(AMS, id="E-404", pickup_id="P404"))
    assert no_pickup.status_code == 422 and "pickup_id: unknown pickup 'P404'" in no_pickup.json()["detail"]
    huge = post(json=event(AMS, id="E-big", note="x" * 70_000))
    assert huge.status_code == 413
    assert api.client.get("/v1/cases", headers=api.as_("dispatcher")).json()["items"] == []


def test_full_queue_answers_429_and_accepts_nothing(api_for):
    api = api_for(queue_size=1, workers=0)  # no worker drains the queue
    other = event(MILAN, pickup_id="P2")
    assert api.submit(other).status_code == 202
    refused = api.submit(event(AMS))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert [c["event_id"] for c in api.client.get("/v1/cases", headers=api.as_("dispatcher")).json()["items"]] == [other["id"]]


def test_dispatcher_approval_resumes_the_case_and_the_action_is_gated_again(api_for):
    api = api_for("pub-04-milan-strategic-reschedule-approval")
    case_id = api.submit(event(MILAN)).json()["case_id"]
    waiting = api.wait(case_id)
    assert waiting["status"] == "awaiting_approval" and waiting["escalation"]["reason"] == "needs_approval"
    assert api.runtime.backend.effects == []
    done = api.client.post(f"/v1/cases/{case_id}/approvals", json={"decision": "approve", "comment": "ok, call them"},
                           headers=api.as_("dispatcher"))
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    assert sorted(e["tool"] for e in api.runtime.backend.effects) == ["issue_credit", "notify_customer", "reschedule_pickup"]
    regated = [d for d in done.json()["gate_decisions"] if d["tool"] == "reschedule_pickup"][0]
    assert regated["disposition"] == "allowed" and regated["decision"]["approval"]
    again = api.client.post(f"/v1/cases/{case_id}/approvals", json={"decision": "approve"}, headers=api.as_("dispatcher"))
    assert again.status_code == 409


def test_unanswered_approval_expires_into_escalated(api_for):
    api = api_for("pub-04-milan-strategic-reschedule-approval", approval_ttl_s=60)
    case_id = api.submit(event(MILAN)).json()["case_id"]
    api.wait(case_id)
    later = datetime.now(timezone.utc) + timedelta(minutes=2)
    expired = api.client.portal.call(api.runtime.workers.expire_approvals, later)
    view = api.wait(case_id, until=lambda v: v["status"] == "escalated")
    assert expired == [case_id] and view["status"] == "escalated" and view["escalation"]["reason"] == "approval_expired"
    assert api.runtime.backend.effects == []


def test_audit_trail_and_chain_verification(api_for):
    api = api_for()
    case_id = api.submit(event(AMS)).json()["case_id"]
    api.wait(case_id)
    entries = api.client.get(f"/v1/cases/{case_id}/audit", headers=api.as_("dispatcher")).json()
    kinds = [e["kind"] for e in entries]
    assert kinds[0] == "case.submitted" and "gate.decision" in kinds and kinds[-1] == "case.resolved"
    chain = api.client.get("/v1/audit/verify", headers=api.as_("dispatcher")).json()
    assert chain["ok"] is True and chain["entries"] >= len(entries)


def test_health_readiness_and_metrics(api_for):
    api = api_for()
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json()["status"] == "ready"
    api.wait(api.submit(event(AMS)).json()["case_id"])
    assert "recourse_cases_finished_total" in api.client.get("/metrics").text


def test_accepted_cases_survive_a_restart(tmp_path):
    client, api = start(tmp_path, "pub-01-amsterdam-sick-reefer-reassign")
    case_id = api.submit(event(AMS)).json()["case_id"]
    api.wait(case_id)
    keys = api.keys
    client.__exit__(None, None, None)
    client, _ = start(tmp_path, "pub-01-amsterdam-sick-reefer-reassign")
    try:
        from tests.api.conftest import Api
        again = Api(client, keys)
        assert again.case(case_id)["status"] == "resolved"
        assert len(client.app.state.runtime.backend.effects) == 2  # the simulator's record survived too
    finally:
        client.__exit__(None, None, None)


def test_pause_switch_over_http_holds_cases_and_resume_finishes_them(api_for):
    api = api_for()
    assert api.client.post("/v1/admin/pause", json={}, headers=api.as_("dispatcher")).status_code == 403
    paused = api.client.post("/v1/admin/pause", json={}, headers=api.as_("admin"))
    assert paused.json() == {"paused": True, "paused_intents": []}
    case_id = api.submit(event(AMS)).json()["case_id"]
    held = api.wait(case_id, until=lambda v: v["status"] == "paused")
    assert held["gate_decisions"][0]["disposition"] == "paused" and api.runtime.backend.effects == []
    api.client.post("/v1/admin/resume", json={}, headers=api.as_("admin"))
    assert api.wait(case_id, until=lambda v: v["status"] == "resolved")["status"] == "resolved"
    assert len(api.runtime.backend.effects) == 2
    bad = api.client.post("/v1/admin/pause", json={"intent": "launch_rockets"}, headers=api.as_("admin"))
    assert bad.status_code == 422 and "intent" in bad.json()["detail"]
