"""End-to-end tests of the FastAPI example against a real Permiso.

Run by examples/fastapi/fastapi_test.go (`make test`), which starts Permiso,
registers the clients and sets PERMISO_ISSUER, BOT_ID, BOT_SECRET,
MT5_AUDIENCE and OTHER_AUDIENCE (and GATEWAY_URL for the gateway mode).
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import unittest

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

from caller import TokenSource, TradingClient  # noqa: E402

ISSUER = os.environ["PERMISO_ISSUER"]
BOT_ID, BOT_SECRET = os.environ["BOT_ID"], os.environ["BOT_SECRET"]
MT5, OTHER = os.environ["MT5_AUDIENCE"], os.environ["OTHER_AUDIENCE"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ok(url, proc, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited: " + proc.stdout.read().decode(errors="replace"))
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("not healthy: " + url)


def eventually(cond, deadline=20):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def dpop_token(audience, scopes):
    """A client-credentials token bound to a fresh key with DPoP (RFC 9449)."""
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    proof = jwt.encode({"jti": secrets.token_urlsafe(16), "htm": "POST", "htu": ISSUER + "/oauth2/token",
                        "iat": int(time.time())}, key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": jwk})
    r = httpx.post(ISSUER + "/oauth2/token", auth=(BOT_ID, BOT_SECRET), headers={"DPoP": proof}, timeout=10,
                   data={"grant_type": "client_credentials", "audience": audience, "scope": " ".join(scopes)})
    r.raise_for_status()
    assert r.json()["token_type"] == "DPoP", r.text
    return r.json()["access_token"]


class Base:
    """The same checks for both ways of protecting the API."""

    url = None

    @classmethod
    def setUpClass(cls):
        cls.tokens = TokenSource(ISSUER, BOT_ID, BOT_SECRET)

    def get(self, path, token=None, method="GET", **kw):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kw)

    def test_public_health(self):
        r = self.get("/health")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["service"], "mt5-api")

    def test_allowed(self):
        r = self.get("/api/v1/trades", self.tokens.token(MT5, ["trade:read"]))
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["caller"]["subject"], BOT_ID)

    def test_no_token_401(self):
        r = self.get("/api/v1/trades")
        self.assertEqual(r.status_code, 401, r.text)
        self.assertTrue(r.headers["www-authenticate"].startswith('Bearer realm="%s"' % MT5))

    def test_missing_scope_403(self):
        r = self.get("/api/v1/trades", self.tokens.token(MT5, ["trade:read"]), method="POST",
                     json={"symbol": "EURUSD", "volume": 0.1, "trade_type": "buy"})
        self.assertEqual(r.status_code, 403, r.text)
        self.assertEqual(r.json()["error"], "insufficient_scope")
        self.assertIn("trade:open", r.json()["error_description"])
        self.assertIn('scope="trade:open"', r.headers["www-authenticate"])

    def test_wrong_audience_401(self):
        r = self.get("/api/v1/trades", self.tokens.token(OTHER, ["trade:read"]))
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(r.json()["error"], "invalid_token")

    def test_revoked_401(self):
        fresh = TokenSource(ISSUER, BOT_ID, BOT_SECRET)
        tok = fresh.token(MT5, ["trade:read"])
        self.assertEqual(self.get("/api/v1/trades", tok).status_code, 200)
        r = httpx.post(ISSUER + "/oauth2/revoke", data={"token": tok}, auth=(BOT_ID, BOT_SECRET), timeout=10)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(eventually(lambda: self.get("/api/v1/trades", tok).status_code == 401),
                        "revoked token still accepted")

    def test_bound_token_as_bearer_401(self):
        # A DPoP-bound token copied off the wire is refused as a bearer
        # token: neither the gateway nor the local dependency takes it.
        tok = dpop_token(MT5, ["trade:read"])
        r = self.get("/api/v1/trades", tok)
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(r.json()["error"], "invalid_token")

    def test_caller_caches_tokens_and_trades(self):
        tokens = TokenSource(ISSUER, BOT_ID, BOT_SECRET)
        api = TradingClient(self.url, tokens, MT5)
        r = api.call("POST", "/api/v1/trades", ["trade:open"], json={"symbol": "EURUSD", "volume": 0.1, "trade_type": "buy"})
        self.assertEqual(r.status_code, 200, r.text)
        tid = r.json()["id"]
        self.assertEqual(api.call("GET", "/api/v1/market/EURUSD", ["market:data"]).status_code, 200)
        self.assertEqual(api.call("GET", "/api/v1/market/EURUSD", ["market:data"]).status_code, 200)
        self.assertEqual(tokens.fetches, 2, "one token per scope set, then the cache")
        r = api.call("DELETE", "/api/v1/trades/%d" % tid, ["trade:close"])
        self.assertEqual(r.status_code, 200, r.text)
        # A token close to expiry is fetched again.
        tokens.now = lambda: time.time() + 10 * 3600
        api.call("GET", "/api/v1/market/EURUSD", ["market:data"])
        self.assertEqual(tokens.fetches, 4)


class LocalVerification(Base, unittest.TestCase):
    """app_local.py: the FastAPI dependency verifies tokens itself."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        port = free_port()
        env = dict(os.environ, PERMISO_REVOCATION_POLL="1")
        cls.proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app_local:app", "--host", "127.0.0.1",
                                     "--port", str(port), "--log-level", "warning"],
                                    cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        cls.url = "http://127.0.0.1:%d" % port
        wait_ok(cls.url + "/health", cls.proc)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(10)
        cls.proc.stdout.close()


class DisabledTenant(unittest.TestCase):
    """A service accepting a tenant's tokens refuses them once the tenant is
    disabled: the tenant's feed publishes an iss entry."""

    def test_disabled_tenant_401(self):
        issuer = os.environ["TENANT_ISSUER"]
        port = free_port()
        env = dict(os.environ, PERMISO_ISSUER=issuer, PERMISO_REVOCATION_POLL="1")
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app_local:app", "--host", "127.0.0.1",
                                 "--port", str(port), "--log-level", "warning"],
                                cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.terminate)
        url = "http://127.0.0.1:%d" % port
        wait_ok(url + "/health", proc)
        tok = TokenSource(issuer, BOT_ID, os.environ["TENANT_BOT_SECRET"]).token(MT5, ["trade:read"])
        get = lambda: httpx.get(url + "/api/v1/trades", headers={"Authorization": "Bearer " + tok}, timeout=10)
        self.assertEqual(get().status_code, 200, get().text)
        # The operator disables the tenant (default tenant's API).
        name = issuer.rstrip("/").rsplit("/", 1)[1]
        base = issuer.rsplit("/t/", 1)[0]
        r = httpx.put(base + "/api/v1/tenants/" + name, json={"is_active": False}, timeout=10,
                      headers={"Authorization": "Bearer " + os.environ["OPERATOR_TOKEN"]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(eventually(lambda: get().status_code == 401), "a disabled tenant's token still accepted")


@unittest.skipUnless(os.environ.get("GATEWAY_URL"), "GATEWAY_URL not set")
class BehindGateway(Base, unittest.TestCase):
    """app_gateway.py, no auth code, behind nginx and permiso gateway."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url = os.environ.get("GATEWAY_URL")

    def test_spoofed_identity_ignored(self):
        r = httpx.get(self.url + "/api/v1/trades", timeout=10, headers={
            "Authorization": "Bearer " + self.tokens.token(MT5, ["trade:read"]), "X-Auth-Subject": "admin"})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["caller"]["subject"], BOT_ID)


if __name__ == "__main__":
    unittest.main()
