"""Typed read and action tools over the operations-backend protocol."""
