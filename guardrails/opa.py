"""The policy gate evaluated by an Open Policy Agent server, which must hold exactly this repo's policies and data.

Start-up (upload, read back, compare) goes through opa-python-client, pinned at 3.0.0 and named only in
`OpaAdmin`: the client's method names changed between major versions. Decisions go through httpx; see
`OpaGate` for why.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Iterator
from urllib.parse import urlsplit

import httpx
from opa_client import OpaClient
from opa_client.errors import PolicyNotFoundError
from pydantic import ValidationError

from guardrails.decision import GateDecision
from guardrails.gate import CONFIDENCE, DECISION
from guardrails.policy_files import PolicySet

log = logging.getLogger(__name__)

POLICY_ID_PREFIX = "recourse/"  # uploaded modules are named recourse/<file name> on the server
DEFAULT_TIMEOUT_S = 0.5  # per decision; OPA on loopback answers in about a millisecond
STARTUP_TIMEOUT_S = 5.0  # per start-up request, and how long to wait for /health
_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)


class OpaStartupError(RuntimeError):
    """The OPA server cannot serve this repo's policies: unreachable, rejected an upload, or holds different ones."""


class _NoDecision(Exception):
    """OPA gave no usable answer to one query; the message says why."""


class OpaAdmin:
    """Thin adapter over opa-python-client 3.x for start-up work: health, policy and data upload, read-back."""

    def __init__(self, url: str, timeout_s: float, token: str | None = None):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            raise OpaStartupError(f"OPA url must look like http://host:port (no path), got {url!r}")
        https = parts.scheme == "https"
        # retries=0: the client's urllib3 retries would repeat uploads behind our back; start-up fails loudly instead.
        self.client = OpaClient(host=parts.hostname, port=parts.port or (443 if https else 80), ssl=https,
                                token=token, retries=0, timeout=timeout_s)

    def wait_until_healthy(self, within_s: float) -> None:
        self.client.wait_for_ready(timeout=within_s, interval=0.1)

    def put_policy(self, policy_id: str, source: str) -> None:
        # rego_compat=False: never let the client rewrite a rejected module into something regopy does not run.
        self.client.update_policy_from_string(source, policy_id, rego_compat=False)

    def policies(self) -> dict[str, tuple[str, str]]:
        """Every module on the server: id -> (package, source)."""
        found = {}
        for policy_id in self.client.get_policies_list():
            result = self.client.get_policy(policy_id)["result"]
            path = result.get("ast", {}).get("package", {}).get("path", [])[1:]  # drop the leading `data`
            found[policy_id] = (".".join(str(term.get("value")) for term in path), result.get("raw", ""))
        return found

    def put_data(self, path: tuple[str, ...], value: dict[str, Any]) -> None:
        self.client.update_or_create_data(value, "/".join(path))

    def get_data(self, path: tuple[str, ...]) -> Any:
        try:
            return self.client.get_data("/".join(path))["result"]
        except PolicyNotFoundError:
            raise LookupError("data." + ".".join(path)) from None

    def close(self) -> None:
        self.client.close_connection()


def base_documents(data: dict[str, Any], packages: set[str], at: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """The data document split where it stops overlapping the policy packages: data.recourse.config, not data.recourse.

    Uploading and comparing these paths (rather than PUT /v1/data) leaves any other data on a shared server alone.
    """
    prefixes = {tuple(p.split(".")) for p in packages}
    for key, value in data.items():
        path = at + (key,)
        if isinstance(value, dict) and any(p[:len(path)] == path for p in prefixes):
            yield from base_documents(value, packages, path)
        else:
            yield path, value


class OpaGate:
    """The PolicyGate on an OPA server (`RECOURSE_OPA_URL`), deciding exactly as the in-process RegoGate does.

    On construction it uploads the repo's modules (PUT /v1/policies/recourse/<file>) and data (PUT
    /v1/data/<base document>), or with `upload=False` only checks them, for a server that loads its own
    bundle; either way it then reads the server back and raises `OpaStartupError` unless every module
    in the repo's packages and every base document match the repo byte for byte and value for value.
    So `revision` is the repo's policy revision, the same one RegoGate reports.

    Decisions use a sync httpx client, not the opa-python-client, because the decision path needs what
    that client cannot give it cleanly:
    - one short timeout of its own (`timeout_s`): the client has one timeout for every call, and policy
      uploads (which compile) need a longer one than a decision may take;
    - exactly one attempt: the client's session retries 500/502/504 and connection errors with backoff,
      configured once for all calls; a decision must fail closed at once and let the graph escalate;
    - the raw status and body: `query_rule` raises requests' HTTPError for any 4xx/5xx, while the gate
      tells a 5xx (unavailable) from a 4xx (a request OPA rejected), and reads `decision_id`, which OPA
      returns when its decision logging is on (it is the key into OPA's decision log).
    Undefined (200 without `result`), timeouts, connection errors and 5xx deny with rule
    `gate.policy_unavailable`; a 4xx or a malformed result denies with `gate.error`. Nothing here allows
    by accident.
    """

    engine = "opa"

    def __init__(self, url: str, policies: PolicySet | None = None, *, upload: bool = True,
                 timeout_s: float = DEFAULT_TIMEOUT_S, startup_timeout_s: float = STARTUP_TIMEOUT_S,
                 token: str | None = None):
        self.url = url.rstrip("/")
        self.policies = policies or PolicySet()
        self.revision = self.policies.revision
        self.timeout_s = timeout_s
        admin = OpaAdmin(self.url, startup_timeout_s, token)
        try:
            try:
                admin.wait_until_healthy(startup_timeout_s)
            except Exception as exc:  # noqa: BLE001 - the client raises its own ConnectionsError
                raise OpaStartupError(f"OPA at {self.url} did not answer /health within {startup_timeout_s}s") from exc
            if upload:
                self._upload(admin)
            problems = self._differences(admin)
        finally:
            admin.close()
        if problems:
            raise OpaStartupError(f"OPA at {self.url} does not hold this repo's policies (revision {self.revision}): "
                                  + "; ".join(problems))
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, headers=headers)
        log.info("opa.ready url=%s revision=%s uploaded=%s", self.url, self.revision, upload)

    # -- start-up -----------------------------------------------------------------------------------

    def _packages(self) -> set[str]:
        return {m.group(1) for source in self.policies.modules.values() if (m := _PACKAGE.search(source))}

    def _upload(self, admin: OpaAdmin) -> None:
        packages = self._packages()
        for path, value in base_documents(self.policies.data, packages):
            try:
                admin.put_data(path, value)
            except Exception as exc:  # noqa: BLE001
                raise OpaStartupError(f"OPA at {self.url} refused data.{'.'.join(path)}: {exc}") from exc
        for name, source in self.policies.modules.items():
            try:
                admin.put_policy(POLICY_ID_PREFIX + name, source)
            except Exception as exc:  # noqa: BLE001
                raise OpaStartupError(f"OPA at {self.url} refused policy {name}: {exc}") from exc

    def _differences(self, admin: OpaAdmin) -> list[str]:
        """What the server holds that differs from the repo, in words; empty when it matches."""
        packages = self._packages()
        roots = {p.split(".")[0] for p in packages}
        try:
            server = admin.policies()
        except Exception as exc:  # noqa: BLE001
            return [f"cannot list policies: {exc}"]
        theirs = {pid: raw for pid, (pkg, raw) in server.items()
                  if pkg.split(".")[0] in roots and not pkg.split(".")[-1].endswith("_test")}
        problems = [f"module {name} is missing or differs" for name, source in self.policies.modules.items()
                    if source not in theirs.values()]
        ours = set(self.policies.modules.values())
        problems += [f"module {pid} ({server[pid][0]}) is not in the repo" for pid, raw in theirs.items() if raw not in ours]
        for path, value in base_documents(self.policies.data, packages):
            where = "data." + ".".join(path)
            try:
                held = admin.get_data(path)
            except LookupError:
                problems.append(f"{where} is missing")
                continue
            except Exception as exc:  # noqa: BLE001
                problems.append(f"cannot read {where}: {exc}")
                continue
            if held != value:
                problems.append(f"{where} differs: {_describe_difference(held, value)}")
        return problems

    # -- decisions ----------------------------------------------------------------------------------

    def _query(self, entrypoint: str, policy_input: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """OPA's status and response body for one query; raises _NoDecision when there is none to use."""
        try:
            response = self._http.post(f"/v1/data/{entrypoint}", json={"input": policy_input})
        except httpx.TimeoutException:
            raise _NoDecision(f"OPA at {self.url} did not answer within {self.timeout_s}s") from None
        except httpx.HTTPError as exc:
            raise _NoDecision(f"OPA at {self.url} is unreachable: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise _NoDecision(f"OPA at {self.url} failed with {response.status_code}: {response.text[:300]}")
        try:
            body = response.json()
        except ValueError:
            raise _NoDecision(f"OPA at {self.url} sent a body that is not JSON ({response.status_code})") from None
        if not isinstance(body, dict):
            raise _NoDecision(f"OPA at {self.url} sent an unexpected body ({response.status_code})")
        return response.status_code, body

    def decide(self, policy_input: dict[str, Any]) -> GateDecision:
        try:
            status, body = self._query(DECISION, policy_input)
        except _NoDecision as exc:
            log.warning("opa.no_decision url=%s why=%s", self.url, exc)
            return GateDecision.unavailable(str(exc), self.engine, self.revision)
        except Exception as exc:  # noqa: BLE001 - e.g. an input that is not JSON: still a deny, never a crash
            return GateDecision.fail_closed(f"could not ask OPA: {type(exc).__name__}: {exc}", self.engine, self.revision)
        decision_id = body.get("decision_id")
        if status != 200:
            return GateDecision.fail_closed(f"OPA rejected the query with {status}: {body.get('message', body)}",
                                            self.engine, self.revision, decision_id=decision_id)
        if "result" not in body:
            log.warning("opa.undefined url=%s entrypoint=%s decision_id=%s", self.url, DECISION, decision_id)
            return GateDecision.unavailable(f"{DECISION} is undefined on OPA at {self.url}: is the policy loaded?",
                                            self.engine, self.revision, decision_id)
        try:
            return GateDecision(engine=self.engine, policy_revision=self.revision, decision_id=decision_id, **body["result"])
        except (TypeError, ValidationError) as exc:
            return GateDecision.fail_closed(f"OPA returned a malformed decision: {exc}", self.engine, self.revision,
                                            decision_id=decision_id)

    def confidence_sufficient(self, confidence: float) -> bool | None:
        """True or False as the policy says; None (falsy: not sufficient) when OPA gave no answer, so the
        graph can escalate as policy_unavailable rather than low_confidence."""
        try:
            status, body = self._query(CONFIDENCE, {"case": {"confidence": confidence}})
        except Exception as exc:  # noqa: BLE001 - unknown means not sufficient
            log.warning("opa.no_decision url=%s why=%s", self.url, exc)
            return None
        if status == 200 and "result" not in body:
            return None
        return status == 200 and body["result"] is True

    def close(self) -> None:
        self._http.close()


def _describe_difference(held: Any, wanted: Any) -> str:
    if not (isinstance(held, dict) and isinstance(wanted, dict)):
        return f"server {held!r}, repo {wanted!r}"
    shown = lambda d, k: repr(d[k]) if k in d else "nothing"  # noqa: E731
    return ", ".join(f"{k}: server {shown(held, k)}, repo {shown(wanted, k)}"
                     for k in sorted(held.keys() | wanted.keys()) if held.get(k, ...) != wanted.get(k, ...))
