"""Durable records: cases, the hash-chained audit trail, and the ledger of side effects."""
from store.db import Store

__all__ = ["Store"]
