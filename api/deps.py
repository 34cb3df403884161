"""Request dependencies: the running service and the caller's API key."""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from graph.cases import CaseService
from service.keys import Principal, Role, authenticate
from service.work import Workers
from settings import Settings
from tools.backend import OperationsBackend

bearer = HTTPBearer(auto_error=False)


@dataclass
class Runtime:
    settings: Settings
    service: CaseService
    workers: Workers | None  # None when workers run in other processes (`recourse worker`)
    backend: OperationsBackend

    def work_admitted(self) -> None:
        if self.workers is not None:
            self.workers.notify()


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing API key: send Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})
    found = await authenticate(runtime(request).service.store, credentials.credentials)
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return found


def require(*roles: Role):
    allowed = {Role.admin, *roles}

    async def check(who: Principal = Depends(principal)) -> Principal:
        if who.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role.value} may not do this; needs one of: {names}")
        return who
    return check
