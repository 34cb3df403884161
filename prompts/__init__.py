"""Versioned prompt templates, one file per agent task (used by the LLM decision backend)."""
