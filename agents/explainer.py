"""Answers a dispatcher's questions about cases from their state and audit trail only, citing audit entries.

Every claim in an answer ends with the audit entries it rests on, as `[#seq]`. The deterministic
explainer detects what is asked by keywords (why, rejected alternatives, policy, confidence, what
next, what happened, the note) and composes the answer from the audit payloads: nothing is invented
and no model is called. Free text that came from outside (notes, comments) is quoted as data, never
read for instructions; approving or rejecting is not the explainer's business (the chat endpoint
parses those commands itself and takes the approvals path).

`Explainer` is the seam for a model-backed implementation: it gets the same `CaseSource` (which
already applies the caller's visibility) and must return citations that exist in the records it
read (`check_citations`).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Literal, Protocol

# -- what the explainer reads and returns ------------------------------------------------------------


@dataclass
class CaseRecord:
    """One case as the explainer sees it: the row's summary, the graph state and the audit trail."""

    id: str
    status: str
    event_id: str
    pickup_id: str
    category: str | None
    created_at: str
    updated_at: str
    audit: list[dict[str, Any]]           # [{seq, kind, at, payload, hash}] in order
    state: dict[str, Any] = field(default_factory=dict)
    escalation: dict[str, Any] | None = None
    pending_answer: dict[str, Any] | None = None  # a dispatcher's answer recorded, not yet applied by a worker


@dataclass
class Suggestion:
    """An approval the dispatcher could give from the chat (only offered for cases awaiting approval)."""

    decision: Literal["approve", "reject"]
    case_id: str
    label: str
    message: str  # the chat message that does it


@dataclass
class Answer:
    text: str
    citations: list[int]
    case_id: str | None = None           # the case the answer is about, if it is about one
    cases: list[str] = field(default_factory=list)  # every case the answer speaks of
    suggestions: list[Suggestion] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)


class CaseSource(Protocol):
    """Where the explainer reads cases from; implementations apply the caller's visibility."""

    async def case(self, case_id: str) -> CaseRecord | None: ...

    async def find(self, reference: str) -> list[CaseRecord]:
        """Cases a token names: a case id, an event id or a pickup id; newest first."""
        ...

    async def cases(self, statuses: tuple[str, ...] = (), limit: int = 20) -> list[CaseRecord]:
        """The newest cases (with those statuses, if given), newest first."""
        ...


class Explainer(Protocol):
    name: str

    async def answer(self, question: str, source: CaseSource, case_id: str | None = None) -> Answer: ...

    def stream(self, question: str, source: CaseSource, case_id: str | None = None) -> AsyncIterator[str | Answer]:
        """Text chunks as they are ready, then the whole `Answer` last."""
        ...


def make_explainer(name: str = "rules") -> Explainer:
    if name == "rules":
        return DeterministicExplainer()
    raise ValueError(f"unknown explainer {name!r}; available: rules")


CITATION = re.compile(r"\[#(\d+)\]")


def check_citations(text: str, records: list[CaseRecord]) -> tuple[list[int], list[int]]:
    """(cited seqs present in the records' audit trails, cited seqs that are not): for checking any
    explainer's answer, a model's above all."""
    known = {e["seq"] for r in records for e in r.audit}
    cited = sorted({int(m) for m in CITATION.findall(text)})
    return [s for s in cited if s in known], [s for s in cited if s not in known]


# -- intents ----------------------------------------------------------------------------------------

INTENTS: dict[str, re.Pattern[str]] = {name: re.compile(pattern, re.I) for name, pattern in {
    "help": r"\b(help|what can (i|you)|how do i)\b",
    "queue": r"(wait\w* for (my |an? |your )?(approv|answer|decision)|await\w* (my |an? )?approv|pending approv|"
             r"need\w* (my |an? )?approv|to approve|approval queue|held for approval|on hold)",
    "rejected": r"(reject\w*|alternativ\w*|other options?|\boptions\b|instead|why not|\bnot (use|pick|choose|chosen|picked|used|sent)\b|"
                r"\bwasn'?t\b|\bweren'?t\b|\bdidn'?t\b|\bdid not\b|\bconsider\w*|rule[ds]? out)",
    "policy": r"\b(polic\w*|rules?|gate\w*|allow\w*|den(y|ied|ial)|held|hold|approv\w*|permit\w*|rego|limit\w*|autonomy)\b",
    "confidence": r"\b(confiden\w*|sure|certain\w*|threshold|score|probab\w*)\b",
    "next": r"(\bnext\b|now what|what now|going to happen|will happen|happens now|\bwaiting\b|\bpending\b|\bstatus\b|"
            r"\bto do\b|\bstuck\b|\bremaining\b|\bleft to\b)",
    "happened": r"(\bhappened\b|timeline|summar\w*|overview|history|\bstory\b|\bsteps\b|\btl;?dr\b|recap)",
    "why": r"\b(why|how come|reason\w*|explain\w*|escalat\w*)\b",
    "note": r"\b(note|notes|said|say|says|wrote|reported|reporter|e-?mail)\b",
    "actions": r"\b(attempts?|retr(y|ies|ied)|executed?|execution|effects?|did (it|you) do|actions? taken|verif\w*|checked)\b",
    "today": r"\b(today|this morning|this afternoon|so far|all cases|every case|overall)\b",
}.items()}
STATUS_WORDS = {"escalated": r"\bescalat", "resolved": r"\bresolved\b", "failed": r"\bfailed\b", "paused": r"\bpaused\b",
                "shadowed": r"\bshadow", "running": r"\b(running|in progress)\b", "queued": r"\bqueued\b",
                "awaiting_approval": r"awaiting.approval"}
CASE_INTENTS = ("why", "rejected", "policy", "confidence", "actions", "note", "happened", "next")
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*[A-Za-z0-9]|[A-Za-z0-9]")
MAX_REFERENCES = 8
DEICTIC = re.compile(r"\b(this|it|its|this case|the case)\b", re.I)  # "is it waiting for approval?": the open case
LIST_LIMIT = 15


def detect_intents(question: str) -> list[str]:
    return [name for name, pattern in INTENTS.items() if pattern.search(question)]


def references(text: str) -> list[str]:
    """Tokens that may name a case, an event or a pickup: they hold a letter and a digit (or start `case-`)."""
    found: list[str] = []
    for token in REFERENCE.findall(text):
        if token in found:
            continue
        if token.lower().startswith("case-") or (re.search(r"\d", token) and re.search(r"[A-Za-z]", token)):
            found.append(token)
        if len(found) >= MAX_REFERENCES:
            break
    return found


# -- plain-language pieces --------------------------------------------------------------------------

def quote(text: str, limit: int = 300) -> str:
    """Outside text as a quotation: one line, printable, our quote marks and citation markers kept ours."""
    clean = " ".join("".join(ch for ch in str(text) if ch.isprintable() or ch.isspace()).split())
    clean = clean.replace("\u201c", '"').replace("\u201d", '"').replace("[#", "(#")
    if len(clean) > limit:
        clean = clean[: limit - 1] + "\u2026"
    return f"\u201c{clean}\u201d"


def _hhmm(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return str(iso)


def _window(window: dict[str, Any] | None) -> str:
    if not isinstance(window, dict):
        return "a new window"
    start, end = _hhmm(window.get("start", "")), _hhmm(window.get("end", ""))
    if start[:10] == end[:10]:
        end = end[11:]
    return f"{start}-{end} UTC"


def describe(tool: str, args: dict[str, Any]) -> str:
    """An action in words: "reassign P1 to driver D3"."""
    pickup, customer = args.get("pickup_id", "?"), args.get("customer_id", "?")
    if tool == "reassign_driver":
        return f"reassign {pickup} to driver {args.get('driver_id', '?')}"
    if tool == "reschedule_pickup":
        return f"reschedule {pickup} to {_window(args.get('window'))}"
    if tool == "notify_customer":
        return f"notify customer {customer} about {pickup}"
    if tool == "issue_credit":
        amount = args.get("amount_usd")
        money = f"{amount:.2f} USD" if isinstance(amount, (int, float)) else f"{amount} USD"
        return f"credit customer {customer} {money}"
    if tool == "cancel_pickup":
        return f"cancel {pickup}"
    return f"{tool}({', '.join(f'{k}={v}' for k, v in args.items() if k != 'message')})"


def _reasons(reasons: list[dict[str, Any]]) -> str:
    return "; ".join(f"{r.get('msg', '')} (rule {r.get('rule', '?')})" for r in reasons)


def _attempts(action: dict[str, Any]) -> str:
    tries = action.get("attempts") or []
    trail = ", ".join(a.get("error") or "ok" for a in tries)
    return f"{len(tries)} attempt{'s' if len(tries) != 1 else ''} ({trail})" if tries else "no attempt"


class _Writer:
    """Collects lines; each claim carries the audit entries it rests on."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.cited: set[int] = set()

    def say(self, text: str, *entries: dict[str, Any] | None, bullet: bool = False) -> None:
        marks: list[str] = []
        for entry in entries:
            if entry is not None and entry.get("seq") is not None:
                self.cited.add(entry["seq"])
                if f"[#{entry['seq']}]" not in marks:
                    marks.append(f"[#{entry['seq']}]")
        self.lines.append(f"{'- ' if bullet else ''}{text}{(' ' + ' '.join(marks)) if marks else ''}")

    def blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def text(self) -> str:
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines)


# -- one case's story, read from its audit trail ------------------------------------------------------

OUTCOME_KINDS = ("case.resolved", "case.escalated", "case.shadowed", "case.abandoned")
STATUS_KINDS = OUTCOME_KINDS + ("approval.requested", "approval.answered", "approval.received", "case.paused", "case.resumed")


@dataclass
class _Story:
    submitted: dict[str, Any] | None = None
    joined: list[dict[str, Any]] = field(default_factory=list)
    classified: dict[str, Any] | None = None
    plans: list[dict[str, Any]] = field(default_factory=list)
    rounds: list[list[dict[str, Any]]] = field(default_factory=list)  # consecutive gate decisions
    actions: list[dict[str, Any]] = field(default_factory=list)
    verified: list[dict[str, Any]] = field(default_factory=list)
    requested: list[dict[str, Any]] = field(default_factory=list)
    answered: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    outcome: dict[str, Any] | None = None
    status_entry: dict[str, Any] | None = None
    last: dict[str, Any] | None = None

    @classmethod
    def read(cls, audit: list[dict[str, Any]]) -> "_Story":
        story, previous = cls(), None
        for entry in audit:
            kind = entry["kind"]
            if kind == "case.submitted":
                story.submitted = entry
            elif kind == "evidence.joined":
                story.joined.append(entry)
            elif kind == "classified":
                story.classified = entry
            elif kind == "planned":
                story.plans.append(entry)
            elif kind == "gate.decision":
                if previous != "gate.decision":
                    story.rounds.append([])
                story.rounds[-1].append(entry)
            elif kind == "action":
                story.actions.append(entry)
            elif kind == "verified":
                story.verified.append(entry)
            elif kind == "approval.requested":
                story.requested.append(entry)
            elif kind == "approval.answered":
                story.answered.append(entry)
            elif kind == "approval.received":
                story.received.append(entry)
            if kind in OUTCOME_KINDS:
                story.outcome = entry
            if kind in STATUS_KINDS:
                story.status_entry = entry
            story.last, previous = entry, kind
        return story

    def round_of(self, plan: dict[str, Any]) -> list[list[dict[str, Any]]]:
        """The gate rounds that judged this plan revision (after it, before the next one)."""
        later = [p["seq"] for p in self.plans if p["seq"] > plan["seq"]]
        until = later[0] if later else float("inf")
        return [r for r in self.rounds if plan["seq"] < r[0]["seq"] < until]


# -- the sections of an answer about one case ---------------------------------------------------------

def _headline(record: CaseRecord, story: _Story, w: _Writer) -> None:
    status = record.status.replace("_", " ")
    what = f"{record.id} (pickup {record.pickup_id}, event {record.event_id}) is {status}"
    outcome = story.outcome
    if record.status == "escalated" and outcome and outcome["kind"] == "case.escalated":
        what += f": {outcome['payload'].get('reason', '?')}"
    w.say(what + ".", story.status_entry or story.last)


def _why(record: CaseRecord, story: _Story, w: _Writer) -> None:
    c = story.classified
    if c is not None:
        p = c["payload"]
        w.say(f"Classified as {p.get('category')} (severity {p.get('severity')}, confidence {p.get('confidence', 0):.2f}): "
              f"{p.get('rationale', '')}.", c)
        if p.get("confidence_sufficient") is False:
            w.say("That confidence is below the threshold the confidence policy sets, so Recourse did not act and escalated.", c)
        elif p.get("confidence_sufficient") is None and "confidence_sufficient" in p:
            w.say("The confidence policy gave no answer, so Recourse did not act (fail closed).", c)
    if story.plans:
        plan = story.plans[-1]
        p = plan["payload"]
        if p.get("actions"):
            steps = "; ".join(describe(a["tool"], a["args"]) for a in p["actions"])
            revision = f" (revision {p.get('revision')})" if p.get("revision", 1) > 1 else ""
            w.say(f"The plan{revision}: {steps}. Why: {p.get('rationale', '')}.", plan)
            for a in p["actions"]:
                w.say(f"{describe(a['tool'], a['args'])}: {a.get('rationale', '')}", plan, bullet=True)
        elif p.get("escalate"):
            w.say(f"No autonomous remedy ({p['escalate']}): {p.get('rationale', '')}.", plan)
        else:
            w.say(f"No action was needed: {p.get('rationale', '')}.", plan)
        if len(story.plans) > 1:
            dropped = _dropped(story)
            w.say(f"This is plan {len(story.plans)}: the earlier ones were dropped because "
                  + ("; ".join(text for text, _ in dropped) or "they were replaced") + ".",
                  *story.plans[:-1], *[e for _, e in dropped])
        rounds = story.round_of(plan)
        approved = [e for e in story.received if e["payload"].get("decision") == "approve" and e["seq"] > plan["seq"]]
        if len(rounds) > 1 and approved:
            held = [e for e in rounds[-2] if e["payload"]["disposition"] == "held"]
            answer = approved[-1]["payload"]
            comment = f" (comment {quote(answer['comment'])})" if answer.get("comment") else ""
            w.say(f"The gate first held {len(held)} action{'s' if len(held) != 1 else ''} for approval; dispatcher "
                  f"{answer.get('by') or '?'} approved{comment}, and the gate judged them again.", *held, approved[-1])
        if rounds:
            _gate_summary(rounds[-1], w)
    done = [a for a in story.actions if a["payload"].get("status")]
    for entry in done[-6:]:
        a = entry["payload"]
        w.say(f"{describe(a['tool'], a['args'])}: {a['status']} after {_attempts(a)}"
              f"{' - ' + a['error'] if a.get('error') else ''}.", entry)
    if story.verified and story.verified[-1]["payload"].get("checks"):
        v = story.verified[-1]
        observed = "; ".join(f"{c['observed']} ({'holds' if c['holds'] else 'DOES NOT hold'})" for c in v["payload"]["checks"])
        w.say(f"Checked against the system of record: {observed}.", v)
    _ending(record, story, w)


def _dropped(story: _Story) -> list[tuple[str, dict[str, Any]]]:
    """Why each earlier plan gave way: a gate deny or a conflict in the system of record."""
    causes = []
    for entry in story.actions:
        a = entry["payload"]
        if a.get("status") == "conflict":
            causes.append((f"{describe(a['tool'], a['args'])} met a conflict in the system of record", entry))
    for round_ in story.rounds:
        for entry in round_:
            d = entry["payload"]
            if d["disposition"] == "denied":
                causes.append((f"the gate denied {describe(d['tool'], d['args'])} ({_reasons(d['decision'].get('deny') or [])})",
                               entry))
    return sorted(causes, key=lambda c: c[1]["seq"])


def _gate_summary(round_: list[dict[str, Any]], w: _Writer) -> None:
    w.say("The policy gate:")
    for entry in round_:
        d = entry["payload"]
        decision, disposition = d.get("decision") or {}, d["disposition"]
        if disposition in ("held", "shadow_held"):
            detail = f"held for approval - {_reasons(decision.get('approval') or []) or d.get('why', '')}"
        elif disposition == "denied":
            detail = f"denied - {_reasons(decision.get('deny') or [])}"
        elif disposition == "allowed":
            detail = "allowed"
        elif disposition == "done":
            detail = "already done earlier in this case"
        else:
            detail = f"{disposition} - {d.get('why', '')}"
        w.say(f"{describe(d['tool'], d['args'])}: {detail}", entry, bullet=True)


def _ending(record: CaseRecord, story: _Story, w: _Writer) -> None:
    outcome = story.outcome
    if outcome and outcome["kind"] == "case.resolved" and record.status == "resolved":
        w.say("So the case is resolved: every action took effect and was verified.", outcome)
    elif outcome and outcome["kind"] == "case.escalated" and record.status == "escalated":
        p = outcome["payload"]
        w.say(f"Escalated to a person ({p.get('reason')}). Recommended: {p.get('recommended_action', '')}", outcome)
        if story.received and story.received[-1]["payload"].get("decision") in ("reject", "expired"):
            r = story.received[-1]["payload"]
            comment = f": {quote(r['comment'])}" if r.get("comment") else ""
            w.say(f"The held actions were answered \"{r['decision']}\" by {r.get('by') or 'someone'}{comment}.", story.received[-1])
    elif outcome and outcome["kind"] == "case.shadowed":
        p = outcome["payload"]
        w.say(f"Shadow mode: nothing executed; it would have been {p.get('would_be')}.", outcome)
    elif record.status == "awaiting_approval" and story.requested:
        w.say("It now waits for a dispatcher to approve or reject the held actions.", story.requested[-1])


def _rejected(record: CaseRecord, story: _Story, w: _Writer, question: str) -> None:
    lines: list[tuple[str, list[dict[str, Any]]]] = []
    alternatives: dict[str, list[dict[str, Any]]] = {}  # the same reason in several revisions: said once
    for plan in story.plans:
        for alt in plan["payload"].get("rejected") or []:
            alternatives.setdefault(f"{alt.get('option')}: {alt.get('rejected_because')}", []).append(plan)
    for text, plans in alternatives.items():
        revisions = ", ".join(str(p["payload"].get("revision", "?")) for p in plans)
        label = f"plan revision{'s' if len(plans) > 1 else ''} {revisions}" if len(story.plans) > 1 else ""
        lines.append((f"{text}{f' ({label})' if label else ''}", plans))
    for plan in story.plans:
        p = plan["payload"]
        label = f"plan revision {p.get('revision', '?')}"
        for problem in p.get("invalid") or []:
            lines.append((f"invalid proposal dropped: {problem} ({label})", [plan]))
        for round_ in story.round_of(plan):
            for entry in round_:
                d = entry["payload"]
                if d["disposition"] == "denied":
                    lines.append((f"{describe(d['tool'], d['args'])}: denied by the gate - "
                                  f"{_reasons(d['decision'].get('deny') or [])} ({label}, so it was re-planned without it)", [entry]))
    for entry in story.actions:
        a = entry["payload"]
        if a.get("status") == "conflict":
            lines.append((f"{describe(a['tool'], a['args'])}: the system of record refused it as a conflict "
                          f"({a.get('error') or 'conflict'}), so it was re-planned without that option", [entry]))
    for entry in story.received:
        r = entry["payload"]
        if r.get("decision") == "reject":
            comment = f": {quote(r['comment'])}" if r.get("comment") else ""
            lines.append((f"the held actions were rejected by dispatcher {r.get('by') or '?'}{comment}", [entry]))
    wanted = [re.compile(rf"(?<![\w-]){re.escape(t)}(?![\w-])", re.I) for t in references(question)]
    wanted += [re.compile(rf"\b{stem}", re.I) for stem in re.findall(r"reassign|reschedul|credit|notif|cancel", question, re.I)]
    focused = [line for line in lines if any(pattern.search(line[0]) for pattern in wanted)]
    if not lines:
        w.say("No alternative was rejected in this case: the plan went through as proposed.", *(story.plans[-1:] or [story.last]))
        return
    shown = focused or lines
    w.say("Rejected alternatives and why:" if not focused else "What was ruled out, on what you asked:")
    for text, entries in shown:
        w.say(text, *entries, bullet=True)
    if story.plans and not focused:
        chosen = story.plans[-1]["payload"]
        if chosen.get("actions"):
            w.say(f"What was chosen instead: {'; '.join(describe(a['tool'], a['args']) for a in chosen['actions'])}.",
                  story.plans[-1])


def _policy(record: CaseRecord, story: _Story, w: _Writer) -> None:
    c = story.classified
    if c is not None and "confidence_sufficient" in c["payload"]:
        verdict = {True: "sufficient", False: "not sufficient", None: "undecided (no answer: fail closed)"}
        w.say(f"Confidence policy: classification confidence {c['payload'].get('confidence', 0):.2f} judged "
              f"{verdict[c['payload'].get('confidence_sufficient')]}.", c)
    if not story.rounds:
        w.say("No action reached the policy gate in this case.", *(story.plans[-1:] or [story.last]))
        return
    w.say("Policy gate decisions:")
    for number, round_ in enumerate(story.rounds, 1):
        if len(story.rounds) > 1:
            w.say(f"Gate round {number}:")
        for entry in round_:
            d = entry["payload"]
            decision = d.get("decision") or {}
            rules = decision.get("deny") or decision.get("approval") or []
            detail = _reasons(rules) if rules else d.get("why", "")
            level = decision.get("level")
            extra = f" [level {level}]" if level and level != "autonomous" else ""
            w.say(f"{describe(d['tool'], d['args'])}: {d['disposition']} - {detail}{extra}", entry, bullet=True)
    first = story.rounds[-1][0]["payload"].get("decision") or {}
    engine = first.get("engine")
    if engine or first.get("policy_revision"):
        w.say(f"Decided by {engine or 'the gate'} under policy revision {first.get('policy_revision', '?')}"
              f"{', OPA decision ' + first['decision_id'] if first.get('decision_id') else ''}.", story.rounds[-1][0])


def _confidence(record: CaseRecord, story: _Story, w: _Writer) -> None:
    c = story.classified
    if c is None:
        w.say("The case has not been classified yet.", story.last)
        return
    p = c["payload"]
    decided = p.get("decided_by") or {}
    by = decided.get("backend") or p.get("backend") or "?"
    model = f" ({decided['model']})" if decided.get("model") else ""
    judged = {True: "enough to act", False: "below the threshold: escalated", None: "undecided: fail closed"}
    w.say(f"Classification confidence {p.get('confidence', 0):.2f} for {p.get('category')}, decided by the {by} backend{model}; "
          f"the confidence policy judged it {judged.get(p.get('confidence_sufficient'), 'unknown')}.", c)
    if p.get("evidence"):
        w.say("Evidence: " + "; ".join(str(e) for e in p["evidence"]) + ".", c)
    if story.plans:
        plan = story.plans[-1]
        w.say(f"The plan's own confidence: {plan['payload'].get('confidence', 0):.2f}.", plan)


def _next(record: CaseRecord, story: _Story, w: _Writer) -> list[Suggestion]:
    status = record.status
    if record.pending_answer or (status == "awaiting_approval" and story.answered
                                 and (not story.requested or story.answered[-1]["seq"] > story.requested[-1]["seq"])):
        answer = story.answered[-1] if story.answered else None
        decision = (record.pending_answer or (answer or {}).get("payload") or {}).get("decision", "?")
        w.say(f"An answer ({decision}) is recorded and a worker is applying it; the status changes when it is done.", answer)
        return []
    if status == "awaiting_approval":
        request = story.requested[-1] if story.requested else story.last
        held = (request or {}).get("payload", {}).get("held", [])
        w.say(f"It waits for a dispatcher: {len(held)} action{'s' if len(held) != 1 else ''} held for approval.", request)
        for h in held:
            w.say(f"{describe(h['tool'], h['args'])}: {_reasons(h.get('reasons') or [])}", request, bullet=True)
        w.say("Approve: the held actions pass the gate again (with your approval) and run, then get verified. "
              "Reject: the case is escalated for handling by hand. Unanswered, it expires into escalated.")
        return suggestions_for(record)
    if status == "escalated":
        outcome = story.outcome
        advice = (outcome or {}).get("payload", {}).get("recommended_action") or (record.escalation or {}).get("recommended_action")
        w.say(f"Nothing more happens automatically: it is with a person now. Recommended: {advice or 'review the case.'}", outcome)
    elif status == "resolved":
        w.say("Nothing: the case is resolved and its actions were verified.", *(story.verified[-1:] + [story.outcome]))
    elif status == "paused":
        w.say("A pause switch holds it before its next action; it continues from there when resumed "
              "(recourse resume, or POST /v1/admin/resume), repeating nothing.", story.status_entry)
    elif status == "shadowed":
        w.say("Nothing: shadow mode records what Recourse would have done, and a person works the ticket.", story.outcome)
    elif status == "failed":
        w.say("The case failed and will not continue by itself; handle it by hand.", story.last)
    else:
        w.say(f"Recourse is still working on it ({status}); the latest step is {story.last['kind'] if story.last else 'none'}.",
              story.last)
    return []


def _happened(record: CaseRecord, story: _Story, w: _Writer) -> None:
    for entry in record.audit[-40:]:
        text = timeline_line(entry)
        if text:
            w.say(text, entry, bullet=True)


def _note(record: CaseRecord, story: _Story, w: _Writer) -> None:
    if story.submitted is not None:
        p = story.submitted["payload"]
        if p.get("note"):
            w.say(f"The note from {p.get('source', 'the reporter')}, quoted as data (not an instruction): {quote(p['note'])}",
                  story.submitted)
        else:
            w.say("The event came without a note.", story.submitted)
    for entry in story.joined:
        p = entry["payload"]
        w.say(f"Joined later: event {p.get('id')} ({p.get('type')}) from {p.get('source')}"
              f"{', note quoted as data: ' + quote(p['note']) if p.get('note') else ''}", entry)


def _actions(record: CaseRecord, story: _Story, w: _Writer) -> None:
    if not story.actions:
        w.say("No action was executed in this case.", *(story.rounds[-1][-1:] if story.rounds else [story.last]))
    for entry in story.actions:
        a = entry["payload"]
        w.say(f"{describe(a['tool'], a['args'])}: {a['status']} after {_attempts(a)}", entry, bullet=True)
    for entry in story.verified:
        checks = entry["payload"].get("checks") or []
        if checks:
            w.say("Verified: " + "; ".join(f"{c['observed']} ({'holds' if c['holds'] else 'FAILS'})" for c in checks), entry)


def timeline_line(entry: dict[str, Any]) -> str:
    """One audit entry in a line (the same reading the web page's timeline gives)."""
    kind, p = entry["kind"], entry.get("payload") or {}
    if kind == "case.submitted":
        return f"submitted: {p.get('type')} for pickup {p.get('pickup_id')} from {p.get('source')}" + \
            (f", note {quote(p['note'], 160)}" if p.get("note") else "")
    if kind == "evidence.joined":
        return f"another event joined: {p.get('id')} ({p.get('type')})"
    if kind == "classified":
        return f"classified {p.get('category')} (confidence {p.get('confidence', 0):.2f}): {p.get('rationale', '')}"
    if kind == "planned":
        steps = "; ".join(describe(a["tool"], a["args"]) for a in p.get("actions") or []) or "no action"
        return f"planned (revision {p.get('revision')}): {steps}" + (f", escalate: {p['escalate']}" if p.get("escalate") else "")
    if kind == "gate.decision":
        return f"gate: {describe(p['tool'], p['args'])} {p.get('disposition')} - {p.get('why', '')}"
    if kind == "action":
        return f"{describe(p['tool'], p['args'])}: {p.get('status')} after {_attempts(p)}"
    if kind == "verified":
        checks = p.get("checks") or []
        return "verified: " + ("; ".join(f"{c['observed']} ({'holds' if c['holds'] else 'FAILS'})" for c in checks)
                               if checks else "nothing to check")
    if kind == "approval.requested":
        return "approval requested for " + "; ".join(describe(h["tool"], h["args"]) for h in p.get("held") or [])
    if kind in ("approval.answered", "approval.received"):
        verb = "answer recorded" if kind == "approval.answered" else "answer applied"
        comment = f", comment {quote(p['comment'], 160)}" if p.get("comment") else ""
        return f"{verb}: {p.get('decision')} by {p.get('by') or '?'}{comment}"
    if kind == "case.escalated":
        return f"escalated ({p.get('reason')}): {p.get('recommended_action', '')}"
    if kind == "case.resolved":
        return "resolved"
    if kind == "case.shadowed":
        return f"shadowed: would have been {p.get('would_be')}"
    if kind == "case.paused":
        return f"paused (intents {', '.join(p.get('intents') or []) or 'all'})"
    if kind == "case.resumed":
        return f"resumed by {p.get('by') or '?'}"
    if kind == "case.abandoned":
        return f"abandoned: {p.get('why', '')}"
    return kind


def suggestions_for(record: CaseRecord) -> list[Suggestion]:
    if record.status != "awaiting_approval" or record.pending_answer:
        return []
    return [Suggestion("approve", record.id, f"Approve the held actions of {record.id}", f"approve {record.id}"),
            Suggestion("reject", record.id, f"Reject the held actions of {record.id}", f"reject {record.id} because ")]


SECTIONS = {"why": _why, "policy": _policy, "confidence": _confidence, "actions": _actions, "note": _note,
            "happened": _happened}


def explain_case(question: str, record: CaseRecord, intents: list[str] | None = None) -> Answer:
    """An answer about one case: the sections the question asks for, each claim citing its entries."""
    intents = [i for i in (intents if intents is not None else detect_intents(question)) if i in CASE_INTENTS]
    if "queue" in detect_intents(question) and "next" not in intents:
        intents.append("next")
    specific = [i for i in intents if i != "why"]
    if "why" in intents and specific and not ({"rejected", "policy", "confidence"} & set(specific)):
        specific = ["why", *specific]  # "why ... what next": both
    chosen = specific or (["why"] if "why" in intents else ["why", "next"])
    story = _Story.read(record.audit)
    w = _Writer()
    _headline(record, story, w)
    suggestions: list[Suggestion] = []
    for intent in chosen:
        w.blank()
        if intent == "rejected":
            _rejected(record, story, w, question)
        elif intent == "next":
            suggestions = _next(record, story, w)
        else:
            SECTIONS[intent](record, story, w)
    if not suggestions:
        suggestions = suggestions_for(record)
    return Answer(w.text(), sorted(w.cited), case_id=record.id, cases=[record.id], suggestions=suggestions, intents=chosen)


def describe_since(record: CaseRecord, since_seq: int) -> Answer:
    """What a case did after one entry (e.g. after a dispatcher's answer), and where it stands now."""
    story = _Story.read(record.audit)
    w = _Writer()
    _headline(record, story, w)
    for entry in [e for e in record.audit if e["seq"] >= since_seq]:
        text = timeline_line(entry)
        if text:
            w.say(text, entry, bullet=True)
    if record.status in ("queued", "running") or record.pending_answer:
        w.say("A worker is still applying the answer; ask again in a moment.")
    return Answer(w.text(), sorted(w.cited), case_id=record.id, cases=[record.id], suggestions=suggestions_for(record))


# -- questions across cases ---------------------------------------------------------------------------

def _one_line(record: CaseRecord) -> tuple[str, dict[str, Any] | None]:
    story = _Story.read(record.audit)
    outcome = story.status_entry or story.last
    detail = ""
    if record.status == "escalated" and story.outcome is not None:
        detail = f": {story.outcome['payload'].get('reason')}"
    elif record.status == "awaiting_approval" and story.requested:
        detail = ": " + "; ".join(describe(h["tool"], h["args"]) for h in story.requested[-1]["payload"].get("held") or [])
    elif record.status == "resolved" and story.plans:
        steps = "; ".join(describe(a["tool"], a["args"]) for a in story.plans[-1]["payload"].get("actions") or [])
        detail = f": {steps or 'no action needed'}"
    category = f", {record.category}" if record.category else ""
    return f"{record.id} (pickup {record.pickup_id}{category}): {record.status.replace('_', ' ')}{detail}", outcome


def explain_queue(records: list[CaseRecord]) -> Answer:
    w = _Writer()
    waiting = [r for r in records if r.status == "awaiting_approval"]
    if not waiting:
        w.say("Nothing is waiting for approval.")
        return Answer(w.text(), [], intents=["queue"])
    w.say(f"{len(waiting)} case{'s' if len(waiting) != 1 else ''} wait{'s' if len(waiting) == 1 else ''} for approval:")
    suggestions: list[Suggestion] = []
    for record in waiting:
        story = _Story.read(record.audit)
        request = story.requested[-1] if story.requested else story.last
        answered = " - an answer is recorded, a worker is applying it" if record.pending_answer else ""
        w.say(f"{record.id} (pickup {record.pickup_id}, {record.category or 'unclassified'}), held since "
              f"{_hhmm(request['at']) if request else '?'} UTC{answered}:", request, bullet=True)
        for h in (request or {}).get("payload", {}).get("held", []):
            w.say(f"  {describe(h['tool'], h['args'])}: {_reasons(h.get('reasons') or [])}", request)
        suggestions += suggestions_for(record)
    w.say("Say \"approve CASE\" or \"reject CASE because ...\" to answer one.")
    return Answer(w.text(), sorted(w.cited), cases=[r.id for r in waiting], suggestions=suggestions, intents=["queue"])


def explain_overview(records: list[CaseRecord], title: str, intents: list[str]) -> Answer:
    w = _Writer()
    if not records:
        w.say(f"{title}: no cases.")
        return Answer(w.text(), [], intents=intents)
    counts = Counter(r.status for r in records)
    w.say(f"{title}: {len(records)} case{'s' if len(records) != 1 else ''} - "
          + ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(counts.items(), key=lambda c: (-c[1], c[0]))) + ".")
    for record in records[:LIST_LIMIT]:
        text, entry = _one_line(record)
        w.say(text, entry, bullet=True)
    if len(records) > LIST_LIMIT:
        w.say(f"... and {len(records) - LIST_LIMIT} more.")
    suggestions = [s for r in records[:LIST_LIMIT] for s in suggestions_for(r)]
    return Answer(w.text(), sorted(w.cited), cases=[r.id for r in records[:LIST_LIMIT]], suggestions=suggestions, intents=intents)


HELP = ("Ask about a case (open it, or name its case id, event id or pickup id): why? which alternatives were rejected? "
        "which policy rules held it? how confident was it? what happens next? what happened? what did the note say?\n"
        "Across cases: what is waiting for my approval? what happened today? which cases were escalated?\n"
        "Dispatchers can answer a held case: \"approve CASE\" or \"reject CASE because ...\".")


def _today(records: list[CaseRecord], now: datetime) -> list[CaseRecord]:
    day = now.astimezone(timezone.utc).date().isoformat()
    return [r for r in records if r.updated_at[:10] == day or r.created_at[:10] == day]


async def named_case(question: str, source: CaseSource, current: CaseRecord | None = None) -> CaseRecord | None:
    """The case a question names by a case id, an event id or a pickup id in its text (one awaiting approval
    first, then the newest); a name that points at the open case (its pickup, say) keeps that one."""
    for token in references(question):
        if current is not None and token in (current.id, current.event_id, current.pickup_id):
            return current
        found = await source.find(token)
        if found:
            waiting = [r for r in found if r.status == "awaiting_approval"]
            return (waiting or found)[0]
    return None


# -- the deterministic explainer ---------------------------------------------------------------------

class DeterministicExplainer:
    """Keyword intents, answers composed from audit payloads; the same question on the same trail gives
    the same answer."""

    name = "rules"
    STREAM_WORDS = 6

    def __init__(self, clock=lambda: datetime.now(timezone.utc)):
        self.clock = clock

    async def answer(self, question: str, source: CaseSource, case_id: str | None = None) -> Answer:
        intents = detect_intents(question)
        named = references(question)
        if not question.strip() or ("help" in intents and not named):
            return Answer(HELP, [], case_id=case_id, intents=["help"])
        current = await source.case(case_id) if case_id else None
        record = await named_case(question, source, current)
        if record is not None:
            return explain_case(question, record, intents)
        statuses = [s for s, pattern in STATUS_WORDS.items() if re.search(pattern, question, re.I)]
        across = bool({"queue", "today"} & set(intents) or statuses) and not DEICTIC.search(question)
        if current is not None and not across:
            return explain_case(question, current, intents)
        if named and not across:
            return Answer(f"No case I can see matches {', '.join(named)}.\n{HELP}", [], case_id=case_id, intents=intents)
        answer = await self._across(intents, statuses, source, case_id)
        if named:  # "why did P-881 get escalated?" with no such case: say so before the list
            answer.text = f"No case I can see matches {', '.join(named)}. {answer.text}"
        return answer

    async def _across(self, intents: list[str], statuses: list[str], source: CaseSource, case_id: str | None) -> Answer:
        if "queue" in intents or statuses == ["awaiting_approval"]:
            return explain_queue(await source.cases(("awaiting_approval",), limit=50))
        if statuses:
            records = await source.cases(tuple(statuses), limit=50)
            if "today" in intents:
                records = _today(records, self.clock())
            return explain_overview(records, ", ".join(s.replace("_", " ") for s in statuses).capitalize() + " cases",
                                    ["list"])
        if "today" in intents or "happened" in intents or "next" in intents:
            now = self.clock()
            records = _today(await source.cases(limit=500), now)
            return explain_overview(records, f"Today ({now.date().isoformat()} UTC)", ["today"])
        return Answer("Which case? Open one, or name its case id, event id or pickup id.\n" + HELP, [], case_id=case_id,
                      intents=["help"])

    async def stream(self, question: str, source: CaseSource, case_id: str | None = None) -> AsyncIterator[str | Answer]:
        answer = await self.answer(question, source, case_id)
        for chunk in chunks(answer.text, self.STREAM_WORDS):
            yield chunk
        yield answer


def chunks(text: str, words: int = 6) -> list[str]:
    """The text in pieces of a few words, whitespace kept, so the pieces join back to the text."""
    pieces = re.findall(r"\S+\s*|\s+", text)
    return ["".join(pieces[i:i + words]) for i in range(0, len(pieces), words)]
