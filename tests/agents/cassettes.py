"""vcrpy cassettes of real LLM calls: replayed in tests (no network), re-recorded with RECOURSE_RECORD=1.

Re-record against the local llama-server (started here on a free loopback port, see agents/local_llm.py),
or against any OpenAI-compatible server named by RECOURSE_LLM_BASE_URL (+ RECOURSE_LLM_MODEL):

    RECOURSE_RECORD=1 .venv/bin/python -m pytest tests/agents/test_llm_backend.py
    RECOURSE_RECORD=1 .venv/bin/python bench/llm_eval.py --backend hybrid   (and --backend llm)

Requests match on method, path and body (the whole prompt and schema), not on host or port, so a
changed prompt, facts rendering or model name finds no recording and the test fails: re-record then.
Authorization headers are never written. Cassettes are only ever written by this recorder.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import vcr

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
RECORDING = os.environ.get("RECOURSE_RECORD") == "1"
REPLAY_BASE_URL = "http://127.0.0.1:8081/v1"  # never contacted while replaying: vcrpy answers
MODEL = os.environ.get("RECOURSE_LLM_MODEL", "smollm2-135m")
NO_RECORDING = "no recorded answer for this request: re-record with RECOURSE_RECORD=1 (tests/agents/cassettes.py)"


@contextmanager
def cassette(relative: str) -> Iterator[vcr.cassette.Cassette]:
    """Replay `tests/cassettes/<relative>.yaml`; with RECOURSE_RECORD=1 record it afresh instead."""
    path = CASSETTES / f"{relative}.yaml"
    if RECORDING and path.exists():
        path.unlink()  # a re-recording replaces the old one whole
    recorder = vcr.VCR(record_mode="all" if RECORDING else "none", filter_headers=["authorization"],
                       match_on=["method", "scheme", "path", "body"], decode_compressed_response=True)
    with recorder.use_cassette(str(path)) as tape:
        yield tape


@contextmanager
def llm_server() -> Iterator[str]:
    """The base URL to record against: RECOURSE_LLM_BASE_URL, or a local llama-server started for the run."""
    if os.environ.get("RECOURSE_LLM_BASE_URL"):
        yield os.environ["RECOURSE_LLM_BASE_URL"]
        return
    from agents.local_llm import SMOLLM2, start_server, stop_server
    url, process = start_server(alias=SMOLLM2.alias)
    try:
        yield url
    finally:
        stop_server(process)
