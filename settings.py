"""Settings from the environment (`RECOURSE_*`), with embedded defaults that need no server and no key."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECOURSE_", extra="ignore")

    data_dir: Path = Field(Path(".recourse"), description="cases, audit, checkpoints, simulator state")
    database_url: str | None = Field(None, description="postgresql+psycopg://… for cases, audit, ledger and checkpoints "
                                                       "(several workers); unset: SQLite files in data_dir")
    mode: Literal["live", "shadow"] = Field("live", description="shadow: plan and gate every case, execute nothing")
    decision_backend: str = Field("auto", description="auto (hybrid when an LLM is configured, else rules) | rules | hybrid | llm")
    llm_base_url: str | None = Field(None, description="an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8081/v1; unset: OpenAI")
    llm_model: str = Field("gpt-4o-mini", description="the model name sent with every request (a llama-server alias works)")
    llm_api_key: SecretStr | None = Field(None, description="bearer key; a local server needs none")
    llm_timeout_s: float = Field(20.0, gt=0, description="one LLM request, end to end; past it the rules decide")
    llm_max_tokens: int = Field(256, ge=16, le=8192, description="completion tokens per decision (answers are short JSON)")
    retry_base_delay_s: float = Field(0.5, ge=0, description="first backoff delay; doubles per retry")
    workers: int = Field(4, ge=0, le=256, description="cases run concurrently in this process (0: only `recourse worker`s run them)")
    queue_size: int = Field(1000, ge=1, description="queued (accepted, not started) cases before submissions get 429")
    lease_s: float = Field(10, gt=0, description="a worker's claim on a case lasts this long unless renewed")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="largest request body accepted")
    approval_ttl_s: float = Field(4 * 3600, gt=0, description="held actions expire into escalated after this")
    approval_sweep_s: float = Field(30, gt=0, description="how often expired approvals are looked for")
    world: Path | None = Field(None, description="scenario file whose world seeds the in-process simulator")
    sim_fault_rate: float = Field(0.0, ge=0, le=1, description="in-process simulator: share of action calls that fail "
                                  "(timeout or unavailable, some after taking effect); for soak runs")
    sim_fault_seed: int = Field(0, description="seed of those faults: the same seed gives the same faults")
    opa_url: str | None = Field(None, description="decide with this OPA server instead of in-process regopy")
    opa_timeout_s: float = Field(0.5, gt=0, description="per-decision timeout against OPA; past it the action is denied")
    opa_upload: bool = Field(True, description="upload the repo's policies to OPA at start (False: only check its bundle)")
    ops_url: str | None = Field(None, description="operations backend over HTTP (e.g. `recourse sim serve`); unset: in-process simulator")
    trace_exporter: Literal["none", "console", "otlp"] = Field("none", description="OpenTelemetry spans: none | console | otlp")
    log_level: str = Field("INFO", description="structured JSON logs at this level")
    host: str = "127.0.0.1"
    port: int = 8080

    @property
    def llm_configured(self) -> bool:
        return self.llm_base_url is not None or self.llm_api_key is not None


def get_settings() -> Settings:
    return Settings()
