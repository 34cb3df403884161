"""Idempotency keys for side effects.

A key is derived from the case and the step, never from time or randomness, so a retry, a resumed
run or a re-plan that proposes the very same action reuses the key and the backend applies it once.
The step is the action's tool and canonical arguments: two different actions never share a key.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any


def idempotency_key(case_id: str, tool: str, args: dict[str, Any]) -> str:
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(f"{tool}\0{canonical}".encode()).hexdigest()[:16]
    return f"{case_id}:{tool}:{digest}"
