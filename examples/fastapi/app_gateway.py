"""The trading API with no auth code at all: it runs behind a gateway
(nginx, Caddy, Traefik or Envoy with `permiso gateway`, see
deploy/gateways) that decides every request and sets the identity headers.
It must only be reachable through that gateway.

    /usr/bin/python3 -m uvicorn app_gateway:app --port 8080
"""

from fastapi import FastAPI, Request

from trading import errors_as_permiso, router


def no_check(*_scopes):
    return lambda: None


def identity(request: Request):
    h = request.headers
    return {"subject": h.get("x-auth-subject") or None, "client_id": h.get("x-auth-client-id") or None,
            "scopes": (h.get("x-auth-scopes") or "").split()}


app = FastAPI(title="MT5 API (behind a gateway)")
errors_as_permiso(app)
app.include_router(router(no_check, identity))
