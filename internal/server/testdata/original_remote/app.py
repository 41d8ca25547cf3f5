"""The original Permiso's documented FastAPI resource service, in its
default remote-validation mode (docs §6.3), written from that description
for Permiso's compatibility test: each request's bearer token is sent, as
its own bearer, to AUTH_SERVICE_URL/api/v1/auth/introspect; any answer but
an active token is a 401. Scopes follow the original's implied-scope rule.
"""

import os

import httpx
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

AUTH_SERVICE_URL = os.environ["AUTH_SERVICE_URL"].rstrip("/")
ADMIN_SYSTEM_IMPLIES = {"trade:read", "trade:open", "trade:close", "account:read", "market:data", "service:mt5"}

app = FastAPI()
bearer = HTTPBearer(auto_error=False)


def unauthorized(detail):
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def get_current_token(creds: HTTPAuthorizationCredentials = Depends(bearer)):
    if creds is None:
        raise unauthorized("Not authenticated")
    token = creds.credentials
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.post(AUTH_SERVICE_URL + "/api/v1/auth/introspect", json={"token": token},
                              headers={"Authorization": "Bearer " + token})
    if r.status_code != 200:
        raise unauthorized("Token validation failed")
    data = r.json()
    if not data.get("active"):
        raise unauthorized("Token is not active")
    return {
        "sub": data.get("sub"),
        "client_id": data.get("client_id"),
        "scopes": (data.get("scope") or "").split(),
        "exp": data.get("exp"),
        "type": (data.get("token_type") or "").replace("_token", ""),
        "is_trusted": data.get("is_trusted", False),
    }


def holds(scopes, required):
    if required in scopes:
        return True
    action, _, resource = required.partition(":")
    if action in ("read", "write") and "admin:" + resource in scopes:
        return True
    return "admin:system" in scopes and required in ADMIN_SYSTEM_IMPLIES


def require_scopes(required):
    async def check(token=Depends(get_current_token)):
        missing = [s for s in required if not holds(token["scopes"], s)]
        if missing:
            raise HTTPException(status_code=403, detail={"error": "insufficient_scope",
                                                         "required_scopes": required, "missing_scopes": missing})
        return token
    return check


@app.get("/health")
async def health():
    return {"status": "healthy", "service": "mt5-api"}


@app.get("/api/v1/trades")
async def trades(token=Depends(require_scopes(["trade:read"]))):
    return [{"id": 1, "symbol": "EURUSD", "client_id": token["client_id"]}]
