"""The LLM decision backend: an OpenAI-compatible chat model classifies and picks a remedy, as schema-checked JSON.

The model never writes an action. For planning it is shown a menu of remedies the runbook has already
spelled out from the facts (a reassign to each driver the gate allowed, a reschedule with the runbook's
window and credit, escalate) and answers with one option id; the id maps back to that remedy. Every
answer is validated against its pydantic model; anything else raises `LLMError`, and the hybrid backend
then falls back to the rules. Each decision carries `decided_by`: backend, model, prompt version, token
counts and latency, for the audit.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from typing import TYPE_CHECKING, Any, Literal

import openai
from openai.lib._pydantic import to_strict_json_schema
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

import prompts
from agents import rules
from agents.models import Alternative, Category, Classification, Event, Plan, PlanningInput, Severity
from guardrails.redact import redact
from tools.domain import PickupStatus
from tools.errors import CircuitOpen
from tools.read import CaseFacts
from tools.retry import CircuitBreaker

if TYPE_CHECKING:
    import httpx2

    from settings import Settings

USER_MARKER = "=== user ==="
DATA_TAGS = ("facts", "note", "case", "options")
_TAG = re.compile(r"<\s*/?\s*(?:" + "|".join(DATA_TAGS) + r")\b[^>]*>", re.IGNORECASE)
_SLOT = re.compile(r"\{\{(\w+)\}\}")
ESCALATE = "escalate"
FailureKind = Literal["timeout", "api_error", "invalid_output", "circuit_open"]


class LLMError(Exception):
    """The model gave no usable answer. `call` holds what the audit should record about the attempt."""

    def __init__(self, kind: FailureKind, detail: str, call: dict[str, Any]):
        super().__init__(f"llm {kind}: {detail}")
        self.kind, self.detail, self.call = kind, detail, {**call, "outcome": kind, "detail": detail[:300]}


# -- what the model answers (strict JSON schema is generated from these) -------------------------

class ClassifyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evidence: list[str] = Field(max_length=3, description="short phrases copied word for word from the note")
    category: Category
    severity: Severity
    confidence: float = Field(ge=0, le=1)


def choice_model(option_ids: list[str]) -> type[BaseModel]:
    """The plan answer: one of exactly these option ids (an enum in the schema, so a grammar can enforce it)."""
    return create_model("PlanChoice", __config__=ConfigDict(extra="forbid"),
                        choice=(Literal[tuple(option_ids)], Field(description="the id of one option")),
                        confidence=(float, Field(ge=0, le=1)))


# -- prompts: free text only inside delimited data blocks ----------------------------------------

def as_data(text: str) -> str:
    """Free text made safe to place inside a data block: the blocks' own delimiters are removed from it."""
    previous = None
    while previous != text:  # removing one tag can join the halves of another
        previous, text = text, _TAG.sub("", text)
    return text.replace(USER_MARKER, "")


def render(name: str, values: dict[str, str]) -> tuple[str, str, str]:
    """(version, system message, user message) of a prompt file with its {{slots}} filled in one pass."""
    version, text = prompts.load(name)
    system, sep, user = text.partition(USER_MARKER)
    if not sep:
        raise LookupError(f"prompt {version} has no {USER_MARKER!r} line")
    system = system.strip().removeprefix("# system").strip()
    return version, system, _SLOT.sub(lambda m: as_data(values[m[1]]), user.strip())


def facts_block(event: Event, facts: CaseFacts) -> str:
    pickup, driver, vehicle, customer = facts.pickup, facts.assigned_driver, facts.assigned_vehicle, facts.customer
    data: dict[str, Any] = {
        "now": facts.now.isoformat(),
        "event": {"type": event.type, "source": event.source, "reported_at": event.reported_at},
        "pickup": {"id": pickup.id, "status": pickup.status.value, "window": pickup.window.model_dump(mode="json"),
                   "weight_kg": pickup.weight_kg, "requirements": [r.value for r in pickup.requirements]},
        "customer": {"tier": customer.tier.value},
        "assigned_driver": None if driver is None else {
            "id": driver.id, "status": driver.status.value, "shift_end": driver.shift_end.isoformat(),
            "skills": [s.value for s in driver.skills]},
        "assigned_vehicle": None if vehicle is None else {
            "id": vehicle.id, "status": vehicle.status.value, "capacity_kg": vehicle.capacity_kg,
            "features": [f.value for f in vehicle.features]},
    }
    return json.dumps(data, separators=(",", ":"))


# -- the remedy menu for planning ----------------------------------------------------------------

def remedy_options(planning: PlanningInput) -> dict[str, Plan]:
    """Every remedy the runbook can spell out for this case, by option id. Arguments come from the facts only."""
    c, pickup = planning.classification, planning.facts.pickup
    runbook = rules.plan(planning)
    if (c.category in (Category.duplicate, Category.address_issue, Category.system_error)
            or pickup.status == PickupStatus.cancelled):
        return {"runbook": runbook}  # no choice to make: nothing to do, or only a person can fix it
    options: dict[str, Plan] = {}
    if c.category != Category.customer_not_ready:
        for s in planning.screened:
            if s.allowed and f"reassign_driver:{s.driver_id}" not in planning.excluded:
                options[f"reassign:{s.driver_id}"] = rules.plan(planning.model_copy(update={"screened": [s]}))
    reschedule = rules.plan(planning.model_copy(update={"screened": []}))
    if reschedule.actions:
        options["reschedule"] = reschedule
    if not options:
        return {"runbook": runbook}
    options[ESCALATE] = Plan(confidence=c.confidence, escalate="low_confidence",
                             rationale="the planner handed the case to a person")
    return options


def describe_option(option_id: str, plan: Plan, planning: PlanningInput) -> str:
    if option_id == ESCALATE:
        return "hand the case to a dispatcher; nothing is changed"
    parts = []
    distances = {s.driver_id: s.distance_km for s in planning.screened}
    for a in plan.actions:
        if a.tool == "reassign_driver":
            parts.append(f"reassign to driver {a.args['driver_id']}, {distances.get(a.args['driver_id'], 0):.1f} km away")
        elif a.tool == "reschedule_pickup":
            parts.append(f"reschedule to {a.args['window']['start']} - {a.args['window']['end']}")
        elif a.tool == "issue_credit":
            parts.append(f"credit {a.args['amount_usd']:g} USD")
        elif a.tool == "notify_customer":
            parts.append("notify the customer")
    return "; ".join(parts) or plan.rationale


def case_block(planning: PlanningInput) -> str:
    c, pickup, customer = planning.classification, planning.facts.pickup, planning.facts.customer
    return json.dumps({"category": c.category.value, "cause": c.cause, "severity": c.severity.value,
                       "pickup": {"id": pickup.id, "status": pickup.status.value,
                                  "window": pickup.window.model_dump(mode="json")},
                       "customer": {"tier": customer.tier.value}, "now": planning.facts.now.isoformat()},
                      separators=(",", ":"))


# -- the backend ----------------------------------------------------------------------------------

class LLMBackend:
    """Asks the model; raises `LLMError` when it cannot give a valid answer (the hybrid decides what then)."""

    name = "llm"

    def __init__(self, client: openai.AsyncOpenAI, model: str, *, max_tokens: int = 256, timeout_s: float = 20.0,
                 breaker: CircuitBreaker | None = None):
        self.client, self.model, self.max_tokens, self.timeout_s = client, model, max_tokens, timeout_s
        self.breaker = breaker or CircuitBreaker("llm", threshold=3, cooldown_s=60.0)
        self.calls = 0  # requests sent, for reports; decided_by carries the per-decision figures

    @classmethod
    def from_settings(cls, settings: Settings, http_client: httpx2.AsyncClient | None = None) -> LLMBackend:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
        client = openai.AsyncOpenAI(base_url=settings.llm_base_url, api_key=key, timeout=settings.llm_timeout_s,
                                    max_retries=0, http_client=http_client)
        return cls(client, settings.llm_model, max_tokens=settings.llm_max_tokens, timeout_s=settings.llm_timeout_s)

    async def aclose(self) -> None:
        await self.client.close()

    async def classify(self, event: Event, facts: CaseFacts) -> Classification:
        answer, call = await self._ask("classify", {"facts": facts_block(event, facts), "note": redact(event.note)}, ClassifyAnswer)
        assert isinstance(answer, ClassifyAnswer)
        return Classification(category=answer.category, severity=answer.severity, confidence=answer.confidence,
                              cause="customer_request" if answer.category == Category.customer_not_ready else "exception",
                              rationale=f"the model read the case as {answer.category.value}",
                              evidence=[e[:200] for e in answer.evidence],
                              decided_by={"backend": "llm", "llm_calls": 1, "llm": call})

    async def plan(self, planning: PlanningInput) -> Plan:
        options = remedy_options(planning)
        if len(options) == 1:
            (only,) = options.values()
            return only.model_copy(update={"decided_by": {"backend": "rules", "llm_calls": 0,
                                                          "why": "a single remedy: nothing to choose"}})
        menu = "\n".join(f"{oid}: {describe_option(oid, p, planning)}" for oid, p in options.items())
        answer, call = await self._ask("plan", {"case": case_block(planning), "note": redact(planning.event.note), "options": menu},
                                       choice_model(list(options)))
        chosen_id: str = answer.choice  # type: ignore[attr-defined]
        chosen = options[chosen_id]
        others = [Alternative(option=oid, rejected_because=f"the planner chose {chosen_id}")
                  for oid in options if oid != chosen_id]
        return chosen.model_copy(update={
            "confidence": min(chosen.confidence, answer.confidence),  # type: ignore[attr-defined]
            "rationale": f"{chosen.rationale} (the model chose {chosen_id})",
            "rejected": chosen.rejected + others,
            "decided_by": {"backend": "llm", "llm_calls": 1, "llm": {**call, "choice": chosen_id}}})

    async def _ask(self, task: str, values: dict[str, str], answer_model: type[BaseModel]) -> tuple[BaseModel, dict[str, Any]]:
        version, system, user = render(task, values)
        call: dict[str, Any] = {"model": self.model, "prompt": version,
                                "prompt_sha256": hashlib.sha256(prompts.load(task)[1].encode()).hexdigest()[:12],
                                "prompt_tokens": None, "completion_tokens": None, "latency_ms": None, "outcome": None}
        try:
            self.breaker.check()
        except CircuitOpen as exc:
            raise LLMError("circuit_open", exc.detail or "circuit open", call) from exc
        self.calls += 1
        started = time.perf_counter()
        try:
            response = await asyncio.wait_for(self.client.chat.completions.create(
                model=self.model, temperature=0, max_completion_tokens=self.max_tokens,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                response_format={"type": "json_schema", "json_schema": {
                    "name": f"recourse_{task}", "strict": True, "schema": to_strict_json_schema(answer_model)}},
            ), timeout=self.timeout_s + 1.0)
        except (asyncio.TimeoutError, openai.APITimeoutError) as exc:
            self.breaker.record(ok=False)
            raise LLMError("timeout", f"no answer within {self.timeout_s:g} s", _timed(call, started)) from exc
        except openai.APIStatusError as exc:
            self.breaker.record(ok=False)
            raise LLMError("api_error", f"HTTP {exc.status_code}: {exc.message}", _timed(call, started)) from exc
        except openai.OpenAIError as exc:  # connection refused, unreadable response, ...
            self.breaker.record(ok=False)
            raise LLMError("api_error", f"{type(exc).__name__}: {exc}", _timed(call, started)) from exc
        self.breaker.record(ok=True)
        call = _timed(call, started)
        if not isinstance(response, ChatCompletion):  # e.g. a 200 with an HTML body from a proxy
            raise LLMError("invalid_output", f"not a chat completion: {str(response)[:120]!r}", call)
        usage = response.usage
        call["prompt_tokens"] = usage.prompt_tokens if usage else None
        call["completion_tokens"] = usage.completion_tokens if usage else None
        timings = (response.model_extra or {}).get("timings")  # llama-server's own clock, kept in recordings
        if isinstance(timings, dict) and {"prompt_ms", "predicted_ms"} <= timings.keys():
            call["server_ms"] = round(timings["prompt_ms"] + timings["predicted_ms"], 1)
        try:
            choice = response.choices[0]
            if choice.finish_reason == "length":
                raise ValueError(f"the answer was cut off at {self.max_tokens} tokens")
            answer = answer_model.model_validate_json(choice.message.content or "")
        except (ValidationError, ValueError, IndexError, AttributeError, TypeError) as exc:
            raise LLMError("invalid_output", _one_line(exc), call) from exc
        return answer, {**call, "outcome": "ok"}


def _timed(call: dict[str, Any], started: float) -> dict[str, Any]:
    return {**call, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]
