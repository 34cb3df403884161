"""The dispatcher chat: questions answered from cases' audit trails (JSON, or SSE when asked), and
approvals given by command through the approvals endpoint's own path."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import AsyncIterator

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from agents.explainer import (Answer, CaseRecord, Explainer, chunks, describe_since, explain_queue, make_explainer,
                              named_case, quote, references)
from api.cases import _visible_case, submit_approval_answer
from api.deps import Runtime, require, runtime
from api.schemas import ChatAnswer, ChatApproval, ChatRequest, SuggestedAction
from graph.cases import case_id_for
from service.keys import Principal, Role
from store.models import CaseRow

log = logging.getLogger("recourse.chat")
router = APIRouter(prefix="/v1", tags=["chat"])

talkers = require(Role.submitter, Role.dispatcher)  # submitters: about their own cases only (VisibleCases)
approvers = require(Role.dispatcher)
PAGE = 1000
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

# Commands are recognised here, deterministically, from the dispatcher's own message only: never from an
# answer, a note or a model's output. A question ("approve it?") is not a command.
COMMAND = re.compile(r"^\s*(?:(?:please|ok|okay|yes|go ahead and)[,!.\s]+)*(?P<verb>approve|reject)\b(?P<rest>.*)$", re.I | re.S)
REASON = re.compile(r"\s+(?:because|since|reason:?)\s+|\s*[:;,]\s+|\s+[-\u2013\u2014]+\s+", re.I)


@dataclass
class ApprovalCommand:
    decision: str      # approve | reject
    reference: str     # the words naming the case ("case-X", "P1", "it", "")
    comment: str


def parse_command(message: str) -> ApprovalCommand | None:
    match = COMMAND.match(message)
    if match is None or message.rstrip().endswith("?"):
        return None
    parts = REASON.split(match["rest"], maxsplit=1)
    reference, comment = parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")
    return ApprovalCommand(match["verb"].lower(), reference, comment)


class VisibleCases:
    """The explainer's `CaseSource` over the store, showing a submitter only the cases they submitted."""

    def __init__(self, rt: Runtime, who: Principal):
        self.rt, self.who = rt, who
        self.own = who.key_id if who.role == Role.submitter else None

    def _visible(self, row: CaseRow | None) -> bool:
        return row is not None and (self.own is None or row.submitted_by == self.own)

    async def _record(self, row: CaseRow, with_state: bool = True) -> CaseRecord:
        store = self.rt.service.store
        state = await self.rt.service.state(row.id) if with_state else {}
        return CaseRecord(id=row.id, status=row.status, event_id=row.event_id, pickup_id=row.pickup_id, category=row.category,
                          created_at=row.created_at, updated_at=row.updated_at, audit=await store.audit_entries(row.id),
                          state=state, escalation=row.escalation, pending_answer=row.approval)

    async def case(self, case_id: str) -> CaseRecord | None:
        row = await self.rt.service.store.get_case(case_id)
        return await self._record(row) if self._visible(row) else None

    async def find(self, reference: str) -> list[CaseRecord]:
        store, rows = self.rt.service.store, {}
        for case_id in dict.fromkeys((reference, case_id_for(reference))):
            row = await store.get_case(case_id)
            if self._visible(row):
                rows[row.id] = row
        for pickup in dict.fromkeys((reference, reference.upper())):
            for row in await store.list_cases(pickup_id=pickup, submitted_by=self.own, limit=50):
                rows[row.id] = row
        newest = sorted(rows.values(), key=lambda r: (r.created_at, r.id), reverse=True)
        return [await self._record(row) for row in newest[:10]]

    async def cases(self, statuses: tuple[str, ...] = (), limit: int = 20) -> list[CaseRecord]:
        # The store lists oldest first: walk the pages, keep the newest `limit`.
        store, newest, offset = self.rt.service.store, [], 0
        while True:
            page = await store.list_cases(statuses=statuses, submitted_by=self.own, limit=PAGE, offset=offset)
            newest = (newest + page)[-limit:]
            if len(page) < PAGE:
                break
            offset += PAGE
        return [await self._record(row, with_state=False) for row in reversed(newest)]


_default_explainer = make_explainer("rules")


def explainer_for(request: Request) -> Explainer:
    """`app.state.explainer` when the app sets one (a model-backed explainer), else the deterministic one."""
    return getattr(request.app.state, "explainer", None) or _default_explainer


def _reply(answer: Answer, who: Principal) -> ChatAnswer:
    may_approve = who.role in (Role.dispatcher, Role.admin)
    return ChatAnswer(answer=answer.text, citations=answer.citations, case_id=answer.case_id, cases=answer.cases,
                      actions=[SuggestedAction(decision=s.decision, case_id=s.case_id, label=s.label, message=s.message)
                               for s in answer.suggestions] if may_approve else [])


async def _command(command: ApprovalCommand, case_id: str | None, source: VisibleCases, rt: Runtime,
                   who: Principal) -> ChatAnswer:
    await approvers(who=who)  # 403 for a submitter, with the approvals endpoint's words
    current = await source.case(case_id) if case_id else None
    named = references(command.reference)
    target = await named_case(command.reference, source, current) if named else current
    if named and target is None:
        raise HTTPException(404, detail=f"no case matches {', '.join(named)!r}")
    if target is None:
        queue = explain_queue(await source.cases(("awaiting_approval",), limit=50))
        text = f"Which case should I {command.decision}? Name it, e.g. \"{command.decision} case-...\".\n{queue.text}"
        return _reply(Answer(text, queue.citations, cases=queue.cases, suggestions=queue.suggestions), who)
    comment = command.comment or f"{command.decision}d in the chat"
    settled = await submit_approval_answer(target.id, command.decision, comment, rt, who)
    record = await source.case(target.id)
    mine = [e for e in record.audit if e["kind"] == "approval.answered" and e["payload"].get("by") == who.key_id]
    since = mine[-1]["seq"] if mine else record.audit[-1]["seq"]
    after = describe_since(record, since)
    verb = "Approved" if command.decision == "approve" else "Rejected"
    text = f"{verb} the held actions of {record.id}, comment {quote(comment)}. What followed:\n{after.text}"
    reply = _reply(Answer(text, after.citations, case_id=record.id, cases=[record.id], suggestions=after.suggestions), who)
    reply.approval = ChatApproval(case_id=record.id, decision=command.decision, status=record.status, settled=settled)
    return reply


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _events(items: AsyncIterator[str | Answer], who: Principal) -> AsyncIterator[str]:
    try:
        async for item in items:
            if isinstance(item, Answer):
                yield _event("done", _reply(item, who).model_dump(mode="json"))
            else:
                yield _event("delta", {"text": item})
    except Exception as exc:  # noqa: BLE001 - the stream has started: say what went wrong in it
        log.exception("chat stream failed")
        yield _event("error", {"detail": f"the answer could not be completed: {type(exc).__name__}"})


async def _replay(reply: ChatAnswer) -> AsyncIterator[str]:
    for chunk in chunks(reply.answer):
        yield _event("delta", {"text": chunk})
    yield _event("done", reply.model_dump(mode="json"))


@router.post("/chat", response_model=ChatAnswer, responses={
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
          "description": "the answer; with `Accept: text/event-stream`, as `delta` events ({text}) then one `done` event "
                         "carrying the whole answer"},
    404: {"description": "no such case, or not one of the caller's"},
    409: {"description": "approve/reject: the case is not waiting for an answer"}})
async def chat(body: ChatRequest, request: Request, rt: Runtime = Depends(runtime), who: Principal = Depends(talkers),
               explainer: Explainer = Depends(explainer_for)):
    """Ask about a case (why, rejected alternatives, policy rules, confidence, what next, what happened) or across
    cases (what is waiting for my approval? what happened today?). Every claim cites audit entries as [#seq].
    Dispatchers answer held cases with `approve CASE` or `reject CASE because ...`."""
    if body.case_id is not None:
        await _visible_case(body.case_id, rt, who)
    source = VisibleCases(rt, who)
    streaming = "text/event-stream" in request.headers.get("accept", "")
    command = parse_command(body.message)
    if command is not None:
        reply = await _command(command, body.case_id, source, rt, who)
        if streaming:
            return StreamingResponse(_replay(reply), media_type="text/event-stream", headers=SSE_HEADERS)
        return reply
    if streaming:
        return StreamingResponse(_events(explainer.stream(body.message, source, body.case_id), who),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    return _reply(await explainer.answer(body.message, source, body.case_id), who)
