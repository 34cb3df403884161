"""Where the policies live, what they contain, and the revision that identifies them."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

POLICY_DIR = Path(__file__).parent / "policies"


@dataclass(frozen=True)
class PolicySet:
    """The Rego modules (tests excluded) and the data document of one policy directory."""

    directory: Path = POLICY_DIR

    @cached_property
    def modules(self) -> dict[str, str]:
        files = sorted(p for p in self.directory.glob("*.rego") if not p.name.endswith("_test.rego"))
        return {p.name: p.read_text() for p in files}

    @cached_property
    def data(self) -> dict[str, Any]:
        return json.loads((self.directory / "data.json").read_text())

    @property
    def config(self) -> dict[str, Any]:
        """Thresholds and limits (`data.recourse.config`): the one place they are defined."""
        return self.data["recourse"]["config"]

    @cached_property
    def revision(self) -> str:
        digest = hashlib.sha256()
        for name, source in self.modules.items():
            digest.update(name.encode() + b"\0" + source.encode() + b"\0")
        digest.update(json.dumps(self.data, sort_keys=True).encode())
        return digest.hexdigest()[:16]
