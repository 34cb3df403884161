"""Data minimisation for free text: contact details are removed before text reaches a log line, a trace
or an LLM prompt. The escalation packet keeps the note as written: the dispatcher may need to call back."""
from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# International or local phone numbers: 7+ digits with the usual separators, optionally with a leading +.
PHONE = re.compile(r"(?<![\w/-])\+?\d[\d\s().-]{5,}\d(?![\w/])")


def redact(text: str) -> str:
    """Replace e-mail addresses and phone numbers with placeholders; leaves times, ids and weights alone."""
    text = EMAIL.sub("[email]", text)
    return PHONE.sub(lambda m: "[phone]" if sum(c.isdigit() for c in m.group()) >= 7 else m.group(), text)
