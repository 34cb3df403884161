"""The deterministic decision backend: the runbook as code. The embedded default; no model, no key."""
from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from agents.models import (Alternative, Category, Classification, Event, Plan, PlanningInput, ProposedAction,
                           Severity)
from agents.signals import read_note
from tools.domain import Capability, DriverStatus, PickupStatus, Tier, VehicleStatus, Window
from tools.read import CaseFacts

CONFIDENT, LIKELY, UNSURE, GUESS = 0.95, 0.8, 0.5, 0.3


class RulesBackend:
    name = "rules"

    async def classify(self, event: Event, facts: CaseFacts) -> Classification:
        return classify(event, facts)

    async def plan(self, planning: PlanningInput) -> Plan:
        return plan(planning)


# -- classification ------------------------------------------------------------------------------

def classify(event: Event, facts: CaseFacts) -> Classification:
    pickup, driver, vehicle = facts.pickup, facts.assigned_driver, facts.assigned_vehicle
    note = read_note(event.note)
    evidence: list[str] = [f"event type {event.type}", f"pickup {pickup.id} is {pickup.status.value}"]
    driver_out = driver is not None and driver.status != DriverStatus.on_duty
    vehicle_out = vehicle is not None and vehicle.status != VehicleStatus.ok
    if driver is not None:
        evidence.append(f"assigned driver {driver.id} is {driver.status.value}")
    if vehicle is not None:
        evidence.append(f"assigned vehicle {vehicle.id} is {vehicle.status.value}")
    unfit = _unfit_assignment(facts)
    if unfit:
        evidence.append(unfit)

    def result(category: Category, confidence: float, rationale: str, cause: str = "exception") -> Classification:
        return Classification(category=category, confidence=confidence, rationale=rationale, cause=cause,
                              severity=_severity(facts, category), evidence=evidence)

    if pickup.status == PickupStatus.picked_up:
        return result(Category.duplicate, 0.99, f"pickup {pickup.id} was already picked up; the exception is stale")
    if pickup.status == PickupStatus.cancelled:
        return result(Category.other, CONFIDENT, f"pickup {pickup.id} is cancelled; nothing to remediate")

    if event.type == "driver_unavailable":
        if driver_out:
            return result(Category.driver_unavailable, CONFIDENT, "the record confirms the assigned driver is not on duty")
        if note.driver and not note.uncertain:
            return result(Category.driver_unavailable, LIKELY, "the note gives a driver cause; the record has not caught up")
        return result(Category.driver_unavailable, GUESS, "the record shows the driver on duty and the note gives no cause")
    if event.type == "vehicle_breakdown":
        if vehicle_out and not note.vehicle_fine:
            return result(Category.vehicle_breakdown, CONFIDENT, "the record confirms the assigned vehicle is out of service")
        if vehicle_out:
            return result(Category.vehicle_breakdown, UNSURE, "the record shows a breakdown but the note says the vehicle is fine")
        if note.vehicle and not note.vehicle_fine and not note.uncertain:
            return result(Category.vehicle_breakdown, LIKELY, "the note describes a breakdown; the record has not caught up")
        return result(Category.vehicle_breakdown, GUESS, "the record shows the vehicle ok and the note contradicts or is unclear")
    if event.type == "customer_not_ready":
        if note.customer_ready:
            return result(Category.customer_not_ready, GUESS, "the note says the customer was ready: it contradicts the event")
        if note.driver or note.vehicle:
            return result(Category.customer_not_ready, UNSURE, "the note points at the carrier, not the customer")
        return result(Category.customer_not_ready, 0.9, "the customer is not ready; a new window at their request",
                      cause="customer_request")
    if event.type == "address_issue":
        if note.driver or note.vehicle:
            return result(Category.address_issue, UNSURE, "the note points at the carrier, not the address")
        return result(Category.address_issue, 0.9, "the address cannot be served as recorded")

    # pickup_missed, pickup_late, other: the cause comes from the record first, then the note.
    if driver_out:
        return result(Category.driver_unavailable, 0.9, "the assigned driver is not on duty")
    if vehicle_out:
        return result(Category.vehicle_breakdown, 0.9, "the assigned vehicle is out of service")
    if unfit:
        return result(Category.capacity_mismatch, 0.85, unfit)
    if note.uncertain:
        return result(Category.other, GUESS, "the note is unclear and the record shows no cause")
    if note.customer:
        return result(Category.customer_not_ready, 0.75, "the note says the customer was not ready", cause="customer_request")
    if note.address:
        return result(Category.address_issue, 0.75, "the note reports an address problem")
    if note.driver:
        return result(Category.driver_unavailable, 0.75, "the note gives a driver cause")
    if note.vehicle and not note.vehicle_fine:
        return result(Category.vehicle_breakdown, 0.75, "the note describes a breakdown")
    if note.weather:
        return result(Category.weather, 0.75, "the note reports weather")
    if note.traffic and event.type == "pickup_late":
        return result(Category.other, 0.75, "the driver is delayed on the road")
    return result(Category.other, GUESS, "neither the record nor the note gives a usable cause")


def _unfit_assignment(facts: CaseFacts) -> str | None:
    """Why the assigned driver and vehicle cannot carry this pickup, if they cannot."""
    pickup, driver, vehicle = facts.pickup, facts.assigned_driver, facts.assigned_vehicle
    if vehicle is not None and vehicle.capacity_kg < pickup.weight_kg:
        return f"vehicle {vehicle.id} takes {vehicle.capacity_kg:g} kg, pickup weighs {pickup.weight_kg:g} kg"
    for need in pickup.requirements:
        if vehicle is not None and need not in vehicle.features:
            return f"vehicle {vehicle.id} lacks {need.value}"
        if driver is not None and need not in driver.skills:
            return f"driver {driver.id} lacks the {need.value} skill"
    return None


def _severity(facts: CaseFacts, category: Category) -> Severity:
    if category == Category.duplicate:
        return Severity.low
    if facts.customer.tier != Tier.standard or Capability.hazmat in facts.pickup.requirements:
        return Severity.high
    return Severity.medium


# -- planning ------------------------------------------------------------------------------------

def plan(planning: PlanningInput) -> Plan:
    c, facts = planning.classification, planning.facts
    pickup = facts.pickup
    if c.category == Category.duplicate:
        return Plan(confidence=c.confidence, rationale=f"{c.rationale}: no action")
    if pickup.status == PickupStatus.cancelled:
        return Plan(confidence=c.confidence, rationale=c.rationale, escalate="no_candidate")
    if c.category == Category.address_issue:
        return Plan(confidence=c.confidence, escalate="no_candidate",
                    rationale="the address must be corrected by a person before anyone can be sent")
    if c.category == Category.system_error:
        return Plan(confidence=c.confidence, escalate="no_candidate", rationale="a system error needs an engineer")
    if c.category == Category.customer_not_ready:
        return _reschedule(planning, [Alternative(option="reassign driver",
                                                  rejected_because="the customer is not ready; another driver would not help")])

    rejected = [Alternative(option=f"reassign to {s.driver_id}", rejected_because="; ".join(s.reasons) or "excluded")
                for s in planning.screened if not s.allowed or _excluded(planning, s.driver_id)]
    usable = [s for s in planning.screened if s.allowed and not _excluded(planning, s.driver_id)]
    if usable:
        chosen = usable[0]
        rejected += [Alternative(option=f"reassign to {s.driver_id}",
                                 rejected_because=f"{s.distance_km:.1f} km away; {chosen.driver_id} is nearer at {chosen.distance_km:.1f} km")
                     for s in usable[1:]]
        rejected.append(Alternative(option="reschedule", rejected_because=f"{chosen.driver_id} can still make the window"))
        actions = [ProposedAction(tool="reassign_driver", args={"pickup_id": pickup.id, "driver_id": chosen.driver_id},
                                  rationale=f"{chosen.driver_id} is the nearest qualified driver ({chosen.distance_km:.1f} km) "
                                            f"who can reach {pickup.id} before the window closes")]
        message = (f"Update on pickup {pickup.id}: another driver will collect it within your current window "
                   f"({_hhmm(pickup.window)}).")
        _notify(planning, actions, rejected, message)
        return Plan(actions=actions, confidence=min(c.confidence, 0.9), rejected=rejected,
                    rationale=f"{c.rationale}; {chosen.driver_id} can take the pickup over in time")
    return _reschedule(planning, rejected)


def _reschedule(planning: PlanningInput, rejected: list[Alternative]) -> Plan:
    c, facts, config = planning.classification, planning.facts, planning.config
    pickup, customer = facts.pickup, facts.customer
    if "reschedule_pickup" in planning.excluded:
        return Plan(confidence=c.confidence, rejected=rejected, escalate="no_candidate",
                    rationale="no driver can make the window and a reschedule was refused")
    window = next_window(pickup.window, facts.now)
    actions = [ProposedAction(tool="reschedule_pickup", args={"pickup_id": pickup.id, "window": window.model_dump(mode="json")},
                              rationale=f"moved to the same time of day, {_hhmm(window)}, the first such window after now")]
    if "issue_credit" in planning.excluded:
        rejected.append(Alternative(option="service credit", rejected_because="the policy refused it earlier in this case"))
    elif customer.tier.value in config["credit_tiers"] and c.cause == "exception":
        amount = credit_amount(pickup.value_usd, config["credit_rate"])
        actions.append(ProposedAction(tool="issue_credit", after=[0],
                                      args={"customer_id": customer.id, "amount_usd": amount,
                                            "reason": f"pickup {pickup.id} rescheduled past its window"},
                                      rationale=f"{customer.tier.value} customer, rescheduled because of the exception: "
                                                f"{config['credit_rate']:.0%} of {pickup.value_usd:g} USD"))
    elif c.cause == "customer_request":
        rejected.append(Alternative(option="service credit", rejected_because="the customer asked for the new window"))
    else:
        rejected.append(Alternative(option="service credit", rejected_because=f"{customer.tier.value}-tier customers get none"))
    message = f"Update on pickup {pickup.id}: it is rescheduled to {_hhmm(window)}."
    _notify(planning, actions, rejected, message)
    return Plan(actions=actions, confidence=min(c.confidence, 0.9), rejected=rejected,
                rationale=f"{c.rationale}; no qualified driver can make the current window, so reschedule")


def _notify(planning: PlanningInput, actions: list[ProposedAction], rejected: list[Alternative], message: str) -> None:
    customer = planning.facts.customer
    if "notify_customer" in planning.excluded:
        rejected.append(Alternative(option="notify customer", rejected_because="the policy refused it earlier in this case"))
        return
    if not customer.notify:
        rejected.append(Alternative(option="notify customer", rejected_because=f"customer {customer.id} takes no notifications"))
        return
    actions.append(ProposedAction(tool="notify_customer", after=[0],
                                  args={"customer_id": customer.id, "pickup_id": planning.facts.pickup.id, "message": message},
                                  rationale="the pickup's driver or window changes"))


def _excluded(planning: PlanningInput, driver_id: str) -> bool:
    return f"reassign_driver:{driver_id}" in planning.excluded


def next_window(window: Window, now) -> Window:
    """The original window moved forward by whole days until it starts after now (at least one day)."""
    days = 1
    while window.start + timedelta(days=days) <= now:
        days += 1
    return Window(start=window.start + timedelta(days=days), end=window.end + timedelta(days=days))


def credit_amount(value_usd: float, rate: float) -> float:
    return float(Decimal(str(value_usd * rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _hhmm(window: Window) -> str:
    return f"{window.start:%Y-%m-%d %H:%M}-{window.end:%H:%M} UTC"
