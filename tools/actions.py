"""The five action tools: typed arguments, an idempotency key on every call."""
from __future__ import annotations

from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg, StructuredTool
from pydantic import BaseModel, ConfigDict, Field

from tools.backend import OperationsBackend, Receipt
from tools.domain import Window


class ActionArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key: Annotated[str, InjectedToolArg] = Field(description="set by the executor, never by a planner")


class ReassignDriverArgs(ActionArgs):
    pickup_id: str
    driver_id: str


class ReschedulePickupArgs(ActionArgs):
    pickup_id: str
    window: Window


class NotifyCustomerArgs(ActionArgs):
    customer_id: str
    pickup_id: str
    message: str = Field(max_length=1000)


class IssueCreditArgs(ActionArgs):
    customer_id: str
    amount_usd: float = Field(gt=0)
    reason: str = Field(max_length=500)


class CancelPickupArgs(ActionArgs):
    pickup_id: str
    reason: str = Field(max_length=500)


ARG_MODELS: dict[str, type[ActionArgs]] = {
    "reassign_driver": ReassignDriverArgs,
    "reschedule_pickup": ReschedulePickupArgs,
    "notify_customer": NotifyCustomerArgs,
    "issue_credit": IssueCreditArgs,
    "cancel_pickup": CancelPickupArgs,
}

DESCRIPTIONS = {
    "reassign_driver": "Give the pickup to another driver.",
    "reschedule_pickup": "Move the pickup to a new time window.",
    "notify_customer": "Tell the customer what changed about their pickup.",
    "issue_credit": "Issue a service credit to the customer.",
    "cancel_pickup": "Cancel the pickup.",
}


def validate_args(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """Check a proposed action's arguments against its model; returns them normalised (JSON form)."""
    model = ARG_MODELS[tool]
    return model.model_validate({**args, "idempotency_key": "-"}).model_dump(mode="json", exclude={"idempotency_key"})


def action_tools(backend: OperationsBackend) -> dict[str, StructuredTool]:
    async def reassign_driver(pickup_id: str, driver_id: str, idempotency_key: str) -> Receipt:
        return await backend.reassign_driver(pickup_id, driver_id, idempotency_key=idempotency_key)

    async def reschedule_pickup(pickup_id: str, window: Window, idempotency_key: str) -> Receipt:
        return await backend.reschedule_pickup(pickup_id, window, idempotency_key=idempotency_key)

    async def notify_customer(customer_id: str, pickup_id: str, message: str, idempotency_key: str) -> Receipt:
        return await backend.notify_customer(customer_id, pickup_id, message, idempotency_key=idempotency_key)

    async def issue_credit(customer_id: str, amount_usd: float, reason: str, idempotency_key: str) -> Receipt:
        return await backend.issue_credit(customer_id, amount_usd, reason, idempotency_key=idempotency_key)

    async def cancel_pickup(pickup_id: str, reason: str, idempotency_key: str) -> Receipt:
        return await backend.cancel_pickup(pickup_id, reason, idempotency_key=idempotency_key)

    functions = [reassign_driver, reschedule_pickup, notify_customer, issue_credit, cancel_pickup]
    return {fn.__name__: StructuredTool.from_function(coroutine=fn, name=fn.__name__, args_schema=ARG_MODELS[fn.__name__],
                                                      description=DESCRIPTIONS[fn.__name__])
            for fn in functions}
