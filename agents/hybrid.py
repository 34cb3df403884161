"""The hybrid decision backend: the rules decide what they are sure of; the LLM only what they cannot.

- classify: the rules first. At or above the policy's confidence threshold their answer stands (no LLM
  call). Below it, if there is a note to read that is neither unsure of itself nor contradicting the
  event (those go to a person as they are, still with no call), the LLM reads the case. Its answer is
  adopted only if grounded: it quotes evidence that really is in the note (or, for backend "llm",
  agrees with a confident rules reading of the record), it calls no live pickup a duplicate, it does
  not lower the severity the facts give, and its confidence is capped (`NOTE_ONLY_CAP`: what the rules
  give a cause read from a note alone).
- plan: the rules' plan stands unless it is unsure (or finds no remedy for an `other` case); then the
  LLM picks one remedy from a menu the runbook spelled out (agents/llm.py), and every action of the pick
  is checked again against the facts here: a reassign names a driver the gate allowed, a reschedule
  uses the runbook's window, a credit the runbook's amount, notifications go to the pickup's customer.
- any LLM failure (timeout, API error, invalid or out-of-schema answer, open circuit breaker) or any
  ungrounded answer: the rules' result, with the reason in `decided_by`. Never an unchecked action; and
  whatever is returned still passes the policy gate and the verifier in the graph.
`always=True` (backend "llm") consults the LLM on every decision, under the same checks.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from agents.llm import LLMBackend, LLMError
from agents.models import Category, Classification, Event, Plan, PlanningInput, Severity
from agents.rules import LIKELY, RulesBackend, credit_amount, next_window
from agents.signals import read_note
from tools.domain import PickupStatus, Window
from tools.read import CaseFacts

if TYPE_CHECKING:
    from settings import Settings

NOTE_ONLY_CAP = LIKELY  # an LLM reading of a note is trusted no more than a rules reading of one
_SEVERITY_RANK = {Severity.low: 0, Severity.medium: 1, Severity.high: 2}
_WORDS = re.compile(r"[a-z0-9]+")


class HybridBackend:
    def __init__(self, llm: LLMBackend, *, min_confidence: float, rules: RulesBackend | None = None, always: bool = False):
        self.llm, self.rules, self.min_confidence, self.always = llm, rules or RulesBackend(), min_confidence, always
        self.name = "llm" if always else "hybrid"

    @classmethod
    def from_settings(cls, settings: Settings, *, always: bool = False, http_client=None) -> HybridBackend:
        from guardrails.policy_files import PolicySet  # the threshold lives in the policy data, once
        return cls(LLMBackend.from_settings(settings, http_client=http_client),
                   min_confidence=PolicySet().config["min_confidence"], always=always)

    async def aclose(self) -> None:
        """Close the model client's connections (the service's shutdown should call this)."""
        await self.llm.aclose()

    # -- classify ---------------------------------------------------------------------------------

    async def classify(self, event: Event, facts: CaseFacts) -> Classification:
        ruled = await self.rules.classify(event, facts)
        if not self.always:
            if ruled.confidence >= self.min_confidence:
                return _by_rules(ruled, "the rules are confident")
            if not event.note.strip():
                return _by_rules(ruled, "no free text for a model to read; the rules read the whole record")
            if vetoes := note_vetoes(event):
                return _by_rules(ruled, "no model answer could be adopted", rejected=vetoes)
        try:
            answer = await self.llm.classify(event, facts)
        except LLMError as exc:
            return _by_rules(ruled, f"fallback: {exc.kind}", exc.call)
        call = (answer.decided_by or {}).get("llm")
        problems, adopted = self._adopt(answer, ruled, event, facts)
        if problems:
            return _by_rules(ruled, "the LLM's answer was not adopted", call, rejected=problems,
                             llm_answer=answer.model_dump(mode="json", exclude={"decided_by"}))
        return adopted.model_copy(update={"decided_by": {"backend": "llm", "via": self.name, "llm_calls": 1,
                                                         "why": "the LLM's grounded answer", "llm": call}})

    def _adopt(self, answer: Classification, ruled: Classification, event: Event,
               facts: CaseFacts) -> tuple[list[str], Classification]:
        problems = note_vetoes(event)
        if answer.category == Category.duplicate and facts.pickup.status != PickupStatus.picked_up:
            problems.append(f"category duplicate, but pickup {facts.pickup.id} is {facts.pickup.status.value}")
        quoted = [q for q in answer.evidence if quoted_in(q, event.note)]
        confirms = answer.category == ruled.category and ruled.confidence >= self.min_confidence
        if not quoted and not confirms:
            problems.append(f"no evidence quoted from the note (evidence {answer.evidence!r}) and no confident rules "
                            f"reading to agree with (rules: {ruled.category.value} at {ruled.confidence:g})")
        cap = max(ruled.confidence, NOTE_ONLY_CAP) if confirms else NOTE_ONLY_CAP
        severity = max(answer.severity, ruled.severity, key=_SEVERITY_RANK.__getitem__)
        evidence = ruled.evidence + [f"note says {q!r}" for q in quoted]
        return problems, answer.model_copy(update={"confidence": min(answer.confidence, cap), "severity": severity,
                                                   "evidence": evidence})

    # -- plan -------------------------------------------------------------------------------------

    async def plan(self, planning: PlanningInput) -> Plan:
        ruled = await self.rules.plan(planning)
        unsure = ruled.confidence < self.min_confidence
        stuck = ruled.escalate == "no_candidate" and planning.classification.category == Category.other
        if not (self.always or unsure or stuck):
            return _by_rules(ruled, "the rules are confident")
        try:
            chosen = await self.llm.plan(planning)
        except LLMError as exc:
            return _by_rules(ruled, f"fallback: {exc.kind}", exc.call)
        call = (chosen.decided_by or {}).get("llm")
        problems = ungrounded(chosen, planning)
        if problems:
            return _by_rules(ruled, "the LLM's choice was not adopted", call, rejected=problems)
        calls = (chosen.decided_by or {}).get("llm_calls", 0)
        return chosen.model_copy(update={"decided_by": {**(chosen.decided_by or {}), "via": self.name, "llm_calls": calls}})


def _by_rules(result: Classification | Plan, why: str, call: dict[str, Any] | None = None, **extra: Any):
    sent = call is not None and call.get("outcome") != "circuit_open"
    return result.model_copy(update={"decided_by": {"backend": "rules", "llm_calls": int(sent), "why": why, "llm": call,
                                                    **extra}})


def note_vetoes(event: Event) -> list[str]:
    """Why no reading of this note may be trusted over the rules: its author is unsure, or it contradicts the event."""
    note = read_note(event.note)
    vetoes = []
    if note.uncertain:
        vetoes.append("the note itself is unsure: a person should establish the cause")
    if (event.type == "customer_not_ready" and note.customer_ready) or (event.type == "vehicle_breakdown" and note.vehicle_fine):
        vetoes.append(f"the note contradicts the {event.type} event: a person should establish the cause")
    return vetoes


def quoted_in(quote: str, note: str) -> bool:
    """Whether a phrase the model quotes really is in the note (words compared, case and punctuation aside)."""
    words = _WORDS.findall(quote.lower())
    return len(words) >= 1 and len("".join(words)) >= 3 and " ".join(words) in " ".join(_WORDS.findall(note.lower()))


def ungrounded(plan: Plan, planning: PlanningInput) -> list[str]:
    """Every way a proposed plan goes beyond the facts; empty when each action is one the runbook could make."""
    facts, config = planning.facts, planning.config
    pickup, customer, c = facts.pickup, facts.customer, planning.classification
    allowed = {s.driver_id for s in planning.screened
               if s.allowed and f"reassign_driver:{s.driver_id}" not in planning.excluded}
    problems: list[str] = []
    for i, action in enumerate(plan.actions):
        args, where = action.args, f"action {i} ({action.tool})"
        if action.tool in planning.excluded:
            problems.append(f"{where}: excluded earlier in this case")
        if "pickup_id" in args and args["pickup_id"] != pickup.id:
            problems.append(f"{where}: pickup {args['pickup_id']!r} is not this case's pickup {pickup.id}")
        if "customer_id" in args and args["customer_id"] != customer.id:
            problems.append(f"{where}: customer {args['customer_id']!r} is not this pickup's customer {customer.id}")
        if action.tool == "reassign_driver" and args.get("driver_id") not in allowed:
            problems.append(f"{where}: driver {args.get('driver_id')!r} is not one the gate allowed ({sorted(allowed)})")
        elif action.tool == "reschedule_pickup" and not _same_window(args.get("window"), next_window(pickup.window, facts.now)):
            problems.append(f"{where}: window {args.get('window')!r} is not the runbook's next window")
        elif action.tool == "issue_credit":
            amount = credit_amount(pickup.value_usd, config["credit_rate"])
            if args.get("amount_usd") != amount:
                problems.append(f"{where}: amount {args.get('amount_usd')!r} USD is not the computed {amount:g} USD")
            if customer.tier.value not in config["credit_tiers"] or c.cause != "exception":
                problems.append(f"{where}: a {customer.tier.value} customer gets no credit for a {c.cause}")
        elif action.tool == "notify_customer" and not customer.notify:
            problems.append(f"{where}: customer {customer.id} takes no notifications")
        elif action.tool == "cancel_pickup":
            problems.append(f"{where}: a decision backend never cancels a pickup on its own")
        if any(j < 0 or j >= i for j in action.after):
            problems.append(f"{where}: depends on a later or unknown action {action.after}")
    return problems


def _same_window(raw: Any, expected: Window) -> bool:
    try:
        return Window.model_validate(raw) == expected
    except ValueError:
        return False
