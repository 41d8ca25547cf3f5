"""The trading API protected by its own short dependency (permiso_auth.py):
tokens are verified locally against Permiso's keys and revocation list.

    PERMISO_ISSUER=http://127.0.0.1:8000 MT5_AUDIENCE=https://mt5.example.com \
      /usr/bin/python3 -m uvicorn app_local:app --port 8001
"""

import os

from fastapi import Depends, FastAPI

from permiso_auth import PermisoAuth
from trading import errors_as_permiso, router

auth = PermisoAuth(issuer=os.environ["PERMISO_ISSUER"], audience=os.environ["MT5_AUDIENCE"],
                   revocation_poll=float(os.environ.get("PERMISO_REVOCATION_POLL", "5")))


def identity(claims: dict = Depends(auth.require())):
    return {"subject": claims["sub"], "client_id": claims.get("client_id"), "scopes": claims["scopes"]}


app = FastAPI(title="MT5 API (local verification)")
errors_as_permiso(app)
app.include_router(router(auth.require, identity))
