"""API keys: `rk_<id>_<secret>`, stored as SHA-256 of the secret, each with one role."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from store import Store


class Role(StrEnum):
    submitter = "submitter"
    dispatcher = "dispatcher"
    admin = "admin"


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(store: Store, role: Role, label: str = "") -> str:
    """Creates a key and returns it; this is the only time the full key exists outside its holder."""
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
    await store.add_api_key(key_id, _digest(secret), role.value, label)
    return f"rk_{key_id}_{secret}"


_verified: dict[str, tuple[float, Principal]] = {}
CACHE_S = 30.0  # how long a verified key is trusted without reading the store again


async def authenticate(store: Store, presented: str) -> Principal | None:
    digest = _digest(presented)
    cached = _verified.get(digest)
    if cached and time.monotonic() - cached[0] < CACHE_S:
        return cached[1]
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != "rk":
        return None
    row = await store.get_api_key(parts[1])
    if row is None or not hmac.compare_digest(row.secret_sha256, _digest(parts[2])):
        return None
    principal = Principal(key_id=row.id, role=Role(row.role))
    if len(_verified) > 10_000:
        _verified.clear()
    _verified[digest] = (time.monotonic(), principal)
    return principal
