"""A service that calls the trading API with client-credentials tokens from
Permiso, cached until shortly before they expire.

    PERMISO_ISSUER=... PERMISO_CLIENT_ID=trading-bot PERMISO_CLIENT_SECRET=... \
      /usr/bin/python3 caller.py http://127.0.0.1:8001
"""

import os
import sys
import threading
import time

import httpx


class TokenSource:
    """Client credentials (RFC 6749 §4.4) with a cache per audience and scopes."""

    def __init__(self, issuer, client_id, client_secret, early=60, http=None, now=time.time):
        self.issuer, self.client_id, self.client_secret = issuer.rstrip("/"), client_id, client_secret
        self.early, self.now = early, now
        self.http = http or httpx.Client(timeout=10.0)
        self._lock = threading.Lock()
        self._cache = {}
        self._token_endpoint = None
        self.fetches = 0

    def token(self, audience=None, scopes=()):
        key = (audience, " ".join(sorted(scopes)))
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[1] - self.early > self.now():
                return hit[0]
            if self._token_endpoint is None:
                md = self.http.get(self.issuer + "/.well-known/oauth-authorization-server")
                md.raise_for_status()
                self._token_endpoint = md.json()["token_endpoint"]
            form = {"grant_type": "client_credentials"}
            if scopes:
                form["scope"] = " ".join(scopes)
            if audience:
                form["audience"] = audience
            resp = self.http.post(self._token_endpoint, data=form, auth=(self.client_id, self.client_secret))
            if resp.status_code != 200:
                raise RuntimeError("token request failed: HTTP %d %s" % (resp.status_code, resp.text[:200]))
            body = resp.json()
            self.fetches += 1
            self._cache[key] = (body["access_token"], self.now() + body.get("expires_in", 60))
            return body["access_token"]

    def invalidate(self, audience=None, scopes=()):
        with self._lock:
            self._cache.pop((audience, " ".join(sorted(scopes))), None)


class TradingClient:
    """Calls the API; on a 401 it drops the cached token and retries once."""

    def __init__(self, base_url, tokens, audience, http=None):
        self.base, self.tokens, self.audience = base_url.rstrip("/"), tokens, audience
        self.http = http or httpx.Client(timeout=10.0)

    def call(self, method, path, scopes, **kw):
        for attempt in (1, 2):
            tok = self.tokens.token(self.audience, scopes)
            resp = self.http.request(method, self.base + path, headers={"Authorization": "Bearer " + tok}, **kw)
            if resp.status_code != 401 or attempt == 2:
                return resp
            self.tokens.invalidate(self.audience, scopes)


def main():
    tokens = TokenSource(os.environ["PERMISO_ISSUER"], os.environ["PERMISO_CLIENT_ID"],
                         os.environ["PERMISO_CLIENT_SECRET"])
    api = TradingClient(sys.argv[1], tokens, os.environ.get("MT5_AUDIENCE", "https://mt5.example.com"))
    print(api.call("GET", "/api/v1/market/EURUSD", ["market:data"]).json())
    t = api.call("POST", "/api/v1/trades", ["trade:open"], json={"symbol": "EURUSD", "volume": 0.1, "trade_type": "buy"})
    print(t.status_code, t.json())


if __name__ == "__main__":
    main()
