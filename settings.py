"""Settings from the environment (`RECOURSE_*`), with embedded defaults that need no server and no key."""
from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECOURSE_", extra="ignore")

    data_dir: Path = Path(".recourse")
    decision_backend: str = "rules"
    retry_base_delay_s: float = 0.5


def get_settings() -> Settings:
    return Settings()
