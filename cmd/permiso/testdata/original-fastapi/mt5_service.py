"""The original Permiso's documented MT5 service (integration guide, dependencies.py and main.py),
reproduced from its documentation as a compatibility fixture. Run with Debian's Python:

    PERMISO_AUTH_URL=http://127.0.0.1:8000 /usr/bin/python3 -m uvicorn mt5_service:app --port 8001
"""
import os
import time
from typing import Dict, List, Optional

import httpx
import jwt
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

SERVICE_NAME = os.environ.get("SERVICE_NAME", "mt5-api")
PERMISO_AUTH_URL = os.environ.get("PERMISO_AUTH_URL", "http://localhost:8000")
JWT_ALGORITHM = os.environ.get("JWT_ALGORITHM", "HS256")
JWT_ISSUER = os.environ.get("JWT_ISSUER", "permiso-auth")
JWT_PUBLIC_KEY = os.environ.get("JWT_PUBLIC_KEY")
JWT_AUDIENCE = os.environ.get("JWT_AUDIENCE")

app = FastAPI(title="MT5 Trading API")
security = HTTPBearer()


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


def validate_token_local(token: str) -> Dict:
    """Local mode: verify the signature with the configured public key."""
    try:
        options = {"verify_aud": JWT_AUDIENCE is not None}
        payload = jwt.decode(token, JWT_PUBLIC_KEY, algorithms=[JWT_ALGORITHM], issuer=JWT_ISSUER,
                             audience=JWT_AUDIENCE, options=options)
    except jwt.ExpiredSignatureError:
        raise unauthorized("Token has expired")
    except jwt.InvalidTokenError as e:
        raise unauthorized(f"Invalid token: {e}")
    if payload.get("type") not in ("access", "service"):
        raise unauthorized("Invalid token type")
    return {
        "sub": payload.get("sub"),
        "client_id": payload.get("client_id"),
        "scopes": payload.get("scopes", []),
        "exp": payload.get("exp"),
        "type": payload.get("type"),
        "is_trusted": payload.get("is_trusted", False),
    }


async def validate_token_remote(token: str) -> Dict:
    """Remote mode (the default): ask Permiso, with the token as its own bearer."""
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.post(
                f"{PERMISO_AUTH_URL}/api/v1/auth/introspect",
                headers={"Authorization": f"Bearer {token}"},
                json={"token": token},
            )
    except httpx.HTTPError:
        raise HTTPException(status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail="Authentication service unavailable")
    if response.status_code != 200:
        raise unauthorized("Token validation failed")
    data = response.json()
    if not data.get("active"):
        raise unauthorized("Token is not active")
    return {
        "sub": data.get("sub"),
        "client_id": data.get("client_id"),
        "scopes": data.get("scope").split(),
        "exp": data.get("exp"),
        "type": (data.get("token_type") or "").replace("_token", ""),
        "is_trusted": data.get("is_trusted", False),
    }


async def get_current_token(credentials: HTTPAuthorizationCredentials = Depends(security)) -> Dict:
    token = credentials.credentials
    if JWT_PUBLIC_KEY:
        return validate_token_local(token)
    return await validate_token_remote(token)


# The original's implied scopes: admin:X implies read:X and write:X;
# admin:system also implies these.
SYSTEM_IMPLIES = ["read:profile", "write:profile", "read:trades", "write:trades", "admin:users",
                  "admin:clients", "service:mt5", "service:api", "trade:read", "trade:open", "trade:close",
                  "trade:modify", "account:read", "account:balance", "market:data"]


def has_scope(held: List[str], required: str) -> bool:
    if required in held:
        return True
    if ":" in required:
        _, resource = required.split(":", 1)
        if f"admin:{resource}" in held and required.split(":", 1)[0] in ("read", "write"):
            return True
    return "admin:system" in held and required in SYSTEM_IMPLIES


def require_scopes(required: List[str]):
    async def checker(token: Dict = Depends(get_current_token)) -> Dict:
        missing = [s for s in required if not has_scope(token["scopes"], s)]
        if missing:
            raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail={
                "error": "insufficient_scope",
                "error_description": f"Missing required scopes: {', '.join(missing)}",
                "required_scopes": required,
                "missing_scopes": missing,
            })
        return token
    return checker


TRADES = [{"id": 1001, "symbol": "EURUSD", "volume": 0.1, "type": "buy", "open_price": 1.0842,
           "current_price": 1.0851, "profit": 9.0, "open_time": "2025-07-01T10:00:00Z", "status": "open"}]


@app.get("/health")
async def health():
    return {"status": "healthy", "service": SERVICE_NAME, "version": "1.0.0"}


@app.get("/api/v1/trades")
async def get_trades(token: Dict = Depends(require_scopes(["trade:read"]))):
    return TRADES


@app.get("/api/v1/account")
async def get_account(token: Dict = Depends(require_scopes(["account:read"]))):
    return {"balance": 10000.0, "equity": 10009.0, "margin": 100.0, "free_margin": 9909.0,
            "margin_level": 10009.0, "currency": "USD", "caller": token["sub"]}


@app.get("/api/v1/market/{symbol}")
async def get_market(symbol: str, token: Dict = Depends(require_scopes(["market:data"]))):
    return {"symbol": symbol, "bid": 1.0850, "ask": 1.0852, "spread": 0.0002,
            "last_update": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


@app.get("/api/v1/admin/stats")
async def admin_stats(token: Dict = Depends(require_scopes(["admin:system"]))):
    if not token.get("is_trusted"):
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Trusted client required")
    return {"trades": len(TRADES)}


# Not in the original: lets the test see how the dependency mapped the token.
@app.get("/api/v1/whoami")
async def whoami(token: Dict = Depends(get_current_token)):
    return token
