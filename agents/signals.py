"""What a free-text note says about the cause, read as data: keyword signals, never instructions."""
from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERNS = {
    "driver": r"\b(sick|ill|fever|flu|migraine|injur\w*|clocked out|hit my hours|hours limit|ended (his|her|my) shift|"
              r"shift ended|off (duty|shift)|went home|called in|no[- ]show|didn'?t show|out sick|family emergency)\b",
    "vehicle": r"\b(broke(n)? down|breakdown|gearbox|engine|tow(ed|ing)?|flat tyre|flat tire|puncture|won'?t start|"
               r"brakes?|overheat\w*|accident|crash\w*|battery)\b",
    "vehicle_fine": r"\b(truck|van|vehicle)\s+(is\s+)?(ok|fine|running)\b|\b(it'?s|its) fine\b|\bno (problem|issue) with the (truck|van)\b",
    "customer": r"\b(not ready|isn'?t ready|aren'?t ready|not packed|still packing|come back (later|tomorrow)|asked (us )?to come|"
                r"dock (is )?closed|warehouse closed|customer (asked|requested)|postpone|goods not)\b",
    "customer_ready": r"\b(we|they) (were|are) ready\b|\bready the whole time\b|\b(was|were) ready (and|but)\b|"
                      r"\b(driver|truck|nobody|no one) never (came|showed)\b|\bnobody came\b|\bno one came\b",
    "address": r"\b(wrong address|address (does ?n[o']t|doesn'?t) exist|no such (street|address|building)|cannot find|"
               r"can'?t find|unknown address|address not found|unreachable|demolished|invalid address)\b",
    "weather": r"\b(snow\w*|storm|blizzard|ice|icy|flood\w*|fog|hurricane|weather)\b",
    "traffic": r"\b(traffic|congestion|jam|detour|running late|delayed|stuck)\b",
    "uncertain": r"\?\?|\b(don'?t know|dont know|not sure|maybe|i think|unclear|no idea)\b",
}
_COMPILED = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in _PATTERNS.items()}


@dataclass(frozen=True)
class NoteSignals:
    driver: bool = False
    vehicle: bool = False
    vehicle_fine: bool = False
    customer: bool = False
    customer_ready: bool = False
    address: bool = False
    weather: bool = False
    traffic: bool = False
    uncertain: bool = False

    @property
    def any_cause(self) -> bool:
        return self.driver or self.vehicle or self.customer or self.address or self.weather or self.traffic


def read_note(note: str) -> NoteSignals:
    return NoteSignals(**{name: bool(rx.search(note)) for name, rx in _COMPILED.items()})
