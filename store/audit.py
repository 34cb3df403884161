"""The audit chain's hashing and verification, independent of any database."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

GENESIS = "0" * 64


def canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, seq: int, case_id: str, kind: str, at: str, payload: str) -> str:
    material = "\x1f".join([prev_hash, str(seq), case_id, kind, at, payload])
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    head: str
    problem: str | None = None


def verify_chain(rows: Iterable[Any], expect: tuple[int, str] | None = None) -> ChainReport:
    """Rows in seq order, each with seq, case_id, kind, at, payload, prev_hash, hash.

    Detects an edited row (its hash no longer matches), a deleted row (a gap in seq or a broken
    prev_hash link) and reordered rows (a link that points at the wrong predecessor). With `expect`
    (entries, head) exported earlier, also detects a truncated or rewritten tail: entry `entries`
    must still carry that hash.
    """
    prev, expected_seq, count = GENESIS, 1, 0
    hash_at: dict[int, str] = {}
    for row in rows:
        if row.seq != expected_seq:
            return ChainReport(False, count, prev, f"entry {expected_seq} is missing (found {row.seq} next)")
        if row.prev_hash != prev:
            return ChainReport(False, count, prev, f"entry {row.seq} does not link to the entry before it")
        if entry_hash(row.prev_hash, row.seq, row.case_id, row.kind, row.at, row.payload) != row.hash:
            return ChainReport(False, count, prev, f"entry {row.seq} was altered (hash mismatch)")
        prev, expected_seq, count = row.hash, expected_seq + 1, count + 1
        if expect and row.seq == expect[0]:
            hash_at[row.seq] = row.hash
    if expect and hash_at.get(expect[0]) != expect[1]:
        return ChainReport(False, count, prev, f"exported head {expect[1][:16]}... is not entry {expect[0]} any more")
    return ChainReport(True, count, prev)
