"""Settings from the environment (`RECOURSE_*`), with embedded defaults that need no server and no key."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECOURSE_", extra="ignore")

    data_dir: Path = Field(Path(".recourse"), description="cases, audit, checkpoints, simulator state")
    decision_backend: str = Field("rules", description="rules (default; an LLM backend comes later)")
    retry_base_delay_s: float = Field(0.5, ge=0, description="first backoff delay; doubles per retry")
    workers: int = Field(4, ge=1, le=256, description="cases run concurrently inside the service")
    queue_size: int = Field(1000, ge=1, description="accepted-but-not-started cases before 429")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="largest request body accepted")
    approval_ttl_s: float = Field(4 * 3600, gt=0, description="held actions expire into escalated after this")
    approval_sweep_s: float = Field(30, gt=0, description="how often expired approvals are looked for")
    world: Path | None = Field(None, description="scenario file whose world seeds the simulator")
    host: str = "127.0.0.1"
    port: int = 8080


def get_settings() -> Settings:
    return Settings()
